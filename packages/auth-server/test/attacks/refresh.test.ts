import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createUserStore } from '../../src/users/user-store.js';
import { SecretWatch, auditSince, expectOAuthError, type AttackCase } from '../helpers/attack-table.js';
import { addUser } from '../helpers/browser-flow.js';
import { createDpopKey, dpopProof, type DpopKey } from '../helpers/dpop-proof.js';
import { describeEachStore, startAuthServer, type TestAuthServer } from '../helpers/harness.js';
import {
  API,
  OTHER_API,
  TEST_RESOURCES,
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
 * Refresh token attacks (RFC 6749 §6, §10.4; RFC 9700 §4.14; OAuth 2.1 §4.3; RFC 9449 §5): a
 * refresh token is bound to its client (and, for a public client that used DPoP, to the DPoP
 * key), rotated on every use, may only narrow the scope, dies with its user, its revocation, its
 * idle and absolute lifetimes; a rotated token presented again after the grace window revokes the
 * whole family.
 */

const GRACE_SEC = 5;
const IDLE_SEC = 100;
const ABSOLUTE_SEC = 150;

interface Ctx {
  readonly as: TestAuthServer;
  readonly web: TestClient;
  readonly other: TestClient;
  readonly spa: TestClient;
  readonly shortLived: TestClient;
  readonly rs: TestClient;
  readonly watch: SecretWatch;
}

/** A token family: the answer of the code redemption that started it. */
interface Family {
  readonly client: TestClient;
  readonly first: FormResponse;
  readonly refreshToken: string;
  readonly accessToken: string;
  readonly sub: string;
  readonly dpop?: DpopKey;
}

interface RefreshCase extends AttackCase {
  readonly attack: (ctx: Ctx) => Promise<{ refused: FormResponse; after?: () => Promise<void> }>;
  readonly expected: { readonly status: number; readonly error: string };
}

const tokenUrl = (ctx: Ctx): string => `${ctx.as.url}/token`;

async function proofHeaders(ctx: Ctx, key: DpopKey | undefined): Promise<Record<string, string> | undefined> {
  if (key === undefined) return undefined;
  return { dpop: await dpopProof(key, ctx.as.clock.now(), { htu: tokenUrl(ctx) }) };
}

async function start(
  ctx: Ctx,
  client: TestClient,
  options: { sub?: string; dpop?: DpopKey; scopes?: readonly string[] } = {},
): Promise<Family> {
  const issued = await issueCode(ctx.as, client, {
    ...(options.sub === undefined ? {} : { sub: options.sub }),
    ...(options.scopes === undefined ? {} : { scopes: options.scopes }),
  });
  ctx.watch.add('code', issued.code);
  const first = await redeem(ctx.as, client, issued, {}, await proofHeaders(ctx, options.dpop));
  expect(first.status).toBe(200);
  ctx.watch.addTokens('family', first);
  return {
    client,
    first,
    refreshToken: first.body['refresh_token'] as string,
    accessToken: first.body['access_token'] as string,
    sub: options.sub ?? 'user-alice',
    ...(options.dpop === undefined ? {} : { dpop: options.dpop }),
  };
}

async function refresh(
  ctx: Ctx,
  client: TestClient,
  token: string,
  extra: Readonly<Record<string, string | undefined>> = {},
  headers?: Record<string, string>,
): Promise<FormResponse> {
  const response = await tokenRequest(
    ctx.as,
    client,
    { grant_type: 'refresh_token', refresh_token: token, ...extra },
    headers,
  );
  ctx.watch.addTokens('refreshed', response);
  return response;
}

const active = async (ctx: Ctx, token: unknown): Promise<boolean> =>
  (await introspect(ctx.as, ctx.rs, token as string)).body['active'] === true;

/** The family still works for its owner (the refusal revoked nothing). */
const stillWorks = (ctx: Ctx, family: Family) => async (): Promise<void> => {
  const next = await refresh(
    ctx,
    family.client,
    family.refreshToken,
    {},
    await proofHeaders(ctx, family.dpop),
  );
  expect(next.status).toBe(200);
  expect(await active(ctx, family.accessToken)).toBe(true);
};

/** The family is dead: its access token, its live refresh token, and the audit says why. */
const familyRevoked =
  (ctx: Ctx, family: Family, live: string, mark: number, reason: string) => async (): Promise<void> => {
    expect(await active(ctx, family.accessToken)).toBe(false);
    // Refresh tokens are introspectable by their own client only: the refresh itself is the test.
    expectOAuthError(await refresh(ctx, family.client, live), 400, 'invalid_grant');
    expect(auditSince(ctx.as, mark)).toContainEqual(
      expect.objectContaining({ action: 'token.reuse_detected', reason }),
    );
  };

const cases: RefreshCase[] = [
  {
    name: 'reuse of a rotated token after the grace window: the family is revoked',
    source: 'RFC 9700 §4.14.2, OAuth 2.1 §4.3.1',
    attack: async (ctx) => {
      const family = await start(ctx, ctx.web);
      const rotated = await refresh(ctx, ctx.web, family.refreshToken);
      expect(rotated.status).toBe(200);
      ctx.as.clock.advance(GRACE_SEC + 1);
      const mark = ctx.as.audit.length;
      const refused = await refresh(ctx, ctx.web, family.refreshToken);
      const after = familyRevoked(
        ctx,
        family,
        rotated.body['refresh_token'] as string,
        mark,
        'refresh_token_reused',
      );
      return {
        refused,
        after: async () => {
          await after();
          expect(await active(ctx, rotated.body['access_token'])).toBe(false);
        },
      };
    },
    expected: { status: 400, error: 'invalid_grant' },
  },
  {
    name: 'reuse of a token two rotations back, inside the grace window',
    source: 'RFC 9700 §4.14.2 (grace only for the immediate predecessor)',
    attack: async (ctx) => {
      const family = await start(ctx, ctx.web);
      const second = await refresh(ctx, ctx.web, family.refreshToken);
      const third = await refresh(ctx, ctx.web, second.body['refresh_token'] as string);
      expect(third.status).toBe(200);
      const mark = ctx.as.audit.length;
      const refused = await refresh(ctx, ctx.web, family.refreshToken);
      return {
        refused,
        after: familyRevoked(
          ctx,
          family,
          third.body['refresh_token'] as string,
          mark,
          'refresh_token_reused',
        ),
      };
    },
    expected: { status: 400, error: 'invalid_grant' },
  },
  {
    name: 'reuse by an attacker after the legitimate client refreshed (public client)',
    source: 'RFC 9700 §4.14.2, RFC 6749 §10.4',
    attack: async (ctx) => {
      const family = await start(ctx, ctx.spa);
      const rotated = await refresh(ctx, ctx.spa, family.refreshToken);
      ctx.as.clock.advance(GRACE_SEC + 1);
      const mark = ctx.as.audit.length;
      const refused = await refresh(ctx, ctx.spa, family.refreshToken);
      return {
        refused,
        after: familyRevoked(
          ctx,
          family,
          rotated.body['refresh_token'] as string,
          mark,
          'refresh_token_reused',
        ),
      };
    },
    expected: { status: 400, error: 'invalid_grant' },
  },
  {
    name: 'refresh token of another confidential client',
    source: 'RFC 6749 §6 (bound to the client), §10.4',
    attack: async (ctx) => {
      const family = await start(ctx, ctx.web);
      return { refused: await refresh(ctx, ctx.other, family.refreshToken), after: stillWorks(ctx, family) };
    },
    expected: { status: 400, error: 'invalid_grant' },
  },
  {
    name: 'refresh token of a public client presented by a confidential client',
    source: 'RFC 6749 §6, §10.4',
    attack: async (ctx) => {
      const family = await start(ctx, ctx.spa);
      return { refused: await refresh(ctx, ctx.web, family.refreshToken), after: stillWorks(ctx, family) };
    },
    expected: { status: 400, error: 'invalid_grant' },
  },
  {
    name: 'refresh token of a confidential client presented with its client_id only',
    source: 'RFC 6749 §6 (confidential clients authenticate)',
    attack: async (ctx) => {
      const family = await start(ctx, ctx.web);
      const refused = await postForm(tokenUrl(ctx), {
        grant_type: 'refresh_token',
        refresh_token: family.refreshToken,
        client_id: ctx.web.id,
      });
      return { refused, after: stillWorks(ctx, family) };
    },
    expected: { status: 401, error: 'invalid_client' },
  },
  {
    name: 'scope escalation: a scope the client has but the grant lacks',
    source: 'RFC 6749 §6 (no scope not originally granted)',
    attack: async (ctx) => {
      const family = await start(ctx, ctx.web, { scopes: ['openid', 'accounts:read'] });
      const refused = await refresh(ctx, ctx.web, family.refreshToken, {
        scope: 'openid accounts:read accounts:write',
      });
      return { refused, after: stillWorks(ctx, family) };
    },
    expected: { status: 400, error: 'invalid_scope' },
  },
  {
    name: 'scope escalation: a scope the client is not registered for',
    source: 'RFC 6749 §6, §3.3',
    attack: async (ctx) => {
      const family = await start(ctx, ctx.web);
      return {
        refused: await refresh(ctx, ctx.web, family.refreshToken, { scope: 'orders:read' }),
        after: stillWorks(ctx, family),
      };
    },
    expected: { status: 400, error: 'invalid_scope' },
  },
  {
    name: 'scope escalation: an unknown scope',
    source: 'RFC 6749 §6, §3.3',
    attack: async (ctx) => {
      const family = await start(ctx, ctx.web);
      return {
        refused: await refresh(ctx, ctx.web, family.refreshToken, { scope: 'admin' }),
        after: stillWorks(ctx, family),
      };
    },
    expected: { status: 400, error: 'invalid_scope' },
  },
  {
    name: 'a resource outside the grant',
    source: 'RFC 8707 §2.2',
    attack: async (ctx) => {
      const family = await start(ctx, ctx.web);
      return {
        refused: await refresh(ctx, ctx.web, family.refreshToken, { resource: OTHER_API }),
        after: stillWorks(ctx, family),
      };
    },
    expected: { status: 400, error: 'invalid_target' },
  },
  {
    name: 'refresh after the user was deleted',
    source: 'RFC 7009 §2.1, RFC 6749 §10.4',
    attack: async (ctx) => {
      const username = `u${randomBytes(6).toString('hex')}`;
      const user = await addUser(ctx.as, { username, password: 'user password 1' });
      const family = await start(ctx, ctx.web, { sub: user.sub });
      expect(await createUserStore(ctx.as.deps).delete(user.sub)).toBe(true);
      return {
        refused: await refresh(ctx, ctx.web, family.refreshToken),
        after: async () => expect(await active(ctx, family.accessToken)).toBe(false),
      };
    },
    expected: { status: 400, error: 'invalid_grant' },
  },
  {
    name: 'refresh after the client revoked the refresh token',
    source: 'RFC 7009 §2.1',
    attack: async (ctx) => {
      const family = await start(ctx, ctx.web);
      expect((await revoke(ctx.as, ctx.web, family.refreshToken)).status).toBe(200);
      return {
        refused: await refresh(ctx, ctx.web, family.refreshToken),
        after: async () => expect(await active(ctx, family.accessToken)).toBe(false),
      };
    },
    expected: { status: 400, error: 'invalid_grant' },
  },
  {
    name: 'refresh after the client was deleted',
    source: 'RFC 6749 §2.3 (client authentication fails)',
    attack: async (ctx) => {
      const doomed = await newClient(ctx.as, {
        grantTypes: ['authorization_code', 'refresh_token'],
        scopes: ['openid'],
      });
      ctx.watch.add('doomed secret', doomed.secret);
      const family = await start(ctx, doomed);
      expect(await ctx.as.server.services.clients.delete(doomed.id)).toBe(true);
      return { refused: await refresh(ctx, doomed, family.refreshToken) };
    },
    expected: { status: 401, error: 'invalid_client' },
  },
  {
    name: 'idle expiry: unused for longer than the idle lifetime',
    source: 'RFC 9700 §4.14.2, OAuth 2.1 §4.3.1',
    attack: async (ctx) => {
      const family = await start(ctx, ctx.shortLived);
      ctx.as.clock.advance(IDLE_SEC + 1);
      return { refused: await refresh(ctx, ctx.shortLived, family.refreshToken) };
    },
    expected: { status: 400, error: 'invalid_grant' },
  },
  {
    name: 'absolute expiry: used within the idle lifetime but past the family lifetime',
    source: 'RFC 9700 §4.14.2',
    attack: async (ctx) => {
      const family = await start(ctx, ctx.shortLived);
      ctx.as.clock.advance(IDLE_SEC - 10);
      const kept = await refresh(ctx, ctx.shortLived, family.refreshToken);
      expect(kept.status).toBe(200);
      ctx.as.clock.advance(ABSOLUTE_SEC - IDLE_SEC + 11);
      return { refused: await refresh(ctx, ctx.shortLived, kept.body['refresh_token'] as string) };
    },
    expected: { status: 400, error: 'invalid_grant' },
  },
  {
    name: 'DPoP-bound refresh token (public client) without a proof',
    source: 'RFC 9449 §5 (public clients: bound refresh tokens)',
    attack: async (ctx) => {
      const family = await start(ctx, ctx.spa, { dpop: await createDpopKey() });
      return { refused: await refresh(ctx, ctx.spa, family.refreshToken), after: stillWorks(ctx, family) };
    },
    expected: { status: 400, error: 'invalid_grant' },
  },
  {
    name: 'DPoP-bound refresh token (public client) with a proof of another key',
    source: 'RFC 9449 §5',
    attack: async (ctx) => {
      const family = await start(ctx, ctx.spa, { dpop: await createDpopKey() });
      const refused = await refresh(
        ctx,
        ctx.spa,
        family.refreshToken,
        {},
        await proofHeaders(ctx, await createDpopKey()),
      );
      return { refused, after: stillWorks(ctx, family) };
    },
    expected: { status: 400, error: 'invalid_grant' },
  },
  {
    name: 'DPoP-bound refresh token with a proof for another endpoint (htu)',
    source: 'RFC 9449 §4.3 (htu)',
    attack: async (ctx) => {
      const key = await createDpopKey();
      const family = await start(ctx, ctx.spa, { dpop: key });
      const proof = await dpopProof(key, ctx.as.clock.now(), { htu: `${ctx.as.url}/par` });
      return {
        refused: await refresh(ctx, ctx.spa, family.refreshToken, {}, { dpop: proof }),
        after: stillWorks(ctx, family),
      };
    },
    expected: { status: 400, error: 'invalid_dpop_proof' },
  },
  {
    name: 'an access token presented as refresh token',
    source: 'RFC 6749 §6',
    attack: async (ctx) => {
      const family = await start(ctx, ctx.web);
      return { refused: await refresh(ctx, ctx.web, family.accessToken), after: stillWorks(ctx, family) };
    },
    expected: { status: 400, error: 'invalid_grant' },
  },
  {
    name: 'a forged refresh token',
    source: 'RFC 6749 §5.2 invalid_grant',
    attack: async (ctx) => ({ refused: await refresh(ctx, ctx.web, randomBytes(32).toString('base64url')) }),
    expected: { status: 400, error: 'invalid_grant' },
  },
  {
    name: 'a missing refresh token',
    source: 'RFC 6749 §6',
    attack: async (ctx) => ({
      refused: await tokenRequest(ctx.as, ctx.web, { grant_type: 'refresh_token' }),
    }),
    expected: { status: 400, error: 'invalid_request' },
  },
];

describeEachStore('attacks: refresh tokens', (stores) => {
  let ctx: Ctx;

  beforeAll(async () => {
    const as = await startAuthServer({
      stores,
      config: {
        resources: TEST_RESOURCES,
        dpop: { requireNonce: false },
        tokens: { refreshGraceSec: GRACE_SEC },
      },
    });
    const grantTypes = ['authorization_code', 'refresh_token'] as const;
    const common = {
      grantTypes: [...grantTypes],
      scopes: ['openid', 'accounts:read', 'accounts:write'],
      resources: [API],
    };
    ctx = {
      as,
      web: await newClient(as, common),
      other: await newClient(as, common),
      spa: await newClient(as, { ...common, authMethod: 'none' }),
      shortLived: await newClient(as, {
        ...common,
        refreshIdleTtlSec: IDLE_SEC,
        refreshAbsoluteTtlSec: ABSOLUTE_SEC,
      }),
      rs: await newClient(as, { grantTypes: ['client_credentials'], canIntrospect: true }),
      watch: new SecretWatch(),
    };
    for (const client of [ctx.web, ctx.other, ctx.shortLived, ctx.rs])
      ctx.watch.add(`secret ${client.id}`, client.secret);
  });
  afterAll(async () => {
    ctx.watch.expectNoLeaks(ctx.as);
    await ctx.as.close();
  });

  it.each(cases)('refuses $name ($source)', async ({ attack, expected }) => {
    const mark = ctx.as.audit.length;
    const { refused, after } = await attack(ctx);
    expectOAuthError(refused, expected.status, expected.error);
    expect(refused.body).not.toHaveProperty('access_token');
    expect(auditSince(ctx.as, mark)).toContainEqual(
      expect.objectContaining({ action: 'token.refuse', outcome: 'failure' }),
    );
    await after?.();
  });

  it('answers a concurrent repetition inside the grace window with the same successor (positive control)', async () => {
    const family = await start(ctx, ctx.web);
    const first = await refresh(ctx, ctx.web, family.refreshToken);
    const again = await refresh(ctx, ctx.web, family.refreshToken);
    expect([first.status, again.status]).toEqual([200, 200]);
    expect(again.body['refresh_token']).toBe(first.body['refresh_token']);
    // The family was not revoked: the shared successor keeps working.
    expect((await refresh(ctx, ctx.web, first.body['refresh_token'] as string)).status).toBe(200);
  });

  it('narrows the scope on refresh (positive control)', async () => {
    const family = await start(ctx, ctx.web);
    const narrowed = await refresh(ctx, ctx.web, family.refreshToken, { scope: 'accounts:read' });
    expect(narrowed.status).toBe(200);
    expect(narrowed.body['scope']).toBe('accounts:read');
  });

  it('refreshes a DPoP-bound family with a proof of its key (positive control)', async () => {
    const key = await createDpopKey();
    const family = await start(ctx, ctx.spa, { dpop: key });
    const next = await refresh(ctx, ctx.spa, family.refreshToken, {}, await proofHeaders(ctx, key));
    expect(next.status).toBe(200);
    expect(next.body['token_type']).toBe('DPoP');
  });
});
