import { prepareSchema, schemaShape, type SchemaContext } from './prepare-schema.js';
import { isJsonMediaType, mediaTypeOf } from './request-body.js';
import { escapePointer, followRef, isObject } from './resolve-ref.js';

export type ParameterLocation = 'path' | 'query' | 'header' | 'cookie';

/** A parameter as the validator needs it: where to read it, how it is serialized, its prepared schema. */
export interface ParameterSpec {
  readonly name: string;
  readonly in: ParameterLocation;
  /** `name` as looked up: lower-case for headers. */
  readonly key: string;
  readonly required: boolean;
  /**
   * `scalar`: one value; `repeated`: every occurrence (form, explode); `delimited`: one value split on
   * `delimiter`; `deep`: `name[prop]=v` (deepObject); `json`: a `content: application/json` parameter.
   */
  readonly serialization: 'scalar' | 'repeated' | 'delimited' | 'deep' | 'json';
  readonly delimiter: string;
  readonly schema: unknown;
  readonly at: string;
}

const LOCATIONS: ReadonlySet<unknown> = new Set(['path', 'query', 'header', 'cookie']);
/** OpenAPI §4.8.12.1: these header parameters SHALL be ignored (other fields describe them). */
const IGNORED_HEADERS = new Set(['accept', 'content-type', 'authorization']);
const DEFAULT_STYLE: Readonly<Record<ParameterLocation, string>> = {
  path: 'simple',
  query: 'form',
  header: 'simple',
  cookie: 'form',
};

function serializationOf(
  location: ParameterLocation,
  style: string,
  explode: boolean,
  shape: 'scalar' | 'array' | 'object',
): Pick<ParameterSpec, 'serialization' | 'delimiter'> | string {
  const key = `${location}:${style}:${shape}`;
  switch (key) {
    case 'path:simple:scalar':
    case 'header:simple:scalar':
    case 'query:form:scalar':
    case 'cookie:form:scalar':
      return { serialization: 'scalar', delimiter: '' };
    case 'path:simple:array':
    case 'header:simple:array':
      return { serialization: 'delimited', delimiter: ',' };
    case 'query:form:array':
      return explode
        ? { serialization: 'repeated', delimiter: '' }
        : { serialization: 'delimited', delimiter: ',' };
    case 'query:spaceDelimited:array':
      return explode
        ? { serialization: 'repeated', delimiter: '' }
        : { serialization: 'delimited', delimiter: ' ' };
    case 'query:pipeDelimited:array':
      return explode
        ? { serialization: 'repeated', delimiter: '' }
        : { serialization: 'delimited', delimiter: '|' };
    case 'query:deepObject:object':
      return { serialization: 'deep', delimiter: '' };
    default:
      return `style ${JSON.stringify(style)} for ${shape === 'scalar' ? 'a primitive' : `an ${shape}`} ${location} parameter is not supported`;
  }
}

/**
 * Reads one Parameter Object (following local refs). Returns `undefined` for parameters the gateway
 * ignores or could not read (then with a problem).
 */
export function readParameter(raw: unknown, at: string, ctx: SchemaContext): ParameterSpec | undefined {
  const parameter = followRef(ctx.document, raw, at, ctx.problems);
  if (parameter === undefined) return undefined;
  const { name, in: location } = parameter;
  if (typeof name !== 'string' || name === '') {
    ctx.problems.push(`${at}/name: must be a non-empty string`);
    return undefined;
  }
  if (!LOCATIONS.has(location)) {
    ctx.problems.push(`${at}/in: must be path, query, header or cookie`);
    return undefined;
  }
  const where = location as ParameterLocation;
  if (where === 'header' && IGNORED_HEADERS.has(name.toLowerCase())) return undefined;
  const style = parameter.style ?? DEFAULT_STYLE[where];
  const explode = parameter.explode ?? style === 'form';
  if (typeof style !== 'string' || typeof explode !== 'boolean') {
    ctx.problems.push(`${at}: style must be a string and explode a boolean`);
    return undefined;
  }
  const required = parameter.required === true;
  if (where === 'path' && !required) ctx.problems.push(`${at}/required: path parameters must be required`);
  const base = { name, in: where, key: where === 'header' ? name.toLowerCase() : name, required, at };

  if (parameter.content !== undefined) {
    const entries = isObject(parameter.content) ? Object.entries(parameter.content) : [];
    const [mediaType, media] = entries[0] ?? [];
    if (parameter.schema !== undefined || entries.length !== 1 || mediaType === undefined) {
      ctx.problems.push(`${at}: a parameter needs either schema or exactly one content entry`);
      return undefined;
    }
    if (!isJsonMediaType(mediaTypeOf(mediaType))) {
      ctx.problems.push(`${at}/content: only JSON content parameters are supported`);
      return undefined;
    }
    const schema = isObject(media) && media.schema !== undefined ? media.schema : {};
    const schemaAt = `${at}/content/${escapePointer(mediaType)}/schema`;
    return {
      ...base,
      serialization: 'json',
      delimiter: '',
      schema: prepareSchema(schema, schemaAt, ctx),
      at: schemaAt,
    };
  }
  if (parameter.schema === undefined) {
    ctx.problems.push(`${at}: a parameter needs either schema or content`);
    return undefined;
  }
  const serialization = serializationOf(where, style, explode, schemaShape(parameter.schema, ctx));
  if (typeof serialization === 'string') {
    ctx.problems.push(`${at}: ${serialization}`);
    return undefined;
  }
  return {
    ...base,
    ...serialization,
    schema: prepareSchema(parameter.schema, `${at}/schema`, ctx),
    at: `${at}/schema`,
  };
}

/** `(in, name)` identifies a parameter (OpenAPI §4.8.10.1); header names are case-insensitive. */
export function parameterId(spec: ParameterSpec): string {
  return `${spec.in}:${spec.key}`;
}
