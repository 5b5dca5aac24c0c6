import { afterAll, beforeAll, expect, it, vi } from 'vitest';
import { REVOCATION_CHANNEL } from '../../src/index.js';
import { describeEachStore, startAuthServer, type TestAuthServer } from '../helpers/harness.js';
import {
  API,
  TEST_RESOURCES,
  basic,
  introspect,
  issueCode,
  newClient,
  postForm,
  redeem,
  revoke,
  tokenRequest,
  type TestClient,
} from '../helpers/oauth-client.js';

describeEachStore('revocation (RFC 7009)', (stores) => {
  let as: TestAuthServer;
  let service: TestClient;
  let jwtService: TestClient;
  let other: TestClient;
  let web: TestClient;
  let spa: TestClient;
  let rs: TestClient;
  const events: Array<Record<string, unknown>> = [];
  let unsubscribe: () => Promise<void>;

  beforeAll(async () => {
    as = await startAuthServer({ stores, config: { resources: TEST_RESOURCES } });
    service = await newClient(as, {
      grantTypes: ['client_credentials'],
      scopes: ['accounts:read'],
      resources: [API],
    });
    jwtService = await newClient(as, {
      grantTypes: ['client_credentials'],
      scopes: ['accounts:read'],
      resources: [API],
      tokenFormat: 'jwt',
    });
    other = await newClient(as, { grantTypes: ['client_credentials'], scopes: ['accounts:read'] });
    web = await newClient(as, {
      grantTypes: ['authorization_code', 'refresh_token'],
      scopes: ['accounts:read'],
    });
    spa = await newClient(as, {
      grantTypes: ['authorization_code', 'refresh_token'],
      authMethod: 'none',
      scopes: ['accounts:read'],
    });
    rs = await newClient(as, { grantTypes: ['client_credentials'], canIntrospect: true });
    unsubscribe = await as.deps.state.subscribe(REVOCATION_CHANNEL, (message) => {
      events.push(JSON.parse(message) as Record<string, unknown>);
    });
  });
  afterAll(async () => {
    await unsubscribe();
    await as.close();
  });

  const accessToken = async (client: TestClient = service): Promise<string> =>
    (await tokenRequest(as, client, { grant_type: 'client_credentials' })).body['access_token'] as string;
  const active = async (token: string): Promise<boolean> =>
    (await introspect(as, rs, token)).body['active'] === true;
  const jtiOf = async (token: string): Promise<string> =>
    (await introspect(as, rs, token)).body['jti'] as string;

  it('revokes an opaque access token of the caller and publishes the jti (RFC 7009 §2.1-2.2)', async () => {
    const token = await accessToken();
    const jti = await jtiOf(token);
    const response = await revoke(as, service, token);
    expect(response.status).toBe(200);
    expect(response.text).toBe('');
    expect(await active(token)).toBe(false);
    await vi.waitFor(() => {
      expect(events).toContainEqual({ jti, exp: Math.floor(as.clock.now() / 1000) + 300 });
    });
    expect(as.audit.findLast((e) => e.action === 'token.revoke')).toMatchObject({
      outcome: 'success',
      actor: { clientId: service.id },
      target: { type: 'access_token', id: jti },
    });
  });

  it('keeps a revoked JWT’s row until it expires, so it stays inactive', async () => {
    const token = await accessToken(jwtService);
    const jti = await jtiOf(token);
    expect((await revoke(as, jwtService, token, { token_type_hint: 'access_token' })).status).toBe(200);
    const row = await as.deps.db
      .selectFrom('access_tokens')
      .selectAll()
      .where('jti', '=', jti)
      .executeTakeFirst();
    expect(row?.revoked_at).toBe(as.clock.now());
    expect(await active(token)).toBe(false);
  });

  it('revokes the whole grant with a refresh token: its access tokens die too', async () => {
    const tokens = await redeem(as, web, await issueCode(as, web));
    const refreshed = await tokenRequest(as, web, {
      grant_type: 'refresh_token',
      refresh_token: tokens.body['refresh_token'] as string,
    });
    const latest = refreshed.body['access_token'] as string;
    const jti = await jtiOf(latest);
    expect((await revoke(as, web, refreshed.body['refresh_token'] as string)).status).toBe(200);
    expect(await active(latest)).toBe(false);
    expect(await active(tokens.body['access_token'] as string)).toBe(false);
    const again = await tokenRequest(as, web, {
      grant_type: 'refresh_token',
      refresh_token: refreshed.body['refresh_token'] as string,
    });
    expect(again.body['error']).toBe('invalid_grant');
    await vi.waitFor(() => {
      expect(events.some((e) => e['jti'] === jti)).toBe(true);
    });
  });

  it('lets a public client revoke its own refresh token with its client_id', async () => {
    const tokens = await redeem(as, spa, await issueCode(as, spa));
    expect(
      (await revoke(as, spa, tokens.body['refresh_token'] as string, { token_type_hint: 'refresh_token' }))
        .status,
    ).toBe(200);
    expect(await active(tokens.body['access_token'] as string)).toBe(false);
  });

  it('answers 200 for another client’s token but revokes nothing, and audits the refusal (RFC 7009 §2.1)', async () => {
    const token = await accessToken();
    const response = await revoke(as, other, token);
    expect(response.status).toBe(200);
    expect(await active(token)).toBe(true);
    expect(as.audit.findLast((e) => e.action === 'token.revoke')).toMatchObject({
      outcome: 'failure',
      actor: { clientId: other.id },
      reason: 'token of another client',
    });
    const tokens = await redeem(as, web, await issueCode(as, web));
    expect((await revoke(as, other, tokens.body['refresh_token'] as string)).status).toBe(200);
    expect(await active(tokens.body['access_token'] as string)).toBe(true);
  });

  it('answers 200 for an unknown token and for an unsupported hint (RFC 7009 §2.2)', async () => {
    expect((await revoke(as, service, 'n'.repeat(43))).status).toBe(200);
    const token = await accessToken();
    expect((await revoke(as, service, token, { token_type_hint: 'id_token' })).status).toBe(200);
    expect(await active(token)).toBe(false);
  });

  it('refuses unauthenticated callers and a request without token', async () => {
    const wrong = await postForm(
      `${as.url}/revoke`,
      { token: await accessToken() },
      { headers: { authorization: basic(service.id, 'wrong') } },
    );
    expect(wrong.status).toBe(401);
    expect(wrong.body['error']).toBe('invalid_client');
    expect(wrong.headers.get('www-authenticate')).toBe(`Basic realm="${as.url}"`);
    const missing = await postForm(`${as.url}/revoke`, {}, { client: service });
    expect(missing.status).toBe(400);
    expect(missing.body['error']).toBe('invalid_request');
  });
});
