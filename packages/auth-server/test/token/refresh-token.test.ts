import { decodeJwt } from 'jose';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createDpopKey, dpopProof, type DpopKey } from '../helpers/dpop-proof.js';
import { describeEachStore, startAuthServer, type TestAuthServer } from '../helpers/harness.js';
import {
  API,
  OTHER_API,
  TEST_RESOURCES,
  introspect,
  issueCode,
  newClient,
  redeem,
  tokenRequest,
  type FormResponse,
  type TestClient,
} from '../helpers/oauth-client.js';

describeEachStore('token endpoint: refresh_token rotation', (stores) => {
  let as: TestAuthServer;
  let web: TestClient;
  let other: TestClient;
  let spa: TestClient;
  let shortLived: TestClient;
  let rs: TestClient;

  beforeAll(async () => {
    as = await startAuthServer({
      stores,
      config: { resources: TEST_RESOURCES, dpop: { requireNonce: false }, tokens: { refreshGraceSec: 10 } },
    });
    const grantTypes = ['authorization_code', 'refresh_token'] as const;
    web = await newClient(as, {
      grantTypes: [...grantTypes],
      scopes: ['openid', 'accounts:read'],
      resources: [API],
    });
    other = await newClient(as, {
      grantTypes: [...grantTypes],
      scopes: ['openid', 'accounts:read'],
      resources: [API],
    });
    spa = await newClient(as, { grantTypes: [...grantTypes], authMethod: 'none', scopes: ['accounts:read'] });
    shortLived = await newClient(as, {
      grantTypes: [...grantTypes],
      scopes: ['accounts:read'],
      refreshIdleTtlSec: 100,
      refreshAbsoluteTtlSec: 150,
    });
    rs = await newClient(as, { grantTypes: ['client_credentials'], canIntrospect: true });
  });
  afterAll(async () => {
    await as.close();
  });

  const start = async (client: TestClient, headers?: Record<string, string>): Promise<FormResponse> => {
    const response = await redeem(as, client, await issueCode(as, client), {}, headers);
    expect(response.status).toBe(200);
    return response;
  };
  const refresh = (
    client: TestClient,
    token: unknown,
    extra: Record<string, string> = {},
    headers?: Record<string, string>,
  ) =>
    tokenRequest(
      as,
      client,
      { grant_type: 'refresh_token', refresh_token: token as string, ...extra },
      headers,
    );
  const active = async (token: unknown): Promise<boolean> =>
    (await introspect(as, rs, token as string)).body['active'] === true;

  it('rotates the refresh token on every use and keeps the grant (RFC 6749 §6, OAuth 2.1 §4.3.1)', async () => {
    const first = await start(web);
    const second = await refresh(web, first.body['refresh_token']);
    expect(second.status).toBe(200);
    expect(second.body).toMatchObject({ token_type: 'Bearer', scope: 'openid accounts:read' });
    expect(second.body['refresh_token']).not.toBe(first.body['refresh_token']);
    // OIDC Core §12.2: an ID token for the same subject, without nonce.
    const idToken = decodeJwt(second.body['id_token'] as string);
    expect(idToken.sub).toBe('user-alice');
    expect(idToken).not.toHaveProperty('nonce');
    expect(await active(second.body['access_token'])).toBe(true);
    expect(await active(second.body['refresh_token'])).toBe(false); // another client's refresh token
    expect(as.audit.findLast((e) => e.action === 'token.issue')).toMatchObject({
      details: { grant_type: 'refresh_token', grace: false },
    });
  });

  it('lets the scope narrow but never widen; the refresh token keeps its scope (RFC 6749 §6)', async () => {
    const first = await start(web);
    const escalate = await refresh(web, first.body['refresh_token'], {
      scope: 'accounts:read accounts:write',
    });
    expect(escalate.status).toBe(400);
    expect(escalate.body['error']).toBe('invalid_scope');
    const narrow = await refresh(web, first.body['refresh_token'], { scope: 'accounts:read' });
    expect(narrow.status).toBe(200);
    expect(narrow.body['scope']).toBe('accounts:read');
    expect(narrow.body).not.toHaveProperty('id_token');
    const full = await refresh(web, narrow.body['refresh_token']);
    expect(full.body['scope']).toBe('openid accounts:read');
  });

  it('refuses another resource than the grant’s (RFC 8707 §2.2)', async () => {
    const first = await start(web);
    const response = await refresh(web, first.body['refresh_token'], { resource: OTHER_API });
    expect(response.body['error']).toBe('invalid_target');
    expect((await refresh(web, first.body['refresh_token'], { resource: API })).status).toBe(200);
  });

  it('refuses a refresh token presented by another client, without harming its grant', async () => {
    const first = await start(web);
    const stolen = await refresh(other, first.body['refresh_token']);
    expect(stolen.body['error']).toBe('invalid_grant');
    expect((await refresh(web, first.body['refresh_token'])).status).toBe(200);
  });

  it('answers two parallel refreshes within the grace window with the same successor, both usable', async () => {
    const first = await start(web);
    const [a, b] = await Promise.all([
      refresh(web, first.body['refresh_token']),
      refresh(web, first.body['refresh_token']),
    ]);
    expect(a.status).toBe(200);
    expect(b.status).toBe(200);
    // One live refresh token in the family: reuse detection stays intact.
    expect(a.body['refresh_token']).toBe(b.body['refresh_token']);
    expect(a.body['access_token']).not.toBe(b.body['access_token']);
    expect(await active(a.body['access_token'])).toBe(true);
    expect(await active(b.body['access_token'])).toBe(true);
    expect(as.audit.some((e) => e.action === 'token.issue' && e.details?.['grace'] === true)).toBe(true);
    expect((await refresh(web, a.body['refresh_token'])).status).toBe(200);
  });

  it('revokes the whole family when a rotated token comes back after the grace window (RFC 9700 §4.14.2)', async () => {
    const first = await start(web);
    const second = await refresh(web, first.body['refresh_token']);
    const third = await refresh(web, second.body['refresh_token']);
    expect(await active(third.body['access_token'])).toBe(true);
    as.clock.advance(11);

    const reuse = await refresh(web, second.body['refresh_token']);
    expect(reuse.status).toBe(400);
    expect(reuse.body['error']).toBe('invalid_grant');
    expect(await active(third.body['access_token'])).toBe(false);
    expect(await active(first.body['access_token'])).toBe(false);
    expect((await refresh(web, third.body['refresh_token'])).body['error']).toBe('invalid_grant');
    expect(as.audit.findLast((e) => e.action === 'token.reuse_detected')).toMatchObject({
      outcome: 'failure',
      reason: 'refresh_token_reused',
      actor: { sub: 'user-alice', clientId: web.id },
    });
  });

  it('treats an older token (not the immediate predecessor) as reuse even within the grace window', async () => {
    const first = await start(web);
    const second = await refresh(web, first.body['refresh_token']);
    const third = await refresh(web, second.body['refresh_token']);
    const reuse = await refresh(web, first.body['refresh_token']);
    expect(reuse.body['error']).toBe('invalid_grant');
    expect(await active(third.body['access_token'])).toBe(false);
  });

  it('expires an idle refresh token and a family at its absolute lifetime', async () => {
    const idle = await start(shortLived);
    as.clock.advance(101);
    expect((await refresh(shortLived, idle.body['refresh_token'])).body['error']).toBe('invalid_grant');

    const family = await start(shortLived);
    as.clock.advance(90);
    const renewed = await refresh(shortLived, family.body['refresh_token']);
    expect(renewed.status).toBe(200);
    // The successor's idle expiry is capped by the family's absolute end (150 s after the code).
    as.clock.advance(61);
    expect((await refresh(shortLived, renewed.body['refresh_token'])).body['error']).toBe('invalid_grant');
  });

  it('binds a public client’s refresh tokens to its DPoP key (RFC 9449 §5)', async () => {
    const key: DpopKey = await createDpopKey();
    const htu = `${as.url}/token`;
    const proof = async (k: DpopKey = key) => ({ dpop: await dpopProof(k, as.clock.now(), { htu }) });
    const first = await start(spa, await proof());
    expect(first.body['token_type']).toBe('DPoP');

    const withoutProof = await refresh(spa, first.body['refresh_token']);
    expect(withoutProof.body['error']).toBe('invalid_grant');
    const otherKey = await refresh(spa, first.body['refresh_token'], {}, await proof(await createDpopKey()));
    expect(otherKey.body['error']).toBe('invalid_grant');
    const right = await refresh(spa, first.body['refresh_token'], {}, await proof());
    expect(right.status).toBe(200);
    expect(right.body['token_type']).toBe('DPoP');
    const introspected = await introspect(as, rs, right.body['access_token'] as string);
    expect(introspected.body['cnf']).toEqual({ jkt: key.jkt });
  });

  it('refuses an unknown or missing refresh token', async () => {
    expect((await refresh(web, 'a'.repeat(43))).body['error']).toBe('invalid_grant');
    const missing = await tokenRequest(as, web, { grant_type: 'refresh_token' });
    expect(missing.body['error']).toBe('invalid_request');
  });
});
