/** A JSON object as read from YAML or JSON. */
export type JsonObject = Record<string, unknown>;

export function isObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** `a/b~c` → `a~1b~0c` (RFC 6901 §3). */
export function escapePointer(segment: string): string {
  return segment.replaceAll('~', '~0').replaceAll('/', '~1');
}

/** Builds `#/paths/~1accounts/get` style locations for load-time problems. */
export function pointerOf(...segments: readonly (string | number)[]): string {
  return `#/${segments.map((s) => escapePointer(String(s))).join('/')}`;
}

/**
 * Resolves a local reference (`#/components/schemas/Account`) inside `document`: the fragment is
 * percent-decoded (RFC 3986 §3.5), then read as a JSON pointer (RFC 6901). Returns `undefined` when
 * nothing is there.
 */
export function resolvePointer(document: unknown, ref: string): unknown {
  if (!ref.startsWith('#')) return undefined;
  let fragment: string;
  try {
    fragment = decodeURIComponent(ref.slice(1));
  } catch {
    return undefined;
  }
  if (fragment === '') return document;
  if (!fragment.startsWith('/')) return undefined;
  let node: unknown = document;
  for (const raw of fragment.slice(1).split('/')) {
    const key = raw.replaceAll('~1', '/').replaceAll('~0', '~');
    if (Array.isArray(node)) {
      if (!/^(0|[1-9]\d*)$/.test(key)) return undefined;
      node = node[Number(key)];
    } else if (isObject(node) && Object.hasOwn(node, key)) {
      node = node[key];
    } else {
      return undefined;
    }
  }
  return node;
}

const MAX_REF_CHAIN = 32;

/**
 * Follows `$ref` chains of non-schema objects (path items, parameters, request bodies). Adds a problem
 * and returns `undefined` for refs that are external, dangling or circular.
 */
export function followRef(
  document: unknown,
  value: unknown,
  at: string,
  problems: string[],
): JsonObject | undefined {
  let node = value;
  for (let hops = 0; hops <= MAX_REF_CHAIN; hops += 1) {
    if (!isObject(node)) {
      problems.push(`${at}: must be an object`);
      return undefined;
    }
    const ref = node.$ref;
    if (ref === undefined) return node;
    if (typeof ref !== 'string') {
      problems.push(`${at}: $ref must be a string`);
      return undefined;
    }
    if (!ref.startsWith('#')) {
      problems.push(externalRefProblem(at, ref));
      return undefined;
    }
    const target = resolvePointer(document, ref);
    if (target === undefined) {
      problems.push(`${at}: $ref ${JSON.stringify(ref)} does not resolve`);
      return undefined;
    }
    node = target;
  }
  problems.push(`${at}: $ref chain is circular or longer than ${MAX_REF_CHAIN}`);
  return undefined;
}

export function externalRefProblem(at: string, ref: string): string {
  return `${at}: external $ref ${JSON.stringify(ref)} refused (only local #/components/... refs are resolved)`;
}

/** Keys whose values are data (examples, defaults) or vendor extensions, not OpenAPI structure. */
function isDataKey(key: string): boolean {
  return (
    key === 'example' ||
    key === 'examples' ||
    key === 'default' ||
    key === 'enum' ||
    key === 'const' ||
    key.startsWith('x-')
  );
}

/**
 * Lists every `$ref` that leaves the document (`other.yaml#/X`, `https://…`). The gateway never fetches
 * anything at load: a description that depends on another file is refused, not half-validated.
 */
export function findExternalRefs(document: unknown): string[] {
  const problems: string[] = [];
  const seen = new Set<unknown>();
  const walk = (node: unknown, path: readonly (string | number)[]): void => {
    if (typeof node !== 'object' || node === null || seen.has(node)) return;
    seen.add(node);
    if (Array.isArray(node)) {
      node.forEach((item, index) => {
        walk(item, [...path, index]);
      });
      return;
    }
    for (const [key, child] of Object.entries(node as JsonObject)) {
      if (key === '$ref' && typeof child === 'string' && !child.startsWith('#')) {
        problems.push(externalRefProblem(pointerOf(...path), child));
      } else if (!isDataKey(key)) {
        walk(child, [...path, key]);
      }
    }
  };
  walk(document, []);
  return problems;
}
