import * as oauth from 'oauth4webapi';
import { afterAll, beforeAll, beforeEach, expect, it } from 'vitest';
import { Browser } from '../helpers/browser-flow.js';
import {
  AFTER_LOGOUT,
  ALICE,
  WallClock,
  auditTrail,
  authorizeInBrowser,
  expectedAtHash,
  secretOf,
  showsLoginForm,
  startConformance,
  thumbprintOf,
  type Conformance,
} from '../helpers/conformance-setup.js';
import { addUser } from '../helpers/browser-flow.js';
import { describeEachStore, startAuthServer } from '../helpers/harness.js';
import { API, REDIRECT_URI, newClient, type TestClient } from '../helpers/oauth-client.js';

/**
 * oauth4webapi 3.8.8 (the certified core under openid-client) drives every flow against a running
 * server, one request and one strict processing step at a time. The issuer is plain http on
 * 127.0.0.1, so each request carries the documented `[allowInsecureRequests]: true` and nothing
 * else is relaxed; signatures of ID tokens and JWT responses are checked against the JWKS with
 * `validateApplicationLevelSignature`.
 */
const insecure = { [oauth.allowInsecureRequests]: true } as const;

/**
 * The library's documented DPoP pattern (RFC 9449 §8): the handle keeps the server's nonce from
 * a `use_dpop_nonce` answer, and the caller repeats the request once. Returns whether it retried.
 */
async function withNonceRetry<T>(
  send: () => Promise<Response>,
  process: (response: Response) => Promise<T>,
): Promise<{ result: T; retried: boolean }> {
  try {
    return { result: await process(await send()), retried: false };
  } catch (err) {
    if (!oauth.isDPoPNonceError(err)) throw err;
    return { result: await process(await send()), retried: true };
  }
}

describeEachStore('conformance: oauth4webapi 3.8.8', (stores) => {
  let fx: Conformance;
  let as: oauth.AuthorizationServer;

  beforeAll(async () => {
    fx = await startConformance(stores);
    const issuer = new URL(fx.as.url);
    as = await oauth.processDiscoveryResponse(issuer, await oauth.discoveryRequest(issuer, insecure));
  });
  afterAll(async () => {
    await fx.as.close();
  });
  beforeEach(() => {
    fx.clock.sync();
  });

  const clientOf = (who: TestClient, metadata: Partial<oauth.Client> = {}): oauth.Client => ({
    ...metadata,
    client_id: who.id,
  });

  interface Started {
    readonly url: URL;
    readonly verifier: string;
    readonly state: string;
    readonly nonce: string;
  }

  /** The parameters of an authorization request, from the library: PKCE S256, state and nonce. */
  async function parameters(
    who: TestClient,
    scope: string,
    extra: Record<string, string> = {},
  ): Promise<Omit<Started, 'url'> & { params: URLSearchParams }> {
    const verifier = oauth.generateRandomCodeVerifier();
    const state = oauth.generateRandomState();
    const nonce = oauth.generateRandomNonce();
    const params = new URLSearchParams({
      client_id: who.id,
      response_type: 'code',
      redirect_uri: REDIRECT_URI,
      scope,
      code_challenge: await oauth.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
      state,
      nonce,
      ...extra,
    });
    return { verifier, state, nonce, params };
  }

  /** An authorization URL at the discovered authorization_endpoint. */
  async function authorizationUrl(
    who: TestClient,
    scope: string,
    extra: Record<string, string> = {},
  ): Promise<Started> {
    const started = await parameters(who, scope, extra);
    const url = new URL(as.authorization_endpoint as string);
    url.search = started.params.toString();
    return { ...started, url };
  }

  /** The library's whole callback and code exchange: validateAuthResponse, then the token request. */
  async function exchange(
    client: oauth.Client,
    auth: oauth.ClientAuth,
    callback: URL,
    started: Omit<Started, 'url'>,
    DPoP?: oauth.DPoPHandle,
  ): Promise<{ tokens: oauth.TokenEndpointResponse; response: Response; retried: boolean }> {
    // RFC 9207 §2.4 (iss, required as the metadata promises it) and state, checked by the library.
    const params = oauth.validateAuthResponse(as, client, callback, started.state);
    const { result, retried } = await withNonceRetry(
      () =>
        oauth.authorizationCodeGrantRequest(as, client, auth, params, REDIRECT_URI, started.verifier, {
          ...insecure,
          ...(DPoP === undefined ? {} : { DPoP }),
        }),
      async (response) => ({
        response,
        tokens: await oauth.processAuthorizationCodeResponse(as, client, response, {
          expectedNonce: started.nonce,
          requireIdToken: true,
        }),
      }),
    );
    return { ...result, retried };
  }

  /** The ID token's claims as the library validated them, after its signature check (JWKS). */
  async function idTokenOf(response: Response, tokens: oauth.TokenEndpointResponse): Promise<oauth.IDToken> {
    await oauth.validateApplicationLevelSignature(as, response, insecure);
    const claims = oauth.getValidatedIdTokenClaims(tokens);
    if (claims === undefined) throw new Error('no ID token');
    return claims;
  }

  /** A resource server (API) that validates JWT access tokens with the library (RFC 9068, RFC 9449 §7). */
  function resourceServer(seen: oauth.JWTAccessTokenClaims[]): oauth.ProtectedResourceRequestOptions {
    return {
      // The request never leaves the process: api.example is this in-test resource server.
      [oauth.customFetch]: async (url, options) => {
        const request = new Request(url, { method: options.method, headers: options.headers });
        seen.push(await oauth.validateJwtAccessToken(as, request, API, insecure));
        return new Response('{}', { status: 200, headers: { 'content-type': 'application/json' } });
      },
    };
  }

  it('discovery: OIDC and RFC 8414 documents, both accepted by the library with the issuer checked', async () => {
    expect(as.issuer).toBe(fx.as.url);
    const issuer = new URL(fx.as.url);
    const oauth2 = await oauth.processDiscoveryResponse(
      issuer,
      await oauth.discoveryRequest(issuer, { ...insecure, algorithm: 'oauth2' }),
    );
    expect(oauth2).toEqual(as);
    // The library refuses metadata whose issuer is not the one it asked for (RFC 8414 §3.3).
    await expect(
      oauth.processDiscoveryResponse(
        new URL('http://127.0.0.1:1'),
        await oauth.discoveryRequest(issuer, insecure),
      ),
    ).rejects.toMatchObject({ code: oauth.JSON_ATTRIBUTE_COMPARISON });
    expect(as).toMatchObject({
      code_challenge_methods_supported: ['S256'],
      response_types_supported: ['code'],
      authorization_response_iss_parameter_supported: true,
      introspection_signing_alg_values_supported: ['ES256'],
      id_token_signing_alg_values_supported: ['ES256'],
    });
  });

  it('code + PKCE, public first-party client: login form, iss/state/nonce checked, ID token signature and at_hash, UserInfo', async () => {
    const { spa } = fx.clients;
    const client = clientOf(spa);
    const started = await authorizationUrl(spa, 'openid profile email');
    const { callback, loginShown, consentShown } = await authorizeInBrowser(
      fx.as,
      new Browser(),
      started.url,
    );
    expect([loginShown, consentShown]).toEqual([true, false]);

    const { tokens, response } = await exchange(client, oauth.None(), callback, started);
    expect(tokens.token_type).toBe('bearer');
    expect(tokens.refresh_token).toEqual(expect.any(String));
    const claims = await idTokenOf(response, tokens);
    expect(claims).toMatchObject({ iss: fx.as.url, aud: spa.id, sub: fx.user.sub, nonce: started.nonce });
    expect(claims['at_hash']).toBe(expectedAtHash(tokens.access_token));

    const userinfo = await oauth.processUserInfoResponse(
      as,
      client,
      fx.user.sub,
      await oauth.userInfoRequest(as, client, tokens.access_token, insecure),
    );
    expect(userinfo).toEqual({
      sub: fx.user.sub,
      preferred_username: ALICE.username,
      name: ALICE.name,
      email: ALICE.email,
    });
  });

  it('validateAuthResponse itself refuses a wrong or missing iss (RFC 9207) and a wrong state', async () => {
    const { spa } = fx.clients;
    const client = clientOf(spa);
    const started = await authorizationUrl(spa, 'openid');
    const { callback } = await authorizeInBrowser(fx.as, new Browser(), started.url);
    const tampered = (change: (params: URLSearchParams) => void): URL => {
      const url = new URL(callback.href);
      change(url.searchParams);
      return url;
    };
    const refusals: Array<{ name: string; source: string; url: URL }> = [
      {
        name: 'iss of another server (mix-up)',
        source: 'RFC 9207 §2.4',
        url: tampered((p) => p.set('iss', 'https://attacker.example')),
      },
      {
        name: 'iss removed though the metadata promises it',
        source: 'RFC 9207 §2.4',
        url: tampered((p) => p.delete('iss')),
      },
      {
        name: 'state of another request',
        source: 'RFC 6749 §10.12',
        url: tampered((p) => p.set('state', 'x')),
      },
    ];
    for (const refusal of refusals) {
      expect(
        () => oauth.validateAuthResponse(as, client, refusal.url, started.state),
        `${refusal.name} (${refusal.source})`,
      ).toThrow(expect.objectContaining({ code: oauth.INVALID_RESPONSE }));
    }
    const { tokens } = await exchange(client, oauth.None(), callback, started);
    expect(oauth.getValidatedIdTokenClaims(tokens)?.sub).toBe(fx.user.sub);
  });

  it('code + PKCE, confidential third-party client (client_secret_basic): consent, and the library validates the RFC 9068 access token', async () => {
    const { web } = fx.clients;
    const client = clientOf(web);
    const started = await authorizationUrl(web, 'openid profile accounts:read', { resource: API });
    const { callback, consentShown } = await authorizeInBrowser(fx.as, new Browser(), started.url);
    expect(consentShown).toBe(true);
    const { tokens, response } = await exchange(
      client,
      oauth.ClientSecretBasic(secretOf(web)),
      callback,
      started,
    );
    const claims = await idTokenOf(response, tokens);
    expect(claims['at_hash']).toBe(expectedAtHash(tokens.access_token));

    const seen: oauth.JWTAccessTokenClaims[] = [];
    const answer = await oauth.protectedResourceRequest(
      tokens.access_token,
      'GET',
      new URL(`${API}/accounts`),
      undefined,
      undefined,
      resourceServer(seen),
    );
    expect(answer.status).toBe(200);
    expect(seen).toEqual([
      expect.objectContaining({
        iss: fx.as.url,
        aud: API,
        sub: fx.user.sub,
        client_id: web.id,
        scope: 'openid profile accounts:read',
      }),
    ]);
  });

  it('refresh rotates the refresh token; the rotated one, once past the grace window, fails and kills the family', async () => {
    const { spa } = fx.clients;
    const client = clientOf(spa);
    const started = await authorizationUrl(spa, 'openid');
    const { callback } = await authorizeInBrowser(fx.as, new Browser(), started.url);
    const { tokens } = await exchange(client, oauth.None(), callback, started);
    const first = tokens.refresh_token as string;

    const refresh = async (token: string) =>
      oauth.processRefreshTokenResponse(
        as,
        client,
        await oauth.refreshTokenGrantRequest(as, client, oauth.None(), token, insecure),
      );
    const refreshed = await refresh(first);
    expect(refreshed.refresh_token).toEqual(expect.any(String));
    expect(refreshed.refresh_token).not.toBe(first);
    expect(oauth.getValidatedIdTokenClaims(refreshed)).toMatchObject({ sub: fx.user.sub, aud: spa.id });

    fx.clock.advance(fx.as.deps.config.tokens.refreshGraceSec + 1);
    const mark = fx.as.audit.length;
    await expect(refresh(first)).rejects.toMatchObject({
      name: 'ResponseBodyError',
      error: 'invalid_grant',
      status: 400,
    });
    expect(auditTrail(fx.as, spa.id, mark)).toContain('token.reuse_detected:refresh_token_reused');
    await expect(refresh(refreshed.refresh_token as string)).rejects.toMatchObject({
      error: 'invalid_grant',
    });
  });

  const clientCredentials: Array<{
    name: string;
    source: string;
    who: () => TestClient;
    auth: () => oauth.ClientAuth;
  }> = [
    {
      name: 'client_secret_basic',
      source: 'RFC 6749 §2.3.1',
      who: () => fx.clients.rs,
      auth: () => oauth.ClientSecretBasic(secretOf(fx.clients.rs)),
    },
    {
      name: 'client_secret_post',
      source: 'RFC 6749 §2.3.1',
      who: () => fx.clients.service,
      auth: () => oauth.ClientSecretPost(secretOf(fx.clients.service)),
    },
    {
      name: 'private_key_jwt',
      source: 'RFC 7523 §2.2',
      who: () => fx.clients.signed,
      auth: () => oauth.PrivateKeyJwt({ key: fx.assertionKey.privateKey, kid: 'client-key-1' }),
    },
  ];

  it.each(clientCredentials)('client credentials with $name ($source)', async ({ who, auth }) => {
    const client = clientOf(who());
    const grant = async () =>
      oauth.processClientCredentialsResponse(
        as,
        client,
        await oauth.clientCredentialsGrantRequest(
          as,
          client,
          auth(),
          { scope: 'accounts:read', resource: API },
          insecure,
        ),
      );
    expect(await grant()).toMatchObject({ token_type: 'bearer', scope: 'accounts:read' });
    expect(await grant()).toMatchObject({ token_type: 'bearer' });
  });

  it('private_key_jwt at introspection and revocation too, as the metadata lists it for both (RFC 8414 §2)', async () => {
    for (const endpoint of ['introspection', 'revocation'] as const) {
      expect(as[`${endpoint}_endpoint_auth_methods_supported`]).toContain('private_key_jwt');
      expect(as[`${endpoint}_endpoint_auth_signing_alg_values_supported`]).toContain('ES256');
    }
    const introspector = await newClient(fx.as, {
      authMethod: 'private_key_jwt',
      grantTypes: ['client_credentials'],
      scopes: ['accounts:read'],
      resources: [API],
      jwks: { keys: [fx.assertionKey.publicJwk] },
      canIntrospect: true,
    });
    const client = clientOf(introspector);
    const auth = () => oauth.PrivateKeyJwt({ key: fx.assertionKey.privateKey, kid: 'client-key-1' });
    const tokens = await oauth.processClientCredentialsResponse(
      as,
      client,
      await oauth.clientCredentialsGrantRequest(as, client, auth(), { scope: 'accounts:read' }, insecure),
    );
    const introspect = async () =>
      oauth.processIntrospectionResponse(
        as,
        client,
        await oauth.introspectionRequest(as, client, auth(), tokens.access_token, insecure),
      );
    expect(await introspect()).toMatchObject({ active: true, client_id: introspector.id, aud: API });
    await oauth.processRevocationResponse(
      await oauth.revocationRequest(as, client, auth(), tokens.access_token, insecure),
    );
    expect(await introspect()).toEqual({ active: false });
  });

  it('PAR (RFC 9126) with private_key_jwt for a client that requires it', async () => {
    const { signed } = fx.clients;
    const client = clientOf(signed);
    const auth = oauth.PrivateKeyJwt({ key: fx.assertionKey.privateKey, kid: 'client-key-1' });
    const started = await parameters(signed, 'openid accounts:read');
    const pushed = await oauth.processPushedAuthorizationResponse(
      as,
      client,
      await oauth.pushedAuthorizationRequest(as, client, auth, started.params, insecure),
    );
    expect(pushed.expires_in).toBeGreaterThan(0);
    const url = new URL(as.authorization_endpoint as string);
    url.search = new URLSearchParams({ client_id: signed.id, request_uri: pushed.request_uri }).toString();
    const { callback, consentShown } = await authorizeInBrowser(fx.as, new Browser(), url);
    expect(consentShown).toBe(true);
    const { tokens, response } = await exchange(client, auth, callback, started);
    expect(await idTokenOf(response, tokens)).toMatchObject({ aud: signed.id, nonce: started.nonce });
  });

  it('DPoP: nonce retry at PAR and token endpoint, bound JWT access token validated by the library as a resource server, UserInfo', async () => {
    const { dpop } = fx.clients;
    const client = clientOf(dpop);
    const keyPair = await oauth.generateKeyPair('ES256');
    const DPoP = oauth.DPoP(client, keyPair);
    const started = await parameters(dpop, 'openid profile accounts:read');

    const mark = fx.as.audit.length;
    const pushed = await withNonceRetry(
      () => oauth.pushedAuthorizationRequest(as, client, oauth.None(), started.params, { ...insecure, DPoP }),
      (response) => oauth.processPushedAuthorizationResponse(as, client, response),
    );
    expect(pushed.retried).toBe(true);
    const url = new URL(as.authorization_endpoint as string);
    url.search = new URLSearchParams({
      client_id: dpop.id,
      request_uri: pushed.result.request_uri,
    }).toString();
    const { callback } = await authorizeInBrowser(fx.as, new Browser(), url);

    // A fresh handle knows no nonce yet: the token endpoint asks for one and the caller retries.
    const fresh = oauth.DPoP(client, keyPair);
    const { tokens, retried } = await exchange(client, oauth.None(), callback, started, fresh);
    expect(retried).toBe(true);
    expect(auditTrail(fx.as, dpop.id, mark)).toEqual([
      'authorization.refuse:ERR_OAUTH_USE_DPOP_NONCE',
      'authorization.push',
      'login.success',
      'authorization.code',
      'token.refuse:ERR_OAUTH_USE_DPOP_NONCE',
      'token.issue',
    ]);
    expect(tokens.token_type).toBe('dpop');

    // The API side: oauth4webapi's resource-server validation of the DPoP-bound JWT (RFC 9068
    // claims, cnf.jkt against the proof key, ath, htm/htu) on the request the client library built.
    const seen: oauth.JWTAccessTokenClaims[] = [];
    await oauth.protectedResourceRequest(
      tokens.access_token,
      'GET',
      new URL(`${API}/accounts`),
      undefined,
      undefined,
      { ...resourceServer(seen), DPoP: fresh },
    );
    expect(seen[0]?.cnf).toEqual({ jkt: await thumbprintOf(keyPair.publicKey) });

    // UserInfo through protectedResourceRequest with the DPoP scheme (RFC 9449 §7).
    const userinfo = await oauth.protectedResourceRequest(
      tokens.access_token,
      'GET',
      new URL(as.userinfo_endpoint as string),
      undefined,
      undefined,
      { ...insecure, DPoP: fresh },
    );
    expect(userinfo.status).toBe(200);
    expect(await userinfo.json()).toEqual({
      sub: fx.user.sub,
      preferred_username: ALICE.username,
      name: ALICE.name,
    });
    // And through userInfoRequest + processUserInfoResponse.
    await expect(
      oauth.processUserInfoResponse(
        as,
        client,
        fx.user.sub,
        await oauth.userInfoRequest(as, client, tokens.access_token, { ...insecure, DPoP: fresh }),
      ),
    ).resolves.toMatchObject({ sub: fx.user.sub });
    // Without the proof the token is refused with a DPoP challenge the library parses.
    await expect(
      oauth.processUserInfoResponse(
        as,
        client,
        fx.user.sub,
        await oauth.userInfoRequest(as, client, tokens.access_token, insecure),
      ),
    ).rejects.toMatchObject({ name: 'WWWAuthenticateChallengeError', status: 401 });

    // The refresh token is bound to the key too (public client, RFC 9449 §5).
    const refreshed = await withNonceRetry(
      () =>
        oauth.refreshTokenGrantRequest(as, client, oauth.None(), tokens.refresh_token as string, {
          ...insecure,
          DPoP: fresh,
        }),
      (response) => oauth.processRefreshTokenResponse(as, client, response),
    );
    expect(refreshed.result.token_type).toBe('dpop');
  });

  it('introspection as JSON and as a signed JWT (RFC 9701), revocation by the owner, then inactive', async () => {
    const { rs, web } = fx.clients;
    const webClient = clientOf(web);
    const webAuth = oauth.ClientSecretBasic(secretOf(web));
    const started = await authorizationUrl(web, 'openid accounts:read', { resource: API });
    const { callback } = await authorizeInBrowser(fx.as, new Browser(), started.url);
    const { tokens } = await exchange(webClient, webAuth, callback, started);

    const rsClient = clientOf(rs);
    const rsAuth = oauth.ClientSecretBasic(secretOf(rs));
    const introspect = async (token: string, requestJwtResponse: boolean) => {
      const response = await oauth.introspectionRequest(as, rsClient, rsAuth, token, {
        ...insecure,
        requestJwtResponse,
      });
      const result = await oauth.processIntrospectionResponse(as, rsClient, response);
      if (requestJwtResponse) {
        // RFC 9701 §5: typ, iss, aud and iat were checked in processing; now the signature.
        expect(response.headers.get('content-type')).toBe('application/token-introspection+jwt');
        await oauth.validateApplicationLevelSignature(as, response, insecure);
      }
      return result;
    };
    const expected = {
      active: true,
      client_id: web.id,
      sub: fx.user.sub,
      aud: API,
      scope: 'openid accounts:read',
      iss: fx.as.url,
      token_type: 'Bearer',
    };
    expect(await introspect(tokens.access_token, false)).toMatchObject(expected);
    expect(await introspect(tokens.access_token, true)).toMatchObject(expected);

    // RFC 7009 §2.2: 200 and an empty body, which the library checks.
    await oauth.processRevocationResponse(
      await oauth.revocationRequest(as, webClient, webAuth, tokens.access_token, {
        ...insecure,
        additionalParameters: { token_type_hint: 'access_token' },
      }),
    );
    expect(await introspect(tokens.access_token, false)).toEqual({ active: false });
    expect(await introspect(tokens.access_token, true)).toEqual({ active: false });

    await oauth.processRevocationResponse(
      await oauth.revocationRequest(as, webClient, webAuth, tokens.refresh_token as string, insecure),
    );
    await expect(
      oauth.processRefreshTokenResponse(
        as,
        webClient,
        await oauth.refreshTokenGrantRequest(
          as,
          webClient,
          webAuth,
          tokens.refresh_token as string,
          insecure,
        ),
      ),
    ).rejects.toMatchObject({ error: 'invalid_grant' });
  });

  it('RP-initiated logout at the discovered end_session_endpoint returns to post_logout_redirect_uri with state', async () => {
    const { spa } = fx.clients;
    const client = clientOf(spa);
    const browser = new Browser();
    const started = await authorizationUrl(spa, 'openid');
    const { callback } = await authorizeInBrowser(fx.as, browser, started.url);
    const { tokens } = await exchange(client, oauth.None(), callback, started);

    const state = oauth.generateRandomState();
    const logout = new URL(as.end_session_endpoint as string);
    logout.search = new URLSearchParams({
      client_id: spa.id,
      id_token_hint: tokens.id_token as string,
      post_logout_redirect_uri: AFTER_LOGOUT,
      state,
    }).toString();
    const page = await browser.get(logout.href);
    expect(page.status).toBe(302);
    expect(page.location).toBe(`${AFTER_LOGOUT}?state=${state}`);
    expect(await showsLoginForm(browser, (await authorizationUrl(spa, 'openid')).url)).toBe(true);
  });

  // id_token_signing_alg_values_supported and introspection_signing_alg_values_supported follow
  // keys.algorithm: for each configurable algorithm the library verifies what the server signs.
  it.each(['EdDSA', 'RS256', 'PS256'] as const)(
    'keys.algorithm %s: metadata names it, ID token and introspection JWT signatures verify',
    async (algorithm) => {
      const server = await startAuthServer({
        stores,
        clock: new WallClock(),
        config: { keys: { algorithm } },
      });
      try {
        await addUser(server, { username: ALICE.username, password: ALICE.password });
        const spa = await newClient(server, {
          authMethod: 'none',
          grantTypes: ['authorization_code'],
          scopes: ['openid'],
          firstParty: true,
        });
        const rs = await newClient(server, { grantTypes: ['client_credentials'], canIntrospect: true });
        const issuer = new URL(server.url);
        const metadata = await oauth.processDiscoveryResponse(
          issuer,
          await oauth.discoveryRequest(issuer, insecure),
        );
        expect(metadata.id_token_signing_alg_values_supported).toEqual([algorithm]);
        expect(metadata.introspection_signing_alg_values_supported).toEqual([algorithm]);

        const client = clientOf(spa);
        const started = await parameters(spa, 'openid');
        const url = new URL(metadata.authorization_endpoint as string);
        url.search = started.params.toString();
        const { callback } = await authorizeInBrowser(server, new Browser(), url);
        const response = await oauth.authorizationCodeGrantRequest(
          metadata,
          client,
          oauth.None(),
          oauth.validateAuthResponse(metadata, client, callback, started.state),
          REDIRECT_URI,
          started.verifier,
          insecure,
        );
        const tokens = await oauth.processAuthorizationCodeResponse(metadata, client, response, {
          expectedNonce: started.nonce,
          requireIdToken: true,
        });
        await oauth.validateApplicationLevelSignature(metadata, response, insecure);

        const rsClient = clientOf(rs);
        const introspection = await oauth.introspectionRequest(
          metadata,
          rsClient,
          oauth.ClientSecretBasic(secretOf(rs)),
          tokens.access_token,
          { ...insecure, requestJwtResponse: true },
        );
        expect(await oauth.processIntrospectionResponse(metadata, rsClient, introspection)).toMatchObject({
          active: true,
        });
        await oauth.validateApplicationLevelSignature(metadata, introspection, insecure);
      } finally {
        await server.close();
      }
    },
  );
});
