/** In Unicode mode a surrogate code unit matches only when it is not half of a pair. */
export const LONE_SURROGATE = /\p{Surrogate}/u;

/** A JSON value as the canonical form accepts it (I-JSON: finite numbers, well-formed strings). */
export type CanonicalValue =
  string | number | boolean | null | readonly CanonicalValue[] | { readonly [key: string]: CanonicalValue };

/**
 * RFC 8785 JSON Canonicalization Scheme: no whitespace, object members sorted by their names as
 * UTF-16 code units (§3.2.3, which is what `Array.prototype.sort` compares), strings escaped as
 * ECMAScript `JSON.stringify` does (§3.2.2.2) and numbers written as ECMAScript does (§3.2.2.3).
 * Any JCS implementation reproduces the output byte for byte.
 */
export function canonicalJson(value: CanonicalValue): string {
  if (value === null || typeof value === 'boolean') return JSON.stringify(value);
  if (typeof value === 'string') {
    // RFC 8785 §3.2.2.2: lone surrogates cannot be represented (I-JSON, RFC 7493 §2.1).
    if (LONE_SURROGATE.test(value)) throw new TypeError('string with a lone surrogate');
    return JSON.stringify(value);
  }
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw new TypeError('non-finite number');
    return JSON.stringify(value);
  }
  if (Array.isArray(value)) return `[${value.map((item: CanonicalValue) => canonicalJson(item)).join(',')}]`;
  const object = value as { readonly [key: string]: CanonicalValue };
  const members = Object.keys(object)
    .sort()
    .map((key) => {
      const member = object[key];
      if (member === undefined) throw new TypeError('undefined member');
      return `${canonicalJson(key)}:${canonicalJson(member)}`;
    });
  return `{${members.join(',')}}`;
}
