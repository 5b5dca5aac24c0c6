import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  createLogger,
  createMemorySharedState,
  openSqlDatabase,
  type SharedState,
  type SqlDatabase,
} from '@gatehouse/core';
import type { Kysely } from 'kysely';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  CLIENT_CACHE_TTL_MS,
  CLIENT_CHANNEL,
  createClientStore,
  type ClientStore,
} from '../src/clients/client-store.js';
import { migrateAuthServer } from '../src/create-auth-server.js';
import type { AuthDatabase } from '../src/db/schema.js';
import { TestClock, describeEachStore, startAuthServer, type TestAuthServer } from './helpers/harness.js';
import {
  API,
  TEST_RESOURCES,
  basic,
  newClient,
  postForm,
  tokenRequest,
  type TestClient,
} from './helpers/oauth-client.js';

const CC = { grant_type: 'client_credentials', scope: 'accounts:read' };

/** Resolves with the next message on `channel` (subscribed before the change that sends it). */
async function nextEvent(state: SharedState, channel: string): Promise<() => Promise<string>> {
  let deliver: (message: string) => void = () => undefined;
  const received = new Promise<string>((resolve) => {
    deliver = resolve;
  });
  const unsubscribe = await state.subscribe(channel, (message) => {
    deliver(message);
  });
  return async () => {
    const message = await received;
    await unsubscribe();
    return message;
  };
}

describeEachStore('client cache: clients served from memory, changes seen at once', (stores) => {
  let a: TestAuthServer;
  let b: TestAuthServer;

  beforeAll(async () => {
    a = await startAuthServer({ stores, config: { resources: TEST_RESOURCES } });
    // A second instance on the same database and shared state (its own client cache).
    b = await startAuthServer({ stores, shareWith: a, config: { resources: TEST_RESOURCES } });
  });
  afterAll(async () => {
    await b.close();
    await a.close();
  });

  const ccClient = (as: TestAuthServer): Promise<TestClient> =>
    newClient(as, { grantTypes: ['client_credentials'], scopes: ['accounts:read'], resources: [API] });

  it('still compares the secret on every request when the client is cached', async () => {
    const client = await ccClient(a);
    expect((await tokenRequest(a, client, CC)).status).toBe(200);
    const wrong = await tokenRequest(a, { ...client, secret: `${client.secret ?? ''}x` }, CC);
    expect(wrong.status).toBe(401);
    expect(wrong.body['error']).toBe('invalid_client');
    expect((await tokenRequest(a, client, CC)).status).toBe(200);
  });

  it('a client deleted on this instance stops authenticating at once', async () => {
    const client = await ccClient(a);
    expect((await tokenRequest(a, client, CC)).status).toBe(200);
    expect(await a.server.services.clients.delete(client.id)).toBe(true);
    const refused = await tokenRequest(a, client, CC);
    expect(refused.status).toBe(401);
    expect(refused.body['error']).toBe('invalid_client');
  });

  it('a client deleted on another instance stops authenticating once the event arrives', async () => {
    const client = await ccClient(a);
    // b reads and caches it.
    expect((await tokenRequest(b, client, CC)).status).toBe(200);
    const event = await nextEvent(a.deps.state, CLIENT_CHANNEL);
    expect(await a.server.services.clients.delete(client.id)).toBe(true);
    expect(JSON.parse(await event())).toEqual({ event: 'deleted', clientId: client.id });
    // The clock has not moved: only the event can have dropped b's copy.
    const refused = await tokenRequest(b, client, CC);
    expect(refused.status).toBe(401);
    expect(refused.body['error']).toBe('invalid_client');
  });

  it('a deletion whose event never arrives is seen within the cache lifetime', async () => {
    const client = await ccClient(a);
    expect((await tokenRequest(b, client, CC)).status).toBe(200);
    // Deleted behind the store's back: no event is published (as when pub/sub is down).
    await b.deps.db.deleteFrom('clients').where('client_id', '=', client.id).execute();
    // Served from b's cache until it expires: bounded staleness, the secret still checked.
    expect((await tokenRequest(b, client, CC)).status).toBe(200);
    expect((await tokenRequest(b, { ...client, secret: 'not-the-secret' }, CC)).status).toBe(401);
    b.clock.advance(CLIENT_CACHE_TTL_MS / 1000);
    const refused = await tokenRequest(b, client, CC);
    expect(refused.status).toBe(401);
    expect(refused.body['error']).toBe('invalid_client');
  });

  it('an unknown client is never cached: one created elsewhere works at once', async () => {
    const id = `late-${stores.sql}-${String(Date.now())}`;
    const unknown = await postForm(`${b.url}/token`, CC, {
      headers: { authorization: basic(id, 'whatever') },
    });
    expect(unknown.status).toBe(401);
    const created = await newClient(a, {
      clientId: id,
      grantTypes: ['client_credentials'],
      scopes: ['accounts:read'],
      resources: [API],
    });
    expect((await tokenRequest(b, created, CC)).status).toBe(200);
  });
});

describe('client cache without pub/sub (two instances on one SQLite file, separate shared states)', () => {
  let dir: string;
  let a: TestAuthServer;
  let b: TestAuthServer;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'gatehouse-client-cache-'));
    const clock = new TestClock();
    const file = join(dir, 'auth.db');
    a = await startAuthServer({ sqliteFile: file, clock, config: { resources: TEST_RESOURCES } });
    b = await startAuthServer({ sqliteFile: file, clock, config: { resources: TEST_RESOURCES } });
  });
  afterAll(async () => {
    await b.close();
    await a.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('a client deleted on one instance stops authenticating on the other within the cache lifetime', async () => {
    const client = await newClient(a, {
      grantTypes: ['client_credentials'],
      scopes: ['accounts:read'],
      resources: [API],
    });
    expect((await tokenRequest(b, client, CC)).status).toBe(200);
    expect(await a.server.services.clients.delete(client.id)).toBe(true);
    expect((await tokenRequest(a, client, CC)).status).toBe(401);
    // b never hears of it (its shared state is its own process memory).
    b.clock.advance(CLIENT_CACHE_TTL_MS / 1000 - 1);
    expect((await tokenRequest(b, client, CC)).status).toBe(200);
    b.clock.advance(1);
    expect((await tokenRequest(b, client, CC)).status).toBe(401);
  });
});

/** Shared state whose pub/sub delivers synchronously inside `publish` (to order events exactly). */
function synchronousPubSub(): SharedState {
  const base = createMemorySharedState();
  const listeners = new Map<string, Set<(message: string) => void>>();
  return {
    ...base,
    publish(channel, message) {
      for (const listener of listeners.get(channel) ?? []) listener(message);
      return Promise.resolve();
    },
    subscribe(channel, listener) {
      const set = listeners.get(channel) ?? new Set();
      set.add(listener);
      listeners.set(channel, set);
      return Promise.resolve(() => {
        set.delete(listener);
        return Promise.resolve();
      });
    },
  };
}

describe('client cache: reads racing with invalidations (unit)', () => {
  let db: Kysely<AuthDatabase>;
  let sql: SqlDatabase<AuthDatabase>;
  let state: SharedState;
  let store: ClientStore;
  const clock = new TestClock();

  beforeAll(async () => {
    sql = openSqlDatabase<AuthDatabase>({ sqliteFile: ':memory:' });
    db = sql.db;
    await migrateAuthServer(db as Kysely<unknown>);
  });
  afterEach(async () => {
    await store.stop();
    await state.close();
  });
  afterAll(async () => {
    await sql.close();
  });

  async function startStore(): Promise<void> {
    state = synchronousPubSub();
    store = createClientStore(
      { db, now: clock.now, state, logger: createLogger({ component: 'test', level: 'silent' }) },
      { cacheTtlMs: CLIENT_CACHE_TTL_MS },
    );
    await store.start();
  }

  it('a read that started before an invalidation does not cache what it read', async () => {
    await startStore();
    const { client } = await store.create({ name: 'racer', grantTypes: ['client_credentials'] });
    const inFlight = store.get(client.clientId);
    // Another instance deletes it while the read is in flight (the event arrives first).
    await state.publish(CLIENT_CHANNEL, JSON.stringify({ event: 'deleted', clientId: client.clientId }));
    await db.deleteFrom('clients').where('client_id', '=', client.clientId).execute();
    // The concurrent caller may see the old row (the read began before the delete)...
    expect((await inFlight)?.clientId).toBe(client.clientId);
    // ...but nothing stale was cached: the next read goes to the database.
    expect(await store.get(client.clientId)).toBeUndefined();
  });

  it('a clock set back does not stretch the cache lifetime', async () => {
    await startStore();
    const { client } = await store.create({ name: 'clock', grantTypes: ['client_credentials'] });
    expect((await store.get(client.clientId))?.clientId).toBe(client.clientId);
    await db.deleteFrom('clients').where('client_id', '=', client.clientId).execute();
    clock.advance(-3600);
    try {
      expect(await store.get(client.clientId)).toBeUndefined();
    } finally {
      clock.advance(3600);
    }
  });

  it('an unreadable event drops every cached client', async () => {
    await startStore();
    const { client } = await store.create({ name: 'garbled', grantTypes: ['client_credentials'] });
    expect((await store.get(client.clientId))?.clientId).toBe(client.clientId);
    await db.deleteFrom('clients').where('client_id', '=', client.clientId).execute();
    expect((await store.get(client.clientId))?.clientId).toBe(client.clientId);
    await state.publish(CLIENT_CHANNEL, 'not json');
    expect(await store.get(client.clientId)).toBeUndefined();
  });

  it('concurrent reads of one client share one database read, and the cached client is immutable', async () => {
    await startStore();
    const { client } = await store.create({
      name: 'shared',
      grantTypes: ['client_credentials'],
      scopes: ['a', 'b'],
    });
    const [first, second] = await Promise.all([store.get(client.clientId), store.get(client.clientId)]);
    expect(first).toBe(second);
    expect(Object.isFrozen(first)).toBe(true);
    expect(Object.isFrozen(first?.scopes)).toBe(true);
    expect(() => (first?.scopes as string[]).push('admin')).toThrow(TypeError);
  });

  it('without a cache every get reads the database (admin tools, the CLI)', async () => {
    state = createMemorySharedState();
    store = createClientStore({
      db,
      now: clock.now,
      state,
      logger: createLogger({ component: 'test', level: 'silent' }),
    });
    await store.start();
    const { client } = await store.create({ name: 'uncached', grantTypes: ['client_credentials'] });
    expect((await store.get(client.clientId))?.clientId).toBe(client.clientId);
    await db.deleteFrom('clients').where('client_id', '=', client.clientId).execute();
    expect(await store.get(client.clientId)).toBeUndefined();
  });
});
