import type { AuditEvent } from '@gatehouse/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ACCOUNTS,
  API,
  startAuthServer,
  type TestAuthServer,
  type TestClient,
} from '../support/auth-server.js';
import { startRecordingUpstream, type RecordingUpstream } from '../support/recording-upstream.js';
import { startGateway, type StartedGateway } from '../support/start-gateway.js';
import type { GatewayConfigInput } from '../../src/index.js';

/**
 * `gateway.auditRequests`: the gateway's decision on a finished request as an `authz.decision` audit
 * event (who, from where, which route and path, allow or deny and why) — by default for the refusals
 * of requests with a valid token; with `authenticated` for every request with a valid token, so that
 * `gatehouse report access` lists a data subject's API calls; never for anonymous refusals unless
 * `all` is set (an attacker cannot grow the audit log for free); none with `none`. Never the query
 * string or a token.
 */
let as: TestAuthServer;
let upstream: RecordingUpstream;
let partner: TestClient;
let gatewayClient: { clientId: string; clientSecret: string };
const started: StartedGateway[] = [];

beforeAll(async () => {
  as = await startAuthServer();
  gatewayClient = await as.createGatewayClient();
  partner = await as.createClient({
    scopes: ['accounts:read'],
    resources: [API, ACCOUNTS],
    tokenFormat: 'jwt',
  });
  upstream = await startRecordingUpstream();
});

afterAll(async () => {
  for (const gw of started) await gw.close();
  await upstream.close();
  await as.close();
});

async function gateway(
  auditRequests?: 'refused' | 'authenticated' | 'all' | 'none',
): Promise<StartedGateway> {
  const config: Omit<GatewayConfigInput, 'listen'> = {
    auth: { issuer: as.issuer, audience: [API], ...gatewayClient },
    bruteForce: { enabled: false },
    ...(auditRequests === undefined ? {} : { auditRequests }),
    upstreams: { app: { targets: [upstream.url] } },
    routes: [
      {
        id: 'accounts',
        match: { pathPrefix: '/api/accounts' },
        upstream: 'app',
        auth: 'jwt',
        audience: ACCOUNTS,
        scopes: { GET: ['accounts:read'], POST: ['accounts:write'] },
        rateLimits: [{ id: 'tiny', limit: 1, windowSec: 3600, key: ['client_id'], burst: 1 }],
      },
      { id: 'status', match: { path: '/public/status' }, upstream: 'app', auth: 'none' },
    ],
  };
  const gw = await startGateway(config, { state: as.state, now: as.clock.now });
  started.push(gw);
  return gw;
}

const decisions = (gw: StartedGateway): AuditEvent[] => gw.audit.filter((e) => e.action === 'authz.decision');

async function call(gw: StartedGateway, path: string, token?: string, method = 'GET'): Promise<number> {
  const res = await fetch(`${gw.url}${path}`, {
    method,
    headers: token === undefined ? {} : { authorization: `Bearer ${token}` },
  });
  await res.arrayBuffer();
  return res.status;
}

describe('gateway.auditRequests: refused (default)', () => {
  it('records the refusals of a valid token, not its admitted requests', async () => {
    const gw = await gateway();
    const token = await as.tokenFor(partner, { resource: API, scope: 'accounts:read' });
    expect(await call(gw, '/api/accounts', token)).toBe(200);
    expect(await call(gw, '/api/accounts', token, 'POST')).toBe(403); // scope
    expect(await call(gw, '/api/accounts')).toBe(401); // anonymous: never
    expect(await call(gw, '/api/accounts', token)).toBe(429); // rate limit (1 per hour)
    await expect.poll(() => decisions(gw).length).toBe(2);
    expect(decisions(gw).map((e) => [e.decision, e.reason])).toEqual([
      ['deny', 'ERR_INSUFFICIENT_SCOPE'],
      ['deny', 'ERR_GATEWAY_RATE_LIMITED'],
    ]);
  });
});

describe('gateway.auditRequests: authenticated', () => {
  it('records an admitted request and the refusals of a valid token, each with its reason', async () => {
    const gw = await gateway('authenticated');
    const token = await as.tokenFor(partner, { resource: API, scope: 'accounts:read' });
    expect(await call(gw, '/api/accounts/acc_1?secret=s3cret', token)).toBe(200);
    expect(await call(gw, '/api/accounts', token, 'POST')).toBe(403); // scope
    expect(await call(gw, '/api/accounts', token)).toBe(429); // rate limit (1 per hour)
    await expect.poll(() => decisions(gw).length).toBe(3);
    const [allowed, scope, limited] = decisions(gw);
    expect(allowed).toMatchObject({
      action: 'authz.decision',
      component: 'gateway',
      outcome: 'success',
      decision: 'allow',
      actor: { clientId: partner.clientId },
      sourceIp: '127.0.0.1',
      target: { type: 'route', id: 'accounts' },
      details: { method: 'GET', path: '/api/accounts/acc_1', status: 200 },
    });
    expect(allowed!.requestId).toMatch(/\S/);
    expect(allowed).not.toHaveProperty('reason');
    expect(scope).toMatchObject({
      outcome: 'failure',
      decision: 'deny',
      reason: 'ERR_INSUFFICIENT_SCOPE',
      details: { method: 'POST', status: 403 },
    });
    expect(limited).toMatchObject({
      decision: 'deny',
      reason: 'ERR_GATEWAY_RATE_LIMITED',
      details: { status: 429 },
    });
    // Never the query string nor the token.
    const text = JSON.stringify(gw.audit);
    expect(text).not.toContain('s3cret');
    expect(text).not.toContain(token);
  });

  it('does not record anonymous requests, admitted or refused', async () => {
    const gw = await gateway('authenticated');
    expect(await call(gw, '/public/status')).toBe(200);
    expect(await call(gw, '/api/accounts')).toBe(401);
    expect(await call(gw, '/api/accounts', 'not-a-token')).toBe(401);
    expect(await call(gw, '/nowhere')).toBe(404);
    // A marker request with a token: once its record is in, the earlier ones would be too.
    const token = await as.tokenFor(partner, { resource: API, scope: 'accounts:read' });
    expect(await call(gw, '/api/accounts', token)).toBe(200);
    await expect.poll(() => decisions(gw).length).toBe(1);
    expect(decisions(gw)[0]).toMatchObject({ decision: 'allow', actor: { clientId: partner.clientId } });
  });
});

describe('gateway.auditRequests: all and none', () => {
  it('all: anonymous refusals too, with the code the client got', async () => {
    const gw = await gateway('all');
    expect(await call(gw, '/api/accounts')).toBe(401);
    expect(await call(gw, '/api/accounts%2F..%2Fadmin')).toBe(400);
    expect(await call(gw, '/public/status')).toBe(200);
    await expect.poll(() => decisions(gw).length).toBe(3);
    const [missing, badPath, open] = decisions(gw);
    expect(missing).toMatchObject({ decision: 'deny', target: { id: 'accounts' }, details: { status: 401 } });
    expect(missing).not.toHaveProperty('actor');
    expect(missing!.reason).toMatch(/^ERR_/);
    expect(badPath).toMatchObject({
      decision: 'deny',
      reason: expect.stringMatching(/^ERR_GATEWAY_/),
      details: { status: 400 },
    });
    expect(open).toMatchObject({ decision: 'allow', target: { id: 'status' }, details: { status: 200 } });
  });

  it('none: no per-request record (the access log still has every request)', async () => {
    const gw = await gateway('none');
    const token = await as.tokenFor(partner, { resource: API, scope: 'accounts:read' });
    expect(await call(gw, '/api/accounts', token)).toBe(200);
    expect(await call(gw, '/api/accounts')).toBe(401);
    await expect.poll(() => gw.logs.filter((line) => line['log'] === 'access').length).toBe(2);
    expect(decisions(gw)).toEqual([]);
  });

  it('follows a reload of the setting', async () => {
    const gw = await gateway('none');
    const token = await as.tokenFor(partner, { resource: API, scope: 'accounts:read' });
    expect(await call(gw, '/api/accounts', token)).toBe(200);
    const current = gw.gateway.config();
    await gw.gateway.reload({ ...current, auditRequests: 'authenticated' });
    expect(await call(gw, '/api/accounts', token)).toBe(429);
    await expect.poll(() => decisions(gw).length).toBe(1);
    expect(decisions(gw)[0]).toMatchObject({ reason: 'ERR_GATEWAY_RATE_LIMITED' });
  });
});
