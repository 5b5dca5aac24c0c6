import { createHash, timingSafeEqual } from 'node:crypto';

/** The smallest admin credential accepted: 256 bits as base64url is 43 characters. */
export const MIN_ADMIN_TOKEN_LENGTH = 32;

const digest = (value: string): Buffer => createHash('sha256').update(value, 'utf8').digest();

/**
 * Compares a presented admin token with the configured one in constant time: both are hashed first,
 * so neither the content nor the length of the secret leaks through timing.
 */
export function adminTokenMatches(presented: string, configured: string): boolean {
  return timingSafeEqual(digest(presented), digest(configured));
}

/**
 * The token of an `Authorization: Bearer <token>` header (RFC 6750 §2.1; the scheme is
 * case-insensitive, RFC 9110 §11.1), or undefined when the header is absent or another scheme.
 */
export function bearerTokenOf(authorization: string | undefined): string | undefined {
  if (authorization === undefined) return undefined;
  const match = /^Bearer +([A-Za-z0-9\-._~+/]+=*) *$/i.exec(authorization);
  return match?.[1];
}
