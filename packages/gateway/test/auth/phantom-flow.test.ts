import { createVerifier } from '@gatehouse/guard';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
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

describe('gateway auth: opaque token → introspection → phantom JWT (real auth server)', () => {
  let as: TestAuthServer;
  let gateway: TestClient;
  let partner: TestClient;
  let quick: TestClient;
  let gw: Authenticator;

  beforeAll(async () => {
    as = await startAuthServer();
    gateway = await as.createGatewayClient();
    partner = await as.createClient({
      scopes: ['accounts:read', 'accounts:write', 'orders:read'],
      resources: [API, ACCOUNTS, ORDERS],
    });
    quick = await as.createClient({
      scopes: ['accounts:read'],
      resources: [API, ACCOUNTS],
      accessTokenTtlSec: 20,
    });
    gw = await startAuthenticator(as, gateway);
  });
  afterAll(async () => {
    await gw.auth.close();
    await as.close();
  });

  const verifierFor = (audience: string) =>
    createVerifier({ issuer: as.issuer, audience, jwksUri: `${as.issuer}/jwks`, now: as.clock.now });

  it('forwards an internal JWT for the route audience that guard accepts, with sub, client and scopes', async () => {
    const token = await as.tokenFor(partner);
    const outcome = await gw.auth.authenticate(bearer(token), ROUTE.opaque);
    expect(outcome.ok).toBe(true);
    if (!outcome.ok) return;
    expect(outcome.principal).toMatchObject({
      sub: partner.clientId,
      clientId: partner.clientId,
      tokenKind: 'opaque',
    });
    // Only the scopes of the service's audience survive the exchange (RFC 8693, RFC 8707).
    expect([...outcome.principal.scopes].sort()).toEqual(['accounts:read', 'accounts:write']);
    const upstream = outcome.upstreamAuthorization ?? '';
    expect(upstream).toMatch(/^Bearer [\w-]+\.[\w-]+\.[\w-]+$/);
    const internal = upstream.slice('Bearer '.length);
    // Services never see the external token.
    expect(internal).not.toBe(token);
    const principal = await verifierFor(ACCOUNTS).verify(internal);
    expect(principal).toMatchObject({
      sub: partner.clientId,
      clientId: partner.clientId,
      audience: [ACCOUNTS],
    });
    expect([...principal.scopes].sort()).toEqual(['accounts:read', 'accounts:write']);
    expect(principal.cnf).toBeUndefined();
    // The internal JWT is not good at another service.
    await expect(verifierFor(ORDERS).verify(internal)).rejects.toMatchObject({
      code: 'ERR_JWT_AUDIENCE_INVALID',
    });
  });

  it('caches introspection and exchange: a second request asks the auth server nothing', async () => {
    const token = await as.tokenFor(partner);
    const first = await gw.auth.authenticate(bearer(token), ROUTE.opaque);
    const before = { introspect: countAudit(as, 'token.introspect'), issue: countAudit(as, 'token.issue') };
    const stats = gw.auth.stats();
    const second = gw.auth.authenticate(bearer(token), ROUTE.opaque);
    // Both answers cached: the outcome comes without a promise (the pipeline's hot path).
    expect(second).not.toBeInstanceOf(Promise);
    expect(second).toEqual(first);
    expect(countAudit(as, 'token.introspect')).toBe(before.introspect);
    expect(countAudit(as, 'token.issue')).toBe(before.issue);
    expect(gw.auth.stats()).toMatchObject({
      introspectionHits: stats.introspectionHits + 1,
      exchangeHits: stats.exchangeHits + 1,
      introspectionMisses: stats.introspectionMisses,
      exchangeMisses: stats.exchangeMisses,
    });
  });

  it('exchanges once per audience: another service gets its own JWT with its own scopes', async () => {
    const token = await as.tokenFor(partner);
    const accounts = await gw.auth.authenticate(bearer(token), ROUTE.opaque);
    const orders = await gw.auth.authenticate(bearer(token), ROUTE.orders);
    expect(accounts.ok && orders.ok).toBe(true);
    if (!accounts.ok || !orders.ok) return;
    expect(orders.upstreamAuthorization).not.toBe(accounts.upstreamAuthorization);
    expect([...orders.principal.scopes]).toEqual(['orders:read']);
    const principal = await verifierFor(ORDERS).verify((orders.upstreamAuthorization ?? '').slice(7));
    expect(principal.audience).toEqual([ORDERS]);
  });

  it('shares one introspection and one exchange between concurrent requests with the same token', async () => {
    const token = await as.tokenFor(partner);
    const introspections = countAudit(as, 'token.introspect');
    const exchanges = countAudit(as, 'token.issue', TOKEN_EXCHANGE);
    const outcomes = await Promise.all(
      Array.from({ length: 20 }, () => Promise.resolve(gw.auth.authenticate(bearer(token), ROUTE.opaque))),
    );
    expect(outcomes.every((o) => o.ok)).toBe(true);
    expect(new Set(outcomes.map((o) => (o.ok ? o.upstreamAuthorization : undefined))).size).toBe(1);
    expect(countAudit(as, 'token.introspect')).toBe(introspections + 1);
    expect(countAudit(as, 'token.issue', TOKEN_EXCHANGE)).toBe(exchanges + 1);
  });

  it('remembers an inactive token only for the negative TTL', async () => {
    const unknown = 'unknown-token-0123456789abcdefghijklmnopqrstuvwxyz';
    const first = await gw.auth.authenticate(bearer(unknown), ROUTE.opaque);
    expect(first).toMatchObject({ ok: false, reason: 'inactive', error: { status: 401 } });
    const introspections = countAudit(as, 'token.introspect');
    const again = gw.auth.authenticate(bearer(unknown), ROUTE.any);
    // A remembered refusal is answered synchronously too.
    expect(again).not.toBeInstanceOf(Promise);
    expect(again).toMatchObject({ ok: false, reason: 'inactive' });
    expect(countAudit(as, 'token.introspect')).toBe(introspections);
    as.clock.advance(5);
    await gw.auth.authenticate(bearer(unknown), ROUTE.opaque);
    expect(countAudit(as, 'token.introspect')).toBe(introspections + 1);
  });

  it('never uses a cached answer past the token exp, however long the cache TTL', async () => {
    const token = await as.tokenFor(quick);
    expect((await gw.auth.authenticate(bearer(token), ROUTE.opaque)).ok).toBe(true);
    as.clock.advance(19);
    // Cached (maxTtlMs is an hour here); the internal JWT is capped at the subject token's exp.
    const late = await gw.auth.authenticate(bearer(token), ROUTE.opaque);
    expect(late.ok).toBe(true);
    const introspections = countAudit(as, 'token.introspect');
    as.clock.advance(1);
    const expired = await gw.auth.authenticate(bearer(token), ROUTE.opaque);
    expect(expired).toMatchObject({ ok: false, reason: 'inactive' });
    // The cache did not answer: the auth server was asked again, and said inactive.
    expect(countAudit(as, 'token.introspect')).toBe(introspections + 1);
  });

  it('refreshes the internal JWT shortly before it expires, while the external token lives on', async () => {
    const token = await as.tokenFor(partner);
    const first = await gw.auth.authenticate(bearer(token), ROUTE.opaque);
    as.clock.advance(30);
    const cached = await gw.auth.authenticate(bearer(token), ROUTE.opaque);
    expect(cached).toEqual(first);
    // The exchange TTL is 60 s: within the last 10 s a fresh JWT is fetched.
    as.clock.advance(21);
    const fresh = await gw.auth.authenticate(bearer(token), ROUTE.opaque);
    expect(fresh.ok).toBe(true);
    expect(fresh.ok && first.ok && fresh.upstreamAuthorization !== first.upstreamAuthorization).toBe(true);
    const principal = await verifierFor(ACCOUNTS).verify(
      ((fresh.ok && fresh.upstreamAuthorization) || '').slice(7),
    );
    expect(principal.expiresAt * 1000).toBeGreaterThan(as.clock.now() + 30_000);
  });

  it('mode none: ok without a principal and without touching any credential', async () => {
    const outcome = await gw.auth.authenticate(
      {
        authorization: 'Basic Zm9vOmJhcg==',
        dpop: undefined,
        method: 'GET',
        htu: 'https://gateway.example/',
      },
      ROUTE.none,
    );
    expect(outcome).toMatchObject({
      ok: true,
      principal: { sub: undefined, clientId: undefined, tokenKind: 'none' },
      upstreamAuthorization: undefined,
    });
  });

  it('never logs a token', async () => {
    const token = await as.tokenFor(partner);
    const outcome = await gw.auth.authenticate(bearer(token), ROUTE.opaque);
    const internal = outcome.ok ? (outcome.upstreamAuthorization ?? '').slice(7) : 'x';
    const log = gw.lines.join('\n');
    expect(log).not.toContain(token);
    expect(log).not.toContain(internal);
  });
});
