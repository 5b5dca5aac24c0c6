export interface JsonLimits {
  /** Maximum nesting of objects and arrays: `{}` is depth 1, `{"a":[]}` depth 2. */
  maxDepth: number;
  /** Maximum members of one object, or elements of one array. */
  maxMembers: number;
}

export type JsonLimitsResult =
  { ok: true; value: unknown } | { ok: false; reason: 'depth' | 'members' | 'syntax' };

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COMMA = 0x2c;

const REFUSED_DEPTH: JsonLimitsResult = Object.freeze({ ok: false, reason: 'depth' });
const REFUSED_MEMBERS: JsonLimitsResult = Object.freeze({ ok: false, reason: 'members' });
const REFUSED_SYNTAX: JsonLimitsResult = Object.freeze({ ok: false, reason: 'syntax' });

/** Position of the quote closing the string opened at `open`, or -1. */
function findStringEnd(text: string, open: number): number {
  let quote = text.indexOf('"', open + 1);
  while (quote !== -1) {
    let backslashes = 0;
    while (text.charCodeAt(quote - 1 - backslashes) === BACKSLASH) backslashes++;
    if (backslashes % 2 === 0) return quote;
    quote = text.indexOf('"', quote + 1);
  }
  return -1;
}

/**
 * Parses JSON after a linear pre-scan that refuses deep nesting and huge objects or arrays: JSON.parse would
 * build them in full (and recursion depth is a stack-exhaustion vector in every later consumer) before any
 * schema could say no. Duplicate member names are left to JSON.parse (the last one wins).
 */
export function parseJsonWithLimits(text: string, limits: JsonLimits): JsonLimitsResult {
  // members[d] counts the separators seen in the container at depth d; -1 before its first member.
  const members: number[] = [];
  let depth = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) continue;
    if (c === 0x5d || c === 0x7d) {
      // `]` or `}`: mismatched brackets are JSON.parse's to refuse.
      if (depth > 0) depth--;
      continue;
    }
    if (depth > 0) {
      const count = members[depth] ?? 0;
      if (c === COMMA) {
        if (count + 1 >= limits.maxMembers) return REFUSED_MEMBERS;
        members[depth] = count + 1;
        continue;
      }
      if (count < 0) {
        if (limits.maxMembers < 1) return REFUSED_MEMBERS;
        members[depth] = 0; // the first member: members = separators + 1 from here on
      }
    }
    if (c === 0x5b || c === 0x7b) {
      // `[` or `{`
      depth++;
      if (depth > limits.maxDepth) return REFUSED_DEPTH;
      members[depth] = -1;
    } else if (c === QUOTE) {
      const end = findStringEnd(text, i);
      if (end === -1) return REFUSED_SYNTAX;
      i = end;
    }
  }
  try {
    return { ok: true, value: JSON.parse(text) as unknown };
  } catch {
    return REFUSED_SYNTAX;
  }
}
