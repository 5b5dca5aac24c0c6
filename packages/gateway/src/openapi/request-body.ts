import type { ValidateFunction } from 'ajv';
import { describeProblem } from './describe-problem.js';
import { prepareSchema, type SchemaContext } from './prepare-schema.js';
import { escapePointer, followRef, isObject } from './resolve-ref.js';
import type { SchemaCompilers } from './schema-compilers.js';
import type { OperationBody, ValidationProblem } from './types.js';

interface MediaSpec {
  /** Lower-case media type or range without parameters: `application/json`, `image/*`. */
  readonly type: string;
  readonly json: boolean;
  readonly schema: unknown;
  readonly at: string;
}

export interface RequestBodySpec {
  readonly required: boolean;
  readonly media: readonly MediaSpec[];
}

const MEDIA_RANGE = /^(?:\*\/\*|[!#$%&'*+.^`|~\w-]+\/(?:\*|[!#$%&'*+.^`|~\w-]+))$/;

/** `Application/JSON; charset=utf-8` → `application/json` (RFC 9110 §8.3.1: case-insensitive). */
export function mediaTypeOf(contentType: string): string {
  const semicolon = contentType.indexOf(';');
  return (semicolon === -1 ? contentType : contentType.slice(0, semicolon)).trim().toLowerCase();
}

/** JSON media types: `application/json` and the `+json` structured syntax suffix (RFC 6839 §3.1). */
export function isJsonMediaType(type: string): boolean {
  return (
    type === 'application/json' ||
    (type.startsWith('application/') && type.endsWith('+json') && !type.includes('*'))
  );
}

/** Whether the declared media type or range `declared` covers the concrete `type` (RFC 9110 §12.5.1). */
function covers(declared: string, type: string): boolean {
  if (declared === type || declared === '*/*') return true;
  return declared.endsWith('/*') && type.startsWith(declared.slice(0, -1));
}

/** Reads a Request Body Object (following local refs); schemas of JSON media types are prepared. */
export function readRequestBody(raw: unknown, at: string, ctx: SchemaContext): RequestBodySpec | undefined {
  const body = followRef(ctx.document, raw, at, ctx.problems);
  if (body === undefined) return undefined;
  if (!isObject(body.content) || Object.keys(body.content).length === 0) {
    ctx.problems.push(`${at}/content: must declare at least one media type`);
    return undefined;
  }
  const media: MediaSpec[] = [];
  for (const [key, value] of Object.entries(body.content)) {
    const here = `${at}/content/${escapePointer(key)}`;
    const type = mediaTypeOf(key);
    if (!MEDIA_RANGE.test(type)) {
      ctx.problems.push(`${here}: not a media type`);
      continue;
    }
    const json = isJsonMediaType(type);
    const declared = isObject(value) ? value.schema : undefined;
    // Only JSON bodies are parsed by the gateway: other media types are declared, not validated.
    const schema =
      json && declared !== undefined ? prepareSchema(declared, `${here}/schema`, ctx) : undefined;
    media.push({ type, json, schema, at: `${here}/schema` });
  }
  return { required: body.required === true, media };
}

class DeclaredBody implements OperationBody {
  readonly required: boolean;
  readonly contentTypes: readonly string[];
  readonly #validators: ReadonlyMap<string, ValidateFunction | undefined>;
  readonly #default: ValidateFunction | undefined;

  constructor(
    required: boolean,
    validators: ReadonlyMap<string, ValidateFunction | undefined>,
    types: readonly string[],
  ) {
    this.required = required;
    this.contentTypes = Object.freeze([...types]);
    this.#validators = validators;
    this.#default = validators.values().next().value;
  }

  accepts(contentType: string): boolean {
    const type = mediaTypeOf(contentType);
    if (!MEDIA_RANGE.test(type) || type.includes('*')) return false;
    return this.contentTypes.some((declared) => covers(declared, type));
  }

  validate(value: unknown, mediaType?: string): ValidationProblem[] {
    let validate = this.#default;
    if (mediaType !== undefined) {
      const type = mediaTypeOf(mediaType);
      if (!this.#validators.has(type)) {
        return this.accepts(type) ? [] : [{ pointer: '/body', message: 'media type is not declared' }];
      }
      validate = this.#validators.get(type);
    }
    if (validate === undefined || validate(value)) return [];
    return [describeProblem('/body', validate.errors)];
  }
}

/** Compiles the JSON schemas of a request body; `undefined` when one failed (the problem is recorded). */
export function compileRequestBody(
  spec: RequestBodySpec,
  compilers: SchemaCompilers,
): OperationBody | undefined {
  const validators = new Map<string, ValidateFunction | undefined>();
  for (const media of spec.media) {
    if (!media.json) continue;
    if (media.schema === undefined) {
      validators.set(media.type, undefined);
      continue;
    }
    const validate = compilers.compileBody(media.schema, media.at);
    if (validate === undefined) return undefined;
    validators.set(media.type, validate);
  }
  return new DeclaredBody(
    spec.required,
    validators,
    spec.media.map((m) => m.type),
  );
}
