import { hkdfSync } from 'node:crypto';
import { openSecret, sealSecret } from '@gatehouse/core';

/** How long the browser has to follow the handoff (one navigation). */
export const LOGOUT_HANDOFF_SEC = 60;

const AAD = 'gatehouse:bff:logout-handoff';

/**
 * The end-session URL carries the ID token (`id_token_hint`, RP-Initiated Logout 1.0 §2). A page
 * that logs out with fetch would read that URL from a JSON answer: instead it gets a BFF URL, and
 * the end-session URL travels sealed (AES-256-GCM, key derived for this purpose only) in a
 * short-lived HttpOnly cookie, opened by `GET /auth/logout/continue` into a 303. No script ever
 * holds the ID token. Stateless, so any instance sharing the session key can continue it.
 */
export interface LogoutHandoff {
  seal(url: string, now: number): string;
  /** The URL, or undefined when the value is absent, altered, from another key or expired. */
  open(value: string | undefined, now: number): string | undefined;
}

export function createLogoutHandoff(sessionKey: Uint8Array): LogoutHandoff {
  const key = Buffer.from(hkdfSync('sha256', sessionKey, Buffer.alloc(0), AAD, 32));
  return {
    seal(url, now) {
      return sealSecret(key, JSON.stringify({ url, exp: now + LOGOUT_HANDOFF_SEC * 1000 }), AAD);
    },
    open(value, now) {
      if (value === undefined || value === '' || value.length > 8192) return undefined;
      try {
        const parsed = JSON.parse(openSecret(key, value, AAD).toString('utf8')) as {
          url?: unknown;
          exp?: unknown;
        };
        if (typeof parsed.url !== 'string' || typeof parsed.exp !== 'number' || parsed.exp <= now)
          return undefined;
        return parsed.url;
      } catch {
        return undefined;
      }
    },
  };
}
