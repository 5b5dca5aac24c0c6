import { Ajv, type Options, type ValidateFunction } from 'ajv';
import { Ajv2020 } from 'ajv/dist/2020.js';
import ajvFormats from 'ajv-formats';
import { definitionsKeyword, SCHEMA_DOCUMENT_ID, type OpenApiVersion } from './prepare-schema.js';

const addFormats = ajvFormats.default;

export interface SchemaCompilers {
  /** Path, query, header and cookie parameters: strings coerced to the declared type. */
  compileParameter(schema: unknown, at: string): ValidateFunction | undefined;
  /** JSON bodies: no coercion, `readOnly` properties refused. */
  compileBody(schema: unknown, at: string): ValidateFunction | undefined;
}

const BASE_OPTIONS: Options = {
  // Vendor extensions and OpenAPI annotations (`example`, `discriminator`, `xml`) are not JSON Schema.
  strict: false,
  // Stop at the first error: a refused request needs one reason, and failing fast is cheaper.
  allErrors: false,
  // `{"__proto__": …}` from JSON.parse is an own property; inherited ones are never data.
  ownProperties: true,
  // Unknown formats are allowed by OpenAPI (§4.4) and ignored, without console noise.
  logger: false,
  unicodeRegExp: true,
};

function createAjv(version: OpenApiVersion, options: Options): Ajv | Ajv2020 {
  const ajv =
    version === '3.0'
      ? new Ajv({ ...BASE_OPTIONS, ...options })
      : new Ajv2020({ ...BASE_OPTIONS, ...options });
  addFormats(ajv);
  return ajv;
}

function errorText(error: unknown, version: OpenApiVersion): string {
  const text = error instanceof Error ? error.message : String(error);
  const defs = definitionsKeyword(version);
  return text
    .replaceAll(`${SCHEMA_DOCUMENT_ID}#/${defs}/`, '#/components/schemas/')
    .replaceAll(`data/${defs}/`, '#/components/schemas/');
}

/**
 * Builds the two ajv instances of one document, each holding the prepared component schemas. Every
 * validator is compiled here, at load, never per request. Returns `undefined` (with problems) when the
 * component schemas themselves are invalid.
 */
export function buildSchemaCompilers(
  version: OpenApiVersion,
  componentSchemas: Readonly<Record<string, unknown>>,
  problems: string[],
): SchemaCompilers | undefined {
  const container = { $id: SCHEMA_DOCUMENT_ID, [definitionsKeyword(version)]: componentSchemas };
  const parameters = createAjv(version, { coerceTypes: true });
  const bodies = createAjv(version, {});
  // OpenAPI 3.1 §4.8.24.4 / 3.0 §4.7.24.1: readOnly properties SHOULD NOT be sent in requests — the
  // gateway refuses them, so a client cannot write `owner` or `balance`. Only bodies: a path parameter
  // may reuse a component schema that is read-only as a property.
  bodies.removeKeyword('readOnly');
  bodies.addKeyword({
    keyword: 'readOnly',
    schemaType: 'boolean',
    validate: (readOnly: boolean) => !readOnly,
  });
  try {
    parameters.addSchema(container);
    bodies.addSchema(container);
  } catch (error) {
    problems.push(`#/components/schemas: ${errorText(error, version)}`);
    return undefined;
  }
  const compileWith =
    (ajv: Ajv | Ajv2020) =>
    (schema: unknown, at: string): ValidateFunction | undefined => {
      try {
        return ajv.compile(schema as object | boolean);
      } catch (error) {
        problems.push(`${at}: ${errorText(error, version)}`);
        return undefined;
      }
    };
  return { compileParameter: compileWith(parameters), compileBody: compileWith(bodies) };
}
