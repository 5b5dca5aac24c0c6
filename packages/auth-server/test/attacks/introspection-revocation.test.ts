import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { SecretWatch, auditSince, expectOAuthError, type AttackCase } from '../helpers/attack-table.js';
import { describeEachStore, startAuthServer, type TestAuthServer } from '../helpers/harness.js';
import {
  API,
  TEST_RESOURCES,
  basic,
  introspect,
  issueCode,
  newClient,
  postForm,
  redeem,
  revoke,
  tokenRequest,
  type FormResponse,
  type TestClient,
} from '../helpers/oauth-client.js';

/**
 * Introspection (RFC 7662) and revocation (RFC 7009) attacks: introspection answers only
 * authenticated resource servers allowed to introspect, and tells everyone else nothing (`{ "active":
 * false }` or 401, never a token's claims); revocation revokes only the caller's own tokens, and an
 * attempt on another client's token is answered 200 (§2.2: no oracle) but leaves it alive.
 */

interface Ctx {
  readonly as: TestAuthServer;
  readonly otherAs: TestAuthServer;
  /** Resource server allowed to introspect. */
  readonly rs: TestClient;
  /** Confidential client without can_introspect. */
  readonly nosy: TestClient;
  /** Owner of the tokens under attack (client credentials, opaque). */
  readonly owner: TestClient;
  readonly jwtOwner: TestClient;
  /** Code-flow client: owns refresh tokens. */
  readonly web: TestClient;
  readonly spa: TestClient;
  readonly otherSpa: TestClient;
  readonly quick: TestClient;
  readonly foreign: TestClient;
  readonly watch: SecretWatch;
}

const tokenOf = async (ctx: Ctx, client: TestClient, server = ctx.as): Promise<string> => {
  const response = await tokenRequest(server, client, { grant_type: 'client_credentials' });
  expect(response.status).toBe(200);
  ctx.watch.addTokens('cc', response);
  return response.body['access_token'] as string;
};

const codeFlow = async (ctx: Ctx, client: TestClient): Promise<FormResponse> => {
  const issued = await issueCode(ctx.as, client);
  ctx.watch.add('code', issued.code);
  const response = await redeem(ctx.as, client, issued);
  expect(response.status).toBe(200);
  ctx.watch.addTokens('code flow', response);
  return response;
};

const isActive = async (ctx: Ctx, token: string): Promise<boolean> =>
  (await introspect(ctx.as, ctx.rs, token)).body['active'] === true;

// --- Introspection -----------------------------------------------------------------------------

type Token =
  'live' | 'liveJwt' | 'unknown' | 'revoked' | 'expired' | 'foreignJwt' | 'forgedJwt' | 'otherRefresh';

interface IntrospectionCase extends AttackCase {
  readonly token: Token;
  /** How the caller authenticates. */
  readonly caller: (ctx: Ctx) => { params?: Record<string, string>; headers?: Record<string, string> };
  readonly expected:
    | { readonly status: 401; readonly basicChallenge: boolean }
    | { readonly status: 200; readonly body: { active: false } };
}

const asBasic = (client: TestClient, secret = client.secret as string) => ({
  headers: { authorization: basic(client.id, secret) },
});
const INACTIVE = { status: 200, body: { active: false } } as const;

const introspectionCases: IntrospectionCase[] = [
  {
    name: 'no client credentials',
    source: 'RFC 7662 §2.1 (MUST require authorization)',
    token: 'live',
    caller: () => ({}),
    expected: { status: 401, basicChallenge: false },
  },
  {
    name: 'the resource server client_id without its secret',
    source: 'RFC 7662 §2.1, RFC 6749 §2.3.1',
    token: 'live',
    caller: (ctx) => ({ params: { client_id: ctx.rs.id } }),
    expected: { status: 401, basicChallenge: false },
  },
  {
    name: 'a wrong secret',
    source: 'RFC 7662 §2.1, RFC 6749 §5.2',
    token: 'live',
    caller: (ctx) => asBasic(ctx.rs, 'not-the-secret-of-this-client'),
    expected: { status: 401, basicChallenge: true },
  },
  {
    name: 'the secret of another client',
    source: 'RFC 7662 §2.1, RFC 6749 §5.2',
    token: 'live',
    caller: (ctx) => asBasic(ctx.rs, ctx.nosy.secret),
    expected: { status: 401, basicChallenge: true },
  },
  {
    name: 'a Bearer access token instead of client credentials',
    source: 'RFC 7662 §2.1 (client authentication required here)',
    token: 'live',
    caller: () => ({ headers: { authorization: 'Bearer some-access-token-value' } }),
    expected: { status: 401, basicChallenge: true },
  },
  {
    name: 'a public client (client_id only)',
    source: 'RFC 7662 §2.1, §4 (token scanning)',
    token: 'live',
    caller: (ctx) => ({ params: { client_id: ctx.spa.id } }),
    expected: { status: 401, basicChallenge: false },
  },
  {
    name: 'a public client presenting a secret',
    source: 'RFC 7662 §2.1, RFC 6749 §2.3',
    token: 'live',
    caller: (ctx) => asBasic(ctx.spa, ctx.rs.secret),
    expected: { status: 401, basicChallenge: true },
  },
  {
    name: 'a client without can_introspect, about another client’s live token',
    source: 'RFC 7662 §2.1, §4 (answers may depend on the caller)',
    token: 'live',
    caller: (ctx) => asBasic(ctx.nosy),
    expected: INACTIVE,
  },
  {
    name: 'a client without can_introspect, about a live JWT',
    source: 'RFC 7662 §4',
    token: 'liveJwt',
    caller: (ctx) => asBasic(ctx.nosy),
    expected: INACTIVE,
  },
  {
    name: 'the owner of a token without can_introspect, about its own token',
    source: 'RFC 7662 §2.1',
    token: 'live',
    caller: (ctx) => asBasic(ctx.owner),
    expected: INACTIVE,
  },
  {
    name: 'an unknown token',
    source: 'RFC 7662 §2.2',
    token: 'unknown',
    caller: (ctx) => asBasic(ctx.rs),
    expected: INACTIVE,
  },
  {
    name: 'a revoked token',
    source: 'RFC 7662 §2.2, RFC 7009 §2',
    token: 'revoked',
    caller: (ctx) => asBasic(ctx.rs),
    expected: INACTIVE,
  },
  {
    name: 'an expired token',
    source: 'RFC 7662 §2.2',
    token: 'expired',
    caller: (ctx) => asBasic(ctx.rs),
    expected: INACTIVE,
  },
  {
    name: 'a JWT signed by another authorization server',
    source: 'RFC 7662 §2.2, RFC 9700 §4.4',
    token: 'foreignJwt',
    caller: (ctx) => asBasic(ctx.rs),
    expected: INACTIVE,
  },
  {
    name: 'an unsigned (alg none) JWT naming this issuer',
    source: 'RFC 7662 §2.2, RFC 8725 §3.1',
    token: 'forgedJwt',
    caller: (ctx) => asBasic(ctx.rs),
    expected: INACTIVE,
  },
  {
    name: 'another client’s refresh token',
    source: 'RFC 7662 §4 (refresh tokens are their client’s business)',
    token: 'otherRefresh',
    caller: (ctx) => asBasic(ctx.rs),
    expected: INACTIVE,
  },
];

async function tokenFor(ctx: Ctx, kind: Token): Promise<string> {
  switch (kind) {
    case 'live':
      return tokenOf(ctx, ctx.owner);
    case 'liveJwt':
      return tokenOf(ctx, ctx.jwtOwner);
    case 'unknown':
      return randomBytes(32).toString('base64url');
    case 'revoked': {
      const token = await tokenOf(ctx, ctx.owner);
      expect((await revoke(ctx.as, ctx.owner, token)).status).toBe(200);
      return token;
    }
    case 'expired': {
      const token = await tokenOf(ctx, ctx.quick);
      ctx.as.clock.advance(21);
      return token;
    }
    case 'foreignJwt':
      return tokenOf(ctx, ctx.foreign, ctx.otherAs);
    case 'forgedJwt': {
      const now = Math.floor(ctx.as.clock.now() / 1000);
      const encode = (value: object): string => Buffer.from(JSON.stringify(value)).toString('base64url');
      const claims = {
        iss: ctx.as.url,
        sub: ctx.owner.id,
        aud: API,
        client_id: ctx.owner.id,
        iat: now,
        exp: now + 60,
        jti: 'forged',
      };
      return `${encode({ alg: 'none', typ: 'at+jwt' })}.${encode(claims)}.`;
    }
    case 'otherRefresh':
      return (await codeFlow(ctx, ctx.web)).body['refresh_token'] as string;
  }
}

// --- Revocation --------------------------------------------------------------------------------

interface RevocationCase extends AttackCase {
  /** The victim's token and how to check it is still alive afterwards. */
  readonly victim: 'access' | 'refresh' | 'publicAccess';
  readonly caller: (ctx: Ctx) => { params?: Record<string, string>; headers?: Record<string, string> };
  readonly expected: { readonly status: 200 } | { readonly status: 401; readonly basicChallenge: boolean };
}

const revocationCases: RevocationCase[] = [
  {
    name: 'another client’s access token',
    source: 'RFC 7009 §2.1 (only tokens issued to the requesting client)',
    victim: 'access',
    caller: (ctx) => asBasic(ctx.nosy),
    expected: { status: 200 },
  },
  {
    name: 'another client’s refresh token',
    source: 'RFC 7009 §2.1',
    victim: 'refresh',
    caller: (ctx) => asBasic(ctx.nosy),
    expected: { status: 200 },
  },
  {
    name: 'another client’s access token, by the introspecting resource server',
    source: 'RFC 7009 §2.1 (introspection is no revocation right)',
    victim: 'access',
    caller: (ctx) => asBasic(ctx.rs),
    expected: { status: 200 },
  },
  {
    name: 'another public client’s token, by a public client',
    source: 'RFC 7009 §2.1, §5',
    victim: 'publicAccess',
    caller: (ctx) => ({ params: { client_id: ctx.otherSpa.id } }),
    expected: { status: 200 },
  },
  {
    name: 'a wrong secret of the owning client',
    source: 'RFC 7009 §2.1, RFC 6749 §5.2',
    victim: 'access',
    caller: (ctx) => asBasic(ctx.owner, 'not-the-secret-of-this-client'),
    expected: { status: 401, basicChallenge: true },
  },
  {
    name: 'the owning client_id without its secret',
    source: 'RFC 7009 §2.1 (confidential clients authenticate)',
    victim: 'access',
    caller: (ctx) => ({ params: { client_id: ctx.owner.id } }),
    expected: { status: 401, basicChallenge: false },
  },
  {
    name: 'no credentials at all',
    source: 'RFC 7009 §2.1',
    victim: 'access',
    caller: () => ({}),
    expected: { status: 401, basicChallenge: false },
  },
  {
    name: 'the owning client’s refresh token with a wrong secret',
    source: 'RFC 7009 §2.1',
    victim: 'refresh',
    caller: (ctx) => asBasic(ctx.web, 'not-the-secret-of-this-client'),
    expected: { status: 401, basicChallenge: true },
  },
];

describeEachStore('attacks: introspection and revocation', (stores) => {
  let ctx: Ctx;

  beforeAll(async () => {
    const config = { resources: TEST_RESOURCES };
    const as = await startAuthServer({ stores, config });
    const otherAs = await startAuthServer({ stores, config });
    const machine = {
      grantTypes: ['client_credentials' as const],
      scopes: ['accounts:read'],
      resources: [API],
    };
    const code = {
      grantTypes: ['authorization_code' as const, 'refresh_token' as const],
      scopes: ['accounts:read'],
      resources: [API],
    };
    ctx = {
      as,
      otherAs,
      rs: await newClient(as, { grantTypes: ['client_credentials'], canIntrospect: true }),
      nosy: await newClient(as, machine),
      owner: await newClient(as, machine),
      jwtOwner: await newClient(as, { ...machine, tokenFormat: 'jwt' }),
      web: await newClient(as, code),
      spa: await newClient(as, { ...code, authMethod: 'none' }),
      otherSpa: await newClient(as, { ...code, authMethod: 'none' }),
      quick: await newClient(as, { ...machine, accessTokenTtlSec: 20 }),
      foreign: await newClient(otherAs, { ...machine, tokenFormat: 'jwt' }),
      watch: new SecretWatch(),
    };
    for (const client of [ctx.rs, ctx.nosy, ctx.owner, ctx.jwtOwner, ctx.web, ctx.quick, ctx.foreign])
      ctx.watch.add(`secret ${client.id}`, client.secret);
  });
  afterAll(async () => {
    ctx.watch.expectNoLeaks(ctx.as);
    await Promise.all([ctx.as.close(), ctx.otherAs.close()]);
  });

  const call = (
    path: 'introspect' | 'revoke',
    token: string,
    caller: { params?: Record<string, string>; headers?: Record<string, string> },
  ) =>
    postForm(
      `${ctx.as.url}/${path}`,
      { token, ...caller.params },
      caller.headers === undefined ? {} : { headers: caller.headers },
    );

  it.each(introspectionCases)('introspection: $name ($source)', async (row) => {
    const token = await tokenFor(ctx, row.token);
    const mark = ctx.as.audit.length;
    const response = await call('introspect', token, row.caller(ctx));
    if (row.expected.status === 401) {
      expectOAuthError(response, 401, 'invalid_client');
      if (row.expected.basicChallenge) expect(response.headers.get('www-authenticate')).toMatch(/^Basic /);
      expect(auditSince(ctx.as, mark)).toContainEqual(
        expect.objectContaining({ action: 'client.auth_failed', outcome: 'failure' }),
      );
    } else {
      // Exactly { active: false }: not one claim of the token (RFC 7662 §2.2, §4).
      expect(response.status).toBe(200);
      expect(response.body).toEqual(row.expected.body);
      expect(response.headers.get('cache-control')).toBe('no-store');
    }
    // Whatever the caller learnt, the token itself is untouched.
    if (row.token === 'live' || row.token === 'liveJwt') expect(await isActive(ctx, token)).toBe(true);
  });

  it('answers a caller without can_introspect identically for a live and an unknown token (no oracle, RFC 7662 §4)', async () => {
    const live = await call('introspect', await tokenFor(ctx, 'live'), asBasic(ctx.nosy));
    const unknown = await call('introspect', await tokenFor(ctx, 'unknown'), asBasic(ctx.nosy));
    expect([live.status, live.text]).toEqual([unknown.status, unknown.text]);
    expect(ctx.as.audit.at(-1)).toMatchObject({
      action: 'token.introspect',
      outcome: 'failure',
      reason: 'client not allowed to introspect',
    });
  });

  it('refuses an introspection request without a token (RFC 7662 §2.1)', async () => {
    expectOAuthError(
      await postForm(`${ctx.as.url}/introspect`, {}, { client: ctx.rs }),
      400,
      'invalid_request',
    );
  });

  it.each([
    { name: 'a live opaque token', token: 'live' as const, hint: undefined },
    { name: 'a live JWT', token: 'liveJwt' as const, hint: undefined },
    { name: 'a live token with a misleading token_type_hint', token: 'live' as const, hint: 'refresh_token' },
  ])('introspects $name for an allowed resource server (positive control)', async ({ token, hint }) => {
    const response = await introspect(
      ctx.as,
      ctx.rs,
      await tokenFor(ctx, token),
      hint === undefined ? {} : { token_type_hint: hint },
    );
    expect(response.status).toBe(200);
    expect(response.body).toMatchObject({ active: true, aud: API, scope: 'accounts:read' });
  });

  const victimToken = async (
    kind: RevocationCase['victim'],
  ): Promise<{ token: string; alive: () => Promise<boolean> }> => {
    if (kind === 'access') {
      const token = await tokenOf(ctx, ctx.owner);
      return { token, alive: () => isActive(ctx, token) };
    }
    const client = kind === 'refresh' ? ctx.web : ctx.spa;
    const family = await codeFlow(ctx, client);
    if (kind === 'publicAccess') {
      const token = family.body['access_token'] as string;
      return { token, alive: () => isActive(ctx, token) };
    }
    let refreshToken = family.body['refresh_token'] as string;
    const accessToken = family.body['access_token'] as string;
    return {
      token: refreshToken,
      // Alive: the access token is active and the refresh token still rotates.
      alive: async () => {
        const next = await tokenRequest(ctx.as, client, {
          grant_type: 'refresh_token',
          refresh_token: refreshToken,
        });
        ctx.watch.addTokens('refreshed', next);
        if (next.status === 200) refreshToken = next.body['refresh_token'] as string;
        return next.status === 200 && (await isActive(ctx, accessToken));
      },
    };
  };

  it.each(revocationCases)('revocation: $name ($source)', async (row) => {
    const victim = await victimToken(row.victim);
    const mark = ctx.as.audit.length;
    const response = await call('revoke', victim.token, row.caller(ctx));
    if (row.expected.status === 200) {
      // RFC 7009 §2.2: the same 200 as a successful revocation, so nothing is revealed; refused and audited.
      expect(response.status).toBe(200);
      expect(auditSince(ctx.as, mark)).toContainEqual(
        expect.objectContaining({
          action: 'token.revoke',
          outcome: 'failure',
          reason: 'token of another client',
        }),
      );
    } else {
      expectOAuthError(response, 401, 'invalid_client');
      if (row.expected.basicChallenge) expect(response.headers.get('www-authenticate')).toMatch(/^Basic /);
      expect(auditSince(ctx.as, mark)).toContainEqual(
        expect.objectContaining({ action: 'client.auth_failed' }),
      );
    }
    expect(await victim.alive()).toBe(true);
  });

  it('answers 200 for an unknown token (RFC 7009 §2.2) and 400 for a missing one', async () => {
    expect((await revoke(ctx.as, ctx.owner, randomBytes(32).toString('base64url'))).status).toBe(200);
    expectOAuthError(
      await postForm(`${ctx.as.url}/revoke`, {}, { client: ctx.owner }),
      400,
      'invalid_request',
    );
  });

  it.each([
    { name: 'its access token', victim: 'access' as const, client: (c: Ctx) => c.owner },
    { name: 'its refresh token (the whole family)', victim: 'refresh' as const, client: (c: Ctx) => c.web },
    { name: 'its token as a public client', victim: 'publicAccess' as const, client: (c: Ctx) => c.spa },
  ])('lets the owning client revoke $name (positive control)', async ({ victim, client }) => {
    const target = await victimToken(victim);
    expect((await revoke(ctx.as, client(ctx), target.token)).status).toBe(200);
    expect(await target.alive()).toBe(false);
  });
});
