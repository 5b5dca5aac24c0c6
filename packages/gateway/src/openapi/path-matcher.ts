/** A path template of the document and what it carries. */
export interface PathEntry<T> {
  readonly template: string;
  /** Template parameter names, in the order they appear. */
  readonly names: readonly string[];
  readonly value: T;
}

export interface PathMatch<T> {
  readonly entry: PathEntry<T>;
  /** Percent-decoded parameter values by name. */
  readonly params: Record<string, string>;
}

export interface PathMatcher<T> {
  find(path: string): PathMatch<T> | undefined;
}

interface MixedEdge<T> {
  readonly source: string;
  readonly regex: RegExp;
  readonly node: Node<T>;
}

interface Node<T> {
  readonly literals: Map<string, Node<T>>;
  readonly mixed: MixedEdge<T>[];
  param: Node<T> | undefined;
  entry: PathEntry<T> | undefined;
}

type Segment =
  | { readonly kind: 'literal'; readonly text: string }
  | { readonly kind: 'param'; readonly name: string }
  | { readonly kind: 'mixed'; readonly source: string; readonly names: readonly string[] };

const UNRESERVED = /^[A-Za-z0-9\-._~]$/;
/** RFC 3986 §3.3 pchar without percent-encoding. */
const PCHAR = /^[A-Za-z0-9\-._~!$&'()*+,;=:@]$/;

/**
 * Puts a literal template segment in the form of a canonical request path: unreserved characters
 * decoded (RFC 3986 §6.2.2.2), other escapes upper-cased (§6.2.2.1), anything outside pchar encoded.
 */
export function normalizeLiteral(text: string): string {
  let out = '';
  for (let i = 0; i < text.length; i += 1) {
    const char = text.charAt(i);
    if (char === '%' && /^[0-9A-Fa-f]{2}$/.test(text.slice(i + 1, i + 3))) {
      const decoded = String.fromCharCode(Number.parseInt(text.slice(i + 1, i + 3), 16));
      out += UNRESERVED.test(decoded) ? decoded : `%${text.slice(i + 1, i + 3).toUpperCase()}`;
      i += 2;
    } else if (PCHAR.test(char)) {
      out += char;
    } else {
      const point = text.codePointAt(i) ?? 0;
      const whole = String.fromCodePoint(point);
      out += encodeURIComponent(whole);
      i += whole.length - 1;
    }
  }
  return out;
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

function parseSegment(segment: string, names: string[]): Segment | string {
  if (!segment.includes('{') && !segment.includes('}'))
    return { kind: 'literal', text: normalizeLiteral(segment) };
  const whole = /^\{([^{}/]+)\}$/.exec(segment);
  if (whole?.[1] !== undefined) {
    if (whole[1] === '__proto__') return 'reserved parameter name';
    names.push(whole[1]);
    return { kind: 'param', name: whole[1] };
  }
  const parts = segment.split(/(\{[^{}/]*\})/);
  let source = '^';
  const own: string[] = [];
  for (const [index, part] of parts.entries()) {
    if (index % 2 === 1) {
      const name = part.slice(1, -1);
      if (name === '') return 'empty parameter name';
      if (name === '__proto__') return 'reserved parameter name';
      if (own.length > 0 && parts[index - 1] === '') return 'two parameters without a separator';
      own.push(name);
      // A parameter spans at least one character and never a '/': segments are matched one by one.
      source += index === parts.length - 2 ? '(.+)' : '(.+?)';
    } else {
      if (part.includes('{') || part.includes('}')) return 'unbalanced braces';
      source += escapeRegExp(normalizeLiteral(part));
    }
  }
  names.push(...own);
  return { kind: 'mixed', source: `${source}$`, names: own };
}

function emptyNode<T>(): Node<T> {
  return { literals: new Map(), mixed: [], param: undefined, entry: undefined };
}

function childFor<T>(node: Node<T>, segment: Segment): Node<T> {
  switch (segment.kind) {
    case 'literal': {
      let child = node.literals.get(segment.text);
      if (child === undefined) {
        child = emptyNode();
        node.literals.set(segment.text, child);
      }
      return child;
    }
    case 'param':
      node.param ??= emptyNode();
      return node.param;
    case 'mixed': {
      let edge = node.mixed.find((m) => m.source === segment.source);
      if (edge === undefined) {
        edge = { source: segment.source, regex: new RegExp(segment.source, 's'), node: emptyNode() };
        node.mixed.push(edge);
      }
      return edge.node;
    }
  }
}

function walk<T>(node: Node<T>, path: string, pos: number, values: string[]): PathEntry<T> | undefined {
  if (pos >= path.length) return node.entry;
  const next = path.indexOf('/', pos + 1);
  const stop = next === -1 ? path.length : next;
  const segment = path.slice(pos + 1, stop);
  // OpenAPI §4.8.8.2: concrete paths are matched before templated ones — literal, then partly templated,
  // then whole-segment parameters, backtracking when a branch dead-ends deeper down.
  const literal = node.literals.get(segment);
  if (literal !== undefined) {
    const found = walk(literal, path, stop, values);
    if (found !== undefined) return found;
  }
  if (segment === '') return undefined;
  for (const edge of node.mixed) {
    const groups = edge.regex.exec(segment);
    if (groups === null) continue;
    const depth = values.length;
    for (let i = 1; i < groups.length; i += 1) values.push(groups[i] ?? '');
    const found = walk(edge.node, path, stop, values);
    if (found !== undefined) return found;
    values.length = depth;
  }
  if (node.param !== undefined) {
    values.push(segment);
    const found = walk(node.param, path, stop, values);
    if (found !== undefined) return found;
    values.pop();
  }
  return undefined;
}

function decode(value: string): string | undefined {
  if (!value.includes('%')) return value;
  try {
    return decodeURIComponent(value);
  } catch {
    return undefined;
  }
}

/**
 * Builds a segment tree of path templates (`/accounts/{id}`, `/files/{name}.{ext}`). Invalid or
 * ambiguous templates (OpenAPI §4.8.8.2: same shape, different names) are reported in `problems`.
 */
export function buildPathMatcher<T>(
  templates: readonly { readonly template: string; readonly value: T; readonly at: string }[],
  problems: string[],
): PathMatcher<T> {
  const root = emptyNode<T>();
  const shapes = new Map<string, string>();
  for (const { template, value, at } of templates) {
    if (!template.startsWith('/')) {
      problems.push(`${at}: path template must start with '/'`);
      continue;
    }
    const names: string[] = [];
    const segments: Segment[] = [];
    let problem: string | undefined;
    for (const raw of template.slice(1).split('/')) {
      const segment = parseSegment(raw, names);
      if (typeof segment === 'string') problem ??= segment;
      else segments.push(segment);
    }
    if (problem === undefined && new Set(names).size !== names.length)
      problem = 'a parameter name is repeated';
    if (problem !== undefined) {
      problems.push(`${at}: invalid path template (${problem})`);
      continue;
    }
    const shape = segments
      .map((s) => (s.kind === 'literal' ? `=${s.text}` : s.kind === 'param' ? '{}' : `~${s.source}`))
      .join('/');
    const clash = shapes.get(shape);
    if (clash !== undefined) {
      problems.push(`${at}: path template is ambiguous with ${JSON.stringify(clash)}`);
      continue;
    }
    shapes.set(shape, template);
    let node = root;
    for (const segment of segments) node = childFor(node, segment);
    node.entry = { template, names, value };
  }
  return {
    find(path) {
      if (!path.startsWith('/')) return undefined;
      const values: string[] = [];
      const entry = walk(root, path, 0, values);
      if (entry === undefined) return undefined;
      const params: Record<string, string> = {};
      for (let i = 0; i < entry.names.length; i += 1) {
        const decoded = decode(values[i] ?? '');
        if (decoded === undefined) return undefined;
        params[entry.names[i] ?? ''] = decoded;
      }
      return { entry, params };
    },
  };
}
