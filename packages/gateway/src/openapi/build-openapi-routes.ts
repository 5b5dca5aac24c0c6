import { GatehouseError } from '@gatehouse/core';
import { compileParameters, type ParameterValidator } from './compile-parameters.js';
import { buildPathMatcher } from './path-matcher.js';
import { KNOWN_DIALECTS, prepareSchema, type OpenApiVersion, type SchemaContext } from './prepare-schema.js';
import { parameterId, readParameter, type ParameterSpec } from './read-parameter.js';
import { compileRequestBody, readRequestBody, type RequestBodySpec } from './request-body.js';
import { findExternalRefs, followRef, isObject, pointerOf, type JsonObject } from './resolve-ref.js';
import { buildSchemaCompilers } from './schema-compilers.js';
import type {
  OpenApiOperation,
  OpenApiRoutes,
  OpenApiRoutesOptions,
  OperationBody,
  OperationMatch,
  ValidationProblem,
} from './types.js';

/** OpenAPI §4.8.9: the fixed fields of a Path Item that are operations. */
const METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'] as const;

/** Vendor extension, on an operation, a path item or the root: undeclared query parameters are refused. */
const STRICT_QUERY = 'x-gatehouse-strict-query';

type Security = readonly Readonly<Record<string, readonly string[]>>[];

interface OperationSpec {
  readonly method: string;
  readonly template: string;
  readonly operationId: string | undefined;
  readonly parameters: readonly ParameterSpec[];
  readonly strictQuery: boolean;
  readonly body: RequestBodySpec | undefined;
  readonly security: Security;
}

interface CompiledOperation {
  readonly operationId: string | undefined;
  readonly pathTemplate: string;
  readonly parameters: ParameterValidator;
  readonly body: OperationBody | undefined;
}

interface PathValue {
  readonly operations: ReadonlyMap<string, CompiledOperation>;
  readonly allowed: readonly string[];
}

/** One object per matched request; the validators it calls were all compiled at load. */
class Match implements OperationMatch {
  readonly operationId: string | undefined;
  readonly pathTemplate: string;
  readonly params: Readonly<Record<string, string>>;
  readonly body: OperationBody | undefined;
  readonly #parameters: ParameterValidator;

  constructor(operation: CompiledOperation, params: Readonly<Record<string, string>>) {
    this.operationId = operation.operationId;
    this.pathTemplate = operation.pathTemplate;
    this.params = params;
    this.body = operation.body;
    this.#parameters = operation.parameters;
  }

  validate(input: {
    query: string;
    headers: Readonly<Record<string, string | string[] | undefined>>;
  }): ValidationProblem[] {
    return this.#parameters.check(this.params, input.query, input.headers);
  }
}

function invalid(problems: readonly string[]): GatehouseError {
  return new GatehouseError('ERR_CONFIG_INVALID', {
    detail: `invalid OpenAPI document: ${[...new Set(problems)].join('; ')}`,
  });
}

function readVersion(value: unknown): OpenApiVersion | undefined {
  if (typeof value !== 'string') return undefined;
  if (/^3\.0\.\d+$/.test(value)) return '3.0';
  if (/^3\.1\.\d+$/.test(value)) return '3.1';
  return undefined;
}

function normalizeBasePath(basePath: string | undefined, problems: string[]): string {
  if (basePath === undefined || basePath === '' || basePath === '/') return '';
  if (!/^(?:\/[A-Za-z0-9\-._~!$&'()*+,=:@%]+)+\/?$/.test(basePath)) {
    problems.push(`basePath ${JSON.stringify(basePath)} must be a path like /api`);
    return '';
  }
  return basePath.endsWith('/') ? basePath.slice(0, -1) : basePath;
}

function readStrictQuery(node: JsonObject, at: string, problems: string[]): boolean | undefined {
  const value = node[STRICT_QUERY];
  if (value === undefined || typeof value === 'boolean') return value;
  problems.push(`${at}/${STRICT_QUERY}: must be a boolean`);
  return undefined;
}

/** Security Requirement Objects (OpenAPI §4.8.30): alternatives of scheme → scopes. */
function readSecurity(
  value: unknown,
  at: string,
  schemes: ReadonlySet<string>,
  problems: string[],
): Security | undefined {
  if (value === undefined) return undefined;
  if (!Array.isArray(value)) {
    problems.push(`${at}: must be an array of security requirements`);
    return undefined;
  }
  const security: Readonly<Record<string, readonly string[]>>[] = [];
  for (const [index, requirement] of value.entries()) {
    if (!isObject(requirement)) {
      problems.push(`${at}/${index}: must be an object`);
      continue;
    }
    const normalized: Record<string, readonly string[]> = {};
    for (const [scheme, scopes] of Object.entries(requirement)) {
      if (!schemes.has(scheme))
        problems.push(`${at}/${index}: unknown security scheme ${JSON.stringify(scheme)}`);
      const names: unknown[] = Array.isArray(scopes) ? scopes : [];
      const valid = names.filter((name): name is string => typeof name === 'string');
      if (!Array.isArray(scopes) || valid.length !== names.length)
        problems.push(`${at}/${index}/${scheme}: must be an array of scope names`);
      else normalized[scheme] = Object.freeze(valid);
    }
    security.push(Object.freeze(normalized));
  }
  return Object.freeze(security);
}

function scopesOf(security: Security): readonly string[] {
  const scopes = new Set<string>();
  for (const requirement of security)
    for (const list of Object.values(requirement)) for (const s of list) scopes.add(s);
  return Object.freeze([...scopes]);
}

/** Path-level parameters apply to every operation; an operation parameter overrides the same (in, name). */
function readParameters(
  pathLevel: readonly ParameterSpec[],
  raw: unknown,
  at: string,
  ctx: SchemaContext,
): ParameterSpec[] {
  const merged = new Map(pathLevel.map((p) => [parameterId(p), p]));
  const own = new Set<string>();
  if (raw !== undefined && !Array.isArray(raw)) ctx.problems.push(`${at}: must be an array`);
  for (const [index, item] of (Array.isArray(raw) ? raw : []).entries()) {
    const spec = readParameter(item, `${at}/${index}`, ctx);
    if (spec === undefined) continue;
    const id = parameterId(spec);
    if (own.has(id))
      ctx.problems.push(`${at}/${index}: parameter ${JSON.stringify(spec.name)} is declared twice`);
    own.add(id);
    merged.set(id, spec);
  }
  return [...merged.values()];
}

function templateNames(template: string): string[] {
  return [...template.matchAll(/\{([^{}/]+)\}/g)].map((m) => m[1] ?? '');
}

function readOperations(
  document: JsonObject,
  ctx: SchemaContext,
  schemes: ReadonlySet<string>,
): OperationSpec[] {
  const { problems } = ctx;
  const rootSecurity = readSecurity(document.security, '#/security', schemes, problems) ?? [];
  const rootStrict = readStrictQuery(document, '#', problems) ?? false;
  if (document.paths !== undefined && !isObject(document.paths)) problems.push('#/paths: must be an object');
  const paths = isObject(document.paths) ? document.paths : {};
  const operations: OperationSpec[] = [];
  const operationIds = new Map<string, string>();
  for (const [template, rawItem] of Object.entries(paths)) {
    if (template.startsWith('x-')) continue;
    const at = pointerOf('paths', template);
    const item = followRef(document, rawItem, at, problems);
    if (item === undefined) continue;
    const pathParameters = readParameters([], item.parameters, `${at}/parameters`, ctx);
    const pathStrict = readStrictQuery(item, at, problems);
    for (const method of METHODS) {
      const operation = item[method];
      if (operation === undefined) continue;
      const opAt = `${at}/${method}`;
      if (!isObject(operation)) {
        problems.push(`${opAt}: must be an object`);
        continue;
      }
      const parameters = readParameters(pathParameters, operation.parameters, `${opAt}/parameters`, ctx);
      const declared = new Set(parameters.filter((p) => p.in === 'path').map((p) => p.name));
      const names = new Set(templateNames(template));
      for (const name of names)
        if (!declared.has(name))
          problems.push(`${opAt}: path parameter ${JSON.stringify(name)} is not declared`);
      for (const name of declared)
        if (!names.has(name))
          problems.push(`${opAt}: path parameter ${JSON.stringify(name)} is not in the template`);
      const { operationId } = operation;
      if (operationId !== undefined && typeof operationId !== 'string')
        problems.push(`${opAt}/operationId: must be a string`);
      if (typeof operationId === 'string') {
        const previous = operationIds.get(operationId);
        if (previous !== undefined) problems.push(`${opAt}/operationId: already used by ${previous}`);
        operationIds.set(operationId, opAt);
      }
      const body =
        operation.requestBody === undefined
          ? undefined
          : readRequestBody(operation.requestBody, `${opAt}/requestBody`, ctx);
      operations.push({
        method: method.toUpperCase(),
        template,
        operationId: typeof operationId === 'string' ? operationId : undefined,
        parameters,
        strictQuery: readStrictQuery(operation, opAt, problems) ?? pathStrict ?? rootStrict,
        body,
        security: readSecurity(operation.security, `${opAt}/security`, schemes, problems) ?? rootSecurity,
      });
    }
  }
  return operations;
}

function compileOperation(
  spec: OperationSpec,
  compilers: NonNullable<ReturnType<typeof buildSchemaCompilers>>,
): CompiledOperation | undefined {
  const parameters = compileParameters(spec.parameters, spec.strictQuery, compilers);
  const body = spec.body === undefined ? undefined : compileRequestBody(spec.body, compilers);
  if (parameters === undefined || (spec.body !== undefined && body === undefined)) return undefined;
  return { operationId: spec.operationId, pathTemplate: spec.template, parameters, body };
}

/**
 * Builds the positive security model of an OpenAPI 3.0.x or 3.1.x document: only declared operations
 * match, and their parameters and JSON bodies are validated by ajv validators compiled here, once.
 *
 * - `$ref`s must be local (`#/components/...`); external refs are refused, nothing is ever fetched.
 * - Path templates: literal segments win over templated ones; a parameter is one non-empty segment.
 * - Undeclared query parameters are allowed (OpenAPI semantics) unless `x-gatehouse-strict-query: true`
 *   is set on the operation, its path item or the document root (the nearest one wins).
 * - A single-valued parameter sent twice is refused (parameter pollution).
 * - `readOnly` properties are refused in request bodies; in `required` they are not required.
 * - Undeclared methods on a declared path (HEAD and OPTIONS included) are `'method-not-allowed'`.
 *
 * Throws GatehouseError `ERR_CONFIG_INVALID` whose detail lists every problem found.
 */
export function buildOpenApiRoutes(document: unknown, options: OpenApiRoutesOptions = {}): OpenApiRoutes {
  if (!isObject(document)) throw invalid(['the document must be an object']);
  const version = readVersion(document.openapi);
  if (version === undefined)
    throw invalid(['#/openapi: only OpenAPI 3.0.x and 3.1.x documents are supported']);
  const problems = findExternalRefs(document);
  const basePath = normalizeBasePath(options.basePath, problems);
  const ctx: SchemaContext = { document, version, problems };

  const components = document.components ?? {};
  if (!isObject(components)) problems.push('#/components: must be an object');
  const componentSchemas: Record<string, unknown> = {};
  const rawSchemas = isObject(components) ? (components.schemas ?? {}) : {};
  if (!isObject(rawSchemas)) problems.push('#/components/schemas: must be an object');
  else
    for (const [name, schema] of Object.entries(rawSchemas))
      componentSchemas[name] = prepareSchema(schema, pointerOf('components', 'schemas', name), ctx);
  const rawSchemes = isObject(components) ? (components.securitySchemes ?? {}) : {};
  const schemes = new Set(isObject(rawSchemes) ? Object.keys(rawSchemes) : []);
  if (document.jsonSchemaDialect !== undefined && !KNOWN_DIALECTS.has(document.jsonSchemaDialect))
    problems.push(
      '#/jsonSchemaDialect: only the OpenAPI 3.1 base dialect (JSON Schema 2020-12) is supported',
    );

  const specs = readOperations(document, ctx, schemes);
  if (problems.length > 0) throw invalid(problems);

  const compilers = buildSchemaCompilers(version, componentSchemas, problems);
  if (compilers === undefined) throw invalid(problems);
  const byTemplate = new Map<string, Map<string, CompiledOperation>>();
  for (const spec of specs) {
    const compiled = compileOperation(spec, compilers);
    if (compiled === undefined) continue;
    let operations = byTemplate.get(spec.template);
    if (operations === undefined) {
      operations = new Map();
      byTemplate.set(spec.template, operations);
    }
    operations.set(spec.method, compiled);
  }
  const matcher = buildPathMatcher<PathValue>(
    [...byTemplate].map(([template, operations]) => ({
      template,
      at: pointerOf('paths', template),
      value: { operations, allowed: Object.freeze([...operations.keys()]) },
    })),
    problems,
  );
  if (problems.length > 0) throw invalid(problems);

  const operations: readonly OpenApiOperation[] = Object.freeze(
    specs.map((spec) =>
      Object.freeze({
        method: spec.method,
        pathTemplate: spec.template,
        ...(spec.operationId === undefined ? {} : { operationId: spec.operationId }),
        scopes: scopesOf(spec.security),
        security: spec.security,
      }),
    ),
  );

  const relative = (path: string): string | undefined => {
    if (basePath === '') return path;
    if (!path.startsWith(basePath)) return undefined;
    if (path.length === basePath.length) return '/';
    return path.charCodeAt(basePath.length) === 0x2f ? path.slice(basePath.length) : undefined;
  };

  return {
    operations,
    match(method, path) {
      const rest = relative(path);
      const found = rest === undefined ? undefined : matcher.find(rest);
      if (found === undefined) return undefined;
      const { operations: byMethod } = found.entry.value;
      const operation = byMethod.get(method) ?? byMethod.get(method.toUpperCase());
      return operation === undefined ? 'method-not-allowed' : new Match(operation, found.params);
    },
    allowedMethods(path) {
      const rest = relative(path);
      return rest === undefined ? undefined : matcher.find(rest)?.entry.value.allowed;
    },
  };
}
