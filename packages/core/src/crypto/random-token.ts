import { hash, randomBytes } from 'node:crypto';

/** A bearer secret: 256 random bits, base64url (43 characters). */
export function randomToken(bytes = 32): string {
  return randomBytes(bytes).toString('base64url');
}

/**
 * How a token secret is stored: its SHA-256, base64url. Tokens are 256-bit random values, so a
 * fast unsalted hash is enough (no dictionary to attack) and lets the server look a token up by
 * hash; a database leak then yields no usable token.
 */
export function hashToken(token: string): string {
  return hash('sha256', token, 'base64url');
}
