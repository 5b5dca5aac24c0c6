import type { AuditEvent } from '@gatehouse/core';
import { describe, expect, it } from 'vitest';
import {
  allOf,
  anyOf,
  createPolicy,
  describeRule,
  matchesFilter,
  owner,
  role,
  scope,
  tenant,
  type PolicyOptions,
  type PolicyRules,
  type PolicyPrincipal,
  type Resource,
} from '../../src/index.js';
import { NOW_MS } from '../helpers/tokens.js';

const p = (sub: string, extra: Partial<Omit<PolicyPrincipal, 'sub'>> = {}): PolicyPrincipal => ({
  sub,
  clientId: undefined,
  scopes: [],
  roles: [],
  tenant: undefined,
  ...extra,
});

const alice = p('alice', { clientId: 'web', scopes: ['orders:read'], tenant: 't1' });
const bob = p('bob', { roles: ['support'], tenant: 't2' });
const carol = p('carol', { scopes: ['orders:read', 'orders:write'] }); // no tenant
const dave = p('dave', { roles: ['manager'], tenant: 't1', scopes: ['orders:write'] });
const root = p('root', { roles: ['admin'] });
const erin = p('erin', { roles: ['support'], scopes: ['orders:refund'], tenant: 't2' });
const PRINCIPALS = { alice, bob, carol, dave, root, erin };

const RULES: PolicyRules = {
  orders: {
    // Any of: the owner, support staff, or someone of the same tenant with the read scope.
    read: [owner(), role('admin', 'support'), allOf(tenant(), scope('orders:read'))],
    update: owner(),
    delete: allOf(owner(), scope('orders:write')),
    archive: anyOf(role('admin'), allOf(tenant(), role('manager'))),
    share: allOf(owner(), tenant()),
    comment: anyOf(owner(), tenant()),
    refund: allOf(role('support'), scope('orders:refund')),
    audit: [],
  },
  invoices: { read: tenant('orgId') },
};

const order = (id: string, ownerId: unknown, tenantId?: unknown): Resource => ({
  type: 'orders',
  id,
  ownerId,
  ...(tenantId === undefined ? {} : { tenantId }),
});

function setup(extra: Partial<PolicyOptions> = {}): {
  policy: ReturnType<typeof createPolicy>;
  events: AuditEvent[];
} {
  const events: AuditEvent[] = [];
  const policy = createPolicy(RULES, {
    audit: (event) => void events.push(event),
    now: () => NOW_MS,
    ...extra,
  });
  return { policy, events };
}

interface Case {
  readonly name: string;
  readonly principal: PolicyPrincipal;
  readonly action: string;
  readonly resource: Resource;
  readonly allow: boolean;
  readonly reason: string;
}

const cases: Case[] = [
  {
    name: 'owner reads own order',
    principal: alice,
    action: 'read',
    resource: order('o1', 'alice', 't2'),
    allow: true,
    reason: 'owner(ownerId)',
  },
  {
    // OWASP API1 (BOLA): another user's object by id.
    name: "user reads another tenant's order by id",
    principal: alice,
    action: 'read',
    resource: order('o2', 'bob', 't2'),
    allow: false,
    reason: 'no rule allows',
  },
  {
    name: 'same tenant with the read scope',
    principal: alice,
    action: 'read',
    resource: order('o3', 'bob', 't1'),
    allow: true,
    reason: 'all(tenant(tenantId), scope(orders:read))',
  },
  {
    name: 'same tenant without the read scope',
    principal: dave,
    action: 'read',
    resource: order('o3', 'bob', 't1'),
    allow: false,
    reason: 'no rule allows',
  },
  {
    name: 'support role reads any order',
    principal: bob,
    action: 'read',
    resource: order('o4', 'alice', 't1'),
    allow: true,
    reason: 'role(admin|support)',
  },
  {
    name: 'a principal without tenant never matches a tenant rule, even on an object without tenant',
    principal: carol,
    action: 'read',
    resource: order('o5', 'alice'),
    allow: false,
    reason: 'no rule allows',
  },
  {
    name: 'owner id compared as a string only',
    principal: alice,
    action: 'update',
    resource: order('o6', ['alice']),
    allow: false,
    reason: 'no rule allows',
  },
  {
    name: 'owner updates',
    principal: alice,
    action: 'update',
    resource: order('o7', 'alice'),
    allow: true,
    reason: 'owner(ownerId)',
  },
  {
    name: 'non-owner updates',
    principal: bob,
    action: 'update',
    resource: order('o7', 'alice'),
    allow: false,
    reason: 'no rule allows',
  },
  {
    name: 'owner deletes without the write scope',
    principal: alice,
    action: 'delete',
    resource: order('o8', 'alice'),
    allow: false,
    reason: 'no rule allows',
  },
  {
    name: 'owner deletes with the write scope',
    principal: carol,
    action: 'delete',
    resource: order('o9', 'carol'),
    allow: true,
    reason: 'all(owner(ownerId), scope(orders:write))',
  },
  {
    name: 'admin archives (anyOf, first branch)',
    principal: root,
    action: 'archive',
    resource: order('o10', 'alice', 't1'),
    allow: true,
    reason: 'any(role(admin), all(tenant(tenantId), role(manager)))',
  },
  {
    name: 'manager of the tenant archives (anyOf, nested allOf)',
    principal: dave,
    action: 'archive',
    resource: order('o10', 'alice', 't1'),
    allow: true,
    reason: 'any(role(admin), all(tenant(tenantId), role(manager)))',
  },
  {
    name: 'manager of another tenant cannot archive',
    principal: dave,
    action: 'archive',
    resource: order('o11', 'alice', 't2'),
    allow: false,
    reason: 'no rule allows',
  },
  {
    name: 'owner in own tenant shares (two conditions)',
    principal: alice,
    action: 'share',
    resource: order('o12', 'alice', 't1'),
    allow: true,
    reason: 'all(owner(ownerId), tenant(tenantId))',
  },
  {
    name: 'owner outside own tenant cannot share',
    principal: alice,
    action: 'share',
    resource: order('o12', 'alice', 't2'),
    allow: false,
    reason: 'no rule allows',
  },
  {
    name: 'owner or same tenant (one rule, two conditions): owner',
    principal: alice,
    action: 'comment',
    resource: order('o15', 'alice', 't2'),
    allow: true,
    reason: 'any(owner(ownerId), tenant(tenantId))',
  },
  {
    name: 'owner or same tenant (one rule, two conditions): tenant',
    principal: alice,
    action: 'comment',
    resource: order('o16', 'bob', 't1'),
    allow: true,
    reason: 'any(owner(ownerId), tenant(tenantId))',
  },
  {
    name: 'owner or same tenant (one rule, two conditions): neither',
    principal: alice,
    action: 'comment',
    resource: order('o17', 'bob', 't2'),
    allow: false,
    reason: 'no rule allows',
  },
  {
    name: 'role and scope both held (allOf of booleans)',
    principal: erin,
    action: 'refund',
    resource: order('o18', 'alice', 't1'),
    allow: true,
    reason: 'all(role(support), scope(orders:refund))',
  },
  {
    name: 'role without the scope',
    principal: bob,
    action: 'refund',
    resource: order('o18', 'alice', 't1'),
    allow: false,
    reason: 'no rule allows',
  },
  {
    name: 'an empty rule list allows nobody',
    principal: root,
    action: 'audit',
    resource: order('o13', 'root'),
    allow: false,
    reason: 'no rule allows',
  },
  {
    name: 'tenant rule on a custom field',
    principal: bob,
    action: 'read',
    resource: { type: 'invoices', id: 'i1', orgId: 't2' },
    allow: true,
    reason: 'tenant(orgId)',
  },
  {
    name: 'unknown action',
    principal: root,
    action: 'publish',
    resource: order('o14', 'root'),
    allow: false,
    reason: 'no rule for action',
  },
  {
    name: 'unknown resource type',
    principal: root,
    action: 'read',
    resource: { type: 'users', id: 'u1', ownerId: 'root' },
    allow: false,
    reason: 'no rule for action',
  },
];

describe('createPolicy — authorize', () => {
  it.each(cases)('$name', ({ principal, action, resource, allow, reason }) => {
    const { policy } = setup();
    expect(policy.authorize(principal, action, resource)).toEqual({ allow, reason });
  });

  // Rule tables are plain objects: inherited members must never be taken for rules.
  const prototypeKeys = ['__proto__', 'constructor', 'toString', 'hasOwnProperty', 'valueOf'];
  it.each(prototypeKeys)("denies '%s' as a resource type or an action", (key) => {
    const { policy } = setup();
    expect(policy.authorize(root, 'read', { type: key, ownerId: 'root' })).toEqual({
      allow: false,
      reason: 'no rule for action',
    });
    expect(policy.authorize(root, key, order('o1', 'root'))).toEqual({
      allow: false,
      reason: 'no rule for action',
    });
    expect(policy.filter(root, key, 'orders')).toEqual({ kind: 'none' });
    expect(policy.filter(root, 'read', key)).toEqual({ kind: 'none' });
  });

  it('works without an audit sink', () => {
    const policy = createPolicy(RULES);
    expect(policy.authorize(alice, 'read', order('o1', 'alice')).allow).toBe(true);
    expect(policy.filter(alice, 'update', 'orders')).toEqual({
      kind: 'where',
      condition: { field: 'ownerId', equals: 'alice' },
    });
  });
});

describe('createPolicy — audit', () => {
  it('emits one authz.decision event per decision, with who, what and why', () => {
    const { policy, events } = setup();
    policy.authorize(alice, 'read', order('o1', 'alice'));
    policy.authorize(bob, 'update', order('o2', 'alice'));
    policy.authorize(root, 'update', { type: 'orders', ownerId: 'x' });
    expect(events).toEqual([
      {
        time: new Date(NOW_MS).toISOString(),
        action: 'authz.decision',
        outcome: 'success',
        component: 'guard',
        actor: { sub: 'alice', clientId: 'web' },
        target: { type: 'orders', id: 'o1' },
        decision: 'allow',
        reason: 'owner(ownerId)',
        details: { operation: 'read' },
      },
      {
        time: new Date(NOW_MS).toISOString(),
        action: 'authz.decision',
        outcome: 'failure',
        component: 'guard',
        actor: { sub: 'bob' },
        target: { type: 'orders', id: 'o2' },
        decision: 'deny',
        reason: 'no rule allows',
        details: { operation: 'update' },
      },
      expect.objectContaining({ target: { type: 'orders' }, decision: 'deny', reason: 'no rule allows' }),
    ]);
  });

  it('reports list filters too, and never record data', () => {
    const { policy, events } = setup({ component: 'orders-api' });
    policy.filter(bob, 'read', 'orders');
    policy.filter(carol, 'read', 'orders');
    policy.filter(carol, 'read', 'invoices');
    policy.filter(carol, 'publish', 'orders');
    expect(
      events.map(({ component, target, decision, reason, details }) => ({
        component,
        target,
        decision,
        reason,
        details,
      })),
    ).toEqual([
      {
        component: 'orders-api',
        target: { type: 'orders' },
        decision: 'allow',
        reason: 'all',
        details: { operation: 'read' },
      },
      {
        component: 'orders-api',
        target: { type: 'orders' },
        decision: 'allow',
        reason: 'filtered',
        details: { operation: 'read' },
      },
      {
        component: 'orders-api',
        target: { type: 'invoices' },
        decision: 'deny',
        reason: 'no rule allows',
        details: { operation: 'read' },
      },
      {
        component: 'orders-api',
        target: { type: 'orders' },
        decision: 'deny',
        reason: 'no rule for action',
        details: { operation: 'publish' },
      },
    ]);
  });

  it('a sink that throws: onAuditError is told, the decision stands', () => {
    const failures: unknown[] = [];
    const boom = new Error('sink down');
    const policy = createPolicy(RULES, {
      audit: () => {
        throw boom;
      },
      onAuditError: (err) => failures.push(err),
    });
    expect(policy.authorize(alice, 'read', order('o1', 'alice'))).toEqual({
      allow: true,
      reason: 'owner(ownerId)',
    });
    expect(policy.authorize(bob, 'update', order('o1', 'alice')).allow).toBe(false);
    expect(policy.filter(alice, 'update', 'orders').kind).toBe('where');
    expect(failures).toEqual([boom, boom, boom]);
  });

  it('a sink that rejects: onAuditError is told, the decision stands', async () => {
    const failures: unknown[] = [];
    const boom = new Error('sink down');
    const policy = createPolicy(RULES, {
      audit: () => Promise.reject(boom),
      onAuditError: (err) => failures.push(err),
    });
    expect(policy.authorize(alice, 'read', order('o1', 'alice')).allow).toBe(true);
    await new Promise((resolve) => setImmediate(resolve));
    expect(failures).toEqual([boom]);
  });

  it('a failing sink without onAuditError neither throws nor leaves an unhandled rejection', async () => {
    const throwing = createPolicy(RULES, {
      audit: () => {
        throw new Error('sink down');
      },
    });
    expect(throwing.authorize(alice, 'read', order('o1', 'alice')).allow).toBe(true);
    const rejecting = createPolicy(RULES, { audit: () => Promise.reject(new Error('sink down')) });
    expect(rejecting.authorize(bob, 'read', order('o1', 'alice')).allow).toBe(true);
    await new Promise((resolve) => setImmediate(resolve));
  });

  it('an async sink that resolves is fine', async () => {
    const seen: string[] = [];
    const policy = createPolicy(RULES, {
      audit: async (event) => {
        await Promise.resolve();
        seen.push(event.reason ?? '');
      },
      onAuditError: () => {
        throw new Error('not expected');
      },
    });
    policy.authorize(alice, 'read', order('o1', 'alice'));
    await new Promise((resolve) => setImmediate(resolve));
    expect(seen).toEqual(['owner(ownerId)']);
  });
});

describe('createPolicy — filter', () => {
  const filterCases = [
    { name: 'role grants all rows', principal: bob, action: 'read', type: 'orders', filter: { kind: 'all' } },
    {
      name: 'owner or same tenant',
      principal: alice,
      action: 'read',
      type: 'orders',
      filter: {
        kind: 'where',
        condition: {
          or: [
            { field: 'ownerId', equals: 'alice' },
            { field: 'tenantId', equals: 't1' },
          ],
        },
      },
    },
    {
      name: 'no tenant: own rows only',
      principal: carol,
      action: 'read',
      type: 'orders',
      filter: { kind: 'where', condition: { field: 'ownerId', equals: 'carol' } },
    },
    {
      name: 'two conditions that must both hold',
      principal: alice,
      action: 'share',
      type: 'orders',
      filter: {
        kind: 'where',
        condition: {
          and: [
            { field: 'ownerId', equals: 'alice' },
            { field: 'tenantId', equals: 't1' },
          ],
        },
      },
    },
    {
      name: 'a missing scope removes every row',
      principal: alice,
      action: 'delete',
      type: 'orders',
      filter: { kind: 'none' },
    },
    {
      name: 'no tenant on a tenant rule',
      principal: carol,
      action: 'read',
      type: 'invoices',
      filter: { kind: 'none' },
    },
    { name: 'unknown action', principal: root, action: 'publish', type: 'orders', filter: { kind: 'none' } },
    { name: 'unknown type', principal: root, action: 'read', type: 'users', filter: { kind: 'none' } },
    { name: 'empty rule list', principal: root, action: 'audit', type: 'orders', filter: { kind: 'none' } },
    {
      name: 'allOf of held role and scope',
      principal: erin,
      action: 'refund',
      type: 'orders',
      filter: { kind: 'all' },
    },
    {
      name: 'nested anyOf with a role',
      principal: root,
      action: 'archive',
      type: 'orders',
      filter: { kind: 'all' },
    },
    {
      name: 'nested anyOf down to one condition',
      principal: dave,
      action: 'archive',
      type: 'orders',
      filter: { kind: 'where', condition: { field: 'tenantId', equals: 't1' } },
    },
    {
      name: 'nested anyOf with nothing left',
      principal: alice,
      action: 'archive',
      type: 'orders',
      filter: { kind: 'none' },
    },
  ] as const;

  it.each(filterCases)('$name', ({ principal, action, type, filter }) => {
    const { policy } = setup();
    expect(policy.filter(principal, action, type)).toEqual(filter);
  });

  // Listing must never return a row that fetching it by id would refuse, nor hide one it would allow.
  it('matchesFilter(filter(p)) agrees with authorize(p) for every principal, action and record', () => {
    const { policy } = setup();
    const owners: unknown[] = ['alice', 'bob', 'carol', 'dave', 'root', undefined, 42, ''];
    const tenants: unknown[] = ['t1', 't2', undefined, null, ['t1']];
    const records: Resource[] = [];
    for (const ownerId of owners) {
      for (const tenantId of tenants) {
        records.push({ type: 'orders', id: `${String(ownerId)}-${String(tenantId)}`, ownerId, tenantId });
      }
    }
    const actions = [...Object.keys(RULES['orders'] ?? {}), 'publish'];
    let checked = 0;
    for (const [name, principal] of Object.entries(PRINCIPALS)) {
      for (const action of actions) {
        const filter = policy.filter(principal, action, 'orders');
        for (const record of records) {
          const allowed = policy.authorize(principal, action, record).allow;
          expect(matchesFilter(filter, record), `${name} ${action} ${String(record.id)}`).toBe(allowed);
          checked++;
        }
      }
    }
    expect(checked).toBe(Object.keys(PRINCIPALS).length * actions.length * records.length);
  });
});

describe('rules and describeRule', () => {
  it('builds rules with their default fields', () => {
    expect(owner()).toEqual({ owner: 'ownerId' });
    expect(owner('createdBy')).toEqual({ owner: 'createdBy' });
    expect(tenant()).toEqual({ tenant: 'tenantId' });
    expect(tenant('orgId')).toEqual({ tenant: 'orgId' });
    expect(role('a', 'b')).toEqual({ role: ['a', 'b'] });
    expect(scope('x', 'y')).toEqual({ scope: ['x', 'y'] });
    expect(allOf(owner(), role('a'))).toEqual({ all: [{ owner: 'ownerId' }, { role: ['a'] }] });
    expect(anyOf(owner(), role('a'))).toEqual({ any: [{ owner: 'ownerId' }, { role: ['a'] }] });
  });

  it.each([
    [owner(), 'owner(ownerId)'],
    [tenant('orgId'), 'tenant(orgId)'],
    [role('admin', 'support'), 'role(admin|support)'],
    [scope('orders:read', 'orders:write'), 'scope(orders:read orders:write)'],
    [allOf(owner(), scope('s')), 'all(owner(ownerId), scope(s))'],
    [anyOf(role('a'), allOf(tenant(), role('m'))), 'any(role(a), all(tenant(tenantId), role(m)))'],
  ])('describes %j as %s', (rule, text) => {
    expect(describeRule(rule)).toBe(text);
  });
});
