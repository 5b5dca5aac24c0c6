import { GatehouseError } from '@gatehouse/core';

export interface ContentFilterOptions {
  /** Allowed methods (RFC 9110 §9.1: case-sensitive; written upper-case). Absent: any method. */
  readonly methods?: readonly string[];
  /** Allowed media types without parameters (`application/json`), or ranges like `text/*` or the full wildcard. */
  readonly contentTypes?: readonly string[];
  /** Largest `Content-Length` accepted up front (the streamed body is bounded again by readBody). */
  readonly maxBodyBytes: number;
  /**
   * Regular expression sources, compiled once, case-insensitive. `path` and `query` rules see the raw
   * form and the percent-decoded form; `headers` is keyed by header name (any case) and sees each value.
   */
  readonly deny?: {
    readonly path?: readonly string[];
    readonly query?: readonly string[];
    readonly headers?: Readonly<Record<string, readonly string[]>>;
  };
}

export interface FilterRequest {
  readonly method: string;
  /** Canonical path. */
  readonly path: string;
  /** Raw query, without `?`. */
  readonly query: string;
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
}

export interface FilterRefusal {
  readonly code:
    | 'ERR_GATEWAY_METHOD_NOT_ALLOWED'
    | 'ERR_GATEWAY_UNSUPPORTED_MEDIA_TYPE'
    | 'ERR_GATEWAY_PAYLOAD_TOO_LARGE'
    | 'ERR_GATEWAY_REQUEST_DENIED'
    | 'ERR_GATEWAY_BAD_REQUEST';
  /** For the log only: names the rule, never the value that matched. */
  readonly detail: string;
  /** `Allow` header value for 405 (RFC 9110 §15.5.6). */
  readonly allow?: string;
}

export interface ContentFilter {
  check(request: FilterRequest): FilterRefusal | undefined;
}

/**
 * Deny rules look at no more than this many characters. A value that is longer is refused rather than
 * inspected in part: padding must not push a payload past the inspected window, and a regex never
 * backtracks over more than 8 KiB.
 */
export const MAX_INSPECTED_LENGTH = 8192;

/** RFC 9110 §5.6.2 token. */
const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
/** RFC 9110 §8.3.1 type/subtype, or a media range like `text/*` or the full wildcard (§12.5.1). */
const MEDIA_RANGE = /^(?:\*\/\*|[!#$%&'*+.^_`|~0-9a-z-]+\/(?:\*|[!#$%&'*+.^_`|~0-9a-z-]+))$/;
const MEDIA_TYPE = /^[!#$%&'*+.^_`|~0-9a-z-]+\/[!#$%&'*+.^_`|~0-9a-z-]+$/;
/** RFC 9110 §8.6: 1*DIGIT; 15 digits stay exact in a double. */
const CONTENT_LENGTH = /^\d{1,15}$/;

interface Quantifier {
  readonly unbounded: boolean;
  readonly end: number;
}

/** Reads a quantifier at `i`: `*`, `+`, `?`, `{n}`, `{n,}`, `{n,m}`, with an optional lazy `?`. */
function readQuantifier(source: string, i: number): Quantifier | undefined {
  const char = source.charAt(i);
  let unbounded: boolean;
  let end: number;
  if (char === '*' || char === '+' || char === '?') {
    unbounded = char !== '?';
    end = i + 1;
  } else {
    const braces = /^\{(\d+)(,(\d*))?\}/.exec(source.slice(i));
    if (braces === null) return undefined;
    const [whole, min = '0', comma, max = ''] = braces;
    // `{n,}` repeats without bound; a wide `{n,m}` backtracks almost as badly.
    unbounded = comma !== undefined && (max === '' || Number(max) - Number(min) > 32);
    end = i + whole.length;
  }
  return { unbounded, end: source.charAt(end) === '?' ? end + 1 : end };
}

/**
 * Spots the obvious catastrophic-backtracking shape (`(a+)+`, `(\w+\s?)*`, `(.*)*`): a group repeated
 * without bound that itself contains an unbounded repetition. Not a proof of safety — overlapping
 * alternatives are not detected — which is why inputs are also bounded (MAX_INSPECTED_LENGTH).
 */
export function hasNestedQuantifier(source: string): boolean {
  const groups: boolean[] = [];
  let repeats = false;
  let i = 0;
  while (i < source.length) {
    const char = source.charAt(i);
    let atomEnd: number;
    let inner = false;
    if (char === '\\') {
      atomEnd = i + 2;
    } else if (char === '[') {
      let j = i + 1;
      while (j < source.length && source.charAt(j) !== ']') j += source.charAt(j) === '\\' ? 2 : 1;
      atomEnd = j + 1;
    } else if (char === '(') {
      groups.push(repeats);
      repeats = false;
      // Skip `?:`, `?=`, `?!`, `?<=`, `?<!`, `?<name>`: their `?` is not a quantifier.
      const prefix = /^\((?:\?(?:[:=!]|<[=!]|<[^>]*>))?/.exec(source.slice(i));
      i += prefix?.[0].length ?? 1;
      continue;
    } else if (char === ')') {
      inner = repeats;
      repeats = groups.pop() ?? false;
      atomEnd = i + 1;
    } else {
      atomEnd = i + 1;
    }
    const quantifier = readQuantifier(source, atomEnd);
    if (quantifier?.unbounded === true) {
      if (inner) return true;
      repeats = true;
    }
    repeats ||= inner;
    i = quantifier?.end ?? atomEnd;
  }
  return false;
}

function compileRules(sources: unknown, at: string, problems: string[]): RegExp[] {
  if (sources === undefined) return [];
  if (!Array.isArray(sources)) {
    problems.push(`${at}: must be an array of regular expressions`);
    return [];
  }
  const rules: RegExp[] = [];
  for (const [index, source] of sources.entries()) {
    if (typeof source !== 'string' || source === '') {
      problems.push(`${at}[${index}]: must be a non-empty string`);
      continue;
    }
    if (hasNestedQuantifier(source)) {
      problems.push(`${at}[${index}]: nested unbounded quantifier (catastrophic backtracking)`);
      continue;
    }
    try {
      // `u`: strict syntax, no silently literal escapes; `i`: a rule cannot be dodged by changing case.
      rules.push(new RegExp(source, 'iu'));
    } catch (error) {
      problems.push(
        `${at}[${index}]: ${error instanceof Error ? error.message : 'invalid regular expression'}`,
      );
    }
  }
  return rules;
}

/**
 * Percent-decodes what can be decoded and keeps the rest (`%zz`, invalid UTF-8 as U+FFFD): a malformed
 * escape next to a payload must not make the decoded form uninspectable.
 */
export function decodeLeniently(text: string, plusIsSpace: boolean): string {
  const spaced = plusIsSpace && text.includes('+') ? text.replaceAll('+', ' ') : text;
  if (!spaced.includes('%')) return spaced;
  try {
    return decodeURIComponent(spaced);
  } catch {
    const parts: Buffer[] = [];
    let last = 0;
    for (const match of spaced.matchAll(/%([0-9A-Fa-f]{2})/g)) {
      parts.push(
        Buffer.from(spaced.slice(last, match.index), 'utf8'),
        Buffer.from([Number.parseInt(match[1] ?? '', 16)]),
      );
      last = match.index + 3;
    }
    parts.push(Buffer.from(spaced.slice(last), 'utf8'));
    return Buffer.concat(parts).toString('utf8');
  }
}

function denied(detail: string): FilterRefusal {
  return { code: 'ERR_GATEWAY_REQUEST_DENIED', detail };
}

/** Index of the first rule matching the raw or the decoded text; -2 when the text is too long. */
function firstMatch(rules: readonly RegExp[], text: string, decoded: boolean, plusIsSpace: boolean): number {
  if (text.length > MAX_INSPECTED_LENGTH) return -2;
  const plain = decoded ? decodeLeniently(text, plusIsSpace) : text;
  for (let i = 0; i < rules.length; i += 1) {
    const rule = rules[i];
    if (rule !== undefined && (rule.test(text) || (plain !== text && rule.test(plain)))) return i;
  }
  return -1;
}

function checkField(
  rules: readonly RegExp[],
  text: string,
  field: string,
  plusIsSpace: boolean,
  decoded = true,
): FilterRefusal | undefined {
  if (rules.length === 0) return undefined;
  const index = firstMatch(rules, text, decoded, plusIsSpace);
  if (index === -1) return undefined;
  return denied(index === -2 ? `${field} too long to inspect` : `${field} matches deny rule ${index}`);
}

/**
 * Builds the per-route content filter: methods (405), Content-Length against the route limit (413),
 * media type of a body (415), deny rules on path, query and headers (403). Options are checked here,
 * once; every violation is listed in one GatehouseError `ERR_CONFIG_INVALID`.
 */
export function buildContentFilter(options: ContentFilterOptions): ContentFilter {
  const problems: string[] = [];
  let methods: ReadonlySet<string> | undefined;
  let allow: string | undefined;
  if (options.methods !== undefined) {
    if (options.methods.length === 0) problems.push('methods: must not be empty');
    for (const method of options.methods)
      if (!TOKEN.test(method)) problems.push(`methods: ${JSON.stringify(method)} is not a method name`);
    methods = new Set(options.methods);
    allow = [...methods].join(', ');
  }
  let contentTypes: readonly string[] | undefined;
  if (options.contentTypes !== undefined) {
    contentTypes = options.contentTypes.map((type) => type.trim().toLowerCase());
    for (const type of contentTypes)
      if (!MEDIA_RANGE.test(type))
        problems.push(`contentTypes: ${JSON.stringify(type)} is not a media type without parameters`);
  }
  if (!Number.isSafeInteger(options.maxBodyBytes) || options.maxBodyBytes < 0)
    problems.push('maxBodyBytes: must be a non-negative integer');
  const denyPath = compileRules(options.deny?.path, 'deny.path', problems);
  const denyQuery = compileRules(options.deny?.query, 'deny.query', problems);
  const denyHeaders: [string, RegExp[]][] = [];
  for (const [name, sources] of Object.entries(options.deny?.headers ?? {})) {
    if (!TOKEN.test(name)) problems.push(`deny.headers: ${JSON.stringify(name)} is not a header name`);
    // Node lower-cases incoming header names (RFC 9110 §5.1: they are case-insensitive).
    denyHeaders.push([name.toLowerCase(), compileRules(sources, `deny.headers.${name}`, problems)]);
  }
  if (problems.length > 0)
    throw new GatehouseError('ERR_CONFIG_INVALID', {
      detail: `invalid content filter: ${problems.join('; ')}`,
    });
  const { maxBodyBytes } = options;

  const allowed = (type: string): boolean => {
    if (contentTypes === undefined) return true;
    for (const declared of contentTypes) {
      if (declared === type || declared === '*/*') return true;
      if (declared.endsWith('/*') && type.startsWith(declared.slice(0, -1))) return true;
    }
    return false;
  };

  return {
    check(request) {
      if (methods !== undefined && !methods.has(request.method))
        return {
          code: 'ERR_GATEWAY_METHOD_NOT_ALLOWED',
          detail: 'method not in the route methods',
          allow: allow ?? '',
        };
      const { headers } = request;
      const contentLength = headers['content-length'];
      let length = 0;
      if (contentLength !== undefined) {
        if (typeof contentLength !== 'string' || !CONTENT_LENGTH.test(contentLength))
          return { code: 'ERR_GATEWAY_BAD_REQUEST', detail: 'invalid Content-Length' };
        length = Number(contentLength);
        // RFC 9110 §15.5.14: refuse before reading a byte of the body.
        if (length > maxBodyBytes)
          return { code: 'ERR_GATEWAY_PAYLOAD_TOO_LARGE', detail: `Content-Length above ${maxBodyBytes}` };
      }
      if (contentTypes !== undefined && (length > 0 || headers['transfer-encoding'] !== undefined)) {
        const contentType = headers['content-type'];
        if (typeof contentType !== 'string')
          return { code: 'ERR_GATEWAY_UNSUPPORTED_MEDIA_TYPE', detail: 'body without a single Content-Type' };
        const semicolon = contentType.indexOf(';');
        const type = (semicolon === -1 ? contentType : contentType.slice(0, semicolon)).trim().toLowerCase();
        if (!MEDIA_TYPE.test(type) || !allowed(type))
          return {
            code: 'ERR_GATEWAY_UNSUPPORTED_MEDIA_TYPE',
            detail: 'Content-Type not allowed on the route',
          };
      }
      const path = checkField(denyPath, request.path, 'path', false);
      if (path !== undefined) return path;
      const query = checkField(denyQuery, request.query, 'query', true);
      if (query !== undefined) return query;
      for (const [name, rules] of denyHeaders) {
        const value = headers[name];
        if (value === undefined) continue;
        if (typeof value === 'string') {
          const refusal = checkField(rules, value, `header ${name}`, false, false);
          if (refusal !== undefined) return refusal;
          continue;
        }
        for (const item of value) {
          const refusal = checkField(rules, item, `header ${name}`, false, false);
          if (refusal !== undefined) return refusal;
        }
      }
      return undefined;
    },
  };
}
