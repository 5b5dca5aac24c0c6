import type { GrantType } from '../clients/client.js';
import { authorizationCodeGrant } from './authorization-code.js';
import { clientCredentialsGrant } from './client-credentials.js';
import type { GrantHandler } from './grant-context.js';
import { refreshTokenGrant } from './refresh-token.js';
import { tokenExchangeGrant } from './token-exchange.js';

/**
 * Every grant the token endpoint knows. There is no `password` (OAuth 2.1 §10.1 removes ROPC)
 * and no implicit grant (OAuth 2.1 §10.2): those names are unsupported_grant_type.
 */
export const GRANT_HANDLERS: Readonly<Record<GrantType, GrantHandler>> = {
  authorization_code: authorizationCodeGrant,
  refresh_token: refreshTokenGrant,
  client_credentials: clientCredentialsGrant,
  'urn:ietf:params:oauth:grant-type:token-exchange': tokenExchangeGrant,
};

export function isKnownGrant(value: string): value is GrantType {
  return Object.hasOwn(GRANT_HANDLERS, value);
}
