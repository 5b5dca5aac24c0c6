import { hashToken } from '@gatehouse/core';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { Browser, addUser, callbackParams, parseForm, pkce, type Pkce } from '../helpers/browser-flow.js';
import { createDpopKey, dpopProof } from '../helpers/dpop-proof.js';
import { describeEachStore, startAuthServer, type TestAuthServer } from '../helpers/harness.js';
import {
  REDIRECT_URI,
  basic,
  newClient,
  postForm,
  tokenRequest,
  type TestClient,
} from '../helpers/oauth-client.js';

const PASSWORD = 'par password 1';
const URN = /^urn:ietf:params:oauth:request_uri:[A-Za-z0-9_-]{43}$/;

describeEachStore('pushed authorization requests (RFC 9126)', (stores) => {
  let as: TestAuthServer;
  let confidential: TestClient;
  let other: TestClient;
  let mustPush: TestClient;
  let publicClient: TestClient;

  beforeAll(async () => {
    as = await startAuthServer({
      stores,
      config: { dpop: { requireNonce: false }, login: { delayStepMs: 0 } },
    });
    const common = { scopes: ['openid', 'profile'], firstParty: true };
    confidential = await newClient(as, { ...common, grantTypes: ['authorization_code'] });
    other = await newClient(as, { ...common, grantTypes: ['authorization_code'] });
    mustPush = await newClient(as, { ...common, grantTypes: ['authorization_code'], requirePar: true });
    publicClient = await newClient(as, { ...common, grantTypes: ['authorization_code'], authMethod: 'none' });
    await addUser(as, { username: 'rita', password: PASSWORD });
  });
  afterAll(async () => {
    await as.close();
  });

  function authorization(challenge: Pkce, extra: Record<string, string | undefined> = {}) {
    return {
      response_type: 'code',
      redirect_uri: REDIRECT_URI,
      scope: 'openid',
      state: 'pushed-state',
      nonce: 'pushed-nonce',
      code_challenge: challenge.challenge,
      code_challenge_method: 'S256',
      ...extra,
    };
  }

  const push = (
    client: TestClient,
    params: Record<string, string | undefined>,
    headers?: Record<string, string>,
  ) =>
    postForm(`${as.url}/par`, client.secret === undefined ? { client_id: client.id, ...params } : params, {
      client,
      ...(headers === undefined ? {} : { headers }),
    });

  async function complete(client: TestClient, requestUri: string, browser = new Browser()) {
    const page = await browser.get(
      `${as.url}/authorize?client_id=${encodeURIComponent(client.id)}&request_uri=${encodeURIComponent(requestUri)}`,
    );
    if (page.status !== 200 || !parseForm(page.text).inputs.includes('password')) return page;
    return browser.submit(as.url, page, { username: 'rita', password: PASSWORD });
  }

  it('stores the request (201, one-time request_uri) and completes the flow with the pushed parameters', async () => {
    const challenge = pkce();
    const pushed = await push(confidential, authorization(challenge));
    expect(pushed.status).toBe(201);
    expect(pushed.body).toEqual({ request_uri: expect.stringMatching(URN), expires_in: 60 });
    expect(pushed.headers.get('cache-control')).toBe('no-store');
    const requestUri = pushed.body['request_uri'] as string;

    const rows = await as.deps.db.selectFrom('par_requests').selectAll().execute();
    expect(JSON.stringify(rows)).not.toContain(requestUri.split(':').at(-1)!);
    const row = rows.find((r) => r.request_uri_hash === hashToken(requestUri))!;
    // Client credentials are never stored with the request.
    expect(JSON.parse(row.params)).not.toHaveProperty('client_secret');

    const done = await complete(confidential, requestUri);
    expect(done.status).toBe(303);
    const params = callbackParams(done.location);
    expect(params).toEqual({ code: expect.any(String), state: 'pushed-state', iss: as.url });
    const tokens = await tokenRequest(as, confidential, {
      grant_type: 'authorization_code',
      code: params['code'],
      redirect_uri: REDIRECT_URI,
      code_verifier: challenge.verifier,
    });
    expect(tokens.status).toBe(200);
    expect(as.audit).toContainEqual(
      expect.objectContaining({ action: 'authorization.push', outcome: 'success' }),
    );
  });

  it('ignores parameters sent beside request_uri (RFC 9126 §4): the pushed redirect URI wins', async () => {
    const pushed = await push(confidential, authorization(pkce()));
    const browser = new Browser();
    const page = await browser.get(
      `${as.url}/authorize?client_id=${confidential.id}&request_uri=${encodeURIComponent(pushed.body['request_uri'] as string)}` +
        `&redirect_uri=${encodeURIComponent('https://evil.example/cb')}&scope=profile`,
    );
    expect(page.status).toBe(200);
    const done = await browser.submit(as.url, page, { username: 'rita', password: PASSWORD });
    expect(done.location!.startsWith(`${REDIRECT_URI}?`)).toBe(true);
  });

  const refusedUses: Array<{
    name: string;
    source: string;
    use: (uri: string) => Promise<{ status: number; location: string | undefined }>;
  }> = [
    {
      name: 'a second use',
      source: 'RFC 9126 §4 (one-time use)',
      use: async (uri) => {
        await complete(confidential, uri);
        return complete(confidential, uri);
      },
    },
    {
      name: 'after expiry',
      source: 'RFC 9126 §2.2 expires_in',
      use: async (uri) => {
        as.clock.advance(61);
        return complete(confidential, uri);
      },
    },
    { name: 'by another client', source: 'RFC 9126 §4', use: (uri) => complete(other, uri) },
    {
      name: 'a request_uri that is not ours',
      source: 'RFC 9126 §4',
      use: () => complete(confidential, 'https://evil.example/request.jwt'),
    },
    {
      name: 'a guessed urn',
      source: 'RFC 9126 §2.2',
      use: () => complete(confidential, `urn:ietf:params:oauth:request_uri:${'A'.repeat(43)}`),
    },
  ];

  it.each(refusedUses)('shows an error page for $name ($source)', async ({ use }) => {
    const pushed = await push(confidential, authorization(pkce()));
    const answer = await use(pushed.body['request_uri'] as string);
    expect(answer.status).toBe(400);
    expect(answer.location).toBeUndefined();
  });

  it('keeps the request_uri for its own client when another client tries it', async () => {
    const pushed = await push(confidential, authorization(pkce()));
    const uri = pushed.body['request_uri'] as string;
    expect((await complete(other, uri)).status).toBe(400);
    expect((await complete(confidential, uri)).status).toBe(303);
  });

  // The same validation as the authorization endpoint, answered as JSON (never redirected).
  const refusedPushes: Array<{
    name: string;
    source: string;
    params: Record<string, string | undefined>;
    error: string;
  }> = [
    {
      name: 'unregistered redirect_uri',
      source: 'RFC 9700 §4.1.3',
      params: { redirect_uri: 'https://evil.example/cb' },
      error: 'invalid_request',
    },
    {
      name: 'missing redirect_uri',
      source: 'OIDC Core §3.1.2.1',
      params: { redirect_uri: undefined },
      error: 'invalid_request',
    },
    {
      name: 'plain PKCE',
      source: 'RFC 9700 §2.1.1',
      params: { code_challenge_method: 'plain' },
      error: 'invalid_request',
    },
    {
      name: 'no PKCE',
      source: 'OAuth 2.1 §4.1.1',
      params: { code_challenge: undefined },
      error: 'invalid_request',
    },
    {
      name: 'implicit response type',
      source: 'OAuth 2.1 §4.1.1',
      params: { response_type: 'token' },
      error: 'unsupported_response_type',
    },
    {
      name: 'unregistered scope',
      source: 'RFC 6749 §4.1.2.1',
      params: { scope: 'openid admin' },
      error: 'invalid_scope',
    },
    {
      name: 'request_uri inside a pushed request',
      source: 'RFC 9126 §2.1',
      params: { request_uri: 'urn:ietf:params:oauth:request_uri:x' },
      error: 'invalid_request',
    },
    {
      name: 'request object',
      source: 'RFC 9126 §3',
      params: { request: 'a.b.c' },
      error: 'request_not_supported',
    },
  ];

  it.each(refusedPushes)('refuses a push with $name ($source): $error', async ({ params, error }) => {
    const answer = await push(confidential, authorization(pkce(), params));
    expect(answer.status).toBe(400);
    expect(answer.headers.get('content-type')).toMatch(/^application\/json/);
    expect(answer.body).toMatchObject({ error });
    expect(answer.headers.get('location')).toBeNull();
  });

  it('authenticates the client: a wrong secret is 401 invalid_client, a client_id for another client is refused', async () => {
    const wrong = await postForm(`${as.url}/par`, authorization(pkce()), {
      headers: { authorization: basic(confidential.id, 'wrong-secret') },
    });
    expect(wrong.status).toBe(401);
    expect(wrong.body).toMatchObject({ error: 'invalid_client' });
    const mixed = await push(confidential, { ...authorization(pkce()), client_id: other.id });
    expect(mixed.status).toBe(401);
    expect(mixed.body).toMatchObject({ error: 'invalid_client' });
  });

  it('accepts a public client identified by client_id (auth method none)', async () => {
    const pushed = await push(publicClient, authorization(pkce()));
    expect(pushed.status).toBe(201);
    expect((await complete(publicClient, pushed.body['request_uri'] as string)).status).toBe(303);
  });

  it('requires PAR for a client registered with requirePar (RFC 9126 §6)', async () => {
    const browser = new Browser();
    const direct = await browser.get(
      `${as.url}/authorize?${new URLSearchParams({ client_id: mustPush.id, ...authorization(pkce()) }).toString()}`,
    );
    expect(direct.status).toBe(302);
    expect(callbackParams(direct.location)).toMatchObject({
      error: 'invalid_request',
      state: 'pushed-state',
      iss: as.url,
    });
    const pushed = await push(mustPush, authorization(pkce()));
    expect((await complete(mustPush, pushed.body['request_uri'] as string)).status).toBe(303);
  });

  it('binds the code to the DPoP key of a proof sent at PAR (RFC 9449 §10.1)', async () => {
    const key = await createDpopKey();
    const challenge = pkce();
    const pushed = await push(confidential, authorization(challenge), {
      dpop: await dpopProof(key, as.clock.ms, { htu: `${as.url}/par` }),
    });
    expect(pushed.status).toBe(201);
    const done = await complete(confidential, pushed.body['request_uri'] as string);
    const code = callbackParams(done.location)['code']!;
    const row = await as.deps.db
      .selectFrom('authorization_codes')
      .select('dpop_jkt')
      .where('code_hash', '=', hashToken(code))
      .executeTakeFirstOrThrow();
    expect(row.dpop_jkt).toBe(key.jkt);
    const params = {
      grant_type: 'authorization_code',
      code,
      redirect_uri: REDIRECT_URI,
      code_verifier: challenge.verifier,
    };
    const withoutProof = await tokenRequest(as, confidential, params);
    expect(withoutProof.body).toMatchObject({ error: 'invalid_grant' });
  });

  it('refuses a dpop_jkt that names another key than the PAR proof (RFC 9449 §10.1)', async () => {
    const key = await createDpopKey();
    const otherKey = await createDpopKey();
    const answer = await push(confidential, authorization(pkce(), { dpop_jkt: otherKey.jkt }), {
      dpop: await dpopProof(key, as.clock.ms, { htu: `${as.url}/par` }),
    });
    expect(answer.status).toBe(400);
    expect(answer.body).toMatchObject({ error: 'invalid_dpop_proof' });
  });

  it('refuses an invalid DPoP proof at PAR', async () => {
    const key = await createDpopKey();
    const answer = await push(confidential, authorization(pkce()), {
      dpop: await dpopProof(key, as.clock.ms, { htu: `${as.url}/token` }),
    });
    expect(answer.status).toBe(400);
    expect(answer.body).toMatchObject({ error: 'invalid_dpop_proof' });
  });

  it('binds the code to dpop_jkt sent at the authorization endpoint (RFC 9449 §10)', async () => {
    const key = await createDpopKey();
    const pushed = await push(confidential, authorization(pkce(), { dpop_jkt: key.jkt }));
    const done = await complete(confidential, pushed.body['request_uri'] as string);
    const row = await as.deps.db
      .selectFrom('authorization_codes')
      .select('dpop_jkt')
      .where('code_hash', '=', hashToken(callbackParams(done.location)['code']!))
      .executeTakeFirstOrThrow();
    expect(row.dpop_jkt).toBe(key.jkt);
  });
});
