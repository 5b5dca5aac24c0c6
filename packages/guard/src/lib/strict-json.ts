import { fail } from '../errors.js';

// `ignoreBOM: true` keeps a byte-order mark in the text, so JSON.parse refuses it (RFC 8259 §8.1).
const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/**
 * Decodes a JOSE segment into a JSON object, refusing what RFC 7515 §4 and RFC 7519 §4 leave to the
 * parser: invalid UTF-8, non-object roots and duplicate member names (a second `alg` or `exp` that a
 * lenient parser would silently pick). Nested objects are checked too (`cnf` is security relevant).
 */
export function parseJsonObject(bytes: Uint8Array): Record<string, unknown> {
  let text: string;
  try {
    text = utf8.decode(bytes);
  } catch {
    return fail('ERR_JWT_UTF8_INVALID');
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return fail('ERR_JWT_JSON_INVALID');
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    return fail('ERR_JWT_JSON_INVALID', 'not an object');
  }
  if (hasDuplicateMember(text)) fail('ERR_JWT_DUPLICATE_MEMBER');
  return value as Record<string, unknown>;
}

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const OPEN_OBJECT = 0x7b;
const CLOSE_OBJECT = 0x7d;
const OPEN_ARRAY = 0x5b;
const CLOSE_ARRAY = 0x5d;
const COMMA = 0x2c;

/**
 * Walks text that JSON.parse already accepted, so only strings and structure need tracking. Member
 * names are compared after unescaping (`"\u0061lg"` is `"alg"`).
 */
export function hasDuplicateMember(text: string): boolean {
  const scopes: (Set<string> | null)[] = [];
  let expectName = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === QUOTE) {
      let j = i + 1;
      let escaped = false;
      for (;;) {
        const d = text.charCodeAt(j);
        if (d === BACKSLASH) {
          escaped = true;
          j += 2;
        } else if (d === QUOTE) {
          break;
        } else {
          j++;
        }
      }
      if (expectName) {
        const name = escaped ? (JSON.parse(text.slice(i, j + 1)) as string) : text.slice(i + 1, j);
        const names = scopes[scopes.length - 1] as Set<string>;
        if (names.has(name)) return true;
        names.add(name);
        expectName = false;
      }
      i = j;
    } else if (c === OPEN_OBJECT) {
      scopes.push(new Set());
      expectName = true;
    } else if (c === OPEN_ARRAY) {
      scopes.push(null);
      expectName = false;
    } else if (c === CLOSE_OBJECT || c === CLOSE_ARRAY) {
      scopes.pop();
      expectName = false;
    } else if (c === COMMA) {
      expectName = scopes[scopes.length - 1] !== null;
    }
  }
  return false;
}
