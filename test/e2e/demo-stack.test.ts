import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadDevCa } from '@gatehouse/core';
import { Agent, request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  Browser,
  clientToken,
  loginThroughBff,
  missingBuild,
  startDemoStack,
  type DemoStack,
} from '../support/demo-stack.js';

/**
 * `npm start` end to end: `gatehouse up` in a temporary data dir, then the calls a newcomer makes
 * — partner (opaque) and internal (JWT) client credentials through the gateway, alice, bob and
 * admin through the BFF's authorization code flow — and the attacks the demo API must refuse.
 */
let stack: DemoStack;
const browsers: Record<'alice' | 'bob' | 'admin', Browser> = {
  alice: new Browser(),
  bob: new Browser(),
  admin: new Browser(),
};
let aliceAccount = '';
let bobAccount = '';
let bobOrder = '';

interface Answer {
  status: number;
  body: unknown;
  headers: Headers;
}

/** A call from the demo app's page through the BFF (same origin, X-CSRF on changes). */
async function viaBff(
  who: keyof typeof browsers,
  method: string,
  path: string,
  body?: unknown,
): Promise<Answer> {
  const page = await browsers[who].request(`${stack.demo.bff}${path}`, {
    method,
    headers: {
      ...(method === 'GET' ? {} : { origin: stack.demo.bff, 'x-csrf': '1' }),
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  let parsed: unknown = page.text;
  try {
    parsed = JSON.parse(page.text);
  } catch {
    // not JSON
  }
  return { status: page.status, body: parsed, headers: page.headers };
}

async function viaGateway(
  token: string | undefined,
  method: string,
  path: string,
  body?: unknown,
): Promise<Answer> {
  const response = await fetch(`${stack.demo.gateway}${path}`, {
    method,
    headers: {
      ...(token === undefined ? {} : { authorization: `Bearer ${token}` }),
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await response.text();
  let parsed: unknown = text;
  try {
    parsed = JSON.parse(text);
  } catch {
    // not JSON
  }
  return { status: response.status, body: parsed, headers: response.headers };
}

const idOf = (answer: Answer): string => (answer.body as { id: string }).id;
const ids = (answer: Answer): string[] => (answer.body as { id: string }[]).map((item) => item.id);

beforeAll(async () => {
  const missing = missingBuild();
  if (missing.length > 0) throw new Error(`not built: ${missing.join(', ')} (run npm run build)`);
  stack = await startDemoStack();
  for (const who of ['alice', 'bob', 'admin'] as const) {
    const landing = await loginThroughBff(browsers[who], stack.demo, stack.demo.users[who]);
    expect(landing.status).toBe(303);
  }
  aliceAccount = idOf(await viaBff('alice', 'POST', '/api/accounts', { nickname: 'alice savings' }));
  bobAccount = idOf(await viaBff('bob', 'POST', '/api/accounts', { nickname: 'bob checking' }));
  bobOrder = idOf(await viaBff('bob', 'POST', '/api/orders', { accountId: bobAccount, amount: 42 }));
}, 120_000);

afterAll(async () => {
  // Ctrl-C stops every component and `gatehouse up` exits 0.
  const started = stack as DemoStack | undefined;
  if (started !== undefined) expect(await started.stop()).toBe(0);
});

describe('gatehouse up: the demo stack of the contract', () => {
  it('writes demo.json with random secrets and the contract URLs', () => {
    const { demo, portBase } = stack;
    expect(demo.issuer).toBe(`http://127.0.0.1:${portBase}`);
    expect(demo.gateway).toBe(`http://127.0.0.1:${portBase + 1}`);
    expect(demo.bff).toBe(`http://127.0.0.1:${portBase + 2}`);
    expect(demo.admin).toBe(`http://127.0.0.1:${portBase + 3}`);
    expect(demo.adminToken.length).toBeGreaterThanOrEqual(32);
    expect(demo.clients.partner).toMatchObject({
      token_format: 'opaque',
      scope: 'accounts:read orders:read',
    });
    expect(demo.clients.internal.token_format).toBe('jwt');
    expect(demo.clients.cli).toMatchObject({ redirect_uri: 'http://127.0.0.1:8765/callback' });
    expect(demo.clients.cli).not.toHaveProperty('client_secret');
    expect(demo.users.admin.roles).toEqual(['admin']);
    const passwords = Object.values(demo.users).map((user) => user.password);
    expect(new Set(passwords).size).toBe(3);
    for (const password of passwords) expect(password.length).toBeGreaterThanOrEqual(20);
    // Nothing secret in what `up` printed.
    for (const secret of [demo.adminToken, ...passwords, demo.clients.partner.client_secret])
      expect(stack.output()).not.toContain(secret);
  });

  it('serves GET /public/status without a token, and 404 for anything the OpenAPI document does not declare', async () => {
    expect((await viaGateway(undefined, 'GET', '/public/status')).status).toBe(200);
    const token = await clientToken(stack.demo, 'partner');
    expect((await viaGateway(token, 'GET', '/api/secrets')).status).toBe(404);
    expect((await viaGateway(token, 'GET', '/api/accounts/a/b')).status).toBe(404);
    // A declared path with an undeclared method is an undeclared operation too.
    const undeclared = await viaGateway(token, 'DELETE', `/api/accounts/${aliceAccount}`);
    expect(undeclared.status).toBe(404);
    expect(undeclared.headers.get('allow')).toBeNull();
  });

  it('partner: an opaque token works through the gateway (phantom token) and sees no user data', async () => {
    const token = await clientToken(stack.demo, 'partner');
    expect(token).not.toMatch(/^ey/);
    const accounts = await viaGateway(token, 'GET', '/api/accounts');
    expect(accounts).toMatchObject({ status: 200, body: [] });
    expect(await viaGateway(token, 'GET', '/api/orders')).toMatchObject({ status: 200, body: [] });
    expect((await viaGateway(token, 'GET', `/api/accounts/${aliceAccount}`)).status).toBe(404);
    // Coarse scope at the gateway: the partner holds no accounts:write.
    const write = await viaGateway(token, 'POST', '/api/accounts', { nickname: 'x' });
    expect(write.status).toBe(403);
    expect(write.headers.get('www-authenticate')).toContain('insufficient_scope');
  });

  it('internal: a JWT client is exchanged for each service audience and acts for no user', async () => {
    const token = await clientToken(stack.demo, 'internal');
    expect(token).toMatch(/^ey/);
    expect(await viaGateway(token, 'GET', '/api/accounts')).toMatchObject({ status: 200, body: [] });
    expect(await viaGateway(token, 'GET', '/api/orders')).toMatchObject({ status: 200, body: [] });
    expect((await viaGateway(token, 'GET', `/api/orders/${bobOrder}`)).status).toBe(404);
    expect((await viaGateway(token, 'POST', '/api/accounts', { nickname: 'bot' })).status).toBe(403);
  });

  it('a token revoked at the auth server is refused by the gateway within 2 s (components in separate processes)', async () => {
    for (const client of ['partner', 'internal'] as const) {
      const token = await clientToken(stack.demo, client);
      // Cached at the gateway first (introspection answer or verification result).
      expect((await viaGateway(token, 'GET', '/api/orders')).status).toBe(200);
      const metadata = (await (
        await fetch(`${stack.demo.issuer}/.well-known/oauth-authorization-server`)
      ).json()) as {
        revocation_endpoint: string;
      };
      const { client_id: id, client_secret: secret } = stack.demo.clients[client];
      const revoked = await fetch(metadata.revocation_endpoint, {
        method: 'POST',
        headers: {
          authorization: `Basic ${Buffer.from(`${id}:${secret}`).toString('base64')}`,
          'content-type': 'application/x-www-form-urlencoded',
        },
        body: new URLSearchParams({ token }).toString(),
      });
      expect(revoked.status).toBe(200);
      // No Redis in `gatehouse up`: the gateway reads the revocation feed in the shared SQLite file.
      await expect
        .poll(async () => (await viaGateway(token, 'GET', '/api/orders')).status, {
          timeout: 2_000,
          interval: 50,
        })
        .toBe(401);
    }
  });

  it('refuses requests without a valid token with RFC 6750 challenges', async () => {
    const none = await viaGateway(undefined, 'GET', '/api/accounts');
    expect(none.status).toBe(401);
    expect(none.headers.get('www-authenticate')).toMatch(/^Bearer/);
    expect((await viaGateway('not-a-token', 'GET', '/api/accounts')).status).toBe(401);
  });

  it('alice and bob: each sees only their own accounts and orders; admin sees all', async () => {
    expect(ids(await viaBff('alice', 'GET', '/api/accounts'))).toEqual([aliceAccount]);
    expect(ids(await viaBff('bob', 'GET', '/api/accounts'))).toEqual([bobAccount]);
    expect(ids(await viaBff('bob', 'GET', '/api/orders'))).toEqual([bobOrder]);
    expect(ids(await viaBff('alice', 'GET', '/api/orders'))).toEqual([]);
    const all = ids(await viaBff('admin', 'GET', '/api/accounts'));
    expect(all).toEqual(expect.arrayContaining([aliceAccount, bobAccount]));
    const mine = await viaBff('alice', 'GET', `/api/accounts/${aliceAccount}`);
    expect(mine).toMatchObject({
      status: 200,
      body: { id: aliceAccount, owner: stack.demo.users.alice.sub },
    });
  });

  // OWASP API1 (BOLA), API3 (mass assignment), API5 (BFLA): each attempt through the whole chain.
  const attacks: {
    name: string;
    who: 'alice' | 'bob';
    method: string;
    path: () => string;
    body?: () => unknown;
    status: number;
  }[] = [
    {
      name: "BOLA: alice reads bob's account",
      who: 'alice',
      method: 'GET',
      path: () => `/api/accounts/${bobAccount}`,
      status: 404,
    },
    {
      name: "BOLA: alice renames bob's account",
      who: 'alice',
      method: 'PATCH',
      path: () => `/api/accounts/${bobAccount}`,
      body: () => ({ nickname: 'mine' }),
      status: 404,
    },
    {
      name: "BOLA: alice reads bob's order",
      who: 'alice',
      method: 'GET',
      path: () => `/api/orders/${bobOrder}`,
      status: 404,
    },
    {
      name: 'mass assignment: owner',
      who: 'alice',
      method: 'PATCH',
      path: () => `/api/accounts/${aliceAccount}`,
      body: () => ({ owner: stack.demo.users.bob.sub }),
      status: 400,
    },
    {
      name: 'mass assignment: balance',
      who: 'alice',
      method: 'PATCH',
      path: () => `/api/accounts/${aliceAccount}`,
      body: () => ({ balance: 1_000_000 }),
      status: 400,
    },
    {
      name: 'mass assignment: id',
      who: 'alice',
      method: 'PATCH',
      path: () => `/api/accounts/${aliceAccount}`,
      body: () => ({ id: bobAccount }),
      status: 400,
    },
    {
      name: 'mass assignment: owner at creation',
      who: 'alice',
      method: 'POST',
      path: () => '/api/accounts',
      body: () => ({ nickname: 'x', owner: stack.demo.users.bob.sub }),
      status: 400,
    },
    {
      name: 'BFLA: alice reads the audit log',
      who: 'alice',
      method: 'GET',
      path: () => '/api/admin/audit',
      status: 403,
    },
    {
      name: 'BFLA: bob reads the audit log',
      who: 'bob',
      method: 'GET',
      path: () => '/api/admin/audit',
      status: 403,
    },
  ];

  it.each(attacks)('$name → $status', async (attack) => {
    const answer = await viaBff(attack.who, attack.method, attack.path(), attack.body?.());
    expect(answer.status).toBe(attack.status);
    expect(JSON.stringify(answer.body)).not.toMatch(/stack|at \w+ \(/);
  });

  it('nothing changed through the refused attempts', async () => {
    const bob = await viaBff('bob', 'GET', `/api/accounts/${bobAccount}`);
    expect(bob.body).toMatchObject({ nickname: 'bob checking', owner: stack.demo.users.bob.sub });
    const alice = await viaBff('alice', 'GET', `/api/accounts/${aliceAccount}`);
    expect(alice.body).toMatchObject({ nickname: 'alice savings', owner: stack.demo.users.alice.sub });
  });

  it('admin: the audit log is served to the admin role with the admin scope only', async () => {
    const audit = await viaBff('admin', 'GET', '/api/admin/audit');
    expect(audit.status).toBe(200);
    expect(JSON.stringify(audit.body)).toContain('authz.decision');
  });

  it("refuses a caller that bypasses the gateway at the services' TLS handshake", async () => {
    const pki = join(stack.dataDir, 'pki');
    const ca = readFileSync(join(pki, 'ca.pem'), 'utf8');
    const accounts = `https://127.0.0.1:${stack.portBase + 6}/public/status`;
    const call = async (connect: Record<string, string>) => {
      const dispatcher = new Agent({ connect: { ca, ...connect } });
      try {
        const answer = await request(accounts, { dispatcher });
        await answer.body.dump();
        return answer.statusCode;
      } finally {
        await dispatcher.close();
      }
    };
    // No client certificate: the handshake fails (TLS 1.3 reports it on the first read).
    await expect(call({})).rejects.toThrow();
    // A certificate from another CA, with the gateway's identity: refused too.
    const { createDevCa } = await import('@gatehouse/core');
    const rogue = await (
      await createDevCa()
    ).issue({ commonName: 'gateway', uri: ['spiffe://gatehouse.local/gateway'], usage: 'client' });
    await expect(call({ cert: rogue.certPem, key: rogue.keyPem })).rejects.toThrow();
    // The right CA but another workload's identity: past TLS, refused by the service (403).
    const devCa = await loadDevCa(ca, readFileSync(join(pki, 'ca-key.pem'), 'utf8'));
    const other = await devCa.issue({
      commonName: 'intruder',
      uri: ['spiffe://gatehouse.local/intruder'],
      usage: 'client',
    });
    expect(await call({ cert: other.certPem, key: other.keyPem })).toBe(403);
    // The gateway's own certificate: in.
    const gateway = {
      cert: readFileSync(join(pki, 'gateway.pem'), 'utf8'),
      key: readFileSync(join(pki, 'gateway-key.pem'), 'utf8'),
    };
    expect(await call(gateway)).toBe(200);
  });

  it('one admin entry: the gateway, BFF and auth server admin APIs behind the admin token', async () => {
    const admin = (path: string, token?: string) =>
      fetch(`${stack.demo.admin}${path}`, {
        headers: token === undefined ? {} : { authorization: `Bearer ${token}` },
      });
    expect((await admin('/readyz')).status).toBe(200);
    expect((await admin('/admin/gateway/routes')).status).toBe(401);
    expect((await admin('/admin/gateway/routes', stack.demo.adminToken)).status).toBe(200);
    expect((await admin('/admin/clients', stack.demo.adminToken)).status).toBe(200);
    const sessions = await admin(
      `/admin/bff/sessions?sub=${stack.demo.users.alice.sub}`,
      stack.demo.adminToken,
    );
    expect(sessions.status).toBe(200);
    expect(JSON.stringify(await sessions.json())).toContain(stack.demo.users.alice.sub);
    const metrics = await (await admin('/metrics')).text();
    expect(metrics).toContain('gatehouse_requests_total');
    const authServerMetrics = await admin('/metrics/auth-server');
    expect(authServerMetrics.status).toBe(200);
    expect(await authServerMetrics.text()).toContain('# TYPE gatehouse_tls_certificate_expiry_seconds gauge');
    expect((await admin('/nothing')).status).toBe(404);
  });
});
