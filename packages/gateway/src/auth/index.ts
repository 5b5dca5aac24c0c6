export { createGatewayAuthenticator } from './create-gateway-authenticator.js';
export { checkScopes } from './check-scopes.js';
export {
  collectAuthHeaders,
  extractCredentials,
  looksLikeJwt,
  type Credentials,
} from './extract-credentials.js';
export { REVOCATION_CHANNEL, parseRevocationEvent, type RevocationEvent } from './revocation-events.js';
export type {
  AuthFailureReason,
  AuthOutcome,
  AuthPrincipal,
  AuthRequest,
  GatewayAuthDeps,
  GatewayAuthOptions,
  GatewayAuthStats,
  GatewayAuthenticator,
  RouteAuth,
} from './types.js';
