import type { AuthServerConfig } from '../config/schema.js';

/** The cookies of the authorization server's own pages (never read by any client). */
export interface CookieNames {
  /** The login session (value: a 256-bit secret; the server keeps only its hash). */
  readonly session: string;
  /** The pending login/consent interaction of this browser. */
  readonly interaction: string;
  /** The pending logout confirmation of this browser. */
  readonly logout: string;
  /** Whether the cookies carry `Secure` (and the `__Host-` prefix). */
  readonly secure: boolean;
}

/**
 * `__Host-` cookies (RFC 6265bis §4.1.3.2: Secure, Path=/, no Domain) when the issuer is https or
 * `cookieSecure: always`; otherwise plain names without Secure (loopback development only).
 */
export function cookieNames(config: Pick<AuthServerConfig, 'issuer' | 'cookieSecure'>): CookieNames {
  const secure = config.cookieSecure === 'always' || new URL(config.issuer).protocol === 'https:';
  const prefix = secure ? '__Host-' : '';
  return {
    session: `${prefix}gh_session`,
    interaction: `${prefix}gh_interaction`,
    logout: `${prefix}gh_logout`,
    secure,
  };
}

/** Cookie values this server sets: base64url only, so no quoting or decoding is ever needed. */
const VALUE = /^[A-Za-z0-9_-]{1,128}$/;

/**
 * Reads one cookie from a `Cookie` header (RFC 6265 §5.4). A name sent twice is ambiguous (a
 * cookie-tossing attempt from a sibling domain): it counts as absent.
 */
export function readCookie(header: string | undefined, name: string): string | undefined {
  if (header === undefined) return undefined;
  let found: string | undefined;
  let count = 0;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq === -1 || part.slice(0, eq).trim() !== name) continue;
    count += 1;
    found = part.slice(eq + 1).trim();
  }
  return count === 1 && found !== undefined && VALUE.test(found) ? found : undefined;
}

/** `Set-Cookie` for one of our cookies: HttpOnly, SameSite=Lax, Path=/, Secure when configured. */
export function serializeCookie(names: CookieNames, name: string, value: string, maxAgeSec: number): string {
  const parts = [`${name}=${value}`, 'Path=/', 'HttpOnly', 'SameSite=Lax', `Max-Age=${maxAgeSec}`];
  if (names.secure) parts.push('Secure');
  return parts.join('; ');
}

/** `Set-Cookie` that deletes one of our cookies. */
export function clearCookie(names: CookieNames, name: string): string {
  return serializeCookie(names, name, '', 0);
}
