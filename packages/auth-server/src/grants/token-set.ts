import type { Client } from '../clients/client.js';
import { issueIdToken } from '../oidc/id-token.js';
import type { AuthServerServices } from '../services.js';
import { issueAccessToken, type IssuedAccessToken } from '../tokens/issue-access-token.js';

export interface TokenSetInput {
  readonly client: Client;
  readonly sub: string;
  readonly scopes: readonly string[];
  readonly audience: string | null;
  readonly grantId: string | null;
  readonly dpopJkt: string | null;
  /** RFC 8705 §3.1: certificate thumbprint the access token is bound to. */
  readonly x5tS256: string | null;
  /** A refresh token to hand out with the access token (already stored). */
  readonly refreshToken?: string | undefined;
  /** OpenID Connect: an ID token is added when the scope has `openid`. */
  readonly idToken?: {
    readonly nonce: string | null;
    readonly authTime: number;
    readonly sid: string | null;
  };
}

export interface TokenSet {
  readonly access: IssuedAccessToken;
  /** RFC 6749 §5.1 successful response. */
  readonly body: Record<string, unknown>;
}

/**
 * Issues the access token (and ID token) of a grant and builds the RFC 6749 §5.1 response:
 * `token_type` is `DPoP` for a DPoP-bound token (RFC 9449 §5), `scope` is always stated.
 */
export async function issueTokenSet(services: AuthServerServices, input: TokenSetInput): Promise<TokenSet> {
  const { deps, keys } = services;
  const access = await issueAccessToken(deps, keys, {
    client: input.client,
    sub: input.sub,
    scopes: input.scopes,
    audience: input.audience,
    grantId: input.grantId,
    dpopJkt: input.dpopJkt,
    x5tS256: input.x5tS256,
  });
  const body: Record<string, unknown> = {
    access_token: access.token,
    token_type: access.tokenType,
    expires_in: access.expiresIn,
    ...(access.scope === '' ? {} : { scope: access.scope }),
  };
  if (input.refreshToken !== undefined) body['refresh_token'] = input.refreshToken;
  if (input.idToken !== undefined && input.scopes.includes('openid')) {
    body['id_token'] = await issueIdToken(deps, keys, {
      client: input.client,
      sub: input.sub,
      nonce: input.idToken.nonce,
      authTime: input.idToken.authTime,
      sid: input.idToken.sid,
      // OIDC Core §3.1.3.6: at_hash binds the ID token to the access token issued with it.
      accessToken: access.token,
    });
  }
  return { access, body };
}
