import { createVerifier } from '@gatehouse/guard';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ACCOUNTS,
  API,
  ORDERS,
  startAuthServer,
  type TestAuthServer,
  type TestClient,
} from '../support/auth-server.js';
import { startRecordingUpstream, type RecordingUpstream } from '../support/recording-upstream.js';
import { startGateway, type StartedGateway } from '../support/start-gateway.js';

let as: TestAuthServer;
let upstream: RecordingUpstream;
let gw: StartedGateway;
let partner: TestClient;
let internal: TestClient;

beforeAll(async () => {
  as = await startAuthServer();
  const gatewayClient = await as.createGatewayClient();
  partner = await as.createClient({
    scopes: ['accounts:read', 'orders:read'],
    resources: [API, ACCOUNTS, ORDERS],
    tokenFormat: 'opaque',
  });
  internal = await as.createClient({
    scopes: ['accounts:read', 'accounts:write'],
    resources: [ACCOUNTS],
    tokenFormat: 'jwt',
  });
  upstream = await startRecordingUpstream();
  gw = await startGateway(
    {
      auth: {
        issuer: as.issuer,
        audience: [API],
        clientId: gatewayClient.clientId,
        clientSecret: gatewayClient.clientSecret,
      },
      bruteForce: { threshold: 20, windowSec: 60, banSec: 60 },
      upstreams: { app: { targets: [upstream.url] } },
      routes: [
        {
          id: 'accounts',
          match: { pathPrefix: '/api/accounts' },
          upstream: 'app',
          auth: 'any',
          audience: ACCOUNTS,
          scopes: { GET: ['accounts:read'], POST: ['accounts:write'] },
        },
        {
          id: 'orders',
          match: { pathPrefix: '/api/orders' },
          upstream: 'app',
          auth: 'opaque',
          audience: ORDERS,
          scopes: { GET: ['orders:read'] },
        },
      ],
    },
    { state: as.state, now: as.clock.now },
  );
});

afterAll(async () => {
  await gw.close();
  await upstream.close();
  await as.close();
});

async function call(path: string, token: string | undefined, init: RequestInit = {}) {
  const before = upstream.requests.length;
  const res = await fetch(`${gw.url}${path}`, {
    ...init,
    headers: {
      ...(token === undefined ? {} : { authorization: `Bearer ${token}` }),
      ...(init.headers as object),
    },
  });
  const body = await res.text();
  return { res, body, received: upstream.requests.slice(before) };
}

describe('phantom token: opaque outside, internal JWT inside', () => {
  it('exchanges an opaque token for a JWT of the route audience; the service never sees the opaque token', async () => {
    const token = await as.tokenFor(partner, { scope: 'accounts:read orders:read' });
    const { res, received } = await call('/api/accounts', token);
    expect(res.status).toBe(200);
    expect(res.headers.get('cache-control')).toBe('no-store');
    expect(received).toHaveLength(1);
    const forwarded = received[0]!.headers['authorization'] ?? '';
    expect(forwarded).toMatch(/^Bearer [\w-]+\.[\w-]+\.[\w-]+$/);
    expect(forwarded).not.toContain(token);
    const verifier = createVerifier({
      issuer: as.issuer,
      audience: ACCOUNTS,
      jwksUri: `${as.issuer}/jwks`,
      now: as.clock.now,
    });
    const claims = await verifier.verify(forwarded.slice('Bearer '.length));
    expect(claims.clientId).toBe(partner.clientId);
    expect([...claims.scopes]).toContain('accounts:read');
  });

  it('forwards a valid JWT for the audience unchanged', async () => {
    const token = await as.tokenFor(internal, { resource: ACCOUNTS });
    const { res, received } = await call('/api/accounts', token, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{"nickname":"x"}',
    });
    expect(res.status).toBe(200);
    expect(received[0]!.headers['authorization']).toBe(`Bearer ${token}`);
  });

  it('refuses a JWT on an opaque-only route', async () => {
    const token = await as.tokenFor(internal, { resource: ACCOUNTS });
    const { res, received } = await call('/api/orders', token);
    expect(res.status).toBe(401);
    expect(received).toHaveLength(0);
  });
});

describe('refusals are RFC 6750 and reach no service', () => {
  it('401 without a token, with a bare challenge', async () => {
    const { res, received } = await call('/api/accounts', undefined);
    expect(res.status).toBe(401);
    expect(res.headers.get('www-authenticate')).toMatch(/^Bearer/);
    expect(res.headers.get('www-authenticate')).not.toContain('error=');
    expect(received).toHaveLength(0);
  });

  it('401 invalid_token for an unknown token', async () => {
    const { res, body, received } = await call('/api/accounts', 'A'.repeat(43));
    expect(res.status).toBe(401);
    expect(res.headers.get('www-authenticate')).toContain('error="invalid_token"');
    expect(body).not.toContain('A'.repeat(43));
    expect(received).toHaveLength(0);
  });

  it('403 insufficient_scope when the method needs a scope the token lacks', async () => {
    const token = await as.tokenFor(partner, { scope: 'accounts:read orders:read' });
    const { res, received } = await call('/api/accounts', token, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{}',
    });
    expect(res.status).toBe(403);
    expect(res.headers.get('www-authenticate')).toContain('error="insufficient_scope"');
    expect(res.headers.get('www-authenticate')).toContain('scope="accounts:write"');
    expect(received).toHaveLength(0);
  });

  it('a revoked opaque token is refused within a second', async () => {
    const token = await as.tokenFor(partner, { scope: 'orders:read' });
    expect((await call('/api/orders', token)).res.status).toBe(200);
    await as.revoke(partner, token);
    const deadline = Date.now() + 1000;
    let status = 200;
    while (Date.now() < deadline) {
      status = (await call('/api/orders', token)).res.status;
      if (status === 401) break;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    expect(status).toBe(401);
  });
});

describe('brute force', () => {
  it('bans the address after repeated 401s; the ban is audited and answered before authentication', async () => {
    const good = await as.tokenFor(partner, { scope: 'orders:read' });
    for (let i = 0; i < 25; i++) await call('/api/orders', `bad-token-${i}-${'x'.repeat(30)}`);
    const deadline = Date.now() + 1000;
    let res = (await call('/api/orders', good)).res;
    while (res.status !== 403 && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 20));
      res = (await call('/api/orders', good)).res;
    }
    expect(res.status).toBe(403);
    expect(
      gw.audit.some((event) => event.action.startsWith('gateway.ban') && event.outcome === 'success'),
    ).toBe(true);
    await gw.gateway.bans.remove('127.0.0.1');
  });
});
