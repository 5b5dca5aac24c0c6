/** Names and attributes of the BFF's cookies (RFC 6265bis §4.1.3.2: the `__Host-` prefix). */
export interface CookieNames {
  readonly session: string;
  readonly login: string;
  /** The sealed end-session URL between `POST /auth/logout` and `GET /auth/logout/continue`. */
  readonly logout: string;
}

export interface CookieSettings {
  readonly names: CookieNames;
  /** `Secure` and `__Host-` whenever the public URL is https. */
  readonly secure: boolean;
  readonly sameSite: 'Lax' | 'Strict';
}

/**
 * `__Host-` cookies are Secure, host-only and `Path=/` (RFC 6265bis §4.1.3.2): no sibling subdomain
 * or plain-HTTP page can set or shadow them (cookie tossing, session fixation).
 */
export function buildCookieSettings(secure: boolean, sameSite: 'lax' | 'strict'): CookieSettings {
  const prefix = secure ? '__Host-' : '';
  return {
    names: { session: `${prefix}bff_session`, login: `${prefix}bff_login`, logout: `${prefix}bff_logout` },
    secure,
    sameSite: sameSite === 'strict' ? 'Strict' : 'Lax',
  };
}

export interface SerializeOptions {
  readonly maxAgeSec: number;
  /**
   * The login cookie must come back on the OP's top-level redirect to the callback, which is a
   * cross-site navigation when the OP is on another site: `Lax` (RFC 6265bis §8.8.2).
   */
  readonly sameSite?: 'Lax' | 'Strict';
}

/** A `Set-Cookie` value: always HttpOnly and `Path=/`, never a Domain (host-only). */
export function serializeCookie(
  settings: CookieSettings,
  name: string,
  value: string,
  options: SerializeOptions,
): string {
  const parts = [
    `${name}=${value}`,
    'Path=/',
    `Max-Age=${options.maxAgeSec}`,
    'HttpOnly',
    `SameSite=${options.sameSite ?? settings.sameSite}`,
  ];
  if (settings.secure) parts.push('Secure');
  return parts.join('; ');
}

/** Expires a cookie now (RFC 6265 §5.3 step 11: Max-Age ≤ 0 removes it). */
export function clearCookie(settings: CookieSettings, name: string): string {
  return serializeCookie(settings, name, '', { maxAgeSec: 0 });
}

/** Our ids: 256 bits, base64url. */
const SESSION_ID_FORMAT = /^[A-Za-z0-9_-]{43}$/;
/** A value sealed by core's `sealSecret`: version and three base64url parts, dot-separated. */
export const SEALED_FORMAT = /^v\d+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/;

/**
 * The value of one cookie from a `Cookie` header. A name sent twice is ambiguous (a tossed cookie
 * shadowing the real one): it counts as absent rather than guessing which one is ours.
 */
export function readCookie(
  header: string | undefined,
  name: string,
  format: RegExp = SESSION_ID_FORMAT,
): string | undefined {
  if (header === undefined) return undefined;
  let found: string | undefined;
  for (const pair of header.split(';')) {
    const eq = pair.indexOf('=');
    if (eq === -1 || pair.slice(0, eq).trim() !== name) continue;
    if (found !== undefined) return undefined;
    found = pair.slice(eq + 1).trim();
  }
  // Anything not in the format we write was not set by us.
  return found !== undefined && format.test(found) ? found : undefined;
}
