import {
  escapePointer,
  externalRefProblem,
  isObject,
  resolvePointer,
  type JsonObject,
} from './resolve-ref.js';

export type OpenApiVersion = '3.0' | '3.1';

/**
 * Component schemas are registered with ajv as one schema under this id, and every
 * `#/components/schemas/…` ref is rewritten to point into it. `.invalid` (RFC 2606 §2) never resolves.
 */
export const SCHEMA_DOCUMENT_ID = 'https://gatehouse.invalid/openapi.json';

const COMPONENT_SCHEMAS = '#/components/schemas/';

export interface SchemaContext {
  readonly document: JsonObject;
  readonly version: OpenApiVersion;
  readonly problems: string[];
}

/** Where component schemas live in the registered schema: draft-07 `definitions`, 2020-12 `$defs`. */
export function definitionsKeyword(version: OpenApiVersion): 'definitions' | '$defs' {
  return version === '3.0' ? 'definitions' : '$defs';
}

const SCHEMA_MAPS = new Set(['properties', 'patternProperties', '$defs', 'definitions', 'dependentSchemas']);
const SCHEMA_LISTS = new Set(['allOf', 'anyOf', 'oneOf', 'prefixItems', 'items']);
const SCHEMA_VALUES = new Set([
  'items',
  'additionalProperties',
  'not',
  'if',
  'then',
  'else',
  'contains',
  'propertyNames',
  'unevaluatedItems',
  'unevaluatedProperties',
  'additionalItems',
  'contentSchema',
]);
/** Keywords that move the base URI or resolve dynamically: refs could no longer be rewritten safely. */
const UNSUPPORTED = new Set(['$id', '$dynamicRef', '$recursiveRef']);
/** OpenAPI 3.1 §4.8.24: the OAS dialect is 2020-12 plus annotations; nothing else is understood. */
export const KNOWN_DIALECTS: ReadonlySet<unknown> = new Set([
  'https://json-schema.org/draft/2020-12/schema',
  'https://spec.openapis.org/oas/3.1/dialect/base',
]);

function rewriteRef(ref: unknown, at: string, ctx: SchemaContext): string | undefined {
  if (typeof ref !== 'string') {
    ctx.problems.push(`${at}: $ref must be a string`);
    return undefined;
  }
  if (!ref.startsWith('#')) {
    ctx.problems.push(externalRefProblem(at, ref));
    return undefined;
  }
  if (!ref.startsWith(COMPONENT_SCHEMAS)) {
    ctx.problems.push(`${at}: schema $ref ${JSON.stringify(ref)} must point into #/components/schemas`);
    return undefined;
  }
  if (resolvePointer(ctx.document, ref) === undefined) {
    ctx.problems.push(`${at}: $ref ${JSON.stringify(ref)} does not resolve`);
    return undefined;
  }
  const rest = ref.slice(COMPONENT_SCHEMAS.length);
  return `${SCHEMA_DOCUMENT_ID}#/${definitionsKeyword(ctx.version)}/${rest}`;
}

/** Whether a (raw) property schema is `readOnly`, directly, through `$ref` or through `allOf`. */
function isReadOnly(schema: unknown, ctx: SchemaContext, depth = 0): boolean {
  if (!isObject(schema) || depth > 32) return false;
  if (schema.readOnly === true) return true;
  if (
    typeof schema.$ref === 'string' &&
    isReadOnly(resolvePointer(ctx.document, schema.$ref), ctx, depth + 1)
  )
    return true;
  return Array.isArray(schema.allOf) && schema.allOf.some((part) => isReadOnly(part, ctx, depth + 1));
}

/**
 * OpenAPI 3.0 §4.7.24.1 (3.0.3): a `readOnly` property listed in `required` is required in responses
 * only, so requests must not be refused for leaving it out; the `readOnly` keyword itself then refuses
 * a request that sends it.
 */
function dropReadOnlyRequired(raw: JsonObject, out: JsonObject, ctx: SchemaContext): void {
  if (!Array.isArray(out.required) || !isObject(raw.properties)) return;
  const properties = raw.properties;
  out.required = out.required.filter(
    (name) =>
      !(typeof name === 'string' && Object.hasOwn(properties, name) && isReadOnly(properties[name], ctx)),
  );
}

/** OpenAPI 3.0 (a draft-04 dialect) → draft-07 for ajv: boolean exclusive bounds and `nullable`. */
function fromOpenApi30(out: JsonObject): JsonObject {
  if (typeof out.exclusiveMinimum === 'boolean') {
    if (out.exclusiveMinimum && typeof out.minimum === 'number') {
      out.exclusiveMinimum = out.minimum;
      delete out.minimum;
    } else {
      delete out.exclusiveMinimum;
    }
  }
  if (typeof out.exclusiveMaximum === 'boolean') {
    if (out.exclusiveMaximum && typeof out.maximum === 'number') {
      out.exclusiveMaximum = out.maximum;
      delete out.maximum;
    } else {
      delete out.exclusiveMaximum;
    }
  }
  if (!('nullable' in out)) return out;
  const nullable = out.nullable === true;
  delete out.nullable;
  if (!nullable) return out;
  if (Array.isArray(out.enum) && !out.enum.includes(null)) out.enum = [...(out.enum as unknown[]), null];
  if (typeof out.type === 'string') {
    out.type = [out.type, 'null'];
    return out;
  }
  if (out.type !== undefined || Array.isArray(out.enum)) return out;
  // No `type` beside `nullable` (e.g. `allOf: [$ref]`): null or the rest. `readOnly` stays outside so
  // that a read-only property cannot be written as null either.
  const { readOnly, ...rest } = out;
  return { ...(readOnly === undefined ? {} : { readOnly }), anyOf: [{ type: 'null' }, rest] };
}

/**
 * Copies a schema of the document into a form ajv compiles: local refs point into the registered
 * component schemas, vendor extensions are dropped, 3.0 keywords are translated. Problems are collected
 * in `ctx.problems`, located by `at` (a `#/…` pointer into the document).
 */
export function prepareSchema(schema: unknown, at: string, ctx: SchemaContext): unknown {
  // `true`/`false` (3.1 schemas; in 3.0 as `additionalProperties: false`): ajv's drafts both accept them.
  if (typeof schema === 'boolean') return schema;
  if (!isObject(schema)) {
    ctx.problems.push(`${at}: must be a schema object`);
    return {};
  }
  const out: JsonObject = {};
  for (const [key, value] of Object.entries(schema)) {
    const here = `${at}/${escapePointer(key)}`;
    if (key.startsWith('x-')) continue;
    if (key === '$ref') {
      const ref = rewriteRef(value, at, ctx);
      if (ref !== undefined) out.$ref = ref;
    } else if (key === '$schema') {
      if (!KNOWN_DIALECTS.has(value)) ctx.problems.push(`${here}: unsupported schema dialect`);
    } else if (UNSUPPORTED.has(key)) {
      ctx.problems.push(`${here}: ${key} is not supported in gateway validation`);
    } else if (SCHEMA_MAPS.has(key) && isObject(value)) {
      const map: JsonObject = {};
      for (const [name, sub] of Object.entries(value))
        map[name] = prepareSchema(sub, `${here}/${escapePointer(name)}`, ctx);
      out[key] = map;
    } else if (key === 'dependencies' && isObject(value)) {
      const map: JsonObject = {};
      for (const [name, sub] of Object.entries(value))
        map[name] = Array.isArray(sub) ? sub : prepareSchema(sub, `${here}/${escapePointer(name)}`, ctx);
      out[key] = map;
    } else if (SCHEMA_LISTS.has(key) && Array.isArray(value)) {
      out[key] = value.map((sub, index) => prepareSchema(sub, `${here}/${index}`, ctx));
    } else if (SCHEMA_VALUES.has(key) && (isObject(value) || typeof value === 'boolean')) {
      out[key] = prepareSchema(value, here, ctx);
    } else {
      out[key] = value;
    }
  }
  dropReadOnlyRequired(schema, out, ctx);
  return ctx.version === '3.0' ? fromOpenApi30(out) : out;
}

/** Follows local refs of a raw schema to read its declared `type` (for parameter serialization). */
export function schemaShape(schema: unknown, ctx: SchemaContext, depth = 0): 'scalar' | 'array' | 'object' {
  if (!isObject(schema) || depth > 32) return 'scalar';
  const type = schema.type;
  const types: unknown[] = Array.isArray(type) ? type : [type];
  if (types.includes('array')) return 'array';
  if (types.includes('object')) return 'object';
  if (type === undefined && typeof schema.$ref === 'string')
    return schemaShape(resolvePointer(ctx.document, schema.$ref), ctx, depth + 1);
  if (type === undefined && Array.isArray(schema.allOf)) {
    for (const part of schema.allOf) {
      const shape = schemaShape(part, ctx, depth + 1);
      if (shape !== 'scalar') return shape;
    }
  }
  return 'scalar';
}
