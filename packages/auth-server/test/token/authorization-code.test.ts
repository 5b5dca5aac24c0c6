import { createHash } from 'node:crypto';
import { createLocalJWKSet, decodeJwt, jwtVerify, type JSONWebKeySet } from 'jose';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createDpopKey, dpopProof } from '../helpers/dpop-proof.js';
import { describeEachStore, startAuthServer, type TestAuthServer } from '../helpers/harness.js';
import {
  API,
  OTHER_API,
  REDIRECT_URI,
  TEST_RESOURCES,
  introspect,
  issueCode,
  newClient,
  pkcePair,
  redeem,
  tokenRequest,
  type IssuedCode,
  type TestClient,
} from '../helpers/oauth-client.js';

describeEachStore('token endpoint: authorization_code', (stores) => {
  let as: TestAuthServer;
  let web: TestClient;
  let spa: TestClient;
  let noRefresh: TestClient;
  let other: TestClient;
  let rs: TestClient;

  beforeAll(async () => {
    // No DPoP nonce here: the DPoP nonce round trip has its own suite.
    as = await startAuthServer({
      stores,
      config: { resources: TEST_RESOURCES, dpop: { requireNonce: false } },
    });
    web = await newClient(as, {
      grantTypes: ['authorization_code', 'refresh_token'],
      scopes: ['openid', 'accounts:read'],
      resources: [API],
      tokenFormat: 'jwt',
    });
    spa = await newClient(as, {
      grantTypes: ['authorization_code', 'refresh_token'],
      authMethod: 'none',
      scopes: ['openid', 'accounts:read'],
      resources: [API],
    });
    noRefresh = await newClient(as, { grantTypes: ['authorization_code'], scopes: ['accounts:read'] });
    other = await newClient(as, { grantTypes: ['authorization_code'], scopes: ['openid', 'accounts:read'] });
    rs = await newClient(as, { grantTypes: ['client_credentials'], canIntrospect: true });
  });
  afterAll(async () => {
    await as.close();
  });

  const active = async (token: string): Promise<boolean> =>
    (await introspect(as, rs, token)).body['active'] === true;

  it('redeems a code for an access token, a refresh token and an ID token (RFC 6749 §4.1.3, OIDC Core §3.1.3)', async () => {
    const issued = await issueCode(as, web);
    const response = await redeem(as, web, issued);
    expect(response.status).toBe(200);
    expect(response.headers.get('cache-control')).toBe('no-store');
    expect(response.body).toMatchObject({
      token_type: 'Bearer',
      expires_in: 300,
      scope: 'openid accounts:read',
      refresh_token: expect.stringMatching(/^[A-Za-z0-9_-]{43}$/) as unknown,
    });
    const accessToken = response.body['access_token'] as string;
    expect(decodeJwt(accessToken)).toMatchObject({ aud: API, sub: issued.sub, client_id: web.id });

    const jwks = createLocalJWKSet((await (await fetch(`${as.url}/jwks`)).json()) as JSONWebKeySet);
    const { payload } = await jwtVerify(response.body['id_token'] as string, jwks, {
      issuer: as.url,
      audience: web.id,
      currentDate: new Date(as.clock.now()),
    });
    const digest = createHash('sha256').update(accessToken).digest();
    expect(payload).toMatchObject({
      sub: issued.sub,
      nonce: 'n-0S6_WzA2Mj',
      sid: issued.sid,
      auth_time: Math.floor((as.clock.now() - 1000) / 1000),
      at_hash: digest.subarray(0, 16).toString('base64url'),
    });
    expect(await active(accessToken)).toBe(true);

    // OIDC Back-Channel Logout: the client is recorded in the session.
    const rows = await as.deps.db
      .selectFrom('session_clients')
      .selectAll()
      .where('sid', '=', issued.sid)
      .execute();
    expect(rows).toEqual([{ sid: issued.sid, client_id: web.id }]);
    const issue = as.audit.findLast((e) => e.action === 'token.issue' && e.actor?.clientId === web.id);
    expect(issue).toMatchObject({
      outcome: 'success',
      actor: { sub: issued.sub, clientId: web.id },
      details: { grant_type: 'authorization_code', format: 'jwt', refresh_token: true, dpop: false },
    });
  });

  it('serves a public client with PKCE only, and rotates its refresh tokens (OAuth 2.1 §4.3.1)', async () => {
    const response = await redeem(as, spa, await issueCode(as, spa));
    expect(response.status).toBe(200);
    expect(response.body['refresh_token']).toEqual(expect.any(String));
    const refreshed = await tokenRequest(as, spa, {
      grant_type: 'refresh_token',
      refresh_token: response.body['refresh_token'] as string,
    });
    expect(refreshed.status).toBe(200);
    expect(refreshed.body['refresh_token']).not.toBe(response.body['refresh_token']);
  });

  it('issues no refresh token to a client without the refresh_token grant, no ID token without openid', async () => {
    const response = await redeem(as, noRefresh, await issueCode(as, noRefresh));
    expect(response.status).toBe(200);
    expect(Object.keys(response.body).sort()).toEqual(['access_token', 'expires_in', 'scope', 'token_type']);
  });

  it('accepts the authorized resource repeated at the token endpoint (RFC 8707 §2.2)', async () => {
    const response = await redeem(as, web, await issueCode(as, web, { resource: API }), { resource: API });
    expect(response.status).toBe(200);
  });

  const refused: Array<{
    name: string;
    source: string;
    client?: () => TestClient;
    code?: (issued: IssuedCode) => Partial<IssuedCode>;
    extra?: (issued: IssuedCode) => Record<string, string | undefined>;
    error: string;
  }> = [
    {
      name: 'unknown code',
      source: 'RFC 6749 §5.2',
      code: () => ({ code: 'x'.repeat(43) }),
      error: 'invalid_grant',
    },
    {
      name: 'code of another client',
      source: 'RFC 6749 §4.1.3',
      client: () => other,
      error: 'invalid_grant',
    },
    {
      name: 'missing code',
      source: 'RFC 6749 §4.1.3',
      extra: () => ({ code: undefined }),
      error: 'invalid_request',
    },
    {
      name: 'missing redirect_uri',
      source: 'RFC 6749 §4.1.3',
      extra: () => ({ redirect_uri: undefined }),
      error: 'invalid_request',
    },
    {
      name: 'redirect_uri with a trailing slash',
      source: 'RFC 6749 §4.1.3 identical',
      extra: () => ({ redirect_uri: `${REDIRECT_URI}/` }),
      error: 'invalid_grant',
    },
    {
      name: 'redirect_uri in another case',
      source: 'RFC 6749 §4.1.3 identical',
      extra: () => ({ redirect_uri: REDIRECT_URI.toUpperCase() }),
      error: 'invalid_grant',
    },
    {
      name: 'redirect_uri with a query',
      source: 'RFC 6749 §4.1.3 identical',
      extra: () => ({ redirect_uri: `${REDIRECT_URI}?x=1` }),
      error: 'invalid_grant',
    },
    {
      name: 'redirect_uri with an encoded character',
      source: 'RFC 9700 §4.1.3',
      extra: () => ({ redirect_uri: REDIRECT_URI.replace('callback', 'c%61llback') }),
      error: 'invalid_grant',
    },
    {
      name: 'missing code_verifier',
      source: 'RFC 7636 §4.5, OAuth 2.1 §4.1.3',
      extra: () => ({ code_verifier: undefined }),
      error: 'invalid_grant',
    },
    {
      name: 'wrong code_verifier',
      source: 'RFC 7636 §4.6',
      extra: () => ({ code_verifier: pkcePair().verifier }),
      error: 'invalid_grant',
    },
    {
      name: 'the challenge itself as verifier (plain downgrade)',
      source: 'RFC 7636 §4.6, RFC 9700 §2.1.1',
      extra: (issued) => ({
        code_verifier: createHash('sha256').update(issued.verifier).digest('base64url'),
      }),
      error: 'invalid_grant',
    },
    {
      name: 'a 42-character verifier',
      source: 'RFC 7636 §4.1',
      extra: (issued) => ({ code_verifier: issued.verifier.slice(0, 42) }),
      error: 'invalid_grant',
    },
    {
      name: 'a verifier with characters outside the unreserved set',
      source: 'RFC 7636 §4.1',
      extra: (issued) => ({ code_verifier: `${issued.verifier}+/=` }),
      error: 'invalid_grant',
    },
    {
      name: 'another resource than the authorized one',
      source: 'RFC 8707 §2.2',
      extra: () => ({ resource: OTHER_API }),
      error: 'invalid_target',
    },
  ];

  it.each(refused)(
    'refuses $name ($source) without using up the code',
    async ({ client, code, extra, error }) => {
      const issued = await issueCode(as, web);
      const presented = { ...issued, ...code?.(issued) };
      const response = await redeem(as, client?.() ?? web, presented, extra?.(issued) ?? {});
      expect(response.status).toBe(400);
      expect(response.body['error']).toBe(error);
      expect(as.audit.at(-1)).toMatchObject({
        action: 'token.refuse',
        reason: expect.stringMatching(/^ERR_OAUTH_/) as unknown,
      });
      // A failed attempt does not burn the user's code: the rightful redemption still works.
      expect((await redeem(as, web, issued)).status).toBe(200);
    },
  );

  it('refuses an expired code (RFC 6749 §4.1.2)', async () => {
    const issued = await issueCode(as, web);
    as.clock.advance(61);
    const response = await redeem(as, web, issued);
    expect(response.body['error']).toBe('invalid_grant');
  });

  it('refuses a DPoP-bound code without a proof of that key (RFC 9449 §10)', async () => {
    const key = await createDpopKey();
    const otherKey = await createDpopKey();
    const issued = await issueCode(as, spa, { dpopJkt: key.jkt });
    const htu = `${as.url}/token`;
    expect((await redeem(as, spa, issued)).body['error']).toBe('invalid_grant');
    const wrong = await redeem(
      as,
      spa,
      issued,
      {},
      { dpop: await dpopProof(otherKey, as.clock.now(), { htu }) },
    );
    expect(wrong.body['error']).toBe('invalid_grant');
    const right = await redeem(as, spa, issued, {}, { dpop: await dpopProof(key, as.clock.now(), { htu }) });
    expect(right.status).toBe(200);
    expect(right.body['token_type']).toBe('DPoP');
  });

  it('refuses a replayed code and revokes every token issued from it (RFC 6749 §4.1.2, RFC 9700 §4.5)', async () => {
    const issued = await issueCode(as, web);
    const first = await redeem(as, web, issued);
    expect(first.status).toBe(200);
    const accessToken = first.body['access_token'] as string;
    expect(await active(accessToken)).toBe(true);

    const replay = await redeem(as, web, issued);
    expect(replay.status).toBe(400);
    expect(replay.body['error']).toBe('invalid_grant');
    expect(await active(accessToken)).toBe(false);
    const refresh = await tokenRequest(as, web, {
      grant_type: 'refresh_token',
      refresh_token: first.body['refresh_token'] as string,
    });
    expect(refresh.body['error']).toBe('invalid_grant');
    const detected = as.audit.find(
      (e) => e.action === 'token.reuse_detected' && e.reason === 'authorization_code_replayed',
    );
    expect(detected).toMatchObject({ outcome: 'failure', actor: { clientId: web.id } });
    expect(JSON.stringify(as.audit)).not.toContain(issued.code);
  });

  it('lets exactly one of several parallel redemptions of one code win (atomic consumption)', async () => {
    const issued = await issueCode(as, web);
    const responses = await Promise.all(Array.from({ length: 5 }, () => redeem(as, web, issued)));
    const winners = responses.filter((r) => r.status === 200);
    expect(winners).toHaveLength(1);
    expect(responses.filter((r) => r.status === 400 && r.body['error'] === 'invalid_grant')).toHaveLength(4);
    // The other presentations are replays: the tokens the winner got are revoked with the grant.
    expect(
      await active((winners[0] as { body: Record<string, unknown> }).body['access_token'] as string),
    ).toBe(false);
  });
});
