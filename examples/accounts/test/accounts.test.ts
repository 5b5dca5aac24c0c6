import type { Caller, ScopeCase } from '@gatehouse/example-service-kit/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Account } from '../src/index.js';
import { AUDIENCE, startAccounts, type AccountsHarness } from './support/start-accounts.js';

let harness: AccountsHarness;
const RW = 'accounts:read accounts:write';

const alice: Caller = { sub: 'user-alice', client_id: 'bff', scope: RW };
const bob: Caller = { sub: 'user-bob', client_id: 'bff', scope: `${RW} admin` };
const admin: Caller = { sub: 'user-admin', client_id: 'bff', scope: `${RW} admin`, roles: ['admin'] };
/** Client credentials: `sub` is the client itself (RFC 9068 §2.2). */
const partner: Caller = { sub: 'partner', client_id: 'partner', scope: RW };

const tokenOf = (caller: Caller): Promise<string> => harness.signer.sign({ aud: AUDIENCE, ...caller });
const as = async (caller: Caller, path: string, method = 'GET', body?: unknown, contentType?: string) =>
  harness.call(path, {
    method,
    token: await tokenOf(caller),
    ...(body === undefined ? {} : { body }),
    ...(contentType === undefined ? {} : { contentType }),
  });
const create = async (caller: Caller, nickname: string): Promise<Account> => {
  const res = await as(caller, '/api/accounts', 'POST', { nickname });
  expect(res.status).toBe(201);
  return res.json as Account;
};
const ids = (value: unknown): string[] => (value as Account[]).map((a) => a.id).sort();

let aliceMain: Account;
let aliceSavings: Account;
let bobMain: Account;

beforeAll(async () => {
  harness = await startAccounts();
  aliceMain = await create(alice, 'main');
  aliceSavings = await create(alice, 'savings');
  bobMain = await create(bob, 'bob main');
});
afterAll(() => harness.close());

describe('POST /api/accounts', () => {
  it('creates an account owned by the caller', async () => {
    const res = await as(alice, '/api/accounts', 'POST', { nickname: 'travel' });
    expect(res.status).toBe(201);
    const account = res.json as Account;
    expect(account).toEqual({
      id: expect.stringMatching(/^acc_[A-Za-z0-9]{1,32}$/),
      owner: alice.sub,
      balance: 0,
      nickname: 'travel',
    });
    expect(res.headers['location']).toBe(`/api/accounts/${account.id}`);
    expect(res.headers['cache-control']).toBe('no-store');
  });

  const refused: { name: string; body: unknown; params: string[] }[] = [
    { name: 'an owner chosen by the client', body: { nickname: 'x', owner: 'user-bob' }, params: ['owner'] },
    { name: 'a balance', body: { nickname: 'x', balance: 1_000_000 }, params: ['balance'] },
    { name: 'an id', body: { nickname: 'x', id: 'acc_chosen' }, params: ['id'] },
    { name: 'no nickname', body: {}, params: ['nickname'] },
    { name: 'an empty nickname', body: { nickname: '' }, params: ['nickname'] },
    { name: 'a nickname that is not a string', body: { nickname: 42 }, params: ['nickname'] },
    { name: 'a body that is not an object', body: '["x"]', params: ['body'] },
  ];
  it.each(refused)('refuses $name with 400', async ({ body, params }) => {
    const res = await as(alice, '/api/accounts', 'POST', body);
    expect(res.status).toBe(400);
    expect(res.headers['content-type']).toBe('application/problem+json');
    const problem = res.json as { 'invalid-params': { name: string }[] };
    expect(problem['invalid-params'].map((p) => p.name)).toEqual(params);
  });

  it('refuses malformed JSON with a problem', async () => {
    const res = await as(alice, '/api/accounts', 'POST', '{"nickname":');
    expect(res.status).toBe(400);
    expect(res.json).toMatchObject({ status: 400, title: 'Bad Request' });
  });

  it('refuses a client-credentials caller: it owns no user accounts', async () => {
    const res = await as(partner, '/api/accounts', 'POST', { nickname: 'mine' });
    expect(res.status).toBe(403);
    expect(res.json).toMatchObject({ status: 403, code: 'ERR_AUTHZ_DENIED' });
  });
});

describe('GET /api/accounts and /api/accounts/{id}: owners only', () => {
  it('lists only the caller’s accounts', async () => {
    const mine = await as(alice, '/api/accounts');
    expect(mine.status).toBe(200);
    expect(ids(mine.json)).toEqual(expect.arrayContaining([aliceMain.id, aliceSavings.id].sort()));
    expect((mine.json as Account[]).every((a) => a.owner === alice.sub)).toBe(true);
    expect(ids((await as(bob, '/api/accounts')).json)).toEqual([bobMain.id]);
  });

  it('shows the owner their account', async () => {
    const res = await as(alice, `/api/accounts/${aliceMain.id}`);
    expect(res.status).toBe(200);
    expect(res.json).toEqual(aliceMain);
  });

  it('answers another user’s account exactly like a missing one (404, no existence leak)', async () => {
    const other = await as(alice, `/api/accounts/${bobMain.id}`);
    const missing = await as(alice, '/api/accounts/acc_000000000000000000000000');
    expect(other.status).toBe(404);
    expect(missing.status).toBe(404);
    expect({ ...(other.json as object), instance: 'x' }).toEqual({
      ...(missing.json as object),
      instance: 'x',
    });
    expect(other.headers['content-length']).toBe(missing.headers['content-length']);
  });

  it('audits the refusal with the target and the caller', async () => {
    const before = harness.events.length;
    await as(alice, `/api/accounts/${bobMain.id}`);
    expect(harness.events.slice(before)).toMatchObject([
      { action: 'token.verify', outcome: 'success', actor: { sub: alice.sub, clientId: 'bff' } },
      {
        action: 'authz.decision',
        decision: 'deny',
        reason: 'no rule allows',
        actor: { sub: alice.sub },
        target: { type: 'account', id: bobMain.id },
      },
    ]);
  });

  it('gives the admin role every account', async () => {
    const all = await as(admin, '/api/accounts');
    expect(ids(all.json)).toEqual(expect.arrayContaining([aliceMain.id, aliceSavings.id, bobMain.id]));
    expect((await as(admin, `/api/accounts/${bobMain.id}`)).json).toEqual(bobMain);
  });

  it('shows a client-credentials caller nothing, even with an end-user role claim', async () => {
    for (const caller of [partner, { ...partner, roles: ['end-user'] }]) {
      expect((await as(caller, '/api/accounts')).json).toEqual([]);
      expect((await as(caller, `/api/accounts/${aliceMain.id}`)).status).toBe(404);
    }
  });

  it('shows nothing to a client whose id equals a user’s sub', async () => {
    const impostor: Caller = { sub: alice.sub, client_id: alice.sub, scope: RW };
    expect((await as(impostor, '/api/accounts')).json).toEqual([]);
  });

  it('pages with limit and cursor (RFC 8288 next link)', async () => {
    const first = await as(alice, '/api/accounts?limit=1');
    expect((first.json as Account[]).length).toBe(1);
    const next = /^<([^>]+)>; rel="next"$/.exec(String(first.headers['link']))?.[1];
    expect(next).toMatch(/^\/api\/accounts\?limit=1&cursor=acc_/);
    const second = await as(alice, next!);
    expect(ids(second.json)).not.toEqual(ids(first.json));
    expect((second.json as Account[])[0]!.owner).toBe(alice.sub);
  });

  it.each(['limit=0', 'limit=101', 'limit=x', 'cursor=%27%20or%201=1', 'owner=user-bob'])(
    'refuses the query %s with 400',
    async (query) => {
      expect((await as(alice, `/api/accounts?${query}`)).status).toBe(400);
    },
  );
});

describe('PATCH /api/accounts/{id}: only nickname is writable', () => {
  it('renames the owner’s account', async () => {
    const res = await as(alice, `/api/accounts/${aliceSavings.id}`, 'PATCH', { nickname: 'rainy day' });
    expect(res.status).toBe(200);
    expect(res.json).toEqual({ ...aliceSavings, nickname: 'rainy day' });
    expect((await as(alice, `/api/accounts/${aliceSavings.id}`)).json).toMatchObject({
      nickname: 'rainy day',
    });
  });

  it('accepts an RFC 7396 merge patch', async () => {
    const res = await as(
      alice,
      `/api/accounts/${aliceSavings.id}`,
      'PATCH',
      { nickname: 'merged' },
      'application/merge-patch+json',
    );
    expect(res.status).toBe(200);
    expect(res.json).toMatchObject({ nickname: 'merged' });
  });

  const massAssignment: { field: string; value: unknown }[] = [
    { field: 'owner', value: 'user-bob' },
    { field: 'balance', value: 1_000_000 },
    { field: 'id', value: 'acc_stolen' },
  ];
  it.each(massAssignment)('refuses $field with 400 and changes nothing', async ({ field, value }) => {
    const res = await as(alice, `/api/accounts/${aliceMain.id}`, 'PATCH', { nickname: 'x', [field]: value });
    expect(res.status).toBe(400);
    expect(res.json).toMatchObject({ 'invalid-params': [{ name: field, reason: 'not writable' }] });
    expect((await as(alice, `/api/accounts/${aliceMain.id}`)).json).toEqual(aliceMain);
  });

  it('refuses a null nickname (a merge patch may not remove it)', async () => {
    expect((await as(alice, `/api/accounts/${aliceMain.id}`, 'PATCH', { nickname: null })).status).toBe(400);
  });

  it('answers 404 for another user’s account, before reading the body', async () => {
    const res = await as(bob, `/api/accounts/${aliceMain.id}`, 'PATCH', { owner: bob.sub });
    expect(res.status).toBe(404);
    expect((await as(alice, `/api/accounts/${aliceMain.id}`)).json).toEqual(aliceMain);
  });

  it('lets the admin role read but not rename another user’s account', async () => {
    expect(
      (await as(admin, `/api/accounts/${bobMain.id}`, 'PATCH', { nickname: 'admin was here' })).status,
    ).toBe(404);
  });
});

describe('scopes per method', () => {
  const cases: ScopeCase[] = [
    {
      name: 'list without accounts:read',
      scope: 'accounts:write',
      method: 'GET',
      path: () => '/api/accounts',
      needed: 'accounts:read',
    },
    {
      name: 'read without accounts:read',
      scope: 'orders:read',
      method: 'GET',
      path: () => `/api/accounts/${aliceMain.id}`,
      needed: 'accounts:read',
    },
    {
      name: 'create without accounts:write',
      scope: 'accounts:read',
      method: 'POST',
      path: () => '/api/accounts',
      body: { nickname: 'x' },
      needed: 'accounts:write',
    },
    {
      name: 'rename without accounts:write',
      scope: 'accounts:read',
      method: 'PATCH',
      path: () => `/api/accounts/${aliceMain.id}`,
      body: { nickname: 'x' },
      needed: 'accounts:write',
    },
    {
      name: 'audit without admin',
      scope: RW,
      method: 'GET',
      path: () => '/api/admin/audit',
      needed: 'admin',
    },
  ];
  it.each(cases)('$name → 403 insufficient_scope', async ({ scope, method, path, body, needed }) => {
    const res = await as({ ...alice, scope, roles: ['admin'] }, path(), method, body);
    expect(res.status).toBe(403);
    expect(res.headers['www-authenticate']).toBe(
      `Bearer error="insufficient_scope", error_description="The access token does not grant the required scope", scope="${needed}"`,
    );
  });
});

describe('GET /api/admin/audit: admin role and admin scope', () => {
  it('serves the audit trail to the admin', async () => {
    const res = await as(admin, '/api/admin/audit?limit=100');
    expect(res.status).toBe(200);
    const events = res.json as { action: string; decision?: string; target?: { id?: string } }[];
    expect(events.length).toBeGreaterThan(0);
    expect(
      events.some(
        (e) => e.action === 'authz.decision' && e.decision === 'deny' && e.target?.id === bobMain.id,
      ),
    ).toBe(true);
    // Newest first: the admin's own decision on this request leads.
    expect(events[0]).toMatchObject({
      action: 'authz.decision',
      target: { type: 'audit-log' },
      decision: 'allow',
    });
    expect(JSON.stringify(events)).not.toMatch(/eyJ/);
  });

  it('filters by time', async () => {
    const res = await as(admin, `/api/admin/audit?since=${encodeURIComponent('2026-01-01T00:00:01Z')}`);
    expect(res.json).toEqual([]);
  });

  it('refuses the admin scope without the admin role (BFLA)', async () => {
    const res = await as(bob, '/api/admin/audit');
    expect(res.status).toBe(403);
    expect(res.json).toMatchObject({ code: 'ERR_AUTHZ_DENIED' });
  });

  it('refuses a client-credentials token with the admin scope', async () => {
    expect((await as({ ...partner, scope: 'admin' }, '/api/admin/audit')).status).toBe(403);
  });
});
