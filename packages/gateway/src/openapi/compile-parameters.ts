import type { ValidateFunction } from 'ajv';
import { appendSegment, describeProblem } from './describe-problem.js';
import { parseQuery } from './parse-query.js';
import type { ParameterSpec } from './read-parameter.js';
import type { SchemaCompilers } from './schema-compilers.js';
import { escapePointer } from './resolve-ref.js';
import type { ValidationProblem } from './types.js';

interface CompiledParameter {
  readonly spec: ParameterSpec;
  readonly pointer: string;
  readonly validate: ValidateFunction;
}

type Headers = Readonly<Record<string, string | string[] | undefined>>;

/** Validates the parameters of one operation; everything but the request itself is prepared at load. */
export interface ParameterValidator {
  check(pathParams: Readonly<Record<string, string>>, query: string, headers: Headers): ValidationProblem[];
}

/** Returned when nothing is wrong: no allocation on the common path. Frozen, so never filled by mistake. */
const NO_PROBLEMS: readonly ValidationProblem[] = Object.freeze([]);

function parseCookies(header: string | string[] | undefined): Map<string, string[]> {
  const cookies = new Map<string, string[]>();
  const text = Array.isArray(header) ? header.join('; ') : (header ?? '');
  for (const pair of text.split(';')) {
    const eq = pair.indexOf('=');
    if (eq === -1) continue;
    const name = pair.slice(0, eq).trim();
    const value = pair.slice(eq + 1).trim();
    const values = cookies.get(name);
    if (values === undefined) cookies.set(name, [value]);
    else values.push(value);
  }
  return cookies;
}

class CompiledParameters implements ParameterValidator {
  readonly #path: readonly CompiledParameter[];
  readonly #query: readonly CompiledParameter[];
  readonly #header: readonly CompiledParameter[];
  readonly #cookie: readonly CompiledParameter[];
  readonly #strictQuery: boolean;
  readonly #queryNames: ReadonlySet<string>;
  readonly #deepPrefixes: readonly string[];

  constructor(parameters: readonly CompiledParameter[], strictQuery: boolean) {
    this.#path = parameters.filter((p) => p.spec.in === 'path');
    this.#query = parameters.filter((p) => p.spec.in === 'query');
    this.#header = parameters.filter((p) => p.spec.in === 'header');
    this.#cookie = parameters.filter((p) => p.spec.in === 'cookie');
    this.#strictQuery = strictQuery;
    this.#queryNames = new Set(this.#query.map((p) => p.spec.name));
    this.#deepPrefixes = this.#query
      .filter((p) => p.spec.serialization === 'deep')
      .map((p) => `${p.spec.name}[`);
  }

  check(pathParams: Readonly<Record<string, string>>, query: string, headers: Headers): ValidationProblem[] {
    let problems: ValidationProblem[] | undefined;
    for (const p of this.#path) {
      const problem = checkValue(p, pathParams[p.spec.name]);
      if (problem !== undefined) (problems ??= []).push(problem);
    }
    if (this.#query.length > 0 || (this.#strictQuery && query !== '')) {
      const parsed = parseQuery(query);
      if (parsed === undefined)
        (problems ??= []).push({ pointer: '/query', message: 'is not correctly percent-encoded' });
      else problems = this.#checkQuery(parsed, problems);
    }
    for (const p of this.#header) {
      const problem = checkValues(p, headers[p.spec.key]);
      if (problem !== undefined) (problems ??= []).push(problem);
    }
    if (this.#cookie.length > 0) {
      const cookies = parseCookies(headers.cookie);
      for (const p of this.#cookie) {
        const problem = checkValues(p, cookies.get(p.spec.name));
        if (problem !== undefined) (problems ??= []).push(problem);
      }
    }
    return problems ?? (NO_PROBLEMS as ValidationProblem[]);
  }

  #checkQuery(
    parsed: Map<string, string[]>,
    found: ValidationProblem[] | undefined,
  ): ValidationProblem[] | undefined {
    let problems = found;
    for (const p of this.#query) {
      const problem =
        p.spec.serialization === 'deep'
          ? checkDeepObject(p, parsed)
          : checkValues(p, parsed.get(p.spec.name));
      if (problem !== undefined) (problems ??= []).push(problem);
    }
    if (!this.#strictQuery) return problems;
    for (const name of parsed.keys()) {
      if (this.#queryNames.has(name) || this.#deepPrefixes.some((prefix) => name.startsWith(prefix)))
        continue;
      (problems ??= []).push({
        pointer: appendSegment('/query', name),
        message: 'is not a declared parameter',
      });
    }
    return problems;
  }
}

function checkValue(
  p: CompiledParameter,
  raw: string | string[] | object | undefined,
): ValidationProblem | undefined {
  if (raw === undefined) return p.spec.required ? { pointer: p.pointer, message: 'is required' } : undefined;
  let value: unknown = raw;
  if (typeof raw === 'string') {
    if (p.spec.serialization === 'delimited') {
      value =
        raw === ''
          ? []
          : raw.split(p.spec.delimiter).map((item) => (p.spec.in === 'header' ? item.trim() : item));
    } else if (p.spec.serialization === 'json') {
      try {
        value = JSON.parse(raw);
      } catch {
        return { pointer: p.pointer, message: 'must be valid JSON' };
      }
    } else if (p.spec.in === 'header') {
      value = raw.trim();
    }
  }
  return p.validate(value) ? undefined : describeProblem(p.pointer, p.validate.errors);
}

/** Raw occurrences (query, cookie, a header string) → the value the schema sees. */
function checkValues(
  p: CompiledParameter,
  values: string | readonly string[] | undefined,
): ValidationProblem | undefined {
  if (values === undefined) return checkValue(p, undefined);
  if (p.spec.serialization === 'repeated')
    return checkValue(p, typeof values === 'string' ? [values] : [...values]);
  // HTTP parameter pollution: a single-valued parameter sent twice is refused, never "first wins".
  if (typeof values !== 'string' && values.length !== 1)
    return { pointer: p.pointer, message: 'must not be repeated' };
  return checkValue(p, typeof values === 'string' ? values : values[0]);
}

/** deepObject (OpenAPI §4.8.12.4): `filter[status]=open&filter[owner]=me`. */
function checkDeepObject(p: CompiledParameter, parsed: Map<string, string[]>): ValidationProblem | undefined {
  const prefix = `${p.spec.name}[`;
  let object: Record<string, string> | undefined;
  for (const [name, values] of parsed) {
    if (!name.startsWith(prefix) || !name.endsWith(']')) continue;
    object ??= {};
    const property = name.slice(prefix.length, -1);
    if (values.length > 1 || Object.hasOwn(object, property))
      return { pointer: p.pointer, message: 'must not be repeated' };
    Object.defineProperty(object, property, {
      value: values[0],
      enumerable: true,
      writable: true,
      configurable: true,
    });
  }
  return checkValue(p, object);
}

/** Compiles every parameter's schema once; `undefined` when one failed (the problem is recorded). */
export function compileParameters(
  specs: readonly ParameterSpec[],
  strictQuery: boolean,
  compilers: SchemaCompilers,
): ParameterValidator | undefined {
  const compiled: CompiledParameter[] = [];
  for (const spec of specs) {
    const validate = compilers.compileParameter(spec.schema, spec.at);
    if (validate === undefined) return undefined;
    compiled.push({ spec, pointer: `/${spec.in}/${escapePointer(spec.key)}`, validate });
  }
  return new CompiledParameters(compiled, strictQuery);
}
