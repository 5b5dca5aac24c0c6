import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { hashToken, migrateToLatest, openSqlDatabase, randomToken } from '@gatehouse/core';
import { requireService, serviceUrl } from '@gatehouse/testing';
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  BFF_MIGRATIONS,
  createRedisSessionStore,
  createSqlSessionStore,
  type BffSession,
  type PendingLogin,
  type SessionStore,
} from '../src/index.js';
import type { BffDatabase } from '../src/sessions/migrations.js';

/**
 * One contract, every store: the SQL store (a real SQLite file) and the Redis store must behave
 * the same for the session manager, the routes and back-channel logout.
 */
const redisStatus = await requireService('redis', 'bff session store contract (Redis)');
const redisUrl = serviceUrl('redis');
const RUN_PREFIX = `gh_test:bff:${randomBytes(6).toString('hex')}:`;

type TokenField = 'id_token' | 'access_token' | 'refresh_token';

/** A store plus raw access to what it wrote, for the at-rest and tampering checks. */
interface Opened {
  readonly store: SessionStore;
  /** Everything the store holds, as raw text (rows or keys and values). */
  dump(): Promise<string>;
  readToken(idHash: string, field: TokenField): Promise<string>;
  writeToken(idHash: string, field: TokenField, value: string): Promise<void>;
  readVerifier(idHash: string): Promise<string>;
  writeVerifier(idHash: string, value: string): Promise<void>;
  close(): Promise<void>;
}

interface Backend {
  readonly name: string;
  readonly available: boolean;
  open(): Promise<Opened>;
}

const sqlite: Backend = {
  name: 'SQL (SQLite file)',
  available: true,
  async open() {
    const dir = mkdtempSync(join(tmpdir(), 'gh-bff-sessions-'));
    const sql = openSqlDatabase<BffDatabase>({ sqliteFile: join(dir, 'sessions.db') });
    await migrateToLatest(sql.db as never, 'bff', BFF_MIGRATIONS);
    const { db } = sql;
    const store = createSqlSessionStore({
      db,
      encryptionKey: randomBytes(32),
      onClose: () => sql.close(),
    });
    const login = (idHash: string) =>
      db.selectFrom('bff_login_requests').selectAll().where('id_hash', '=', idHash).executeTakeFirstOrThrow();
    return {
      store,
      async dump() {
        const sessions = await db.selectFrom('bff_sessions').selectAll().execute();
        const logins = await db.selectFrom('bff_login_requests').selectAll().execute();
        return JSON.stringify([sessions, logins]);
      },
      async readToken(idHash, field) {
        const row = await db
          .selectFrom('bff_sessions')
          .select(field)
          .where('id_hash', '=', idHash)
          .executeTakeFirstOrThrow();
        return String(row[field]);
      },
      async writeToken(idHash, field, value) {
        await db
          .updateTable('bff_sessions')
          .set({ [field]: value })
          .where('id_hash', '=', idHash)
          .execute();
      },
      readVerifier: async (idHash) => (await login(idHash)).code_verifier,
      async writeVerifier(idHash, value) {
        await db
          .updateTable('bff_login_requests')
          .set({ code_verifier: value })
          .where('id_hash', '=', idHash)
          .execute();
      },
      async close() {
        await store.close();
        rmSync(dir, { recursive: true, force: true });
      },
    };
  },
};

/** Every key under a prefix with its value, whatever its type. */
async function dumpRedis(raw: Redis, prefix: string): Promise<string> {
  const entries: unknown[] = [];
  for (const key of await raw.keys(`${prefix}*`)) {
    const type = await raw.type(key);
    if (type === 'string') entries.push([key, await raw.get(key)]);
    else if (type === 'hash') entries.push([key, await raw.hgetall(key)]);
    else if (type === 'set') entries.push([key, await raw.smembers(key)]);
    else if (type === 'zset') entries.push([key, await raw.zrange(key, 0, -1, 'WITHSCORES')]);
    else throw new Error(`unexpected key type ${type}`);
  }
  return JSON.stringify(entries);
}

const raw = new Redis(redisUrl, { lazyConnect: true });
raw.on('error', () => undefined);
afterAll(async () => {
  if (!redisStatus.available) return;
  const keys = await raw.keys(`${RUN_PREFIX}*`);
  if (keys.length > 0) await raw.del(...keys);
  await raw.quit();
});

const redisBackend: Backend = {
  name: 'Redis',
  available: redisStatus.available,
  async open() {
    // A fresh prefix per store: each test starts from an empty store.
    const prefix = `${RUN_PREFIX}${randomBytes(4).toString('hex')}:`;
    const store = await createRedisSessionStore({
      url: redisUrl,
      encryptionKey: randomBytes(32),
      keyPrefix: prefix,
    });
    const login = async (idHash: string): Promise<Record<string, unknown>> =>
      JSON.parse((await raw.get(`${prefix}login:${idHash}`))!) as Record<string, unknown>;
    return {
      store,
      dump: () => dumpRedis(raw, prefix),
      readToken: async (idHash, field) => (await raw.hget(`${prefix}session:${idHash}`, field))!,
      async writeToken(idHash, field, value) {
        await raw.hset(`${prefix}session:${idHash}`, field, value);
      },
      readVerifier: async (idHash) => String((await login(idHash))['code_verifier']),
      async writeVerifier(idHash, value) {
        const stored = { ...(await login(idHash)), code_verifier: value };
        await raw.set(`${prefix}login:${idHash}`, JSON.stringify(stored), 'KEEPTTL');
      },
      close: () => store.close(),
    };
  },
};

if (redisStatus.available) await raw.connect();

/** Wall time: Redis expires keys by its own clock, so the sessions live in the real present. */
const T = Date.now();
const HOUR = 3_600_000;

const newId = (): string => hashToken(randomToken(32));

function buildSession(overrides: Partial<BffSession> = {}): BffSession {
  return {
    ref: randomToken(16),
    sub: `user-${randomToken(6)}`,
    name: 'Alice Example',
    opSid: `sid-${randomToken(6)}`,
    idToken: `id-token-${randomToken(24)}`,
    accessToken: `access-token-${randomToken(24)}`,
    refreshToken: `refresh-token-${randomToken(24)}`,
    accessExpiresAt: T + 300_000,
    createdAt: T,
    lastSeenAt: T,
    expiresAt: T + 8 * HOUR,
    ...overrides,
  };
}

function buildLogin(overrides: Partial<PendingLogin> = {}): PendingLogin {
  return {
    state: randomToken(16),
    nonce: randomToken(16),
    codeVerifier: `verifier-${randomToken(32)}`,
    returnTo: '/accounts?tab=2',
    expiresAt: T + 600_000,
    ...overrides,
  };
}

const summary = (s: BffSession) => ({
  ref: s.ref,
  sub: s.sub,
  name: s.name,
  createdAt: s.createdAt,
  lastSeenAt: s.lastSeenAt,
  expiresAt: s.expiresAt,
});

const refs = (sessions: readonly { ref: string }[]): string[] => sessions.map((s) => s.ref).sort();

describe.each([sqlite, redisBackend])('SessionStore contract: $name', (backend) => {
  let opened: Opened;
  let store: SessionStore;
  beforeEach(async () => {
    if (!backend.available) return;
    opened = await backend.open();
    store = opened.store;
  });
  afterEach(async () => {
    if (backend.available) await opened.close();
  });

  /** Creates sessions and resolves their ids in the same order. */
  async function createAll(...sessions: BffSession[]): Promise<string[]> {
    const ids = sessions.map(newId);
    for (const [i, session] of sessions.entries()) await store.create(ids[i]!, session);
    return ids;
  }

  describe.skipIf(!backend.available)('pending logins', () => {
    it('round-trips a login and hands it out once', async () => {
      const id = newId();
      const login = buildLogin();
      await store.savePendingLogin(id, login);
      await expect(store.takePendingLogin(id)).resolves.toEqual(login);
      await expect(store.takePendingLogin(id)).resolves.toBeUndefined();
      await expect(store.takePendingLogin(newId())).resolves.toBeUndefined();
    });

    it('concurrent takes of one login: exactly one gets it (a replayed callback finds nothing)', async () => {
      const id = newId();
      const login = buildLogin();
      await store.savePendingLogin(id, login);
      const results = await Promise.all(Array.from({ length: 20 }, () => store.takePendingLogin(id)));
      expect(results.filter((r) => r !== undefined)).toEqual([login]);
    });

    it('refuses a second login under an id in use', async () => {
      const id = newId();
      await store.savePendingLogin(id, buildLogin());
      await expect(store.savePendingLogin(id, buildLogin())).rejects.toThrow();
    });
  });

  describe.skipIf(!backend.available)('sessions', () => {
    it('create / get round-trips every field, nulls included; an unknown id finds nothing', async () => {
      const full = buildSession();
      const sparse = buildSession({ name: null, opSid: null, refreshToken: null });
      const [a, b] = await createAll(full, sparse);
      await expect(store.get(a!)).resolves.toEqual(full);
      await expect(store.get(b!)).resolves.toEqual(sparse);
      await expect(store.get(newId())).resolves.toBeUndefined();
    });

    it('refuses a second session under an id or a ref in use', async () => {
      const session = buildSession();
      const [id] = await createAll(session);
      await expect(store.create(id!, buildSession())).rejects.toThrow();
      await expect(store.create(newId(), buildSession({ ref: session.ref }))).rejects.toThrow();
      await expect(store.get(id!)).resolves.toEqual(session);
    });

    it('touch moves lastSeenAt and nothing else', async () => {
      const session = buildSession();
      const [id] = await createAll(session);
      await store.touch(id!, T + 5000);
      await expect(store.get(id!)).resolves.toEqual({ ...session, lastSeenAt: T + 5000 });
    });

    it('updateTokens replaces the tokens; a null refresh token removes it, a new one comes back', async () => {
      const session = buildSession();
      const [id] = await createAll(session);
      const rotated = {
        idToken: 'id-token-rotated',
        accessToken: 'access-token-rotated',
        refreshToken: 'refresh-token-rotated',
        accessExpiresAt: T + 900_000,
      };
      await store.updateTokens(id!, rotated);
      await expect(store.get(id!)).resolves.toEqual({ ...session, ...rotated });
      await store.updateTokens(id!, { ...rotated, refreshToken: null });
      await expect(store.get(id!)).resolves.toEqual({ ...session, ...rotated, refreshToken: null });
      await store.updateTokens(id!, rotated);
      await expect(store.get(id!)).resolves.toEqual({ ...session, ...rotated });
    });

    it('delete resolves what it removed (tokens for revocation at the OP), then nothing', async () => {
      const session = buildSession();
      const [id, other] = await createAll(session, buildSession({ sub: session.sub }));
      await expect(store.delete(id!)).resolves.toEqual(session);
      await expect(store.get(id!)).resolves.toBeUndefined();
      await expect(store.delete(id!)).resolves.toBeUndefined();
      expect(refs(await store.list(session.sub))).toEqual([(await store.get(other!))!.ref]);
    });

    it('touch and updateTokens after delete do not resurrect the session', async () => {
      const session = buildSession();
      const [id] = await createAll(session);
      await store.delete(id!);
      await store.touch(id!, T + 1000);
      await store.updateTokens(id!, {
        idToken: 'x',
        accessToken: 'y',
        refreshToken: 'z',
        accessExpiresAt: T + 1000,
      });
      await expect(store.get(id!)).resolves.toBeUndefined();
      await expect(store.list(session.sub)).resolves.toEqual([]);
      await expect(store.deleteMatching({ ref: session.ref })).resolves.toEqual([]);
      await expect(store.deleteExpired(T + 10 * HOUR, T + 10 * HOUR)).resolves.toBe(0);
      expect(await opened.dump()).not.toContain(session.ref);
    });

    it('list shows one user’s sessions oldest first, without tokens', async () => {
      const sub = 'user-list';
      const later = buildSession({ sub, createdAt: T + 2000, lastSeenAt: T + 2000 });
      const earlier = buildSession({ sub, createdAt: T + 1000, lastSeenAt: T + 1000, name: null });
      await createAll(later, earlier, buildSession());
      await expect(store.list(sub)).resolves.toEqual([summary(earlier), summary(later)]);
      await expect(store.list('nobody')).resolves.toEqual([]);
    });
  });

  describe.skipIf(!backend.available)('deleteMatching', () => {
    // alice: two browsers in OP session 1, one in OP session 2; bob: one in OP session 1 (the
    // OP's sid is unique per user in practice, but the match must not rely on it).
    const alice1 = buildSession({ sub: 'alice', opSid: 'op-1' });
    const alice2 = buildSession({ sub: 'alice', opSid: 'op-1' });
    const alice3 = buildSession({ sub: 'alice', opSid: 'op-2' });
    const bob = buildSession({ sub: 'bob', opSid: 'op-1' });
    const noSid = buildSession({ sub: 'alice', opSid: null });
    const all = [alice1, alice2, alice3, bob, noSid];

    it.each<[string, Parameters<SessionStore['deleteMatching']>[0], BffSession[]]>([
      ['nothing asked: nothing removed', {}, []],
      ['by ref', { ref: alice2.ref }, [alice2]],
      ['by an unknown ref', { ref: 'unknown' }, []],
      ['by ref and the wrong sub', { ref: alice2.ref, sub: 'bob' }, []],
      ['by sub', { sub: 'alice' }, [alice1, alice2, alice3, noSid]],
      ['by opSid', { opSid: 'op-1' }, [alice1, alice2, bob]],
      ['by sub and opSid (both must match)', { sub: 'alice', opSid: 'op-1' }, [alice1, alice2]],
      ['by ref, sub and opSid', { ref: alice3.ref, sub: 'alice', opSid: 'op-2' }, [alice3]],
    ])('%s', async (_name, match, expected) => {
      await createAll(...all);
      const removed = await store.deleteMatching(match);
      expect(refs(removed)).toEqual(refs(expected));
      // What is returned carries the tokens (to revoke them at the OP).
      for (const session of removed) expect(session).toEqual(all.find((s) => s.ref === session.ref));
      const left = [...(await store.list('alice')), ...(await store.list('bob'))];
      expect(refs(left)).toEqual(refs(all.filter((s) => !expected.includes(s))));
      await expect(store.deleteMatching(match)).resolves.toEqual([]);
    });
  });

  describe.skipIf(!backend.available)('deleteExpired', () => {
    it('removes sessions past their absolute lifetime and stale logins, inclusive of now', async () => {
      const sub = 'user-absolute';
      const dying = buildSession({ sub, expiresAt: T + HOUR });
      const living = buildSession({ sub, expiresAt: T + 8 * HOUR });
      const [dyingId, livingId] = await createAll(dying, living);
      const [staleLogin, edgeLogin, freshLogin] = [newId(), newId(), newId()];
      await store.savePendingLogin(staleLogin, buildLogin({ expiresAt: T + 600_000 }));
      await store.savePendingLogin(edgeLogin, buildLogin({ expiresAt: T + HOUR }));
      await store.savePendingLogin(freshLogin, buildLogin({ expiresAt: T + 2 * HOUR }));

      await expect(store.deleteExpired(T + HOUR, T - HOUR)).resolves.toBe(3);
      await expect(store.get(dyingId!)).resolves.toBeUndefined();
      await expect(store.get(livingId!)).resolves.toEqual(living);
      await expect(store.takePendingLogin(staleLogin)).resolves.toBeUndefined();
      await expect(store.takePendingLogin(edgeLogin)).resolves.toBeUndefined();
      await expect(store.takePendingLogin(freshLogin)).resolves.toBeDefined();
      // The indexes forgot it too.
      await expect(store.list(sub)).resolves.toEqual([summary(living)]);
      expect(refs(await store.deleteMatching({ opSid: dying.opSid! }))).toEqual([]);
      await expect(store.deleteExpired(T + HOUR, T - HOUR)).resolves.toBe(0);
    });

    it('removes sessions idle since idleBefore; a touch keeps one alive', async () => {
      const idle = buildSession();
      const active = buildSession({ lastSeenAt: T + 600_000 });
      const touched = buildSession();
      const [idleId, activeId, touchedId] = await createAll(idle, active, touched);
      await store.touch(touchedId!, T + 600_000);

      await expect(store.deleteExpired(T + 1_200_000, T + 300_000)).resolves.toBe(1);
      await expect(store.get(idleId!)).resolves.toBeUndefined();
      await expect(store.get(activeId!)).resolves.toEqual(active);
      await expect(store.get(touchedId!)).resolves.toEqual({ ...touched, lastSeenAt: T + 600_000 });
    });

    it('clears a backlog larger than one sweep batch in one call', async () => {
      const count = 520;
      await Promise.all(
        Array.from({ length: count }, () =>
          store.create(newId(), buildSession({ sub: 'many', expiresAt: T + HOUR })),
        ),
      );
      await Promise.all(Array.from({ length: count }, () => store.savePendingLogin(newId(), buildLogin())));
      await expect(store.deleteExpired(T + 2 * HOUR, T - HOUR)).resolves.toBe(2 * count);
      await expect(store.list('many')).resolves.toEqual([]);
    });
  });

  describe.skipIf(!backend.available)('at rest', () => {
    it('holds no token, PKCE verifier or cookie value in clear: a dump yields nothing usable', async () => {
      const cookieValue = randomToken(32);
      const session = buildSession();
      await store.create(hashToken(cookieValue), session);
      const login = buildLogin();
      const loginCookie = randomToken(32);
      await store.savePendingLogin(hashToken(loginCookie), login);

      const dump = await opened.dump();
      expect(dump).toContain(session.ref);
      for (const secret of [
        session.idToken,
        session.accessToken,
        session.refreshToken!,
        login.codeVerifier,
        cookieValue,
        loginCookie,
      ]) {
        expect(dump).not.toContain(secret);
      }
    });

    // Each case rewrites one stored value as someone with write access to the store could; the
    // AAD binds each ciphertext to its session ref and field (AES-256-GCM, NIST SP 800-38D §7.2).
    it.each<[string, (victim: string, other: string) => Promise<void>]>([
      [
        'one bit flipped in the ciphertext',
        async (victim) => {
          const sealed = await opened.readToken(victim, 'access_token');
          const [version, iv, body, tag] = sealed.split('.');
          const bytes = Buffer.from(body!, 'base64url');
          bytes[0] = bytes[0]! ^ 1;
          await opened.writeToken(
            victim,
            'access_token',
            [version, iv, bytes.toString('base64url'), tag].join('.'),
          );
        },
      ],
      [
        'the tag cut short',
        async (victim) => {
          const sealed = await opened.readToken(victim, 'refresh_token');
          await opened.writeToken(victim, 'refresh_token', sealed.slice(0, -4));
        },
      ],
      [
        'another session’s ciphertext moved in (other ref)',
        async (victim, other) => {
          await opened.writeToken(victim, 'access_token', await opened.readToken(other, 'access_token'));
        },
      ],
      [
        'the ID token’s ciphertext in the access token field (other field)',
        async (victim) => {
          await opened.writeToken(victim, 'access_token', await opened.readToken(victim, 'id_token'));
        },
      ],
      [
        'a token in clear instead of a ciphertext',
        async (victim) => {
          await opened.writeToken(victim, 'id_token', 'eyJhbGciOiJub25lIn0.eyJzdWIiOiJldmUifQ.');
        },
      ],
    ])('a tampered token does not open: %s', async (_name, tamper) => {
      const [victim, other] = await createAll(buildSession(), buildSession());
      await tamper(victim!, other!);
      await expect(store.get(victim!)).rejects.toMatchObject({ code: 'ERR_STORE_CORRUPT' });
      await expect(store.get(other!)).resolves.toBeDefined();
    });

    it('a PKCE verifier moved to another pending login does not open', async () => {
      const [victim, other] = [newId(), newId()];
      await store.savePendingLogin(victim, buildLogin());
      await store.savePendingLogin(other, buildLogin());
      await opened.writeVerifier(victim, await opened.readVerifier(other));
      await expect(store.takePendingLogin(victim)).rejects.toMatchObject({ code: 'ERR_STORE_CORRUPT' });
    });
  });
});

describe.skipIf(!redisStatus.available)('Redis session store specifics', () => {
  const key = randomBytes(32);
  let prefix: string;
  let store: SessionStore;
  beforeEach(async () => {
    prefix = `${RUN_PREFIX}${randomBytes(4).toString('hex')}:`;
    store = await createRedisSessionStore({ url: redisUrl, encryptionKey: key, keyPrefix: prefix });
  });
  afterEach(() => store.close());

  it('a session key expires at the absolute timeout (PEXPIREAT), its ref with it', async () => {
    const session = buildSession();
    const id = newId();
    await store.create(id, session);
    await expect(raw.pexpiretime(`${prefix}session:${id}`)).resolves.toBe(session.expiresAt);
    await expect(raw.pexpiretime(`${prefix}ref:${session.ref}`)).resolves.toBe(session.expiresAt);
    const loginId = newId();
    const login = buildLogin();
    await store.savePendingLogin(loginId, login);
    // A minute of grace, so a late callback reads login_expired (as with SQL before the sweep).
    await expect(raw.pexpiretime(`${prefix}login:${loginId}`)).resolves.toBe(login.expiresAt + 60_000);
  });

  it('a session whose key expired is gone everywhere, and the sweep prunes its index entries', async () => {
    const session = buildSession({ sub: 'user-expired-key', opSid: 'sid-expired-key' });
    const id = newId();
    await store.create(id, session);
    await raw.del(`${prefix}session:${id}`); // what Redis does at PEXPIREAT

    await expect(store.get(id)).resolves.toBeUndefined();
    await expect(store.list(session.sub)).resolves.toEqual([]);
    await store.touch(id, T + 1000);
    await expect(raw.exists(`${prefix}session:${id}`)).resolves.toBe(0);
    await expect(store.deleteExpired(session.expiresAt, T - HOUR)).resolves.toBe(0);
    await expect(
      raw.exists(`${prefix}sub:${session.sub}`, `${prefix}op-sid:${session.opSid!}`),
    ).resolves.toBe(0);
    await expect(raw.hexists(`${prefix}owners`, id)).resolves.toBe(0);
    await expect(raw.zscore(`${prefix}expires`, id)).resolves.toBeNull();
    await expect(raw.zscore(`${prefix}seen`, id)).resolves.toBeNull();
  });

  it('two stores on one Redis (two BFF instances) share sessions; every key sits under the prefix', async () => {
    const client = new Redis(redisUrl);
    const second = await createRedisSessionStore({ client, encryptionKey: key, keyPrefix: prefix });
    const session = buildSession();
    const id = newId();
    await store.create(id, session);
    await expect(second.get(id)).resolves.toEqual(session);
    await second.touch(id, T + 2000);
    await expect(store.get(id)).resolves.toMatchObject({ lastSeenAt: T + 2000 });
    await expect(second.deleteMatching({ sub: session.sub })).resolves.toHaveLength(1);
    await expect(store.get(id)).resolves.toBeUndefined();
    // A store given a client leaves it open: the caller owns it.
    await second.close();
    await expect(client.ping()).resolves.toBe('PONG');
    await client.quit();
  });

  it('another key opens nothing (a dump plus the wrong key yields no token)', async () => {
    const session = buildSession();
    const id = newId();
    await store.create(id, session);
    const stranger = await createRedisSessionStore({
      url: redisUrl,
      encryptionKey: randomBytes(32),
      keyPrefix: prefix,
    });
    await expect(stranger.get(id)).rejects.toMatchObject({ code: 'ERR_STORE_CORRUPT' });
    await stranger.close();
  });

  it('refuses an encryption key of the wrong size at creation', async () => {
    await expect(
      createRedisSessionStore({ url: redisUrl, encryptionKey: randomBytes(16), keyPrefix: prefix }),
    ).rejects.toMatchObject({ code: 'ERR_CONFIG_INVALID' });
  });
});

describe('Redis session store unreachable', () => {
  it('fails creation with ERR_STORE_UNAVAILABLE (a wrong URL is caught at startup)', async () => {
    const { createServer } = await import('node:net');
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as { port: number };
    await new Promise<void>((resolve) => server.close(() => resolve()));
    await expect(
      createRedisSessionStore({ url: `redis://127.0.0.1:${port}`, encryptionKey: randomBytes(32) }),
    ).rejects.toMatchObject({ code: 'ERR_STORE_UNAVAILABLE' });
  });
});
