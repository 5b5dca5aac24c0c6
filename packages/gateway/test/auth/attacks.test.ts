import { generateKeyPairSync } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  collectAuthHeaders,
  type AuthFailureReason,
  type AuthRequest,
  type RouteAuth,
} from '../../src/auth/index.js';
import { startAuthServer, type TestAuthServer, type TestClient } from '../support/auth-server.js';
import {
  ACCOUNTS,
  API,
  ORDERS,
  ROUTE,
  bearer,
  signJws,
  startAuthenticator,
  type Authenticator,
} from './helpers.js';

/** A request as the pipeline builds it: headers from rawHeaders, `htu` without the query. */
function fromRaw(url: string, rawHeaders: readonly string[], method = 'GET'): AuthRequest {
  const { authorization, dpop } = collectAuthHeaders(rawHeaders);
  const parsed = new URL(url);
  return { authorization, dpop, method, htu: `${parsed.origin}${parsed.pathname}` };
}

const URL_ = 'https://gateway.example/accounts/42';

interface Attack {
  readonly name: string;
  readonly request: () => AuthRequest;
  readonly route?: RouteAuth;
  readonly reason: AuthFailureReason;
  readonly code?: string;
}

describe('gateway auth: attack table (each refused, with a bounded reason)', () => {
  let as: TestAuthServer;
  let other: TestAuthServer;
  let gw: Authenticator;
  const t: Record<string, string> = {};
  const tok = (name: string): string => t[name] ?? '';
  let secretClient: TestClient;

  beforeAll(async () => {
    as = await startAuthServer();
    other = await startAuthServer({ clock: as.clock });
    const gatewayClient = await as.createGatewayClient();
    const opaqueClient = await as.createClient({ scopes: ['accounts:read'], resources: [API, ACCOUNTS] });
    const jwtClient = await as.createClient({
      scopes: ['accounts:read'],
      resources: [API, ACCOUNTS],
      tokenFormat: 'jwt',
    });
    const ordersOnlyJwt = await as.createClient({
      scopes: ['orders:read'],
      resources: [ORDERS],
      tokenFormat: 'jwt',
    });
    const ordersOnlyOpaque = await as.createClient({ scopes: ['orders:read'], resources: [ORDERS] });
    const noAccounts = await as.createClient({ scopes: ['orders:read'], resources: [API, ORDERS] });
    const shortJwt = await as.createClient({ resources: [API], tokenFormat: 'jwt', accessTokenTtlSec: 1 });
    secretClient = opaqueClient;
    const otherJwt = await other.createClient({ resources: [API], tokenFormat: 'jwt' });
    const otherOpaque = await other.createClient({ resources: [API] });
    gw = await startAuthenticator(as, gatewayClient);

    t['expiredJwt'] = await as.tokenFor(shortJwt);
    as.clock.advance(60); // beyond the 1 s lifetime and the 30 s tolerance
    t['opaque'] = await as.tokenFor(opaqueClient);
    t['jwt'] = await as.tokenFor(jwtClient);
    t['ordersJwt'] = await as.tokenFor(ordersOnlyJwt);
    t['noAccounts'] = await as.tokenFor(noAccounts);
    t['ordersOpaque'] = await as.tokenFor(ordersOnlyOpaque);
    t['revoked'] = await as.tokenFor(opaqueClient);
    await as.revoke(opaqueClient, tok('revoked'));
    t['otherJwt'] = await other.tokenFor(otherJwt);
    t['otherOpaque'] = await other.tokenFor(otherOpaque);
    const exchanged = await gw.auth.authenticate(bearer(tok('opaque')), ROUTE.opaque);
    t['internal'] = exchanged.ok ? (exchanged.upstreamAuthorization ?? '').slice(7) : '';

    const [header = '', payload = ''] = tok('jwt').split('.');
    const claims = JSON.parse(Buffer.from(payload, 'base64url').toString()) as Record<string, unknown>;
    const { kid } = JSON.parse(Buffer.from(header, 'base64url').toString()) as { kid: string };
    const attacker = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    t['algNone'] = signJws({ alg: 'none', typ: 'at+jwt' }, claims);
    t['forged'] = signJws(
      { alg: 'ES256', typ: 'at+jwt', kid },
      { ...claims, scope: 'admin' },
      attacker.privateKey,
    );
    t['embeddedKey'] = signJws(
      { alg: 'ES256', typ: 'at+jwt', jwk: attacker.publicKey.export({ format: 'jwk' }) },
      claims,
      attacker.privateKey,
    );
    t['hs256'] =
      `${Buffer.from(JSON.stringify({ alg: 'HS256', typ: 'at+jwt', kid })).toString('base64url')}.${payload}.c2ln`;
    const escalated = Buffer.from(
      JSON.stringify({ ...claims, scope: 'accounts:read accounts:write admin' }),
    ).toString('base64url');
    t['tampered'] = [header, escalated, tok('jwt').split('.')[2]].join('.');
    t['idTokenTyp'] = signJws({ alg: 'ES256', typ: 'JWT', kid }, claims, attacker.privateKey);
  });
  afterAll(async () => {
    await gw.auth.close();
    await other.close();
    await as.close();
  });

  const auth = (token: string, scheme = 'Bearer') => [`Authorization`, `${scheme} ${token}`];

  const attacks: Attack[] = [
    // Where the token is: RFC 6750 §2.1 only; never the query (§2.3) or a body (§2.2) or a cookie.
    {
      name: 'token in the query string',
      request: () => fromRaw(`${URL_}?access_token=${tok('opaque')}`, []),
      reason: 'missing',
      code: 'ERR_OAUTH_TOKEN_MISSING',
    },
    {
      name: 'token in a cookie',
      request: () => fromRaw(URL_, ['Cookie', `access_token=${tok('opaque')}`]),
      reason: 'missing',
    },
    {
      name: 'token in a custom header',
      request: () => fromRaw(URL_, ['X-Access-Token', tok('opaque')]),
      reason: 'missing',
    },
    {
      name: 'token in a form body (POST)',
      request: () => fromRaw(URL_, ['Content-Type', 'application/x-www-form-urlencoded'], 'POST'),
      reason: 'missing',
    },
    {
      name: 'no Authorization at all',
      request: () => fromRaw(URL_, []),
      reason: 'missing',
      code: 'ERR_OAUTH_TOKEN_MISSING',
    },
    // Header syntax
    {
      name: 'two Authorization fields',
      request: () => fromRaw(URL_, [...auth(tok('opaque')), ...auth(tok('jwt'))]),
      reason: 'malformed',
      code: 'ERR_OAUTH_INVALID_REQUEST',
    },
    {
      name: 'two Authorization fields, second one Basic',
      request: () => fromRaw(URL_, [...auth(tok('opaque')), 'authorization', 'Basic Zm9vOmJhcg==']),
      reason: 'malformed',
    },
    {
      name: 'two credentials in one field',
      request: () => fromRaw(URL_, ['Authorization', `Bearer ${tok('opaque')}, Bearer ${tok('jwt')}`]),
      reason: 'malformed',
    },
    {
      name: 'Basic scheme',
      request: () => fromRaw(URL_, ['Authorization', 'Basic Zm9vOmJhcg==']),
      reason: 'missing',
      code: 'ERR_OAUTH_TOKEN_MISSING',
    },
    { name: 'Token scheme', request: () => fromRaw(URL_, auth(tok('opaque'), 'Token')), reason: 'missing' },
    { name: 'MAC scheme', request: () => fromRaw(URL_, auth(tok('opaque'), 'MAC')), reason: 'missing' },
    {
      name: 'scheme glued to the token',
      request: () => fromRaw(URL_, ['Authorization', `Bearer${tok('opaque')}`]),
      reason: 'missing',
    },
    {
      name: 'Bearer without a token',
      request: () => fromRaw(URL_, ['Authorization', 'Bearer']),
      reason: 'malformed',
    },
    {
      name: 'Bearer and a space',
      request: () => fromRaw(URL_, ['Authorization', 'Bearer ']),
      reason: 'malformed',
    },
    { name: 'empty Authorization', request: () => fromRaw(URL_, ['Authorization', '']), reason: 'malformed' },
    {
      name: 'tab instead of space',
      request: () => fromRaw(URL_, ['Authorization', `Bearer\t${tok('opaque')}`]),
      reason: 'malformed',
    },
    {
      name: 'token with a quote',
      request: () => fromRaw(URL_, auth(`"${tok('opaque')}"`)),
      reason: 'malformed',
    },
    {
      name: 'token with a space inside',
      request: () => fromRaw(URL_, auth(`${tok('opaque')} extra`)),
      reason: 'malformed',
    },
    {
      name: 'token with padding in the middle',
      request: () => fromRaw(URL_, auth(`ab=cd`)),
      reason: 'malformed',
    },
    { name: 'oversized token', request: () => fromRaw(URL_, auth('a'.repeat(9000))), reason: 'malformed' },
    // Opaque tokens
    { name: 'revoked opaque token', request: () => bearer(tok('revoked')), reason: 'inactive' },
    {
      name: 'opaque token from another issuer',
      request: () => bearer(tok('otherOpaque')),
      reason: 'inactive',
    },
    {
      name: 'a client secret used as a token',
      request: () => bearer(secretClient.clientSecret),
      reason: 'inactive',
    },
    { name: 'random opaque token', request: () => bearer('x'.repeat(43)), reason: 'inactive' },
    {
      name: 'opaque token on a JWT-only route',
      request: () => bearer(tok('opaque')),
      route: ROUTE.jwt,
      reason: 'invalid',
    },
    {
      name: 'opaque token for another audience (RFC 8707)',
      request: () => bearer(tok('ordersOpaque')),
      route: ROUTE.opaque,
      reason: 'invalid',
      code: 'ERR_JWT_AUDIENCE_INVALID',
    },
    {
      name: 'opaque token whose client may not reach the service',
      request: () => bearer(tok('noAccounts')),
      route: ROUTE.opaque,
      reason: 'invalid',
      code: 'ERR_JWT_AUDIENCE_INVALID',
    },
    // JWTs
    {
      name: 'JWT on an opaque-only route',
      request: () => bearer(tok('jwt')),
      route: ROUTE.opaque,
      reason: 'invalid',
    },
    {
      name: 'JWT for another audience',
      request: () => bearer(tok('ordersJwt')),
      reason: 'invalid',
      code: 'ERR_JWT_AUDIENCE_INVALID',
    },
    {
      // Minted by the exchange for the accounts service: replayed on the orders route it is refused
      // by the gateway, not relayed for the orders service to refuse.
      name: "internal JWT of one service replayed on another service's route",
      request: () => bearer(tok('internal')),
      route: ROUTE.orders,
      reason: 'invalid',
      code: 'ERR_JWT_AUDIENCE_INVALID',
    },
    { name: 'JWT from another issuer', request: () => bearer(tok('otherJwt')), reason: 'invalid' },
    {
      name: 'expired JWT',
      request: () => bearer(tok('expiredJwt')),
      reason: 'expired',
      code: 'ERR_JWT_EXPIRED',
    },
    {
      name: 'alg none',
      request: () => bearer(tok('algNone')),
      reason: 'invalid',
      code: 'ERR_JWT_ALG_NONE',
    },
    {
      name: 'HS256 with the server key id (key confusion)',
      request: () => bearer(tok('hs256')),
      reason: 'invalid',
    },
    {
      name: 'signed by an attacker with the server key id',
      request: () => bearer(tok('forged')),
      reason: 'invalid',
      code: 'ERR_JWT_SIGNATURE_INVALID',
    },
    {
      name: 'key embedded in the header (jwk)',
      request: () => bearer(tok('embeddedKey')),
      reason: 'invalid',
    },
    {
      name: 'payload tampered (scope escalation)',
      request: () => bearer(tok('tampered')),
      reason: 'invalid',
      code: 'ERR_JWT_SIGNATURE_INVALID',
    },
    {
      name: 'typ JWT instead of at+jwt',
      request: () => bearer(tok('idTokenTyp')),
      reason: 'invalid',
      code: 'ERR_JWT_TYP_INVALID',
    },
    {
      name: 'JWT segment in base64, not base64url',
      request: () => bearer('eyJhbGciOiJFUzI1NiJ9+/.e30.c2ln'),
      reason: 'malformed',
    },
    {
      name: 'JWE-looking token (five parts)',
      request: () => bearer('a.b.c.d.e'),
      route: ROUTE.jwt,
      reason: 'invalid',
    },
  ];

  it.each(attacks)('$name → $reason', async (attack) => {
    const outcome = await gw.auth.authenticate(attack.request(), attack.route ?? ROUTE.any);
    expect(outcome).toMatchObject({ ok: false, reason: attack.reason });
    if (attack.code !== undefined) expect(outcome).toMatchObject({ error: { code: attack.code } });
    if (!outcome.ok) expect(outcome.error.status).toBeLessThan(500);
  });

  it.each([
    ['Bearer', 'opaque'],
    ['bearer', 'opaque'],
    ['BEARER', 'jwt'],
    ['Bearer  ', 'jwt'],
  ])('positive control: scheme %j with a valid %s token is accepted', async (scheme, kind) => {
    const outcome = await gw.auth.authenticate(
      fromRaw(URL_, ['Authorization', `${scheme} ${t[kind] ?? ''}`]),
      ROUTE.any,
    );
    expect(outcome.ok).toBe(true);
  });

  it('a refusal never carries the token in its message or detail', async () => {
    for (const attack of attacks) {
      const outcome = await gw.auth.authenticate(attack.request(), attack.route ?? ROUTE.any);
      if (outcome.ok) continue;
      for (const token of Object.values(t)) {
        if (token.length < 20) continue;
        expect(outcome.error.message).not.toContain(token);
        expect(outcome.error.detail ?? '').not.toContain(token);
      }
    }
    for (const token of Object.values(t)) expect(gw.lines.join('\n')).not.toContain(token);
  });
});
