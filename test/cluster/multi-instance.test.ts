import { requireService, serviceUrl } from '@gatehouse/testing';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Browser, signIn } from '../../packages/auth-server/test/helpers/browser-flow.js';
import type { TestAuthServer } from '../../packages/auth-server/test/helpers/harness.js';
import { passOpLogin, Browser as BffBrowser } from '../../packages/bff/test/support/browser.js';
import { missingBuild } from '../support/demo-stack.js';
import { basic, call, rawRequest, startCluster, tokenFrom, type Cluster } from './support/cluster.js';

const postgres = await requireService('postgres', 'multi-instance cluster');
const redis = await requireService('redis', 'multi-instance cluster');
const built = missingBuild().length === 0;
if (!built && process.env['GATEHOUSE_REQUIRE_ALL'] === '1')
  throw new Error('multi-instance: run npm run build');

// GCRA on the `/limited` route, one key for the whole route: 40 per second with a burst of 10 — well
// under what two gateways answer even on a loaded two-core machine, so the limit is what binds.
const LIMIT = { id: 'global', algorithm: 'gcra', limit: 40, windowSec: 1, burst: 10, key: ['route'] };

/** Polls `probe` every 25 ms until it answers `status`; resolves the milliseconds it took. */
async function msUntil(probe: () => Promise<number>, status: number, timeoutMs = 5_000): Promise<number> {
  const started = performance.now();
  for (;;) {
    const seen = await probe();
    const elapsed = performance.now() - started;
    if (seen === status) return elapsed;
    if (elapsed > timeoutMs) throw new Error(`still ${seen} after ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

describe.skipIf(!postgres.available || !redis.available || !built)(
  '2 auth servers, 2 gateways, 2 BFFs on one PostgreSQL and one Redis',
  () => {
    let cluster: Cluster;
    let tokenPath: string;
    let revocationPath: string;

    beforeAll(async () => {
      cluster = await startCluster({ limitedRateLimits: [LIMIT] });
      const metadata = await call(`${cluster.issuer}/.well-known/oauth-authorization-server`);
      const body = metadata.body as { token_endpoint: string; revocation_endpoint: string };
      tokenPath = new URL(body.token_endpoint).pathname;
      revocationPath = new URL(body.revocation_endpoint).pathname;
    }, 120_000);
    afterAll(async () => {
      await cluster.close();
    }, 30_000);

    const auth = (i: number): string => cluster.instances.auth[i]!.url;
    const gateway = (i: number): string => cluster.instances.gateway[i]!.url;
    const bearer = (token: string): Record<string, string> => ({ authorization: `Bearer ${token}` });

    it('their simultaneous first start made exactly one active signing key and ran each migration once', async () => {
      const keys = await cluster.query<{ status: string; count: string }>(
        'SELECT status, count(*) AS count FROM signing_keys GROUP BY status ORDER BY status',
      );
      expect(keys.filter((row) => row.status === 'active')).toEqual([{ status: 'active', count: '1' }]);
      const tables = await cluster.query<{ table_name: string }>(
        `SELECT table_name FROM information_schema.tables
          WHERE table_schema = $1 AND table_name LIKE '%\\_migrations' ORDER BY table_name`,
        [cluster.schema],
      );
      expect(tables.map((row) => row.table_name)).toContain('auth_server_migrations');
      for (const { table_name: table } of tables) {
        const duplicates = await cluster.query(
          `SELECT name, count(*) FROM "${table}" GROUP BY name HAVING count(*) > 1`,
        );
        expect(duplicates, table).toEqual([]);
      }
      // Both auth servers publish the same key set.
      const sets = await Promise.all([0, 1].map((i) => call(`${auth(i)}/jwks`)));
      expect(sets[0]!.status).toBe(200);
      expect(sets[1]!.body).toEqual(sets[0]!.body);
    });

    it('a token issued by one auth server is accepted by both gateways, as an internal JWT', async () => {
      for (const client of [cluster.clients.jwt, cluster.clients.opaque]) {
        const token = await tokenFrom(auth(0), client, cluster.apiAudience);
        for (const i of [0, 1]) {
          const answer = await call(`${gateway(i)}/api/items`, { headers: bearer(token) });
          expect(answer.status, `gateway ${i}`).toBe(200);
        }
      }
      const forwarded = cluster.upstreamReceived.filter((r) => r.line === 'GET /api/items');
      expect(forwarded.length).toBeGreaterThanOrEqual(4);
      // The service sees only the exchanged internal JWT (three base64url parts), never the opaque token.
      for (const request of forwarded)
        expect(request.authorization).toMatch(/^Bearer [\w-]+\.[\w-]+\.[\w-]+$/);
    });

    it('a token revoked at auth server A is refused by gateway B within 1 second (opaque and JWT)', async () => {
      for (const client of [cluster.clients.opaque, cluster.clients.jwt]) {
        const token = await tokenFrom(auth(0), client, cluster.apiAudience);
        // Cached at gateway B first (introspection result / verification result).
        expect((await call(`${gateway(1)}/api/cached`, { headers: bearer(token) })).status).toBe(200);
        const revoked = await call(`${auth(0)}${revocationPath}`, {
          method: 'POST',
          headers: { authorization: basic(client), 'content-type': 'application/x-www-form-urlencoded' },
          body: new URLSearchParams({ token }).toString(),
        });
        expect(revoked.status).toBe(200);
        const ms = await msUntil(
          async () => (await call(`${gateway(1)}/api/cached`, { headers: bearer(token) })).status,
          401,
        );
        expect(ms, client === cluster.clients.jwt ? 'jwt' : 'opaque').toBeLessThan(1_000);
      }
    });

    it('a ban set on gateway A applies on gateway B within 1 second', async () => {
      const token = await tokenFrom(auth(1), cluster.clients.jwt, cluster.apiAudience);
      const from = '127.0.0.77';
      const probe = async (): Promise<number> =>
        (await rawRequest(`${gateway(1)}/api/banned`, { headers: bearer(token), localAddress: from })).status;
      expect(await probe()).toBe(200);
      const added = await call(`${cluster.instances.gateway[0]!.admin}/admin/gateway/bans`, {
        method: 'POST',
        headers: { authorization: `Bearer ${cluster.adminToken}`, 'content-type': 'application/json' },
        body: JSON.stringify({ subject: from, durationSec: 300, reason: 'cluster test' }),
      });
      expect(added.status).toBe(201);
      expect(await msUntil(probe, 403)).toBeLessThan(1_000);
      // Other addresses are unaffected.
      const other = await rawRequest(`${gateway(1)}/api/banned`, {
        headers: bearer(token),
        localAddress: '127.0.0.78',
      });
      expect(other.status).toBe(200);
    });

    it('a global rate limit holds within 5% across both gateways', async () => {
      const token = await tokenFrom(auth(0), cluster.clients.jwt, cluster.apiAudience, 'echo:read');
      // Warm both gateways' verification caches outside the measured run.
      for (const i of [0, 1]) await call(`${gateway(i)}/api/warm`, { headers: bearer(token) });
      const durationMs = 4_000;
      let allowed = 0;
      let refused = 0;
      let other = 0;
      const started = performance.now();
      let last = started;
      // 16 callers, half on each gateway, as fast as they are answered.
      await Promise.all(
        Array.from({ length: 16 }, async (_, caller) => {
          while (performance.now() - started < durationMs) {
            const response = await fetch(`${gateway(caller % 2)}/limited/x`, { headers: bearer(token) });
            await response.arrayBuffer();
            last = Math.max(last, performance.now());
            if (response.status === 200) allowed++;
            else if (response.status === 429) refused++;
            else other++;
          }
        }),
      );
      const elapsedMs = last - started;
      const expected = LIMIT.burst + elapsedMs * (LIMIT.limit / 1000);
      const seen = { allowed, refused, other, elapsedMs: Math.round(elapsedMs) };
      expect(other, JSON.stringify(seen)).toBe(0);
      expect(refused, JSON.stringify(seen)).toBeGreaterThan(0);
      expect(allowed).toBeGreaterThanOrEqual(Math.floor(expected * 0.95));
      expect(allowed).toBeLessThanOrEqual(Math.ceil(expected * 1.05));
    });

    it('a BFF session created on one instance works on the other', async () => {
      const browser = new BffBrowser();
      const { alice } = cluster.users;
      // Login through the balancer: each hop may land on either BFF (the login state is shared too).
      const started = await browser.get(`${cluster.bff}/auth/login?returnTo=%2F`);
      const page = await passOpLogin(browser, started, { issuer: cluster.issuer, ...alice });
      expect(page.location?.startsWith(`${cluster.bff}/auth/callback`)).toBe(true);
      const callback = await browser.get(page.location!);
      expect(callback.status).toBe(303);
      const cookie = browser.cookieHeader()!;
      const host = new URL(cluster.bff).host;
      for (const instance of cluster.instances.bff) {
        const session = await rawRequest(`${instance.url}/auth/session`, { headers: { cookie, host } });
        expect(session.status, `BFF ${instance.index}`).toBe(200);
        expect(JSON.parse(session.text)).toMatchObject({ authenticated: true, sub: alice.sub });
        // The token relay works from either instance (BFF → gateway balancer → service).
        const relayed = await rawRequest(`${instance.url}/api/from-bff`, { headers: { cookie, host } });
        expect(relayed.status, `relay through BFF ${instance.index}`).toBe(200);
      }
    });

    it('keeps its Redis keys under the deployment prefix (sharedState.prefix, bff.session.redisKeyPrefix)', async () => {
      const client = new Redis(serviceUrl('redis'), { lazyConnect: true, maxRetriesPerRequest: 1 });
      await client.connect();
      try {
        const keys: string[] = [];
        let cursor = '0';
        do {
          const [next, batch] = await client.scan(cursor, 'MATCH', `${cluster.redisPrefix}*`, 'COUNT', 1000);
          cursor = next;
          keys.push(...batch);
        } while (cursor !== '0');
        // The gateways' (brute-force counters), the auth servers' (login interactions) and the BFFs'
        // (sessions) keys are all there; rate-limit counters expire within their window.
        for (const part of ['gateway:', 'interaction:', 'bff:']) {
          expect(
            keys.some((key) => key.startsWith(`${cluster.redisPrefix}${part}`)),
            part,
          ).toBe(true);
        }
      } finally {
        client.disconnect();
      }
    });

    it('concurrent refreshes of one refresh token on two auth servers follow the rotation rules', async () => {
      const { web } = cluster.clients;
      const browser = new Browser();
      const redirectUri = 'http://127.0.0.1:8765/callback';
      const signedIn = await signIn({ url: cluster.issuer } as TestAuthServer, browser, {
        clientId: web.client_id,
        redirectUri,
        scope: 'openid offline_access echo:read',
        resource: cluster.apiAudience,
        ...cluster.users.alice,
      });
      const exchanged = await call(`${auth(0)}${tokenPath}`, {
        method: 'POST',
        headers: { authorization: basic(web), 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({
          grant_type: 'authorization_code',
          code: signedIn.params['code']!,
          redirect_uri: redirectUri,
          code_verifier: signedIn.pkce.verifier,
        }).toString(),
      });
      expect(exchanged.status).toBe(200);
      let current = (exchanged.body as { refresh_token: string }).refresh_token;
      const history = [current];
      const refresh = (i: number, token: string) =>
        call(`${auth(i)}${tokenPath}`, {
          method: 'POST',
          headers: { authorization: basic(web), 'content-type': 'application/x-www-form-urlencoded' },
          body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: token }).toString(),
        });
      const liveTokens = async (): Promise<number> => {
        const rows = await cluster.query<{ count: string }>(
          `SELECT count(*) AS count FROM refresh_tokens r JOIN grants g ON g.grant_id = r.grant_id
            WHERE g.sub = $1 AND r.client_id = $2 AND r.rotated_at IS NULL AND r.revoked_at IS NULL
              AND g.revoked_at IS NULL`,
          [cluster.users.alice.sub, web.client_id],
        );
        return Number(rows[0]!.count);
      };
      for (let round = 0; round < 5; round++) {
        // Four presentations of the same token at once, two on each auth server.
        const answers = await Promise.all([0, 1, 0, 1].map((i) => refresh(i, current)));
        for (const answer of answers) expect(answer.status, JSON.stringify(answer.body)).toBe(200);
        const successors = new Set(answers.map((a) => (a.body as { refresh_token: string }).refresh_token));
        // One rotation, not four: every concurrent caller got the same successor (refreshGraceSec).
        expect(successors.size).toBe(1);
        const [next] = [...successors];
        expect(next).not.toBe(current);
        current = next!;
        history.push(current);
        expect(await liveTokens()).toBe(1);
      }
      // A token two generations old is a replay, not a race: the whole family is revoked (RFC 9700 §4.14.2).
      const replay = await refresh(1, history[history.length - 3]!);
      expect(replay).toMatchObject({ status: 400, body: { error: 'invalid_grant' } });
      expect(await liveTokens()).toBe(0);
      expect((await refresh(0, current)).status).toBe(400);
    });
  },
);
