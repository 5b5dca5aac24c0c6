/**
 * The one list of origins the BFF trusts (its own public origin plus `allowedOrigins`), compared
 * exactly as serialised strings (RFC 6454 §5): no prefix, suffix, pattern or case folding, and
 * `null` never matches. Used by both the CSRF check and CORS, so they cannot disagree.
 */
export interface OriginPolicy {
  readonly own: string;
  isAllowed(origin: string | undefined): origin is string;
}

export function createOriginPolicy(own: string, others: readonly string[]): OriginPolicy {
  const allowed = new Set([own, ...others]);
  allowed.delete('null');
  return {
    own,
    isAllowed: (origin): origin is string => origin !== undefined && allowed.has(origin),
  };
}

export type CsrfRefusal = 'origin_missing' | 'origin_not_allowed' | 'header_missing';

/** Methods that change state (RFC 9110 §9.2.1: everything not safe). */
export const isUnsafeMethod = (method: string): boolean =>
  method !== 'GET' && method !== 'HEAD' && method !== 'OPTIONS';

/**
 * OWASP CSRF Prevention Cheat Sheet, two independent defences: the `Origin` header (sent by every
 * browser on cross-origin and on non-GET requests, Fetch §3.1) must be one we trust, AND a custom
 * header a cross-site form cannot set and cross-origin JavaScript can only send after a CORS
 * preflight we refuse. `X-CSRF` must be exactly `1`.
 */
export function checkCsrf(
  policy: OriginPolicy,
  origin: string | undefined,
  csrfHeader: string | string[] | undefined,
): CsrfRefusal | undefined {
  if (origin === undefined || origin === '') return 'origin_missing';
  if (!policy.isAllowed(origin)) return 'origin_not_allowed';
  if (csrfHeader !== '1') return 'header_missing';
  return undefined;
}
