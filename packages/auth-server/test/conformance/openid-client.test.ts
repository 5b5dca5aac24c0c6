import { exportJWK, generateKeyPair } from 'jose';
import * as client from 'openid-client';
import { afterAll, beforeAll, beforeEach, expect, it } from 'vitest';
import { Browser } from '../helpers/browser-flow.js';
import {
  AFTER_LOGOUT,
  ALICE,
  auditTrail,
  authorizeInBrowser,
  expectedAtHash,
  secretOf,
  showsLoginForm,
  startConformance,
  thumbprintOf,
  type Conformance,
} from '../helpers/conformance-setup.js';
import { describeEachStore } from '../helpers/harness.js';
import { API, REDIRECT_URI, newClient, type TestClient } from '../helpers/oauth-client.js';

/**
 * openid-client 6.9.0 (OpenID Certified) drives every flow against a running server; its strict
 * checks decide. The issuer is plain http on 127.0.0.1, so the one opt-out is the documented
 * `allowInsecureRequests` for loopback; ID tokens and JWT responses additionally get their
 * signatures checked against the JWKS (`enableNonRepudiationChecks`).
 */
describeEachStore('conformance: openid-client 6.9.0', (stores) => {
  let fx: Conformance;
  let issuer: URL;

  beforeAll(async () => {
    fx = await startConformance(stores);
    issuer = new URL(fx.as.url);
  });
  afterAll(async () => {
    await fx.as.close();
  });
  beforeEach(() => {
    fx.clock.sync();
  });

  const execute = [client.allowInsecureRequests, client.enableNonRepudiationChecks];

  /** The library's configuration of a registered client, from discovery. */
  function configure(
    who: TestClient,
    auth: client.ClientAuth,
    metadata: Partial<client.ClientMetadata> = {},
  ): Promise<client.Configuration> {
    return client.discovery(issuer, who.id, metadata, auth, { execute });
  }

  const secretBasic = (who: TestClient) => client.ClientSecretBasic(secretOf(who));

  interface Started {
    readonly url: URL;
    readonly verifier: string;
    readonly state: string;
    readonly nonce: string;
  }

  /** The parameters of an authorization request, from the library: PKCE S256, state and nonce. */
  async function start(
    scope: string,
    extra: Record<string, string> = {},
  ): Promise<Omit<Started, 'url'> & { params: Record<string, string> }> {
    const verifier = client.randomPKCECodeVerifier();
    const state = client.randomState();
    const nonce = client.randomNonce();
    return {
      verifier,
      state,
      nonce,
      params: {
        redirect_uri: REDIRECT_URI,
        scope,
        code_challenge: await client.calculatePKCECodeChallenge(verifier),
        code_challenge_method: 'S256',
        state,
        nonce,
        ...extra,
      },
    };
  }

  async function authorizationUrl(config: client.Configuration, scope: string): Promise<Started> {
    const started = await start(scope);
    return { ...started, url: client.buildAuthorizationUrl(config, started.params) };
  }

  const checksOf = (started: Omit<Started, 'url'>): client.AuthorizationCodeGrantChecks => ({
    pkceCodeVerifier: started.verifier,
    expectedState: started.state,
    expectedNonce: started.nonce,
    idTokenExpected: true,
  });

  /** The public client's whole code flow: library URL, real login form, library exchange. */
  async function signInSpa(browser = new Browser()) {
    const config = await configure(fx.clients.spa, client.None());
    const started = await authorizationUrl(config, 'openid profile email');
    const { callback } = await authorizeInBrowser(fx.as, browser, started.url);
    const tokens = await client.authorizationCodeGrant(config, callback, checksOf(started));
    return { config, browser, tokens, started };
  }

  it('discovery: the library accepts the OpenID Provider metadata and finds every endpoint', async () => {
    const config = await configure(fx.clients.spa, client.None());
    const metadata = config.serverMetadata();
    expect(metadata.issuer).toBe(fx.as.url);
    expect(metadata).toMatchObject({
      authorization_endpoint: `${fx.as.url}/authorize`,
      token_endpoint: `${fx.as.url}/token`,
      jwks_uri: `${fx.as.url}/jwks`,
      userinfo_endpoint: `${fx.as.url}/userinfo`,
      pushed_authorization_request_endpoint: `${fx.as.url}/par`,
      introspection_endpoint: `${fx.as.url}/introspect`,
      revocation_endpoint: `${fx.as.url}/revoke`,
      end_session_endpoint: `${fx.as.url}/logout`,
      authorization_response_iss_parameter_supported: true,
    });
    // The helper the library documents for deciding whether to send PKCE S256.
    expect(metadata.supportsPKCE()).toBe(true);
    expect(metadata.supportsPKCE('plain')).toBe(false);

    // RFC 8414 §3: the same metadata at /.well-known/oauth-authorization-server.
    const oauth2 = await client.discovery(issuer, fx.clients.spa.id, {}, client.None(), {
      execute,
      algorithm: 'oauth2',
    });
    expect(oauth2.serverMetadata()).toEqual(metadata);
  });

  it('code + PKCE, public first-party client: login form, iss/state/nonce/at_hash/signature checked, UserInfo', async () => {
    const config = await configure(fx.clients.spa, client.None());
    // Watches (never alters) what the library fetches: the JWKS for the ID token signature.
    const fetched: string[] = [];
    config[client.customFetch] = (url, { body, ...init }) => {
      fetched.push(url);
      // FetchBody's Uint8Array<ArrayBufferLike> is a BodyInit at run time; only the lib types differ.
      return fetch(url, { ...init, body: (body ?? null) as BodyInit | null });
    };
    const started = await authorizationUrl(config, 'openid profile email');
    const browser = new Browser();
    const { callback, loginShown, consentShown } = await authorizeInBrowser(fx.as, browser, started.url);
    expect([loginShown, consentShown]).toEqual([true, false]);
    // RFC 9207 §2: the response names the issuer; the library compares it with the metadata's.
    expect(callback.searchParams.get('iss')).toBe(fx.as.url);

    const tokens = await client.authorizationCodeGrant(config, callback, checksOf(started));
    expect(tokens.token_type).toBe('bearer');
    expect(tokens.refresh_token).toEqual(expect.any(String));
    expect(tokens.scope).toBe('openid profile email');
    const claims = tokens.claims();
    expect(claims).toMatchObject({
      iss: fx.as.url,
      aud: fx.clients.spa.id,
      sub: fx.user.sub,
      nonce: started.nonce,
      auth_time: expect.any(Number),
      sid: expect.any(String),
    });
    expect(claims?.['at_hash']).toBe(expectedAtHash(tokens.access_token));
    expect(fetched).toEqual([`${fx.as.url}/token`, `${fx.as.url}/jwks`]);

    const userinfo = await client.fetchUserInfo(config, tokens.access_token, fx.user.sub);
    expect(userinfo).toEqual({
      sub: fx.user.sub,
      preferred_username: ALICE.username,
      name: ALICE.name,
      email: ALICE.email,
    });
    // The subject check is the library's: a UserInfo answer for another subject is refused.
    await expect(client.fetchUserInfo(config, tokens.access_token, 'someone-else')).rejects.toMatchObject({
      code: 'OAUTH_JSON_ATTRIBUTE_COMPARISON_FAILED',
    });
  });

  it('the library itself checks iss (RFC 9207) and state on the callback; the untouched callback still works', async () => {
    const config = await configure(fx.clients.spa, client.None());
    const started = await authorizationUrl(config, 'openid');
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
      { name: 'state removed', source: 'RFC 6749 §10.12', url: tampered((p) => p.delete('state')) },
    ];
    for (const refusal of refusals) {
      await expect(
        client.authorizationCodeGrant(config, refusal.url, checksOf(started)),
        `${refusal.name} (${refusal.source})`,
      ).rejects.toMatchObject({ code: 'OAUTH_INVALID_RESPONSE' });
    }
    // The refusals happened before any token request: the code is still good.
    const tokens = await client.authorizationCodeGrant(config, callback, checksOf(started));
    expect(tokens.claims()?.sub).toBe(fx.user.sub);
  });

  it('code + PKCE, confidential third-party client (client_secret_basic): consent, RFC 9068 JWT access token for the resource', async () => {
    const { web } = fx.clients;
    const config = await configure(web, secretBasic(web));
    const started = await start('openid profile accounts:read', { resource: API, max_age: '300' });
    const url = client.buildAuthorizationUrl(config, started.params);
    const { callback, loginShown, consentShown } = await authorizeInBrowser(fx.as, new Browser(), url);
    expect([loginShown, consentShown]).toEqual([true, true]);

    // OIDC Core §3.1.2.1 max_age: the library then requires auth_time and checks it.
    const tokens = await client.authorizationCodeGrant(config, callback, {
      ...checksOf(started),
      maxAge: 300,
    });
    expect(tokens.claims()).toMatchObject({ aud: web.id, sub: fx.user.sub, nonce: started.nonce });
    expect(tokens.claims()?.['at_hash']).toBe(expectedAtHash(tokens.access_token));
    const [header, payload] = tokens.access_token
      .split('.')
      .slice(0, 2)
      .map((part) => JSON.parse(Buffer.from(part, 'base64url').toString('utf8')) as Record<string, unknown>);
    expect(header?.['typ']).toBe('at+jwt');
    expect(payload).toMatchObject({ iss: fx.as.url, aud: API, sub: fx.user.sub, client_id: web.id });
    expect(await client.fetchUserInfo(config, tokens.access_token, fx.user.sub)).toEqual({
      sub: fx.user.sub,
      preferred_username: ALICE.username,
      name: ALICE.name,
    });
  });

  it('refresh rotates the refresh token; the rotated one, once past the grace window, fails and kills the family', async () => {
    const { config, tokens } = await signInSpa();
    const first = tokens.refresh_token as string;
    const refreshed = await client.refreshTokenGrant(config, first);
    expect(refreshed.refresh_token).toEqual(expect.any(String));
    expect(refreshed.refresh_token).not.toBe(first);
    expect(refreshed.access_token).not.toBe(tokens.access_token);
    // OIDC Core §12.2: the refreshed ID token is for the same user and client.
    expect(refreshed.claims()).toMatchObject({ sub: fx.user.sub, aud: fx.clients.spa.id });
    expect(refreshed.claims()?.['nonce']).toBeUndefined();

    fx.clock.advance(fx.as.deps.config.tokens.refreshGraceSec + 1);
    const mark = fx.as.audit.length;
    // RFC 9700 §4.14.2: the rotated token is refused ...
    await expect(client.refreshTokenGrant(config, first)).rejects.toMatchObject({
      name: 'ResponseBodyError',
      error: 'invalid_grant',
      status: 400,
    });
    expect(auditTrail(fx.as, fx.clients.spa.id, mark)).toContain('token.reuse_detected:refresh_token_reused');
    // ... and its whole family with it, the live successor included.
    await expect(client.refreshTokenGrant(config, refreshed.refresh_token as string)).rejects.toMatchObject({
      error: 'invalid_grant',
    });
  });

  const clientCredentials: Array<{
    name: string;
    source: string;
    who: () => TestClient;
    auth: () => client.ClientAuth;
  }> = [
    {
      name: 'client_secret_basic',
      source: 'RFC 6749 §2.3.1',
      who: () => fx.clients.rs,
      auth: () => secretBasic(fx.clients.rs),
    },
    {
      name: 'client_secret_post',
      source: 'RFC 6749 §2.3.1',
      who: () => fx.clients.service,
      auth: () => client.ClientSecretPost(secretOf(fx.clients.service)),
    },
    {
      name: 'private_key_jwt',
      source: 'RFC 7523 §2.2',
      who: () => fx.clients.signed,
      auth: () => client.PrivateKeyJwt({ key: fx.assertionKey.privateKey, kid: 'client-key-1' }),
    },
  ];

  it.each(clientCredentials)('client credentials with $name ($source)', async ({ who, auth }) => {
    const config = await configure(who(), auth());
    const tokens = await client.clientCredentialsGrant(config, { scope: 'accounts:read', resource: API });
    expect(tokens).toMatchObject({ token_type: 'bearer', scope: 'accounts:read' });
    expect(tokens.expiresIn()).toBeGreaterThan(0);
    expect(tokens.refresh_token).toBeUndefined();
    // A second request signs a new assertion (fresh jti): single-use jti does not get in the way.
    await expect(client.clientCredentialsGrant(config, { scope: 'accounts:read' })).resolves.toMatchObject({
      token_type: 'bearer',
    });
  });

  // Every key type the library signs client assertions with: accepted exactly when
  // token_endpoint_auth_signing_alg_values_supported lists its `alg` (Ed25519 keys sign as
  // "Ed25519", RFC 9864).
  it.each(['ES256', 'PS256', 'RS256', 'Ed25519'])(
    'private_key_jwt with a %s key: accepted if and only if the metadata lists the algorithm',
    async (alg) => {
      const { privateKey, publicKey } = await generateKeyPair(alg);
      const who = await newClient(fx.as, {
        authMethod: 'private_key_jwt',
        grantTypes: ['client_credentials'],
        scopes: ['accounts:read'],
        jwks: { keys: [{ ...(await exportJWK(publicKey)), kid: 'k1', use: 'sig' }] },
      });
      const config = await configure(who, client.PrivateKeyJwt({ key: privateKey, kid: 'k1' }));
      const result = client.clientCredentialsGrant(config, { scope: 'accounts:read' });
      const listed = config.serverMetadata().token_endpoint_auth_signing_alg_values_supported;
      if (listed?.includes(alg) === true) {
        await expect(result).resolves.toMatchObject({ token_type: 'bearer' });
      } else {
        await expect(result).rejects.toMatchObject({ error: 'invalid_client', status: 401 });
      }
    },
  );

  it('a public client revokes its own refresh token (revocation_endpoint_auth_methods_supported lists none)', async () => {
    expect(
      (await configure(fx.clients.spa, client.None())).serverMetadata()
        .revocation_endpoint_auth_methods_supported,
    ).toContain('none');
    const { config, tokens } = await signInSpa();
    await client.tokenRevocation(config, tokens.refresh_token as string, {
      token_type_hint: 'refresh_token',
    });
    await expect(client.refreshTokenGrant(config, tokens.refresh_token as string)).rejects.toMatchObject({
      error: 'invalid_grant',
    });
  });

  it('PAR (RFC 9126) with private_key_jwt for a client that requires it; the code exchange authenticates the same way', async () => {
    const { signed } = fx.clients;
    const config = await configure(
      signed,
      client.PrivateKeyJwt({ key: fx.assertionKey.privateKey, kid: 'client-key-1' }),
    );
    const started = await start('openid accounts:read');
    // RFC 9126 §6: this client may not send a plain authorization request; the error comes back
    // to the client and the library reports it as an authorization error.
    const plain = await authorizeInBrowser(
      fx.as,
      new Browser(),
      client.buildAuthorizationUrl(config, started.params),
    );
    await expect(
      client.authorizationCodeGrant(config, plain.callback, checksOf(started)),
    ).rejects.toMatchObject({
      name: 'AuthorizationResponseError',
      error: 'invalid_request',
    });

    const url = await client.buildAuthorizationUrlWithPAR(config, started.params);
    expect([...url.searchParams.keys()].sort()).toEqual(['client_id', 'request_uri']);
    const { callback, consentShown } = await authorizeInBrowser(fx.as, new Browser(), url);
    expect(consentShown).toBe(true);
    const tokens = await client.authorizationCodeGrant(config, callback, checksOf(started));
    expect(tokens.claims()).toMatchObject({ aud: signed.id, sub: fx.user.sub, nonce: started.nonce });
    expect(tokens.scope).toBe('openid accounts:read');
  });

  it('DPoP at the token endpoint: the library retries on use_dpop_nonce, gets a DPoP-bound token, UserInfo and refresh need the key', async () => {
    const { dpop } = fx.clients;
    const config = await configure(dpop, client.None());
    const keyPair = await client.randomDPoPKeyPair('ES256');
    const handle = client.getDPoPHandle(config, keyPair);
    const started = await authorizationUrl(config, 'openid profile');
    const { callback } = await authorizeInBrowser(fx.as, new Browser(), started.url);

    const mark = fx.as.audit.length;
    const tokens = await client.authorizationCodeGrant(config, callback, checksOf(started), undefined, {
      DPoP: handle,
    });
    // RFC 9449 §8: the first proof had no nonce; the server asked for one and the library retried.
    expect(auditTrail(fx.as, dpop.id, mark)).toEqual([
      'token.refuse:ERR_OAUTH_USE_DPOP_NONCE',
      'token.issue',
    ]);
    expect(tokens.token_type).toBe('dpop');
    const jkt = await thumbprintOf(keyPair.publicKey);
    const payload = JSON.parse(
      Buffer.from(tokens.access_token.split('.')[1] ?? '', 'base64url').toString('utf8'),
    ) as Record<string, unknown>;
    expect(payload['cnf']).toEqual({ jkt });

    // RFC 9449 §7: UserInfo with the DPoP scheme and a proof carrying `ath`.
    await expect(
      client.fetchUserInfo(config, tokens.access_token, fx.user.sub, { DPoP: handle }),
    ).resolves.toMatchObject({ sub: fx.user.sub, preferred_username: ALICE.username });
    // The same token as a Bearer token is refused with a challenge the library surfaces.
    await expect(client.fetchUserInfo(config, tokens.access_token, fx.user.sub)).rejects.toMatchObject({
      name: 'WWWAuthenticateChallengeError',
      status: 401,
    });

    // A public client's refresh token is bound to the key (RFC 9449 §5): another key is refused.
    const otherKey = client.getDPoPHandle(config, await client.randomDPoPKeyPair('ES256'));
    await expect(
      client.refreshTokenGrant(config, tokens.refresh_token as string, undefined, { DPoP: otherKey }),
    ).rejects.toMatchObject({ error: 'invalid_grant' });
    const refreshed = await client.refreshTokenGrant(config, tokens.refresh_token as string, undefined, {
      DPoP: handle,
    });
    expect(refreshed.token_type).toBe('dpop');
    expect(refreshed.refresh_token).not.toBe(tokens.refresh_token);
  });

  // Every key type the library signs proofs with: accepted exactly when the metadata lists its
  // `alg` (the library names Ed25519 keys' algorithm "Ed25519", RFC 9864, not "EdDSA").
  it.each(['ES256', 'PS256', 'RS256', 'Ed25519'])(
    'DPoP proof algorithm %s: accepted if and only if dpop_signing_alg_values_supported lists it',
    async (alg) => {
      const { service } = fx.clients;
      const config = await configure(service, client.ClientSecretPost(secretOf(service)));
      const handle = client.getDPoPHandle(config, await client.randomDPoPKeyPair(alg));
      const result = client.clientCredentialsGrant(config, { scope: 'accounts:read' }, { DPoP: handle });
      if (config.serverMetadata().dpop_signing_alg_values_supported?.includes(alg) === true) {
        await expect(result).resolves.toMatchObject({ token_type: 'dpop' });
      } else {
        await expect(result).rejects.toMatchObject({ error: 'invalid_dpop_proof' });
      }
    },
  );

  it('PAR with DPoP (RFC 9449 §10.1): the library retries the push on use_dpop_nonce and the code is bound to its key', async () => {
    const { dpop } = fx.clients;
    const config = await configure(dpop, client.None());
    const keyPair = await client.randomDPoPKeyPair('ES256');
    const started = await start('openid');
    const mark = fx.as.audit.length;
    const url = await client.buildAuthorizationUrlWithPAR(config, started.params, {
      DPoP: client.getDPoPHandle(config, keyPair),
    });
    expect(auditTrail(fx.as, dpop.id, mark)).toEqual([
      'authorization.refuse:ERR_OAUTH_USE_DPOP_NONCE',
      'authorization.push',
    ]);
    const { callback } = await authorizeInBrowser(fx.as, new Browser(), url);

    // A proof of another key cannot redeem the bound code (checked before the code is used up).
    const stranger = client.getDPoPHandle(config, await client.randomDPoPKeyPair('ES256'));
    await expect(
      client.authorizationCodeGrant(config, callback, checksOf(started), undefined, { DPoP: stranger }),
    ).rejects.toMatchObject({ error: 'invalid_grant' });
    const tokens = await client.authorizationCodeGrant(config, callback, checksOf(started), undefined, {
      DPoP: client.getDPoPHandle(config, keyPair),
    });
    expect(tokens.token_type).toBe('dpop');
  });

  it('introspection as JSON and as a signed JWT (RFC 9701), revocation by the owner, then inactive', async () => {
    const { rs, web } = fx.clients;
    const webConfig = await configure(web, secretBasic(web));
    const started = await start('openid accounts:read', { resource: API });
    const { callback } = await authorizeInBrowser(
      fx.as,
      new Browser(),
      client.buildAuthorizationUrl(webConfig, started.params),
    );
    const tokens = await client.authorizationCodeGrant(webConfig, callback, checksOf(started));

    const rsConfig = await configure(rs, secretBasic(rs));
    const expected = {
      active: true,
      client_id: web.id,
      sub: fx.user.sub,
      aud: API,
      scope: 'openid accounts:read',
      iss: fx.as.url,
      token_type: 'Bearer',
    };
    const json = await client.tokenIntrospection(rsConfig, tokens.access_token);
    expect(json).toMatchObject(expected);

    // RFC 9701: asked for by registering introspection_signed_response_alg; the library checks
    // typ, iss, aud (the caller), iat, and here the signature against the JWKS.
    const jwtConfig = await configure(rs, secretBasic(rs), { introspection_signed_response_alg: 'ES256' });
    const mark = fx.as.audit.length;
    expect(await client.tokenIntrospection(jwtConfig, tokens.access_token)).toMatchObject(expected);
    expect(auditTrail(fx.as, rs.id, mark)).toEqual(['token.introspect']);

    // RFC 7009: the owning client revokes the access token, then the refresh token (the grant).
    await client.tokenRevocation(webConfig, tokens.access_token, { token_type_hint: 'access_token' });
    expect(await client.tokenIntrospection(rsConfig, tokens.access_token)).toEqual({ active: false });
    expect(await client.tokenIntrospection(jwtConfig, tokens.access_token)).toEqual({ active: false });
    await client.tokenRevocation(webConfig, tokens.refresh_token as string);
    await expect(client.refreshTokenGrant(webConfig, tokens.refresh_token as string)).rejects.toMatchObject({
      error: 'invalid_grant',
    });
  });

  it('RP-initiated logout: buildEndSessionUrl with the session cookie returns to post_logout_redirect_uri with state', async () => {
    const { config, browser, tokens } = await signInSpa();
    const state = client.randomState();
    const logout = client.buildEndSessionUrl(config, {
      id_token_hint: tokens.id_token as string,
      post_logout_redirect_uri: AFTER_LOGOUT,
      state,
    });
    expect(logout.searchParams.get('client_id')).toBe(fx.clients.spa.id);
    const page = await browser.get(logout.href);
    expect(page.status).toBe(302);
    const back = new URL(page.location as string);
    expect(`${back.origin}${back.pathname}`).toBe(AFTER_LOGOUT);
    expect(back.searchParams.get('state')).toBe(state);
    // The session is over: the next authorization request asks for a login again.
    const again = await authorizationUrl(config, 'openid');
    expect(await showsLoginForm(browser, again.url)).toBe(true);
  });
});
