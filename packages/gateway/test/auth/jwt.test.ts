import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAuthServer, type TestAuthServer, type TestClient } from '../support/auth-server.js';
import {
  ACCOUNTS,
  API,
  ROUTE,
  bearer,
  countAudit,
  startAuthenticator,
  type Authenticator,
} from './helpers.js';

describe('gateway auth: JWT access tokens verified locally with guard (real auth server JWKS)', () => {
  let as: TestAuthServer;
  let gw: Authenticator;
  let jwtClient: TestClient;
  let opaqueClient: TestClient;

  beforeAll(async () => {
    as = await startAuthServer();
    jwtClient = await as.createClient({
      scopes: ['accounts:read', 'orders:read'],
      resources: [API, ACCOUNTS],
      tokenFormat: 'jwt',
    });
    opaqueClient = await as.createClient({ scopes: ['accounts:read'], resources: [API, ACCOUNTS] });
    gw = await startAuthenticator(as, await as.createGatewayClient(), {
      algorithms: ['ES256'],
      clockToleranceSec: 30,
    });
  });
  afterAll(async () => {
    await gw.auth.close();
    await as.close();
  });

  it("accepts a JWT for the route's audience and forwards it unchanged as Bearer", async () => {
    const token = await as.tokenFor(jwtClient, { resource: ACCOUNTS });
    const introspections = countAudit(as, 'token.introspect');
    const outcome = await gw.auth.authenticate(
      { authorization: `bEaReR ${token}`, dpop: undefined, method: 'GET', htu: 'https://gateway.example/a' },
      ROUTE.jwt,
    );
    expect(outcome).toMatchObject({
      ok: true,
      principal: { sub: jwtClient.clientId, clientId: jwtClient.clientId, tokenKind: 'jwt' },
      upstreamAuthorization: `Bearer ${token}`,
    });
    expect(outcome.ok && [...outcome.principal.scopes].sort()).toEqual(['accounts:read', 'orders:read']);
    // Verified locally: no call to the auth server.
    expect(countAudit(as, 'token.introspect')).toBe(introspections);
  });

  it('serves a repeated JWT from the verification cache', async () => {
    const token = await as.tokenFor(jwtClient);
    const first = await gw.auth.authenticate(bearer(token), ROUTE.jwt);
    const hits = gw.auth.stats().verifyCacheHits ?? 0;
    const second = await gw.auth.authenticate(bearer(token), ROUTE.jwt);
    expect(second).toBe(first);
    expect(gw.auth.stats().verifyCacheHits).toBe(hits + 1);
  });

  it('answers a cached JWT synchronously, and still refuses what the cache cannot vouch for', async () => {
    const token = await as.tokenFor(jwtClient);
    const first = gw.auth.authenticate(bearer(token), ROUTE.jwt);
    // Not verified yet: the key set and the signature take a promise.
    expect(first).toBeInstanceOf(Promise);
    const verified = await first;
    // Verified before: the same outcome, without a promise (the hot path of the pipeline).
    const hit = gw.auth.authenticate(bearer(token), ROUTE.jwt);
    expect(hit).not.toBeInstanceOf(Promise);
    expect(hit).toBe(verified);

    // The same token on a route that takes opaque tokens only, a tampered copy, another scheme:
    // refused exactly as before, whether synchronously or not.
    const [header, payload, signature] = token.split('.') as [string, string, string];
    const flipped = signature.startsWith('A') ? `B${signature.slice(1)}` : `A${signature.slice(1)}`;
    const refusals: [string, ReturnType<typeof gw.auth.authenticate>, string][] = [
      ['opaque-only route', gw.auth.authenticate(bearer(token), ROUTE.opaque), 'ERR_JWT_TYP_INVALID'],
      [
        'tampered signature',
        gw.auth.authenticate(bearer(`${header}.${payload}.${flipped}`), ROUTE.jwt),
        'ERR_JWT_SIGNATURE_INVALID',
      ],
      [
        'DPoP scheme, unbound token',
        gw.auth.authenticate({ ...bearer(token), authorization: `DPoP ${token}` }, ROUTE.jwt),
        'ERR_DPOP_TOKEN_NOT_BOUND',
      ],
      [
        'no credentials',
        gw.auth.authenticate({ ...bearer(token), authorization: undefined }, ROUTE.jwt),
        'ERR_OAUTH_TOKEN_MISSING',
      ],
    ];
    for (const [label, pending, code] of refusals) {
      const outcome = await pending;
      expect({ label, ok: outcome.ok, code: outcome.ok ? undefined : outcome.error.code }).toEqual({
        label,
        ok: false,
        code,
      });
    }
  });

  it("exchanges a JWT for the gateway's own audience for the route's internal audience", async () => {
    const token = await as.tokenFor(jwtClient, { resource: API });
    const outcome = await gw.auth.authenticate(bearer(token), ROUTE.jwt);
    expect(outcome).toMatchObject({ ok: true, principal: { sub: jwtClient.clientId, tokenKind: 'jwt' } });
    const forwarded = outcome.ok ? (outcome.upstreamAuthorization ?? '') : '';
    expect(forwarded).not.toBe(`Bearer ${token}`);
    const payload = JSON.parse(Buffer.from(forwarded.split('.')[1] ?? '', 'base64url').toString()) as {
      aud: unknown;
    };
    expect(payload.aud).toBe(ACCOUNTS);
  });

  it("refuses a JWT minted for another route's service instead of relaying it", async () => {
    const token = await as.tokenFor(jwtClient, { resource: ACCOUNTS });
    expect(await gw.auth.authenticate(bearer(token), ROUTE.orders)).toMatchObject({
      ok: false,
      reason: 'invalid',
      error: { code: 'ERR_JWT_AUDIENCE_INVALID' },
    });
  });

  it('route mode any: a JWT is verified, an opaque token is introspected and exchanged', async () => {
    const jwt = await as.tokenFor(jwtClient, { resource: ACCOUNTS });
    const opaque = await as.tokenFor(opaqueClient);
    const viaJwt = await gw.auth.authenticate(bearer(jwt), ROUTE.any);
    const viaOpaque = await gw.auth.authenticate(bearer(opaque), ROUTE.any);
    expect(viaJwt).toMatchObject({
      ok: true,
      principal: { tokenKind: 'jwt' },
      upstreamAuthorization: `Bearer ${jwt}`,
    });
    expect(viaOpaque).toMatchObject({ ok: true, principal: { tokenKind: 'opaque' } });
    expect(viaOpaque.ok && viaOpaque.upstreamAuthorization).not.toBe(`Bearer ${opaque}`);
  });

  it('refuses a JWT on an opaque-only route and an opaque token on a JWT-only route', async () => {
    const jwt = await as.tokenFor(jwtClient);
    const opaque = await as.tokenFor(opaqueClient);
    expect(await gw.auth.authenticate(bearer(jwt), ROUTE.opaque)).toMatchObject({
      ok: false,
      reason: 'invalid',
      error: { status: 401 },
    });
    expect(await gw.auth.authenticate(bearer(opaque), ROUTE.jwt)).toMatchObject({
      ok: false,
      reason: 'invalid',
      error: { status: 401 },
    });
  });

  it('refuses an expired JWT (clock tolerance 30 s), even one verified and cached before', async () => {
    const token = await as.tokenFor(jwtClient);
    expect((await gw.auth.authenticate(bearer(token), ROUTE.jwt)).ok).toBe(true);
    as.clock.advance(300 + 31);
    expect(await gw.auth.authenticate(bearer(token), ROUTE.jwt)).toMatchObject({
      ok: false,
      reason: 'expired',
      error: { code: 'ERR_JWT_EXPIRED', status: 401 },
    });
  });
});
