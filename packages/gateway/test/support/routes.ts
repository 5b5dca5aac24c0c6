import type { GatewayConfigInput } from '../../src/index.js';

export type RouteInput = GatewayConfigInput['routes'][number];

/**
 * `/public` on upstream `app`, no auth, with a deny rule on `/public/internal`: a path the
 * upstream serves but must never be sent.
 */
export function publicRoute(): RouteInput {
  return {
    id: 'public',
    match: { pathPrefix: '/public' },
    upstream: 'app',
    auth: 'none',
    deny: { path: ['^/public/internal(/|$)'] },
  };
}

/** `/api/accounts` on upstream `app`, rewritten to `/accounts`; `auth` and the rest as given. */
export function accountsRoute(settings: Omit<RouteInput, 'id' | 'match' | 'upstream'>): RouteInput {
  return {
    id: 'accounts',
    match: { pathPrefix: '/api/accounts' },
    upstream: 'app',
    stripPrefix: '/api/accounts',
    addPrefix: '/accounts',
    ...settings,
  };
}
