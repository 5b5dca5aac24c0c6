import { ENDPOINT_PATHS } from '../services.js';

/** The `endpoint` label of the request series: one fixed name per issuer route. */
export type EndpointName =
  | 'discovery'
  | 'jwks'
  | 'authorize'
  | 'par'
  | 'login'
  | 'consent'
  | 'token'
  | 'introspect'
  | 'revoke'
  | 'userinfo'
  | 'end_session'
  | 'other';

/**
 * Route pattern (Fastify's `routeOptions.url`) → endpoint name, for the routes registered under
 * the issuer's path `prefix`. A request that matched no route (404) has no pattern: `other`, so a
 * path a client made up never becomes a label.
 */
export function buildEndpointNames(prefix: string): (routeUrl: string | undefined) => EndpointName {
  const names = new Map<string, EndpointName>([
    // RFC 8414 §3: the well-known segment goes before the issuer's path; OIDC Discovery §4 after it.
    [`${prefix}/.well-known/openid-configuration`, 'discovery'],
    [`/.well-known/oauth-authorization-server${prefix}`, 'discovery'],
    [`${prefix}${ENDPOINT_PATHS.jwks}`, 'jwks'],
    [`${prefix}${ENDPOINT_PATHS.authorization}`, 'authorize'],
    [`${prefix}${ENDPOINT_PATHS.par}`, 'par'],
    [`${prefix}${ENDPOINT_PATHS.login}`, 'login'],
    [`${prefix}${ENDPOINT_PATHS.consent}`, 'consent'],
    [`${prefix}${ENDPOINT_PATHS.token}`, 'token'],
    [`${prefix}${ENDPOINT_PATHS.introspection}`, 'introspect'],
    [`${prefix}${ENDPOINT_PATHS.revocation}`, 'revoke'],
    [`${prefix}${ENDPOINT_PATHS.userinfo}`, 'userinfo'],
    [`${prefix}${ENDPOINT_PATHS.endSession}`, 'end_session'],
  ]);
  return (routeUrl) => (routeUrl === undefined ? undefined : names.get(routeUrl)) ?? 'other';
}
