import * as client from 'openid-client';
import type { BffConfig } from '../config/bff-config-schema.js';

/** The tokens of a login or a refresh, as the session keeps them. */
export interface TokenSet {
  readonly accessToken: string;
  readonly refreshToken: string | undefined;
  readonly idToken: string | undefined;
  /** Seconds, from `expires_in` (RFC 6749 §5.1). */
  readonly expiresIn: number | undefined;
  /** Validated ID token claims (OIDC Core §3.1.3.7), when an ID token came back. */
  readonly claims: client.IDToken | undefined;
}

/** What the BFF needs from its OpenID Provider; every call goes through openid-client. */
export interface OidcClient {
  /** An authorization request: PKCE S256, state and nonce; through PAR when required. */
  startLogin(): Promise<{ url: URL; state: string; nonce: string; codeVerifier: string }>;
  /** The callback: the library checks iss (RFC 9207), state, the code exchange, PKCE and the ID token. */
  finishLogin(
    callbackUrl: URL,
    checks: { state: string; nonce: string; codeVerifier: string },
  ): Promise<TokenSet>;
  refresh(refreshToken: string): Promise<TokenSet>;
  /** OIDC Core §5.3 UserInfo (profile claims are not in our OP's ID tokens); the library checks `sub`. */
  userInfo(accessToken: string, sub: string): Promise<Readonly<Record<string, unknown>>>;
  /** RFC 7009 revocation. */
  revoke(token: string, hint: 'refresh_token' | 'access_token'): Promise<void>;
  /** RP-Initiated Logout 1.0 §2 URL, or undefined when the OP has no end_session_endpoint. */
  endSessionUrl(idToken: string, postLogoutRedirectUri: string): Promise<URL | undefined>;
  /** The OP metadata (for the logout-token verifier). */
  metadata(): Promise<client.ServerMetadata>;
}

/**
 * One openid-client `Configuration`, discovered on first use and cached; a failed discovery is
 * retried on the next call (the OP may start after the BFF).
 */
export function createOidcClient(config: BffConfig, redirectUri: string): OidcClient {
  const { oidc } = config;
  let discovered: Promise<client.Configuration> | undefined;

  function configuration(): Promise<client.Configuration> {
    discovered ??= discover().catch((err: unknown) => {
      discovered = undefined;
      throw err;
    });
    return discovered;
  }

  async function discover(): Promise<client.Configuration> {
    // Plain http is accepted by the schema only on loopback (development).
    const execute =
      new URL(oidc.issuer).protocol === 'http:'
        ? // eslint-disable-next-line @typescript-eslint/no-deprecated -- the documented opt-in, loopback only
          [client.allowInsecureRequests, client.enableNonRepudiationChecks]
        : [client.enableNonRepudiationChecks];
    return client.discovery(
      new URL(oidc.issuer),
      oidc.clientId,
      // OIDC Core §3.1.3.7: the ID token is signed with the OP's default unless registered otherwise.
      { redirect_uris: [redirectUri], response_types: ['code'] },
      client.ClientSecretBasic(oidc.clientSecret),
      { execute, timeout: Math.ceil(oidc.timeoutMs / 1000) },
    );
  }

  const resourceParams: Record<string, string> =
    oidc.resource === undefined ? {} : { resource: oidc.resource };

  const toTokenSet = (response: client.TokenEndpointResponse & client.TokenEndpointResponseHelpers) => ({
    accessToken: response.access_token,
    refreshToken: response.refresh_token,
    idToken: response.id_token,
    expiresIn: response.expiresIn(),
    claims: response.claims(),
  });

  return {
    async startLogin() {
      const config = await configuration();
      const codeVerifier = client.randomPKCECodeVerifier();
      const state = client.randomState();
      const nonce = client.randomNonce();
      const params: Record<string, string> = {
        redirect_uri: redirectUri,
        scope: oidc.scopes.join(' '),
        // RFC 7636 §4.2, RFC 9700 §2.1.1: S256 only, never plain.
        code_challenge: await client.calculatePKCECodeChallenge(codeVerifier),
        code_challenge_method: 'S256',
        state,
        nonce,
        ...resourceParams,
      };
      // RFC 9126 §5: the OP says whether PAR is mandatory.
      const usePar =
        oidc.pushedAuthorizationRequests === 'always' ||
        config.serverMetadata().require_pushed_authorization_requests === true;
      const url = usePar
        ? await client.buildAuthorizationUrlWithPAR(config, params)
        : client.buildAuthorizationUrl(config, params);
      return { url, state, nonce, codeVerifier };
    },

    async finishLogin(callbackUrl, checks) {
      const config = await configuration();
      const response = await client.authorizationCodeGrant(
        config,
        callbackUrl,
        {
          pkceCodeVerifier: checks.codeVerifier,
          expectedState: checks.state,
          expectedNonce: checks.nonce,
          idTokenExpected: true,
        },
        resourceParams,
      );
      return toTokenSet(response);
    },

    async refresh(refreshToken) {
      const config = await configuration();
      return toTokenSet(await client.refreshTokenGrant(config, refreshToken, resourceParams));
    },

    async userInfo(accessToken, sub) {
      const config = await configuration();
      return client.fetchUserInfo(config, accessToken, sub);
    },

    async revoke(token, hint) {
      const config = await configuration();
      await client.tokenRevocation(config, token, { token_type_hint: hint });
    },

    async endSessionUrl(idToken, postLogoutRedirectUri) {
      const config = await configuration();
      if (config.serverMetadata().end_session_endpoint === undefined) return undefined;
      return client.buildEndSessionUrl(config, {
        id_token_hint: idToken,
        post_logout_redirect_uri: postLogoutRedirectUri,
        client_id: oidc.clientId,
      });
    },

    async metadata() {
      return (await configuration()).serverMetadata();
    },
  };
}
