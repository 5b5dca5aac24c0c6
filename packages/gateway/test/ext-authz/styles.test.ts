import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PATH_CASES, PATH_REFUSALS } from '../attacks/path-cases.js';
import {
  ACCOUNTS,
  API,
  startAuthServer,
  verifyHandedOver,
  type TestAuthServer,
  type TestClient,
} from '../support/auth-server.js';
import { startRecordingUpstream, type RecordingUpstream } from '../support/recording-upstream.js';
import { startGateway, type StartedGateway } from '../support/start-gateway.js';
import type { GatewayConfigInput } from '../../src/index.js';
import { exchange, parseFirstResponse } from '../attacks/attack-table.js';
import {
  CHECK_PATH,
  STYLES,
  check,
  clientAnswer,
  extAuthzRoutes,
  problemCode,
  send,
  startExtAuthzGateway,
  type Style,
} from './support.js';

/**
 * The external-authorization endpoint over real HTTP, in the three styles: the check requests are
 * built as nginx auth_request, Envoy ext_authz (HTTP service) and Traefik forwardAuth send them, and
 * the answers are read as each data plane reads them. The gateway's upstream must never be called.
 */

let as: TestAuthServer;
let upstream: RecordingUpstream;
let jwtClient: TestClient;
let opaqueClient: TestClient;
let readOnly: TestClient;
let gatewayClient: TestClient;

beforeAll(async () => {
  as = await startAuthServer();
  gatewayClient = await as.createGatewayClient();
  jwtClient = await as.createClient({
    scopes: ['accounts:read', 'accounts:write'],
    resources: [ACCOUNTS],
    tokenFormat: 'jwt',
  });
  opaqueClient = await as.createClient({ scopes: ['accounts:read'], resources: [API, ACCOUNTS] });
  readOnly = await as.createClient({ scopes: ['accounts:read'], resources: [ACCOUNTS], tokenFormat: 'jwt' });
  upstream = await startRecordingUpstream();
});

afterAll(async () => {
  // Every decision was an answer to the data plane: nothing was ever proxied.
  expect(upstream.requests).toEqual([]);
  await upstream.close();
  await as.close();
});

function startFor(
  style: Style,
  extAuthz: { tokenHeader?: string } = {},
  config: Partial<GatewayConfigInput> = {},
): Promise<StartedGateway> {
  return startExtAuthzGateway(as, gatewayClient, { style, appUrl: upstream.url, extAuthz, config });
}

describe.each(STYLES)('%s style', (style) => {
  let gw: StartedGateway;
  let url: string;
  let nextClient = 0;
  /** A client address of its own per test: bans and rate limits are per address. */
  const freshIp = (): string => `203.0.113.${(nextClient += 1)}`;

  beforeAll(async () => {
    gw = await startFor(style);
    url = gw.gateway.extAuthzUrl() as string;
  });
  afterAll(async () => {
    await gw.close();
  });

  it('listens apart from the gateway, which does not serve the check path', async () => {
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(url).not.toBe(gw.url);
    const onGateway = await send(gw.url, 'GET', CHECK_PATH, { host: 'gateway.test' });
    expect(onGateway.status).toBe(404);
  });

  it('allows a JWT for the route and hands over the token, route, upstream path and identity', async () => {
    const token = await as.tokenFor(jwtClient, { resource: ACCOUNTS });
    const answer = await check(url, style, {
      target: '/api/accounts/7?expand=1',
      headers: { authorization: `Bearer ${token}`, 'x-request-id': 'req-from-the-data-plane-1' },
    });
    expect(answer.status).toBe(200);
    expect(answer.body).toBe('');
    expect(answer.headers['authorization']).toBe(`Bearer ${token}`);
    expect(answer.headers['x-gatehouse-route']).toBe('accounts');
    expect(answer.headers['x-gatehouse-upstream']).toBe('app');
    expect(answer.headers['x-gatehouse-upstream-path']).toBe('/accounts/7?expand=1');
    expect(answer.headers['x-gatehouse-client-id']).toBe(jwtClient.clientId);
    expect(answer.headers['x-gatehouse-scope']).toBe('accounts:read accounts:write');
    // The data plane's request id is kept (it is a trusted proxy), so both logs correlate.
    expect(answer.headers['x-request-id']).toBe('req-from-the-data-plane-1');
    expect(answer.headers['traceparent']).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-0[01]$/);
    expect(answer.headers['cache-control']).toBe('no-store');
    if (style === 'envoy') expect(answer.headers['x-envoy-auth-headers-to-remove']).toBe('dpop');
  });

  it('exchanges an opaque token for an internal JWT; the opaque token is never handed over', async () => {
    const token = await as.tokenFor(opaqueClient, { scope: 'accounts:read' });
    const answer = await check(url, style, {
      target: '/api/accounts',
      headers: { authorization: `Bearer ${token}` },
    });
    expect(answer.status).toBe(200);
    const forwarded = answer.headers['authorization'] ?? '';
    expect(forwarded).toMatch(/^Bearer [\w-]+\.[\w-]+\.[\w-]+$/);
    expect(JSON.stringify(answer.headers)).not.toContain(token);
    const claims = await verifyHandedOver(as, ACCOUNTS, forwarded);
    expect(claims.clientId).toBe(opaqueClient.clientId);
  });

  it('allows a public route without a token and hands over no Authorization', async () => {
    const answer = await check(url, style, {
      target: '/public/status',
      headers: { authorization: 'Bearer client-supplied' },
    });
    expect(answer.status).toBe(200);
    expect(answer.headers['authorization']).toBeUndefined();
    expect(answer.headers['x-gatehouse-client-id']).toBeUndefined();
    // Envoy copies only the fields it is told to: it is told to remove the client's credentials.
    if (style === 'envoy')
      expect(answer.headers['x-envoy-auth-headers-to-remove']).toBe('authorization, dpop');
  });

  it.each([
    {
      name: 'no token: 401 with a bare Bearer challenge',
      call: { target: '/api/accounts' },
      status: 401,
      challenge: /^Bearer(?!.*error=)/,
    },
    {
      name: 'an unknown token: 401 invalid_token',
      call: { target: '/api/accounts', headers: { authorization: `Bearer ${'A'.repeat(43)}` } },
      status: 401,
      challenge: /error="invalid_token"/,
    },
    {
      name: 'two Authorization fields: 400 invalid_request',
      call: { target: '/api/accounts', headers: { authorization: ['Bearer a', 'Bearer b'] } },
      status: 400,
      challenge: /error="invalid_request"/,
    },
  ])('refuses $name, as the gateway does', async ({ call, status, challenge }) => {
    const answer = await clientAnswer(url, style, call);
    expect(answer.status).toBe(status);
    expect(answer.headers['www-authenticate']).toMatch(challenge);
    expect(answer.headers['authorization']).toBeUndefined();
  });

  it('refuses a token without the scope of the method: 403 insufficient_scope', async () => {
    const token = await as.tokenFor(readOnly, { resource: ACCOUNTS });
    const answer = await clientAnswer(url, style, {
      method: 'POST',
      target: '/api/accounts',
      headers: { authorization: `Bearer ${token}` },
    });
    expect(answer.status).toBe(403);
    expect(answer.headers['www-authenticate']).toContain('error="insufficient_scope"');
    expect(answer.headers['www-authenticate']).toContain('scope="accounts:write"');
    expect(answer.headers['authorization']).toBeUndefined();
  });

  it('answers 404 for no route and 405 with Allow for a method the route does not take', async () => {
    const none = await clientAnswer(url, style, { target: '/admin' });
    expect([none.status, problemCode(none)]).toEqual([404, 'ERR_GATEWAY_ROUTE_NOT_FOUND']);
    const method = await clientAnswer(url, style, { method: 'DELETE', target: '/api/accounts/7' });
    expect(method.status).toBe(405);
    expect(method.headers['allow']).toBe('GET, POST');
    const trace = await clientAnswer(url, style, { method: 'TRACE', target: '/public/x' });
    expect(trace.status).toBe(405);
  });

  it('refuses a banned client address, named by the data plane', async () => {
    const ip = freshIp();
    await gw.gateway.bans.add({ subject: ip, durationSec: 600, reason: 'test', source: 'admin' });
    const answer = await clientAnswer(url, style, { target: '/public/x', clientIp: ip });
    expect([answer.status, problemCode(answer)]).toEqual([403, 'ERR_GATEWAY_BANNED']);
    // Another client behind the same data plane is not affected.
    expect((await check(url, style, { target: '/public/x', clientIp: freshIp() })).status).toBe(200);
  });

  it('counts rate limits per client address: 429 with Retry-After and RateLimit headers', async () => {
    const ip = freshIp();
    const statuses: number[] = [];
    let last = await check(url, style, { target: '/api/limited', clientIp: ip });
    statuses.push(last.status);
    expect(last.headers['ratelimit-policy']).toContain('"tight"');
    expect(last.headers['ratelimit']).toBeDefined();
    last = await check(url, style, { target: '/api/limited', clientIp: ip });
    statuses.push(last.status);
    const refused = await clientAnswer(url, style, { target: '/api/limited', clientIp: ip });
    expect(statuses).toEqual([200, 200]);
    expect([refused.status, problemCode(refused)]).toEqual([429, 'ERR_GATEWAY_RATE_LIMITED']);
    expect(Number(refused.headers['retry-after'])).toBeGreaterThan(0);
    expect(refused.headers['ratelimit']).toMatch(/r=0/);
    expect((await check(url, style, { target: '/api/limited', clientIp: freshIp() })).status).toBe(200);
  });

  describe('path bypasses get the answers the gateway gives (path-cases.ts)', () => {
    // `malformed` targets are refused by an HTTP parser before any check is made (nginx's own, here
    // Node's); Envoy appends only origin-form paths to its path_prefix.
    const cases = PATH_CASES.filter(
      (c) => c.verdict !== 'malformed' && (style !== 'envoy' || c.target.startsWith('/')),
    );
    it.each(cases)('$name', async ({ target, method, verdict }) => {
      const answer = await clientAnswer(url, style, { target, method });
      const expected = PATH_REFUSALS[verdict];
      expect([answer.status, problemCode(answer)]).toEqual([expected.status, expected.code]);
    });
  });

  it.each([
    { sent: '/public/ok', forwarded: '/public/ok' },
    { sent: '/public/%7Euser/%41', forwarded: '/public/~user/A' },
    { sent: '/public//a/./b/../c', forwarded: '/public/a/c' },
    { sent: '/api/accounts/x/../7?y=1', forwarded: '/accounts/7?y=1', token: true },
  ])('hands over the canonical upstream path of $sent', async ({ sent, forwarded, token }) => {
    const headers: Record<string, string> =
      token === true
        ? { authorization: `Bearer ${await as.tokenFor(jwtClient, { resource: ACCOUNTS })}` }
        : {};
    const answer = await clientAnswer(url, style, { target: sent, headers });
    // nginx forwards X-Gatehouse-Upstream-Path; Envoy and Traefik forward the path they received,
    // so a path that is not canonical as sent is refused there (requireCanonicalPath).
    if (style === 'nginx' || sent === forwarded) {
      expect(answer.status).toBe(200);
      expect(answer.headers['x-gatehouse-upstream-path']).toBe(forwarded);
    } else {
      expect([answer.status, problemCode(answer)]).toEqual([400, 'ERR_GATEWAY_PATH_INVALID']);
    }
  });

  it('refuses a check that does not describe a request, and any other path', async () => {
    if (style === 'envoy') {
      const elsewhere = await send(url, 'GET', '/_gatehouse/ext-authzz/public', { host: 'x' });
      expect(elsewhere.status).toBe(404);
      return;
    }
    const missing = await send(url, 'GET', CHECK_PATH, { host: 'x', 'x-forwarded-for': '192.0.2.1' });
    const refused =
      style === 'nginx'
        ? await send(url, 'GET', `${CHECK_PATH}/refusal`, {
            host: 'x',
            'x-gatehouse-refusal': missing.headers['x-gatehouse-refusal'] as string,
          })
        : missing;
    expect([refused.status, problemCode(refused)]).toEqual([400, 'ERR_GATEWAY_BAD_REQUEST']);
    expect((await send(url, 'GET', '/other', { host: 'x' })).status).toBe(style === 'nginx' ? 403 : 404);
  });
});

describe('the data plane only', () => {
  it('refuses a check from a peer that is not in trustedProxies', async () => {
    const gw = await startGateway({
      trustedProxies: ['10.9.9.9'],
      extAuthz: { style: 'envoy', listen: { host: '127.0.0.1', port: 0 } },
      upstreams: { app: { targets: [upstream.url] } },
      ...extAuthzRoutes(),
      routes: extAuthzRoutes().routes.filter((route) => route.auth === 'none'),
    });
    try {
      const answer = await check(gw.gateway.extAuthzUrl() as string, 'envoy', { target: '/public/x' });
      expect([answer.status, problemCode(answer)]).toEqual([403, 'ERR_GATEWAY_IP_DENIED']);
      expect(
        gw.logs.some(
          (line) => line['msg'] === 'external-authorization check from a peer not in trustedProxies refused',
        ),
      ).toBe(true);
    } finally {
      await gw.close();
    }
  });

  it('puts the internal token in the configured header', async () => {
    const gw = await startFor('traefik', { tokenHeader: 'x-internal-authorization' });
    try {
      const token = await as.tokenFor(jwtClient, { resource: ACCOUNTS });
      const answer = await check(gw.gateway.extAuthzUrl() as string, 'traefik', {
        target: '/api/accounts',
        headers: { authorization: `Bearer ${token}` },
      });
      expect(answer.status).toBe(200);
      expect(answer.headers['x-internal-authorization']).toBe(`Bearer ${token}`);
      expect(answer.headers['authorization']).toBeUndefined();
    } finally {
      await gw.close();
    }
  });

  it('bans a client that keeps failing authentication, not the data plane (brute force)', async () => {
    const gw = await startFor('nginx', {}, { bruteForce: { threshold: 3, windowSec: 60, banSec: 60 } });
    try {
      const url = gw.gateway.extAuthzUrl() as string;
      const guess = { target: '/api/accounts', clientIp: '198.51.100.9' };
      for (let i = 0; i < 3; i++) {
        const answer = await clientAnswer(url, 'nginx', {
          ...guess,
          headers: { authorization: `Bearer ${'G'.repeat(40)}${i}` },
        });
        expect(answer.status).toBe(401);
      }
      await expect.poll(() => gw.gateway.bans.isBanned('198.51.100.9') !== undefined).toBe(true);
      const banned = await clientAnswer(url, 'nginx', guess);
      expect([banned.status, problemCode(banned)]).toEqual([403, 'ERR_GATEWAY_BANNED']);
      expect(gw.gateway.bans.isBanned('127.0.0.1')).toBeUndefined();
      expect((await check(url, 'nginx', { target: '/public/x', clientIp: '198.51.100.10' })).status).toBe(
        200,
      );
    } finally {
      await gw.close();
    }
  });

  it("holds the original's header section to limits.maxHeaderBytes (431)", async () => {
    const gw = await startFor('traefik');
    try {
      const answer = await check(gw.gateway.extAuthzUrl() as string, 'traefik', {
        target: '/public/x',
        headers: { 'x-big': 'a'.repeat(16_500) },
      });
      expect([answer.status, problemCode(answer)]).toEqual([431, 'ERR_GATEWAY_HEADERS_TOO_LARGE']);
    } finally {
      await gw.close();
    }
  });

  it('closes the connection after a check that announces a body it never sends', async () => {
    const gw = await startFor('envoy');
    try {
      const port = Number(new URL(gw.gateway.extAuthzUrl() as string).port);
      const result = await exchange(
        port,
        `GET ${CHECK_PATH}/public/x HTTP/1.1\r\nHost: api.example.test\r\nContent-Length: 5\r\n\r\n`,
      );
      const response = parseFirstResponse(result.raw);
      expect(response?.status).toBe(200);
      expect(response?.headers['connection']).toBe('close');
      expect(result.closed).toBe(true);
    } finally {
      await gw.close();
    }
  });
});
