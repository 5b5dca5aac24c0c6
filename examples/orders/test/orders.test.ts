import type { CertificateAndKey } from '@gatehouse/core';
import {
  NOW,
  unsecuredToken,
  type Caller,
  type ScopeCase,
  type TestPki,
} from '@gatehouse/example-service-kit/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Order } from '../src/index.js';
import { AUDIENCE, startOrders, type OrdersHarness } from './support/start-orders.js';

let harness: OrdersHarness;
const RW = 'orders:read orders:write';

const alice: Caller = { sub: 'user-alice', client_id: 'bff', scope: RW };
const bob: Caller = { sub: 'user-bob', client_id: 'bff', scope: RW };
const admin: Caller = { sub: 'user-admin', client_id: 'bff', scope: 'orders:read admin', roles: ['admin'] };
/** Client credentials: `sub` is the client itself (RFC 9068 §2.2). */
const partner: Caller = { sub: 'partner', client_id: 'partner', scope: RW };

const tokenOf = (caller: Caller, extra: Record<string, unknown> = {}): Promise<string> =>
  harness.signer.sign({ aud: AUDIENCE, ...caller, ...extra });
const as = async (caller: Caller, path: string, method = 'GET', body?: unknown) =>
  harness.call(path, { method, token: await tokenOf(caller), ...(body === undefined ? {} : { body }) });
const place = async (caller: Caller, accountId: string, amount: number): Promise<Order> => {
  const res = await as(caller, '/api/orders', 'POST', { accountId, amount });
  expect(res.status).toBe(201);
  return res.json as Order;
};
const ids = (value: unknown): string[] => (value as Order[]).map((o) => o.id).sort();

let aliceFirst: Order;
let aliceSecond: Order;
let bobOrder: Order;

beforeAll(async () => {
  harness = await startOrders();
  aliceFirst = await place(alice, 'acc_alice1', 1200);
  aliceSecond = await place(alice, 'acc_alice1', 300);
  bobOrder = await place(bob, 'acc_bob1', 4500);
});
afterAll(() => harness.close());

describe('mTLS: only the gateway reaches the service', () => {
  const handshake: { name: string; client: (pki: TestPki) => CertificateAndKey | undefined }[] = [
    { name: 'no client certificate', client: () => undefined },
    { name: "the gateway's SAN URI from an untrusted CA", client: (pki) => pki.rogue },
  ];
  it.each(handshake)('$name → handshake refused', async ({ client }) => {
    await expect(
      harness.call('/api/orders', { token: await tokenOf(alice), client: client(harness.pki) }),
    ).rejects.toMatchObject({ code: expect.stringMatching(/^(ECONNRESET|ERR_SSL_)/) });
  });

  it("another workload's certificate of the same CA → 403", async () => {
    const res = await harness.call('/api/orders', {
      token: await tokenOf(alice),
      client: harness.pki.otherIdentity,
    });
    expect(res.status).toBe(403);
    expect(res.json).toMatchObject({ code: 'ERR_MTLS_PEER_IDENTITY' });
  });
});

describe('tokens: only internal JWTs for this audience', () => {
  const cases: { name: string; token: () => Promise<string> }[] = [
    {
      name: "the accounts service's audience",
      token: () => tokenOf(alice, { aud: 'https://accounts.internal' }),
    },
    { name: 'expired', token: () => tokenOf(alice, { exp: NOW - 120 }) },
    { name: 'alg none', token: () => Promise.resolve(unsecuredToken({ aud: AUDIENCE, ...alice })) },
  ];
  it.each(cases)('$name → 401 invalid_token', async ({ token }) => {
    const res = await harness.call('/api/orders', { token: await token() });
    expect(res.status).toBe(401);
    expect(res.headers['www-authenticate']).toMatch(/^Bearer error="invalid_token"/);
  });
});

describe('POST /api/orders', () => {
  it('places an open order owned by the caller', async () => {
    const res = await as(alice, '/api/orders', 'POST', { accountId: 'acc_alice1', amount: 99 });
    expect(res.status).toBe(201);
    const order = res.json as Order;
    expect(order).toEqual({
      id: expect.stringMatching(/^ord_[A-Za-z0-9]{1,32}$/),
      owner: alice.sub,
      accountId: 'acc_alice1',
      amount: 99,
      status: 'open',
    });
    expect(res.headers['location']).toBe(`/api/orders/${order.id}`);
  });

  const refused: { name: string; body: unknown; params: string[] }[] = [
    { name: 'an owner', body: { accountId: 'acc_a', amount: 1, owner: 'user-bob' }, params: ['owner'] },
    { name: 'a status', body: { accountId: 'acc_a', amount: 1, status: 'paid' }, params: ['status'] },
    { name: 'an id', body: { accountId: 'acc_a', amount: 1, id: 'ord_x' }, params: ['id'] },
    { name: 'a negative amount', body: { accountId: 'acc_a', amount: -5 }, params: ['amount'] },
    { name: 'a fractional amount', body: { accountId: 'acc_a', amount: 1.5 }, params: ['amount'] },
    { name: 'an amount as a string', body: { accountId: 'acc_a', amount: '10' }, params: ['amount'] },
    {
      name: 'a malformed account id',
      body: { accountId: "acc_1' or 1=1", amount: 1 },
      params: ['accountId'],
    },
  ];
  it.each(refused)('refuses $name with 400', async ({ body, params }) => {
    const res = await as(alice, '/api/orders', 'POST', body);
    expect(res.status).toBe(400);
    const problem = res.json as { 'invalid-params': { name: string }[] };
    expect(problem['invalid-params'].map((p) => p.name)).toEqual(params);
  });

  it('refuses a client-credentials caller', async () => {
    const res = await as(partner, '/api/orders', 'POST', { accountId: 'acc_a', amount: 1 });
    expect(res.status).toBe(403);
    expect(res.json).toMatchObject({ code: 'ERR_AUTHZ_DENIED' });
  });
});

describe('GET /api/orders and /api/orders/{id}: owners only', () => {
  it('lists only the caller’s orders', async () => {
    const mine = (await as(alice, '/api/orders')).json as Order[];
    expect(ids(mine)).toEqual(expect.arrayContaining([aliceFirst.id, aliceSecond.id]));
    expect(mine.every((o) => o.owner === alice.sub)).toBe(true);
    expect(ids((await as(bob, '/api/orders')).json)).toEqual([bobOrder.id]);
  });

  it('filters by status and pages', async () => {
    expect((await as(alice, '/api/orders?status=paid')).json).toEqual([]);
    const open = (await as(alice, '/api/orders?status=open&status=shipped')).json as Order[];
    expect(open.length).toBeGreaterThanOrEqual(2);
    const first = await as(alice, '/api/orders?limit=1&status=open');
    expect(first.headers['link']).toMatch(
      /^<\/api\/orders\?limit=1&cursor=ord_[0-9a-f]+&status=open>; rel="next"$/,
    );
    expect((await as(alice, '/api/orders?status=lost')).status).toBe(400);
  });

  it('answers another user’s order like a missing one (404)', async () => {
    const other = await as(alice, `/api/orders/${bobOrder.id}`);
    const missing = await as(alice, '/api/orders/ord_000000000000000000000000');
    expect(other.status).toBe(404);
    expect(missing.status).toBe(404);
    expect({ ...(other.json as object), instance: 'x' }).toEqual({
      ...(missing.json as object),
      instance: 'x',
    });
    expect((await as(bob, `/api/orders/${bobOrder.id}`)).json).toEqual(bobOrder);
  });

  it('gives the admin role every order', async () => {
    expect(ids((await as(admin, '/api/orders')).json)).toEqual(
      expect.arrayContaining([aliceFirst.id, aliceSecond.id, bobOrder.id]),
    );
    expect((await as(admin, `/api/orders/${aliceFirst.id}`)).status).toBe(200);
  });

  it('shows a client-credentials caller nothing', async () => {
    expect((await as(partner, '/api/orders')).json).toEqual([]);
    expect((await as(partner, `/api/orders/${aliceFirst.id}`)).status).toBe(404);
  });

  it('audits every decision', async () => {
    const before = harness.events.length;
    await as(partner, '/api/orders');
    await as(alice, `/api/orders/${bobOrder.id}`);
    expect(harness.events.slice(before).filter((e) => e.action === 'authz.decision')).toMatchObject([
      { decision: 'deny', actor: { sub: 'partner', clientId: 'partner' }, target: { type: 'order' } },
      { decision: 'deny', actor: { sub: alice.sub }, target: { type: 'order', id: bobOrder.id } },
    ]);
  });
});

describe('scopes per method', () => {
  const cases: ScopeCase[] = [
    {
      name: 'list without orders:read',
      scope: 'orders:write',
      method: 'GET',
      path: () => '/api/orders',
      needed: 'orders:read',
    },
    {
      name: 'read without orders:read',
      scope: 'accounts:read',
      method: 'GET',
      path: () => `/api/orders/${aliceFirst.id}`,
      needed: 'orders:read',
    },
    {
      name: 'create without orders:write',
      scope: 'orders:read',
      method: 'POST',
      path: () => '/api/orders',
      body: { accountId: 'acc_a', amount: 1 },
      needed: 'orders:write',
    },
  ];
  it.each(cases)('$name → 403 insufficient_scope', async ({ scope, method, path, body, needed }) => {
    const res = await as({ ...alice, scope }, path(), method, body);
    expect(res.status).toBe(403);
    expect(res.headers['www-authenticate']).toContain(`error="insufficient_scope"`);
    expect(res.headers['www-authenticate']).toContain(`scope="${needed}"`);
  });

  it('has no routes beyond the contract', async () => {
    expect((await as(alice, `/api/orders/${aliceFirst.id}`, 'PATCH', { amount: 1 })).status).toBe(404);
    expect((await as(alice, `/api/orders/${aliceFirst.id}`, 'DELETE')).status).toBe(404);
  });
});
