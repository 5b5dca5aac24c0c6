import { REVOCATION_CHANNEL as AUTH_SERVER_CHANNEL } from '@gatehouse/auth-server';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { REVOCATION_CHANNEL } from '../../src/auth/index.js';
import {
  TOKEN_EXCHANGE,
  startAuthServer,
  type TestAuthServer,
  type TestClient,
} from '../support/auth-server.js';
import {
  ACCOUNTS,
  API,
  ORDERS,
  ROUTE,
  bearer,
  countAudit,
  startAuthenticator,
  type Authenticator,
} from './helpers.js';

/** Revocation must reach the gateway's caches within 1 s (issue 4): polled, never slept. */
const WITHIN_1S = { timeout: 1000, interval: 10 };

describe('gateway auth: revocation events evict cached results (memory shared state)', () => {
  let as: TestAuthServer;
  let gw: Authenticator;
  let opaqueClient: TestClient;
  let jwtClient: TestClient;

  beforeAll(async () => {
    as = await startAuthServer();
    opaqueClient = await as.createClient({
      scopes: ['accounts:read', 'orders:read'],
      resources: [API, ACCOUNTS, ORDERS],
    });
    jwtClient = await as.createClient({
      scopes: ['accounts:read'],
      resources: [API, ACCOUNTS],
      tokenFormat: 'jwt',
    });
    // An hour of cache: only the event can make the gateway forget.
    gw = await startAuthenticator(as, await as.createGatewayClient());
  });
  afterAll(async () => {
    await gw.auth.close();
    await as.close();
  });

  it('listens on the channel the auth server publishes on', () => {
    expect(REVOCATION_CHANNEL).toBe(AUTH_SERVER_CHANNEL);
  });

  it('an opaque token revoked at the auth server is refused within 1 s, cached introspection and JWT gone', async () => {
    const token = await as.tokenFor(opaqueClient);
    expect((await gw.auth.authenticate(bearer(token), ROUTE.opaque)).ok).toBe(true);
    expect((await gw.auth.authenticate(bearer(token), ROUTE.opaque)).ok).toBe(true);
    await as.revoke(opaqueClient, token);
    await vi.waitFor(async () => {
      expect(await gw.auth.authenticate(bearer(token), ROUTE.opaque)).toMatchObject({
        ok: false,
        error: { status: 401 },
      });
    }, WITHIN_1S);
  });

  it('a JWT revoked at the auth server is refused within 1 s although its verification was cached', async () => {
    const token = await as.tokenFor(jwtClient);
    expect((await gw.auth.authenticate(bearer(token), ROUTE.jwt)).ok).toBe(true);
    await as.revoke(jwtClient, token);
    await vi.waitFor(async () => {
      expect(await gw.auth.authenticate(bearer(token), ROUTE.jwt)).toMatchObject({
        ok: false,
        reason: 'revoked',
        error: { code: 'ERR_JWT_REVOKED' },
      });
    }, WITHIN_1S);
  });

  it('a subject-wide revocation evicts every cached entry of that subject issued before it', async () => {
    // Its own client: the cut covers every token of the subject issued in this (frozen) second.
    const subject = await as.createClient({ scopes: ['accounts:read'], resources: [API, ACCOUNTS] });
    const token = await as.tokenFor(subject);
    expect((await gw.auth.authenticate(bearer(token), ROUTE.opaque)).ok).toBe(true);
    const introspections = countAudit(as, 'token.introspect');
    await as.state.publish(
      REVOCATION_CHANNEL,
      JSON.stringify({ sub: subject.clientId, issuedBefore: Math.ceil(as.clock.now() / 1000) }),
    );
    // Evicted: the next request asks the auth server again (which still calls it active here).
    await vi.waitFor(async () => {
      await gw.auth.authenticate(bearer(token), ROUTE.opaque);
      expect(countAudit(as, 'token.introspect')).toBeGreaterThan(introspections);
    }, WITHIN_1S);
  });

  it('a compromised signing key drops cached internal JWTs it signed and every cached verification', async () => {
    const opaque = await as.tokenFor(opaqueClient);
    const jwt = await as.tokenFor(jwtClient);
    const first = await gw.auth.authenticate(bearer(opaque), ROUTE.opaque);
    await gw.auth.authenticate(bearer(jwt), ROUTE.jwt);
    expect(first.ok).toBe(true);
    const internal = first.ok ? (first.upstreamAuthorization ?? '').slice(7) : '';
    const header = JSON.parse(Buffer.from(internal.split('.')[0] ?? '', 'base64url').toString()) as {
      kid: string;
    };
    const exchanges = countAudit(as, 'token.issue', TOKEN_EXCHANGE);
    const misses = gw.auth.stats().exchangeMisses;
    await as.state.publish(REVOCATION_CHANNEL, JSON.stringify({ kid: header.kid }));
    await vi.waitFor(async () => {
      await gw.auth.authenticate(bearer(opaque), ROUTE.opaque);
      expect(gw.auth.stats().exchangeMisses).toBeGreaterThan(misses);
    }, WITHIN_1S);
    expect(countAudit(as, 'token.issue', TOKEN_EXCHANGE)).toBeGreaterThan(exchanges);
  });

  it('session revocations are applied too (tokens without sid stay cached)', async () => {
    const token = await as.tokenFor(opaqueClient);
    expect((await gw.auth.authenticate(bearer(token), ROUTE.opaque)).ok).toBe(true);
    const introspections = countAudit(as, 'token.introspect');
    await as.state.publish(REVOCATION_CHANNEL, JSON.stringify({ sid: 'some-session' }));
    expect((await gw.auth.authenticate(bearer(token), ROUTE.opaque)).ok).toBe(true);
    expect(countAudit(as, 'token.introspect')).toBe(introspections);
  });

  it('without events (not started), the token exchange still catches a revocation the cache missed', async () => {
    const deaf = await startAuthenticator(as, await as.createGatewayClient(), { start: false });
    try {
      const token = await as.tokenFor(opaqueClient);
      expect((await deaf.auth.authenticate(bearer(token), ROUTE.opaque)).ok).toBe(true);
      await as.revoke(opaqueClient, token);
      // Introspection is cached (an hour), but a new audience needs an exchange: refused, and remembered.
      const other = { mode: 'opaque', audience: ORDERS } as const;
      expect(await deaf.auth.authenticate(bearer(token), other)).toMatchObject({
        ok: false,
        reason: 'inactive',
      });
      const introspections = countAudit(as, 'token.introspect');
      expect(await deaf.auth.authenticate(bearer(token), ROUTE.opaque)).toMatchObject({
        ok: false,
        reason: 'inactive',
      });
      expect(countAudit(as, 'token.introspect')).toBe(introspections);
    } finally {
      await deaf.auth.close();
    }
  });

  it('ignores malformed events on the channel (logged, nothing evicted, nothing thrown)', async () => {
    const token = await as.tokenFor(opaqueClient);
    expect((await gw.auth.authenticate(bearer(token), ROUTE.opaque)).ok).toBe(true);
    const introspections = countAudit(as, 'token.introspect');
    for (const message of ['not json', '[]', '{"jti":1}', '{"jti":"a","sid":"b"}', '{"sub":"x"}', 'null']) {
      await as.state.publish(REVOCATION_CHANNEL, message);
    }
    await vi.waitFor(() => {
      expect(gw.lines.filter((line) => line.includes('unreadable revocation event')).length).toBe(6);
    }, WITHIN_1S);
    expect((await gw.auth.authenticate(bearer(token), ROUTE.opaque)).ok).toBe(true);
    expect(countAudit(as, 'token.introspect')).toBe(introspections);
  });
});
