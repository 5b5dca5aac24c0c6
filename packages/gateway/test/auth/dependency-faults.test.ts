import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import {
  createLogger,
  createRedisSharedState,
  openSqlDatabase,
  readRevocationsAfter,
  type SharedState,
  type SqlDatabase,
} from '@gatehouse/core';
import {
  freePort,
  relayTargetOf,
  requireService,
  serviceUrl,
  startTcpRelay,
  type TcpRelay,
} from '@gatehouse/testing';
import { sql, type Kysely } from 'kysely';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { buildGatewayConfig, createGateway, type Gateway, type GatewayConfigInput } from '../../src/index.js';
import { REVOCATION_CHANNEL } from '../../src/auth/index.js';
import {
  ACCOUNTS,
  API,
  postForm,
  startAuthServer,
  type TestAuthServer,
  type TestClient,
} from '../support/auth-server.js';
import { startRecordingUpstream, type RecordingUpstream } from '../support/recording-upstream.js';
import { ROUTE, bearer, startAuthenticator } from './helpers.js';

/**
 * Issue 7, "Faults": the gateway's dependencies going down and coming back, with real components —
 * the real auth server behind a TCP relay that is cut and restored, real Redis behind another, the
 * revocation feed on a real SQLite file and a real PostgreSQL schema. What a client sees over HTTP
 * (status, Retry-After, problem+json) and what the gateway's /metrics says.
 */

const redis = await requireService('redis', 'gateway dependency faults (Redis cut)');
const pg = await requireService('postgres', 'gateway dependency faults (revocation feed on PostgreSQL)');

// ---- a gateway on a given database and shared state ----------------------------------------------

interface RunningGateway {
  readonly gateway: Gateway;
  readonly url: string;
  readonly lines: string[];
  close(): Promise<void>;
}

async function runGateway(
  input: Omit<GatewayConfigInput, 'listen'>,
  deps: {
    db: Kysely<unknown>;
    state: SharedState;
    redisUrl?: string;
    redisPrefix?: string;
    now?: () => number;
  },
): Promise<RunningGateway> {
  const lines: string[] = [];
  const logger = createLogger({
    component: 'gateway',
    level: 'info',
    destination: new Writable({
      write(chunk: Buffer, _encoding, done) {
        lines.push(chunk.toString('utf8'));
        done();
      },
    }),
  });
  const gateway = await createGateway({
    config: buildGatewayConfig({ listen: { host: '127.0.0.1', port: 0 }, ...input }),
    baseDir: process.cwd(),
    logger,
    ...deps,
  });
  const url = await gateway.listen();
  return { gateway, url, lines, close: () => gateway.close(500) };
}

/** `gatehouse_shared_state_up{component="gateway"}` as the gateway's /metrics renders it. */
function sharedStateUp(gateway: Gateway): number | undefined {
  const match = /^gatehouse_shared_state_up\{component="gateway"\} (\d+)$/m.exec(gateway.metrics.render());
  return match === null ? undefined : Number(match[1]);
}

async function get(
  url: string,
  token?: string,
): Promise<{ status: number; headers: Headers; body: Record<string, unknown> }> {
  const res = await fetch(url, { headers: token === undefined ? {} : { authorization: `Bearer ${token}` } });
  const text = await res.text();
  let body: Record<string, unknown> = {};
  try {
    body = JSON.parse(text) as Record<string, unknown>;
  } catch {
    body = {};
  }
  return { status: res.status, headers: res.headers, body };
}

const statusOf = async (url: string, token?: string): Promise<number> => (await get(url, token)).status;

/**
 * A 503 the client can act on: RFC 9110 §10.2.3 Retry-After and an RFC 9457 problem. A 5xx stays
 * generic (no code, no detail: which dependency failed is in the gateway's log, not the answer).
 */
function expectRetryLater(answer: { status: number; headers: Headers; body: Record<string, unknown> }): void {
  expect(answer.status).toBe(503);
  expect(answer.headers.get('retry-after')).toMatch(/^[1-9]\d*$/);
  expect(answer.headers.get('content-type')).toBe('application/problem+json');
  expect(answer.body).toMatchObject({ type: 'about:blank', title: 'Service Unavailable', status: 503 });
  expect(Object.keys(answer.body).sort()).toEqual(['instance', 'status', 'title', 'type']);
}

const ACCOUNTS_ROUTE: GatewayConfigInput['routes'][number] = {
  id: 'accounts',
  match: { pathPrefix: '/api/accounts' },
  upstream: 'app',
  auth: 'any',
  audience: ACCOUNTS,
  scopes: { GET: ['accounts:read'] },
};

const tempDirs: string[] = [];
afterAll(() => {
  for (const dir of tempDirs) rmSync(dir, { recursive: true, force: true });
});

function sqliteFile(): string {
  const dir = mkdtempSync(join(tmpdir(), 'gateway-faults-'));
  tempDirs.push(dir);
  return join(dir, 'gatehouse.db');
}

let upstream: RecordingUpstream;
beforeAll(async () => {
  upstream = await startRecordingUpstream();
});
afterAll(async () => {
  await upstream.close();
});

// ---- the auth server goes away ------------------------------------------------------------------

describe('auth server unreachable', () => {
  interface Stack {
    readonly as: TestAuthServer;
    readonly relay: TcpRelay;
    readonly gw: RunningGateway;
    readonly api: string;
    readonly opaqueClient: TestClient;
    readonly jwtClient: TestClient;
    /** A client_credentials token minted through the relay (the issuer clients know). */
    readonly mint: (client: TestClient, resource?: string) => Promise<string>;
  }
  const stacks: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const release of stacks.splice(0)) await release();
  });

  /** The auth server listens on its own port; the gateway and clients reach it only through the relay. */
  async function startStack(): Promise<Stack> {
    const port = await freePort();
    const relay = await startTcpRelay([{ host: '127.0.0.1', port }]);
    const issuer = relay.url('http');
    const as = await startAuthServer({
      config: {
        issuer,
        listen: { host: '127.0.0.1', port },
        // Key set fresh for 60 s at the gateway; internal JWTs outlive the external tokens (300 s).
        keys: { jwksMaxAgeSec: 60 },
        tokens: { exchangeTtlSec: 600 },
      },
    });
    const database = openSqlDatabase<unknown>({ sqliteFile: sqliteFile() });
    const gatewayClient = await as.createGatewayClient();
    const gw = await runGateway(
      {
        auth: { issuer, audience: [API], ...gatewayClient, jwksMaxStaleSec: 60 },
        bruteForce: { enabled: false },
        upstreams: { app: { targets: [upstream.url] } },
        routes: [ACCOUNTS_ROUTE],
      },
      { db: database.db, state: as.state, now: as.clock.now },
    );
    stacks.push(async () => {
      await gw.close();
      await as.close();
      await relay.close();
      await database.close();
    });
    return {
      as,
      relay,
      gw,
      api: `${gw.url}/api/accounts`,
      opaqueClient: await as.createClient({ scopes: ['accounts:read'], resources: [API, ACCOUNTS] }),
      jwtClient: await as.createClient({
        scopes: ['accounts:read'],
        resources: [API, ACCOUNTS],
        tokenFormat: 'jwt',
      }),
      mint: async (client, resource) => {
        const { status, body } = await postForm(`${issuer}/token`, client, {
          grant_type: 'client_credentials',
          resource,
        });
        expect(status).toBe(200);
        return body['access_token'] as string;
      },
    };
  }

  it('JWTs verify with the cached key set up to jwksMaxStaleSec past its freshness, then 503; back by themselves', async () => {
    const { as, relay, gw, api, jwtClient, mint } = await startStack();
    // Minted for the route's service: verified locally and forwarded, no exchange needed.
    const seen = await mint(jwtClient, ACCOUNTS);
    const unseen = await mint(jwtClient, ACCOUNTS);
    expect(await statusOf(api, seen)).toBe(200);
    await relay.cut();

    expect(await statusOf(api, seen)).toBe(200);
    expect(await statusOf(api, unseen)).toBe(200); // a new JWT: the cached keys verify it
    as.clock.advance(100); // key set 40 s past its freshness (60 s): stale, within jwksMaxStaleSec
    expect(await statusOf(api, seen)).toBe(200);
    expect(await statusOf(api, unseen)).toBe(200);
    expect(gw.lines.some((line) => line.includes('jwks.stale_served'))).toBe(true);
    as.clock.advance(30); // 70 s stale: no longer trusted
    expectRetryLater(await get(api, seen));
    expectRetryLater(await get(api, unseen));

    await relay.restore();
    // The key set is fetched again at most once per cooldown (10 s on the gateway's clock).
    let status = 0;
    for (let attempt = 0; attempt < 5 && status !== 200; attempt++) {
      as.clock.advance(11);
      status = await statusOf(api, seen);
    }
    expect(status).toBe(200);
    expect(await statusOf(api, unseen)).toBe(200);
  });

  it('opaque tokens: a cached answer serves until the token exp, a new token gets 503 with Retry-After; back by itself', async () => {
    const { as, relay, gw, api, opaqueClient, mint } = await startStack();
    const cached = await mint(opaqueClient);
    const fresh = await mint(opaqueClient);
    expect(await statusOf(api, cached)).toBe(200); // introspected, exchanged, both cached
    await relay.cut();

    expectRetryLater(await get(api, fresh));
    expect(await statusOf(api, cached)).toBe(200);
    // Past the introspection freshness (60 s) and close to the exp (300 s): still served.
    as.clock.advance(295);
    expect(await statusOf(api, cached)).toBe(200);
    expectRetryLater(await get(api, fresh));
    expect(gw.lines.some((line) => line.includes('auth server unavailable'))).toBe(true);
    // Past its exp the cached answer proves the token expired: 401, not a retry.
    as.clock.advance(6);
    const expired = await get(api, cached);
    expect(expired.status).toBe(401);
    expect(expired.headers.get('www-authenticate')).toMatch(/^Bearer .*error="invalid_token"/);

    await relay.restore();
    const next = await mint(opaqueClient);
    await expect.poll(() => statusOf(api, next), { timeout: 5000, interval: 100 }).toBe(200);
    expect(gw.lines.some((line) => line.includes('auth server reachable again'))).toBe(true);
  });
});

// ---- Redis goes away: rate limits ---------------------------------------------------------------

describe.skipIf(!redis.available)(
  'Redis cut: rate limits follow onStoreFailure, and recover by themselves',
  () => {
    const releases: (() => Promise<void>)[] = [];
    afterEach(async () => {
      for (const release of releases.splice(0)) await release();
    });

    async function startLimited(onStoreFailure: 'open' | 'closed' | 'local') {
      const relay = await startTcpRelay([relayTargetOf(serviceUrl('redis'), 6379)]);
      const prefix = `test:faults:${randomBytes(6).toString('hex')}:`;
      const state = await createRedisSharedState({ url: relay.url('redis'), prefix });
      const database = openSqlDatabase<unknown>({ sqliteFile: sqliteFile() });
      const gw = await runGateway(
        {
          bruteForce: { enabled: false },
          rateLimit: { store: 'redis', onStoreFailure },
          upstreams: { app: { targets: [upstream.url] } },
          routes: [
            {
              id: 'status',
              match: { path: '/public/status' },
              upstream: 'app',
              auth: 'none',
              rateLimits: [{ id: 'per-ip', limit: 2, windowSec: 60, key: ['ip'] }],
            },
          ],
        },
        { db: database.db, state, redisUrl: relay.url('redis'), redisPrefix: prefix },
      );
      releases.push(async () => {
        await gw.close();
        await state.close();
        await relay.close();
        await database.close();
      });
      return { relay, gw, url: `${gw.url}/public/status` };
    }

    async function cut(relay: TcpRelay, gw: RunningGateway): Promise<void> {
      expect(sharedStateUp(gw.gateway)).toBe(1);
      await relay.cut();
      await expect.poll(() => sharedStateUp(gw.gateway), { timeout: 5000, interval: 20 }).toBe(0);
    }

    async function restore(relay: TcpRelay, gw: RunningGateway): Promise<void> {
      await relay.restore();
      await expect.poll(() => sharedStateUp(gw.gateway), { timeout: 10_000, interval: 50 }).toBe(1);
    }

    it('open: every request passes while Redis is away; the shared limit holds again once it is back', async () => {
      const { relay, gw, url } = await startLimited('open');
      expect([await statusOf(url), await statusOf(url), await statusOf(url)]).toEqual([200, 200, 429]);
      await cut(relay, gw);
      expect([await statusOf(url), await statusOf(url), await statusOf(url)]).toEqual([200, 200, 200]);
      await restore(relay, gw);
      // Redis kept the count of before the cut: the limit is reached.
      await expect.poll(() => statusOf(url), { timeout: 10_000, interval: 100 }).toBe(429);
      expect(gw.lines.some((line) => line.includes('rate-limit store answers again'))).toBe(true);
    });

    it('closed: 503 with Retry-After while Redis is away; requests pass again once it is back', async () => {
      const { relay, gw, url } = await startLimited('closed');
      expect(await statusOf(url)).toBe(200);
      await cut(relay, gw);
      const forwarded = upstream.requests.filter((r) => r.url === '/public/status').length;
      expectRetryLater(await get(url));
      expectRetryLater(await get(url));
      // Refused before the upstream: nothing was forwarded while the limit could not be checked.
      expect(upstream.requests.filter((r) => r.url === '/public/status')).toHaveLength(forwarded);
      expect(gw.lines.some((line) => line.includes('rate-limit store failed'))).toBe(true);
      await restore(relay, gw);
      await expect.poll(() => statusOf(url), { timeout: 10_000, interval: 100 }).toBe(200);
    });

    it('local: the limit holds per instance while Redis is away; shared again once it is back', async () => {
      const { relay, gw, url } = await startLimited('local');
      expect(await statusOf(url)).toBe(200); // counted in Redis
      await cut(relay, gw);
      // The local store starts empty: two more, then 429 with Retry-After.
      expect([await statusOf(url), await statusOf(url)]).toEqual([200, 200]);
      const refused = await get(url);
      expect(refused.status).toBe(429);
      expect(refused.headers.get('retry-after')).toMatch(/^[1-9]\d*$/);
      await restore(relay, gw);
      // Redis again, which holds one request: one more fits (the local store would refuse it), then 429.
      await expect.poll(() => statusOf(url), { timeout: 10_000, interval: 100 }).toBe(200);
      expect(await statusOf(url)).toBe(429);
    });
  },
);

// ---- Redis goes away: revocations ---------------------------------------------------------------

interface Database {
  readonly options: { url?: string; sqliteFile?: string };
  release(): Promise<void>;
}

async function openDatabase(engine: 'sqlite' | 'postgres'): Promise<Database> {
  if (engine === 'sqlite') return { options: { sqliteFile: sqliteFile() }, release: () => Promise.resolve() };
  // A fresh schema of this suite's own; dropped afterwards.
  const schema = `gw_faults_${randomBytes(6).toString('hex')}`;
  const admin = openSqlDatabase<unknown>({ url: serviceUrl('postgres'), poolSize: 1 });
  await sql`create schema ${sql.id(schema)}`.execute(admin.db);
  const url = new URL(serviceUrl('postgres'));
  url.searchParams.set('options', `-c search_path=${schema}`);
  return {
    options: { url: url.toString() },
    release: async () => {
      await sql`drop schema ${sql.id(schema)} cascade`.execute(admin.db);
      await admin.close();
    },
  };
}

/** The revocation event of a JWT: its `jti` and `exp`. */
function jtiOf(jwt: string): { jti: string; exp: number } {
  const { jti, exp } = JSON.parse(Buffer.from(jwt.split('.')[1] ?? '', 'base64url').toString('utf8')) as {
    jti: string;
    exp: number;
  };
  return { jti, exp };
}

describe.each([
  { engine: 'sqlite' as const, available: redis.available },
  { engine: 'postgres' as const, available: redis.available && pg.available },
])('Redis cut: revocations through the feed ($engine)', ({ engine, available }) => {
  let database: Database;
  let relay: TcpRelay;
  let authState: SharedState;
  let gatewayState: SharedState;
  let as: TestAuthServer;
  let gatewayDb: SqlDatabase<unknown>;
  let gatewayClient: TestClient;
  let gw: RunningGateway;
  let api: string;
  let opaqueClient: TestClient;
  let jwtClient: TestClient;

  const gatewayConfig = (): Omit<GatewayConfigInput, 'listen'> => ({
    // The safety net is far off: within this suite only pub/sub, or the feed while Redis is down,
    // can bring a revocation in time.
    auth: {
      issuer: as.issuer,
      audience: [API],
      ...gatewayClient,
      revocationPollMs: 250,
      revocationResyncMs: 60_000,
    },
    bruteForce: { enabled: false },
    upstreams: { app: { targets: [upstream.url] } },
    routes: [ACCOUNTS_ROUTE],
  });

  beforeAll(async () => {
    if (!available) return;
    database = await openDatabase(engine);
    relay = await startTcpRelay([relayTargetOf(serviceUrl('redis'), 6379)]);
    const prefix = `test:faults:${randomBytes(6).toString('hex')}:`;
    // Separate connections through the one relay: when Redis is cut, it is cut for everyone.
    authState = await createRedisSharedState({ url: relay.url('redis'), prefix, commandTimeoutMs: 500 });
    gatewayState = await createRedisSharedState({ url: relay.url('redis'), prefix, commandTimeoutMs: 500 });
    as = await startAuthServer({ state: authState, database: database.options });
    gatewayDb = openSqlDatabase<unknown>({ ...database.options, poolSize: 4 });
    gatewayClient = await as.createGatewayClient();
    opaqueClient = await as.createClient({ scopes: ['accounts:read'], resources: [API, ACCOUNTS] });
    jwtClient = await as.createClient({
      scopes: ['accounts:read'],
      resources: [API, ACCOUNTS],
      tokenFormat: 'jwt',
    });
    gw = await runGateway(gatewayConfig(), { db: gatewayDb.db, state: gatewayState, now: as.clock.now });
    api = `${gw.url}/api/accounts`;
  });
  afterAll(async () => {
    if (!available) return;
    await gw.close();
    await as.close();
    await gatewayDb.close();
    await Promise.all([authState.close(), gatewayState.close()]);
    await relay.close();
    await database.release();
  });

  it.skipIf(!available)(
    'a token revoked while Redis is cut is refused within 2 s (feed polling); the gauge reads 0, then 1; pub/sub works again',
    async () => {
      const jwt = await as.tokenFor(jwtClient, { resource: ACCOUNTS });
      const opaque = await as.tokenFor(opaqueClient);
      expect(await statusOf(api, jwt)).toBe(200);
      expect(await statusOf(api, opaque)).toBe(200);
      expect(sharedStateUp(gw.gateway)).toBe(1);

      await relay.cut();
      await expect.poll(() => sharedStateUp(gw.gateway), { timeout: 5000, interval: 20 }).toBe(0);
      // The revocations succeed although nothing can be published; the feed has them.
      const cursor = (await readRevocationsAfter(gatewayDb.db, 0, 1000)).at(-1)?.id ?? 0;
      await as.revoke(jwtClient, jwt);
      await as.revoke(opaqueClient, opaque);
      const recorded = (await readRevocationsAfter(gatewayDb.db, cursor, 100)).map(
        (e) => JSON.parse(e.message) as unknown,
      );
      // The JWT, the opaque token and the internal JWT exchanged from it (RFC 8693: revoked with it).
      expect(recorded).toEqual(expect.arrayContaining([jtiOf(jwt)]));
      expect(recorded).toHaveLength(3);
      // Both were cached for an hour (JWT verification) or a minute (introspection): only the feed
      // can make the gateway forget them now.
      await expect
        .poll(async () => [await statusOf(api, jwt), await statusOf(api, opaque)], {
          timeout: 2000,
          interval: 50,
        })
        .toEqual([401, 401]);
      expect(gw.lines.some((line) => line.includes('shared state down'))).toBe(true);

      await relay.restore();
      await expect.poll(() => sharedStateUp(gw.gateway), { timeout: 10_000, interval: 50 }).toBe(1);
      await expect.poll(() => authState.isUp?.(), { timeout: 10_000, interval: 50 }).toBe(true);
      await expect
        .poll(() => gw.lines.some((line) => line.includes('shared state back')), {
          timeout: 2000,
          interval: 20,
        })
        .toBe(true);

      // Published on the channel only (not in the feed), with the feed read a minute away: within
      // 1 s, only pub/sub can bring it.
      const again = await as.tokenFor(jwtClient, { resource: ACCOUNTS });
      expect(await statusOf(api, again)).toBe(200);
      await authState.publish(REVOCATION_CHANNEL, JSON.stringify(jtiOf(again)));
      await expect.poll(() => statusOf(api, again), { timeout: 1000, interval: 20 }).toBe(401);
      // And the auth server's own path: feed and pub/sub both.
      const opaqueAgain = await as.tokenFor(opaqueClient);
      expect(await statusOf(api, opaqueAgain)).toBe(200);
      await as.revoke(opaqueClient, opaqueAgain);
      await expect.poll(() => statusOf(api, opaqueAgain), { timeout: 1000, interval: 20 }).toBe(401);
    },
  );

  it.skipIf(!available)(
    'a gateway started after a revocation refuses the revoked JWT (the feed is read at start)',
    async () => {
      const revoked = await as.tokenFor(jwtClient, { resource: ACCOUNTS });
      const valid = await as.tokenFor(jwtClient, { resource: ACCOUNTS });
      await as.revoke(jwtClient, revoked);
      // A new instance (or this one restarted): no event reaches it, its verification starts empty.
      const state = await createRedisSharedState({
        url: serviceUrl('redis'),
        prefix: `test:faults:${randomBytes(6).toString('hex')}:`,
      });
      const second = await runGateway(gatewayConfig(), { db: gatewayDb.db, state, now: as.clock.now });
      try {
        const refused = await get(`${second.url}/api/accounts`, revoked);
        expect(refused.status).toBe(401);
        expect(refused.headers.get('www-authenticate')).toContain('error="invalid_token"');
        expect(await statusOf(`${second.url}/api/accounts`, valid)).toBe(200);
      } finally {
        await second.close();
        await state.close();
      }
    },
  );
});

// ---- a compromised key does not undo earlier revocations ----------------------------------------

describe('revocations survive the verifier rebuilt for a compromised key', () => {
  it('a JWT revoked before a key revocation stays refused after it', async () => {
    const as = await startAuthServer();
    const gw = await startAuthenticator(as, await as.createGatewayClient());
    try {
      const jwtClient = await as.createClient({
        scopes: ['accounts:read'],
        resources: [API, ACCOUNTS],
        tokenFormat: 'jwt',
      });
      const revoked = await as.tokenFor(jwtClient);
      const probe = await as.tokenFor(jwtClient);
      expect((await gw.auth.authenticate(bearer(revoked), ROUTE.jwt)).ok).toBe(true);
      expect((await gw.auth.authenticate(bearer(probe), ROUTE.jwt)).ok).toBe(true);
      await as.revoke(jwtClient, revoked);
      await expect
        .poll(async () => (await gw.auth.authenticate(bearer(revoked), ROUTE.jwt)).ok, {
          timeout: 1000,
          interval: 10,
        })
        .toBe(false);
      // Another key announced compromised: the gateway drops every cached verification (a new
      // verifier). Once it has, the probe is verified afresh (no cache hit)...
      await as.state.publish(REVOCATION_CHANNEL, JSON.stringify({ kid: 'another-key' }));
      await expect
        .poll(
          async () => {
            const hits = gw.auth.stats().verifyCacheHits ?? 0;
            await gw.auth.authenticate(bearer(probe), ROUTE.jwt);
            return (gw.auth.stats().verifyCacheHits ?? 0) === hits;
          },
          { timeout: 1000, interval: 10 },
        )
        .toBe(true);
      // ...and the revoked token is still refused by the new verifier.
      expect(await gw.auth.authenticate(bearer(revoked), ROUTE.jwt)).toMatchObject({
        ok: false,
        reason: 'revoked',
        error: { code: 'ERR_JWT_REVOKED' },
      });
    } finally {
      await gw.auth.close();
      await as.close();
    }
  });
});
