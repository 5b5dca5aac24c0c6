import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { SecretWatch, auditSince, expectOAuthError, type AttackCase } from '../helpers/attack-table.js';
import { createUserStore } from '../../src/users/user-store.js';
import { addUser } from '../helpers/browser-flow.js';
import { createDpopKey } from '../helpers/dpop-proof.js';
import { describeEachStore, startAuthServer, type TestAuthServer } from '../helpers/harness.js';
import {
  API,
  REDIRECT_URI,
  TEST_RESOURCES,
  basic,
  introspect,
  issueCode,
  newClient,
  postForm,
  redeem,
  tokenRequest,
  type FormResponse,
  type IssuedCode,
  type TestClient,
} from '../helpers/oauth-client.js';

/**
 * Authorization code attacks (RFC 6749 §4.1.2-4.1.3, §10.5; RFC 9700 §4.5): a code is redeemed
 * once, by the client it was issued to, with the redirect URI of its request, before it expires;
 * a second presentation revokes what the first one produced.
 */

const OTHER_REDIRECT = 'https://client.example/other-callback';

interface Ctx {
  readonly as: TestAuthServer;
  /** An authorization server with its own stores: the "other issuer". */
  readonly otherAs: TestAuthServer;
  /** Confidential, opaque tokens, refresh tokens, two redirect URIs. */
  readonly web: TestClient;
  /** Confidential, JWT access tokens. */
  readonly jwtWeb: TestClient;
  /** Public (PKCE only). */
  readonly spa: TestClient;
  /** Another confidential client with the same grants. */
  readonly other: TestClient;
  /** Resource server allowed to introspect. */
  readonly rs: TestClient;
  readonly otherAsClient: TestClient;
  readonly watch: SecretWatch;
}

interface CodeCase extends AttackCase {
  /** Sends the attack; returns the refused token response. */
  readonly attack: (ctx: Ctx) => Promise<{ refused: FormResponse; after?: () => Promise<void> }>;
  readonly expected: { readonly status: number; readonly error: string };
}

const active = async (ctx: Ctx, token: unknown): Promise<boolean> =>
  (await introspect(ctx.as, ctx.rs, token as string)).body['active'] === true;

/** Redeems and remembers the secrets of the answer. */
async function redeemWatched(
  ctx: Ctx,
  client: TestClient,
  issued: IssuedCode,
  extra: Readonly<Record<string, string | undefined>> = {},
): Promise<FormResponse> {
  const response = await redeem(ctx.as, client, issued, extra);
  ctx.watch.addTokens('redeemed', response);
  return response;
}

async function code(ctx: Ctx, client: TestClient, overrides: Parameters<typeof issueCode>[2] = {}) {
  const issued = await issueCode(ctx.as, client, overrides);
  ctx.watch.add('code', issued.code);
  return issued;
}

/** A replay: the first redemption succeeds, the second must fail and kill the first's tokens. */
async function replay(ctx: Ctx, client: TestClient, refreshFirst: boolean) {
  const issued = await code(ctx, client);
  const first = await redeemWatched(ctx, client, issued);
  expect(first.status).toBe(200);
  let refreshToken = first.body['refresh_token'] as string;
  if (refreshFirst) {
    // The family moved on before the replay: the rotated successor must die with the grant too.
    const rotated = await tokenRequest(ctx.as, client, {
      grant_type: 'refresh_token',
      refresh_token: refreshToken,
    });
    expect(rotated.status).toBe(200);
    ctx.watch.addTokens('rotated', rotated);
    refreshToken = rotated.body['refresh_token'] as string;
  }
  expect(await active(ctx, first.body['access_token'])).toBe(true);
  const mark = ctx.as.audit.length;
  const refused = await redeemWatched(ctx, client, issued);
  return {
    refused,
    after: async () => {
      expect(await active(ctx, first.body['access_token'])).toBe(false);
      // Refresh tokens are introspectable by their own client only: the refresh itself is the test.
      const refresh = await tokenRequest(ctx.as, client, {
        grant_type: 'refresh_token',
        refresh_token: refreshToken,
      });
      expectOAuthError(refresh, 400, 'invalid_grant');
      expect(auditSince(ctx.as, mark)).toContainEqual(
        expect.objectContaining({
          action: 'token.reuse_detected',
          outcome: 'failure',
          reason: 'authorization_code_replayed',
          target: expect.objectContaining({ type: 'grant' }) as unknown,
        }),
      );
    },
  };
}

const cases: CodeCase[] = [
  {
    name: 'code replay: second use fails and the opaque tokens of the first are revoked',
    source: 'RFC 6749 §4.1.2, RFC 9700 §4.5',
    attack: (ctx) => replay(ctx, ctx.web, false),
    expected: { status: 400, error: 'invalid_grant' },
  },
  {
    name: 'code replay: the JWT access token of the first use is revoked',
    source: 'RFC 6749 §4.1.2, RFC 9700 §4.5',
    attack: (ctx) => replay(ctx, ctx.jwtWeb, false),
    expected: { status: 400, error: 'invalid_grant' },
  },
  {
    name: 'code replay after the refresh token was rotated: the whole family is revoked',
    source: 'RFC 6749 §4.1.2, RFC 9700 §4.14.2',
    attack: (ctx) => replay(ctx, ctx.web, true),
    expected: { status: 400, error: 'invalid_grant' },
  },
  {
    name: 'code replay by a public client',
    source: 'RFC 6749 §4.1.2, RFC 9700 §4.5',
    attack: (ctx) => replay(ctx, ctx.spa, false),
    expected: { status: 400, error: 'invalid_grant' },
  },
  {
    name: 'concurrent double redemption: one winner, whose tokens the loser revokes',
    source: 'RFC 6749 §4.1.2, RFC 9700 §4.5',
    attack: async (ctx) => {
      const issued = await code(ctx, ctx.web);
      const answers = await Promise.all(Array.from({ length: 4 }, () => redeemWatched(ctx, ctx.web, issued)));
      const winners = answers.filter((a) => a.status === 200);
      expect(winners).toHaveLength(1);
      const refused = answers.find((a) => a.status !== 200) as FormResponse;
      return {
        refused,
        after: async () => {
          expect(await active(ctx, winners[0]?.body['access_token'])).toBe(false);
        },
      };
    },
    expected: { status: 400, error: 'invalid_grant' },
  },
  {
    name: 'code of another client',
    source: 'RFC 6749 §4.1.3, RFC 9700 §4.5.3',
    attack: async (ctx) => {
      const issued = await code(ctx, ctx.web);
      const refused = await redeemWatched(ctx, ctx.other, issued);
      // The other client's attempt neither burns nor revokes the code: its owner still redeems it.
      return {
        refused,
        after: async () => expect((await redeemWatched(ctx, ctx.web, issued)).status).toBe(200),
      };
    },
    expected: { status: 400, error: 'invalid_grant' },
  },
  {
    name: 'used code of another client: no replay revocation of the owner tokens',
    source: 'RFC 6749 §4.1.3, RFC 9700 §4.5',
    attack: async (ctx) => {
      const issued = await code(ctx, ctx.web);
      const first = await redeemWatched(ctx, ctx.web, issued);
      const refused = await redeemWatched(ctx, ctx.other, issued);
      return { refused, after: async () => expect(await active(ctx, first.body['access_token'])).toBe(true) };
    },
    expected: { status: 400, error: 'invalid_grant' },
  },
  {
    name: 'code issued to a public client, redeemed with a confidential client credentials',
    source: 'RFC 6749 §4.1.3, RFC 9700 §4.5.3',
    attack: async (ctx) => {
      const issued = await code(ctx, ctx.spa);
      const refused = await redeemWatched(ctx, ctx.web, issued);
      return {
        refused,
        after: async () => expect((await redeemWatched(ctx, ctx.spa, issued)).status).toBe(200),
      };
    },
    expected: { status: 400, error: 'invalid_grant' },
  },
  {
    name: 'code issued to a public client, redeemed with its client_id and a confidential client secret',
    source: 'RFC 6749 §2.3, §3.2.1',
    attack: async (ctx) => {
      const issued = await code(ctx, ctx.spa);
      const refused = await postForm(`${ctx.as.url}/token`, {
        grant_type: 'authorization_code',
        code: issued.code,
        redirect_uri: issued.redirectUri,
        code_verifier: issued.verifier,
        client_id: ctx.spa.id,
        client_secret: ctx.web.secret,
      });
      return { refused };
    },
    expected: { status: 401, error: 'invalid_client' },
  },
  {
    name: 'code of a confidential client redeemed without its secret (as if public)',
    source: 'RFC 6749 §3.2.1, §4.1.3',
    attack: async (ctx) => {
      const issued = await code(ctx, ctx.web);
      const refused = await postForm(`${ctx.as.url}/token`, {
        grant_type: 'authorization_code',
        code: issued.code,
        redirect_uri: issued.redirectUri,
        code_verifier: issued.verifier,
        client_id: ctx.web.id,
      });
      return {
        refused,
        after: async () => expect((await redeemWatched(ctx, ctx.web, issued)).status).toBe(200),
      };
    },
    expected: { status: 401, error: 'invalid_client' },
  },
  ...(
    [
      ['another registered redirect_uri of the same client', OTHER_REDIRECT],
      ['redirect_uri with a trailing slash', `${REDIRECT_URI}/`],
      ['redirect_uri with its host upper-cased', 'https://CLIENT.example/callback'],
      ['redirect_uri with a query added', `${REDIRECT_URI}?x=1`],
      ['an attacker redirect_uri', 'https://attacker.example/callback'],
    ] as const
  ).map(([name, uri]): CodeCase => ({
    name: `code with ${name} at the token endpoint`,
    source: 'RFC 6749 §4.1.3, RFC 9700 §4.1.3',
    attack: async (ctx) => {
      const issued = await code(ctx, ctx.web);
      const refused = await redeemWatched(ctx, ctx.web, issued, { redirect_uri: uri });
      return {
        refused,
        after: async () => expect((await redeemWatched(ctx, ctx.web, issued)).status).toBe(200),
      };
    },
    expected: { status: 400, error: 'invalid_grant' },
  })),
  {
    name: 'code without redirect_uri at the token endpoint',
    source: 'RFC 6749 §4.1.3 (required when sent in the request)',
    attack: async (ctx) => {
      const issued = await code(ctx, ctx.web);
      const refused = await redeemWatched(ctx, ctx.web, issued, { redirect_uri: undefined });
      return {
        refused,
        after: async () => expect((await redeemWatched(ctx, ctx.web, issued)).status).toBe(200),
      };
    },
    expected: { status: 400, error: 'invalid_request' },
  },
  {
    name: 'expired code (one second past codeTtlSec)',
    source: 'RFC 6749 §4.1.2 (short lifetime), §10.5',
    attack: async (ctx) => {
      const issued = await code(ctx, ctx.web);
      ctx.as.clock.advance(ctx.as.deps.config.tokens.codeTtlSec + 1);
      return { refused: await redeemWatched(ctx, ctx.web, issued) };
    },
    expected: { status: 400, error: 'invalid_grant' },
  },
  {
    name: 'code at the exact end of its lifetime',
    source: 'RFC 6749 §4.1.2',
    attack: async (ctx) => {
      const issued = await code(ctx, ctx.web);
      ctx.as.clock.advance(ctx.as.deps.config.tokens.codeTtlSec);
      return { refused: await redeemWatched(ctx, ctx.web, issued) };
    },
    expected: { status: 400, error: 'invalid_grant' },
  },
  {
    name: 'code issued before its user was deleted, redeemed after',
    source: 'RFC 6749 §10.5, RFC 7009 §2.1 (the user’s grants end with the user)',
    attack: async (ctx) => {
      const user = await addUser(ctx.as, {
        username: `u${randomBytes(6).toString('hex')}`,
        password: 'user password 1',
      });
      const issued = await code(ctx, ctx.web, { sub: user.sub });
      expect(await createUserStore(ctx.as.deps).delete(user.sub)).toBe(true);
      return { refused: await redeemWatched(ctx, ctx.web, issued) };
    },
    expected: { status: 400, error: 'invalid_grant' },
  },
  {
    name: 'code issued by another authorization server',
    source: 'RFC 9700 §4.4 (mix-up), RFC 6749 §4.1.3',
    attack: async (ctx) => {
      const foreign = await issueCode(ctx.otherAs, ctx.otherAsClient);
      ctx.watch.add('foreign code', foreign.code);
      // Same client_id at both servers: only the issuing server knows the code.
      return { refused: await redeemWatched(ctx, ctx.web, { ...foreign }) };
    },
    expected: { status: 400, error: 'invalid_grant' },
  },
  ...(
    [
      ['random 256-bit garbage', randomBytes(32).toString('base64url')],
      ['a 10 000-character code', 'c'.repeat(10_000)],
      ['a code with non-ASCII characters', '\u00e9\u00e8\u00ea'.repeat(15)],
      ['a SQL injection', "' OR '1'='1' --"],
      ['a JWT-looking code', 'eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.'],
    ] as const
  ).map(([name, value]): CodeCase => ({
    name: `garbage code: ${name}`,
    source: 'RFC 6749 §5.2 invalid_grant',
    attack: async (ctx) => {
      const issued = await code(ctx, ctx.web);
      return { refused: await redeemWatched(ctx, ctx.web, { ...issued, code: value }) };
    },
    expected: { status: 400, error: 'invalid_grant' },
  })),
  {
    name: 'empty code (treated as absent)',
    source: 'RFC 6749 §3.1, §4.1.3',
    attack: async (ctx) => {
      const issued = await code(ctx, ctx.web);
      return { refused: await redeemWatched(ctx, ctx.web, { ...issued, code: '' }) };
    },
    expected: { status: 400, error: 'invalid_request' },
  },
  {
    name: 'code presented as a refresh token',
    source: 'RFC 6749 §6',
    attack: async (ctx) => {
      const issued = await code(ctx, ctx.web);
      const refused = await tokenRequest(ctx.as, ctx.web, {
        grant_type: 'refresh_token',
        refresh_token: issued.code,
      });
      return {
        refused,
        after: async () => expect((await redeemWatched(ctx, ctx.web, issued)).status).toBe(200),
      };
    },
    expected: { status: 400, error: 'invalid_grant' },
  },
  {
    name: 'code sent twice in one request',
    source: 'RFC 6749 §3.1',
    attack: async (ctx) => {
      const issued = await code(ctx, ctx.web);
      const other = await code(ctx, ctx.web);
      const body = new URLSearchParams([
        ['grant_type', 'authorization_code'],
        ['code', issued.code],
        ['code', other.code],
        ['redirect_uri', REDIRECT_URI],
        ['code_verifier', issued.verifier],
      ]);
      const response = await fetch(`${ctx.as.url}/token`, {
        method: 'POST',
        headers: {
          'content-type': 'application/x-www-form-urlencoded',
          authorization: basic(ctx.web.id, ctx.web.secret as string),
        },
        body,
      });
      const text = await response.text();
      const refused: FormResponse = {
        status: response.status,
        headers: response.headers,
        text,
        body: JSON.parse(text) as Record<string, unknown>,
      };
      return {
        refused,
        after: async () => expect((await redeemWatched(ctx, ctx.web, issued)).status).toBe(200),
      };
    },
    expected: { status: 400, error: 'invalid_request' },
  },
  {
    name: 'code in a JSON body',
    source: 'RFC 6749 §3.2 (application/x-www-form-urlencoded)',
    attack: async (ctx) => {
      const issued = await code(ctx, ctx.web);
      const response = await fetch(`${ctx.as.url}/token`, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          authorization: basic(ctx.web.id, ctx.web.secret as string),
        },
        body: JSON.stringify({
          grant_type: 'authorization_code',
          code: issued.code,
          redirect_uri: REDIRECT_URI,
          code_verifier: issued.verifier,
        }),
      });
      const text = await response.text();
      const refused: FormResponse = {
        status: response.status,
        headers: response.headers,
        text,
        body: JSON.parse(text) as Record<string, unknown>,
      };
      return {
        refused,
        after: async () => expect((await redeemWatched(ctx, ctx.web, issued)).status).toBe(200),
      };
    },
    expected: { status: 400, error: 'invalid_request' },
  },
  {
    name: 'DPoP-bound code (dpop_jkt) redeemed without a proof',
    source: 'RFC 9449 §10',
    attack: async (ctx) => {
      const key = await createDpopKey();
      const issued = await code(ctx, ctx.spa, { dpopJkt: key.jkt });
      return { refused: await redeemWatched(ctx, ctx.spa, issued) };
    },
    expected: { status: 400, error: 'invalid_grant' },
  },
  {
    name: 'code for a resource, redeemed for another resource',
    source: 'RFC 8707 §2.2',
    attack: async (ctx) => {
      const issued = await code(ctx, ctx.web, { resource: API });
      const refused = await redeemWatched(ctx, ctx.web, issued, { resource: 'https://other-api.example' });
      return {
        refused,
        after: async () => expect((await redeemWatched(ctx, ctx.web, issued)).status).toBe(200),
      };
    },
    expected: { status: 400, error: 'invalid_target' },
  },
];

describeEachStore('attacks: authorization code', (stores) => {
  let ctx: Ctx;

  beforeAll(async () => {
    const config = { resources: TEST_RESOURCES, dpop: { requireNonce: false } };
    const as = await startAuthServer({ stores, config });
    const otherAs = await startAuthServer({ stores, config });
    const grantTypes = ['authorization_code', 'refresh_token'] as const;
    const scopes = ['openid', 'accounts:read'];
    const web = await newClient(as, {
      grantTypes: [...grantTypes],
      scopes,
      resources: [API],
      redirectUris: [REDIRECT_URI, OTHER_REDIRECT],
    });
    ctx = {
      as,
      otherAs,
      web,
      jwtWeb: await newClient(as, {
        grantTypes: [...grantTypes],
        scopes,
        resources: [API],
        tokenFormat: 'jwt',
      }),
      spa: await newClient(as, { grantTypes: [...grantTypes], scopes, resources: [API], authMethod: 'none' }),
      other: await newClient(as, { grantTypes: [...grantTypes], scopes, resources: [API] }),
      rs: await newClient(as, { grantTypes: ['client_credentials'], canIntrospect: true }),
      otherAsClient: await newClient(otherAs, { clientId: web.id, grantTypes: [...grantTypes], scopes }),
      watch: new SecretWatch(),
    };
    for (const client of [ctx.web, ctx.jwtWeb, ctx.other, ctx.rs, ctx.otherAsClient])
      ctx.watch.add(`secret of ${client.id}`, client.secret);
  });
  afterAll(async () => {
    ctx.watch.expectNoLeaks(ctx.as);
    ctx.watch.expectNoLeaks(ctx.otherAs);
    await Promise.all([ctx.as.close(), ctx.otherAs.close()]);
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

  it.each([
    { name: 'a confidential client', client: () => ctx.web },
    { name: 'a JWT client', client: () => ctx.jwtWeb },
    { name: 'a public client', client: () => ctx.spa },
  ])('redeems a fresh code once for $name (positive control)', async ({ client }) => {
    const issued = await code(ctx, client());
    const response = await redeemWatched(ctx, client(), issued);
    expect(response.status).toBe(200);
    expect(await active(ctx, response.body['access_token'])).toBe(true);
  });

  it('redeems a code one second before it expires (positive control)', async () => {
    const issued = await code(ctx, ctx.web);
    ctx.as.clock.advance(ctx.as.deps.config.tokens.codeTtlSec - 1);
    expect((await redeemWatched(ctx, ctx.web, issued)).status).toBe(200);
  });
});
