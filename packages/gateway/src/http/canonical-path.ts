/**
 * One canonical view of the request target (issue 4, Hardening): the string the routes match is the string
 * forwarded upstream, and any rewrite is checked again with `isCanonicalPath`. Everything that two parsers
 * could read differently is refused rather than normalized.
 */

export type PathRefusal =
  | 'not-origin-form'
  | 'fragment'
  | 'encoded-slash'
  | 'backslash'
  | 'nul'
  | 'control-char'
  | 'semicolon'
  | 'double-encoding'
  | 'bad-escape'
  | 'bad-utf8'
  | 'dot-segment-escape'
  | 'non-ascii';

/** `query` is the part after the first `?`, without it; `''` when absent. */
export type CanonicalTarget = { ok: true; path: string; query: string } | { ok: false; reason: PathRefusal };

const SLASH = 0x2f;
const DOT = 0x2e;
const PERCENT = 0x25;
const QUESTION = 0x3f;
const HASH = 0x23;

// Byte classes, shared by raw characters and decoded escapes (indexes 0..127).
const PLAIN = 0;
const IS_SLASH = 1;
const IS_DOT = 2;
const IS_PERCENT = 3;
const UNRESERVED = 4; // only used for decoded escapes
const FIRST_REFUSAL = 5; // classes from here on index REFUSALS
const REFUSALS: readonly PathRefusal[] = [
  'fragment',
  'encoded-slash',
  'backslash',
  'nul',
  'control-char',
  'semicolon',
  'double-encoding',
];
const refusalClass = (reason: PathRefusal): number => FIRST_REFUSAL + REFUSALS.indexOf(reason);

/** Class of a raw character in the path (before any `?`). */
const RAW_CLASS = new Uint8Array(128);
/** Class of a byte decoded from a `%XX` escape in the path. */
const DECODED_CLASS = new Uint8Array(128);
{
  for (let c = 0; c < 0x21; c++) RAW_CLASS[c] = refusalClass('control-char'); // RFC 9112 §3: no CTL, no SP
  RAW_CLASS[0x7f] = refusalClass('control-char');
  RAW_CLASS[0] = refusalClass('nul');
  RAW_CLASS[HASH] = refusalClass('fragment'); // RFC 9112 §3.2: a fragment is never sent
  RAW_CLASS[0x5c] = refusalClass('backslash'); // some servers read `\` as `/`
  RAW_CLASS[0x3b] = refusalClass('semicolon'); // path parameters: Tomcat/Spring strip `;…`, others do not
  RAW_CLASS[SLASH] = IS_SLASH;
  RAW_CLASS[DOT] = IS_DOT;
  RAW_CLASS[PERCENT] = IS_PERCENT;

  // RFC 3986 §2.3 / §6.2.2.2: escapes of unreserved characters are equivalent to the characters.
  for (let c = 0; c < 128; c++) {
    const unreserved =
      (c >= 0x30 && c <= 0x39) ||
      (c >= 0x41 && c <= 0x5a) ||
      (c >= 0x61 && c <= 0x7a) ||
      c === 0x2d ||
      c === DOT ||
      c === 0x5f ||
      c === 0x7e;
    if (unreserved) DECODED_CLASS[c] = UNRESERVED;
    else if (c < 0x20 || c === 0x7f) DECODED_CLASS[c] = refusalClass('control-char');
  }
  DECODED_CLASS[0] = refusalClass('nul');
  DECODED_CLASS[SLASH] = refusalClass('encoded-slash'); // `%2F` would make a segment boundary upstream
  DECODED_CLASS[0x5c] = refusalClass('backslash');
  DECODED_CLASS[0x3b] = refusalClass('semicolon');
  DECODED_CLASS[PERCENT] = refusalClass('double-encoding'); // `%252F` decodes to `%2F` one layer later
}

/** -1 for a non-hex character, else its value (indexes 0..127). */
const HEX_VALUE = new Int8Array(128).fill(-1);
for (let c = 0; c < 10; c++) HEX_VALUE[0x30 + c] = c;
for (let c = 0; c < 6; c++) {
  HEX_VALUE[0x41 + c] = 10 + c;
  HEX_VALUE[0x61 + c] = 10 + c;
}

/** `%00`…`%FF` with uppercase hex (RFC 3986 §6.2.2.1). */
const ESCAPES: readonly string[] = Array.from(
  { length: 256 },
  (_, b) => `%${b.toString(16).toUpperCase().padStart(2, '0')}`,
);

const REFUSED = Object.fromEntries(
  [...REFUSALS, 'not-origin-form', 'bad-escape', 'bad-utf8', 'dot-segment-escape', 'non-ascii'].map(
    (reason) => [reason, Object.freeze({ ok: false, reason })],
  ),
) as Readonly<Record<PathRefusal, CanonicalTarget>>;

/** Value of the escape `%XY` at `at` (which holds `%`), or -1 when malformed or not inside `[0, end)`. */
function readEscape(raw: string, at: number, end: number): number {
  if (at + 2 >= end) return -1;
  const high = HEX_VALUE[raw.charCodeAt(at + 1)] ?? -1;
  const low = HEX_VALUE[raw.charCodeAt(at + 2)] ?? -1;
  return high < 0 || low < 0 ? -1 : (high << 4) | low;
}

/**
 * Appends the UTF-8 sequence whose lead byte `lead` was escaped at `at`, re-escaped in uppercase; returns the
 * position after it, or a refusal. RFC 3629 §4: overlong forms, surrogates and code points above U+10FFFF are
 * invalid (`%C0%AE` is an overlong `.`, `%C0%AF`/`%E0%80%AF` overlong `/`).
 */
function readUtf8(
  raw: string,
  at: number,
  end: number,
  lead: number,
): { next: number; text: string } | PathRefusal {
  let count: number;
  let low = 0x80;
  let high = 0xbf;
  if (lead >= 0xc2 && lead <= 0xdf) count = 1;
  else if (lead >= 0xe0 && lead <= 0xef) {
    count = 2;
    if (lead === 0xe0) low = 0xa0;
    else if (lead === 0xed) high = 0x9f;
  } else if (lead >= 0xf0 && lead <= 0xf4) {
    count = 3;
    if (lead === 0xf0) low = 0x90;
    else if (lead === 0xf4) high = 0x8f;
  } else return 'bad-utf8';
  let text = ESCAPES[lead] ?? '';
  let position = at + 3;
  for (let k = 0; k < count; k++) {
    if (position >= end || raw.charCodeAt(position) !== PERCENT) return 'bad-utf8';
    const byte = readEscape(raw, position, end);
    if (byte < 0) return 'bad-escape';
    if (byte < low || byte > high) return 'bad-utf8';
    text += ESCAPES[byte] ?? '';
    position += 3;
    low = 0x80;
    high = 0xbf;
  }
  return { next: position, text };
}

/**
 * The slow path, for paths holding `%`, `//` or `/.`: decodes escapes segment by segment, merges empty
 * segments and resolves dot segments (RFC 3986 §5.2.4). Raw characters were already checked by the caller.
 * Returns the canonical path (starting with `/`) or a refusal.
 */
function buildCanonicalPath(raw: string, end: number): string {
  const segments: string[] = [];
  let segment = '';
  let runStart = 1;
  let trailingSlash = false;
  let i = 1;
  while (i <= end) {
    const c = i < end ? raw.charCodeAt(i) : SLASH;
    if (c === PERCENT) {
      const byte = readEscape(raw, i, end);
      if (byte < 0) return 'bad-escape';
      segment += raw.slice(runStart, i);
      if (byte >= 0x80) {
        const sequence = readUtf8(raw, i, end, byte);
        if (typeof sequence === 'string') return sequence;
        segment += sequence.text;
        i = sequence.next;
      } else {
        const kind = DECODED_CLASS[byte] ?? PLAIN;
        if (kind >= FIRST_REFUSAL) return REFUSALS[kind - FIRST_REFUSAL] ?? 'bad-escape';
        segment += kind === UNRESERVED ? String.fromCharCode(byte) : (ESCAPES[byte] ?? '');
        i += 3;
      }
      runStart = i;
      continue;
    }
    if (c === SLASH) {
      segment += raw.slice(runStart, i);
      if (segment === '' || segment === '.') {
        trailingSlash = true; // `a//` and `a/.` both end in a directory
      } else if (segment === '..') {
        if (segments.pop() === undefined) return 'dot-segment-escape';
        trailingSlash = true;
      } else {
        segments.push(segment);
        trailingSlash = false;
      }
      segment = '';
      runStart = i + 1;
    }
    i++;
  }
  if (segments.length === 0) return '/';
  const path = `/${segments.join('/')}`;
  return trailingSlash ? `${path}/` : path;
}

/** Refusal for the query (kept as received otherwise), or undefined. */
function checkQuery(raw: string, start: number): PathRefusal | undefined {
  for (let i = start; i < raw.length; i++) {
    const c = raw.charCodeAt(i);
    if (c > 0x20 && c < 0x7f) {
      if (c === HASH) return 'fragment';
      if (c === PERCENT && raw.charCodeAt(i + 1) === 0x30 && raw.charCodeAt(i + 2) === 0x30) return 'nul';
      continue;
    }
    if (c === 0) return 'nul';
    return c < 0x80 ? 'control-char' : 'non-ascii';
  }
  return undefined;
}

/**
 * Canonicalizes an origin-form request target (RFC 9112 §3.2.1), i.e. `req.url`. A single scan over the path
 * checks every raw character; paths without `%`, `//` or `/.` (nearly all) are returned as received.
 */
export function canonicalizeTarget(rawTarget: string): CanonicalTarget {
  const length = rawTarget.length;
  // `*` (asterisk-form) and `http://…` (absolute-form) never reach a route.
  if (length === 0 || rawTarget.charCodeAt(0) !== SLASH) return REFUSED['not-origin-form'];
  let end = length;
  let clean = true;
  let previous = 0;
  for (let i = 0; i < length; i++) {
    const c = rawTarget.charCodeAt(i);
    if (c === QUESTION) {
      end = i;
      break;
    }
    if (c >= 0x80) return REFUSED['non-ascii'];
    const kind = RAW_CLASS[c] ?? PLAIN;
    if (kind !== PLAIN) {
      if (kind >= FIRST_REFUSAL) return REFUSED[REFUSALS[kind - FIRST_REFUSAL] ?? 'bad-escape'];
      if (kind === IS_PERCENT || previous === SLASH) clean = false; // an escape, `//` or `/.`
    }
    previous = c;
  }
  let query = '';
  if (end < length) {
    const refusal = checkQuery(rawTarget, end + 1);
    if (refusal !== undefined) return REFUSED[refusal];
    query = rawTarget.slice(end + 1);
  }
  if (clean) return { ok: true, path: end === length ? rawTarget : rawTarget.slice(0, end), query };
  const path = buildCanonicalPath(rawTarget, end);
  if (path.charCodeAt(0) !== SLASH) return REFUSED[path as PathRefusal];
  return { ok: true, path, query };
}

/** True iff `path` is already canonical (and holds no query): re-checked after every rewrite. */
export function isCanonicalPath(path: string): boolean {
  const target = canonicalizeTarget(path);
  return target.ok && target.path === path && target.query === '';
}
