import type { AuthServerServices } from '../services.js';
import { createUserStore, type UserStore } from '../users/user-store.js';
import { cookieNames, type CookieNames } from './cookies.js';
import { createInteractionStore, type InteractionStore } from './interaction-store.js';
import { createLoginThrottle, type LoginThrottle } from './login-throttle.js';
import { createLogoutStore, type LogoutStore } from './logout-store.js';
import { createParStore, type ParStore } from './par-store.js';
import { createSessionStore, type SessionStore } from './session-store.js';

/** What the user-facing endpoints (authorize, PAR, login, consent, userinfo, logout) share. */
export interface InteractionContext {
  readonly services: AuthServerServices;
  readonly users: UserStore;
  readonly sessions: SessionStore;
  readonly interactions: InteractionStore;
  readonly throttle: LoginThrottle;
  readonly par: ParStore;
  readonly logouts: LogoutStore;
  readonly cookies: CookieNames;
}

export function createInteractionContext(services: AuthServerServices): InteractionContext {
  const { deps } = services;
  const cookies = cookieNames(deps.config);
  if (!cookies.secure) {
    deps.logger.warn(
      { issuer: deps.config.issuer },
      'the issuer is not https: session cookies are sent without Secure (acceptable on loopback only)',
    );
  }
  return {
    services,
    users: createUserStore(deps),
    sessions: createSessionStore(deps),
    interactions: createInteractionStore(deps),
    throttle: createLoginThrottle(deps),
    par: createParStore(deps),
    logouts: createLogoutStore(deps),
    cookies,
  };
}
