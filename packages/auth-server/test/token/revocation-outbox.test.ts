import { readRevocationsAfter } from '@gatehouse/core';
import { sql } from 'kysely';
import { afterAll, beforeAll, expect, it, vi } from 'vitest';
import { REVOCATION_CHANNEL } from '../../src/index.js';
import { createSessionStore } from '../../src/interaction/session-store.js';
import { endSession } from '../../src/oidc/logout.js';
import { revokeAccessToken } from '../../src/tokens/revoke-tokens.js';
import { createUserStore } from '../../src/users/user-store.js';
import { addUser } from '../helpers/browser-flow.js';
import { describeEachStore, startAuthServer, type TestAuthServer } from '../helpers/harness.js';
import {
  API,
  TEST_RESOURCES,
  introspect,
  issueCode,
  newClient,
  redeem,
  revoke,
  tokenRequest,
  type TestClient,
} from '../helpers/oauth-client.js';

/**
 * A revocation and the revocation-feed rows gateways poll commit together or not at all (a
 * transactional outbox). Each case makes the feed's append fail, the way a crash or a lost
 * database connection between the two writes would: the revocation must then roll back whole
 * (the caller gets an error, the token still works, no feed row, nothing published), and once
 * the feed is back the same revocation succeeds with exactly its events in the feed.
 */
describeEachStore('revocation and its feed rows commit together', (stores) => {
  let as: TestAuthServer;
  let service: TestClient;
  let web: TestClient;
  let rs: TestClient;
  const heard: string[] = [];

  beforeAll(async () => {
    as = await startAuthServer({ stores, config: { resources: TEST_RESOURCES } });
    service = await newClient(as, {
      grantTypes: ['client_credentials', 'urn:ietf:params:oauth:grant-type:token-exchange'],
      scopes: ['accounts:read'],
      resources: [API],
    });
    web = await newClient(as, {
      grantTypes: ['authorization_code', 'refresh_token'],
      scopes: ['openid', 'accounts:read'],
    });
    rs = await newClient(as, { grantTypes: ['client_credentials'], canIntrospect: true });
    await as.deps.state.subscribe(REVOCATION_CHANNEL, (message) => heard.push(message));
  });
  afterAll(async () => {
    await as.close();
  });

  const active = async (token: string): Promise<boolean> =>
    (await introspect(as, rs, token)).body['active'] === true;
  /** Whether the grant (token family) an access token was issued from is still unrevoked. */
  const grantLive = async (jti: string): Promise<boolean> => {
    const row = await as.deps.db
      .selectFrom('access_tokens')
      .innerJoin('grants', 'grants.grant_id', 'access_tokens.grant_id')
      .select('grants.revoked_at')
      .where('access_tokens.jti', '=', jti)
      .executeTakeFirstOrThrow();
    return row.revoked_at === null;
  };
  const jtiOf = async (token: string): Promise<string> =>
    (await introspect(as, rs, token)).body['jti'] as string;
  const lastFeedId = async (): Promise<number> =>
    (await readRevocationsAfter(as.deps.db, 0, 100_000)).at(-1)?.id ?? 0;
  const feedAfter = async (id: number): Promise<unknown[]> =>
    (await readRevocationsAfter(as.deps.db, id, 1000)).map((entry) => JSON.parse(entry.message) as unknown);
  /** The feed's table away and back: its append fails as after a crash between the two writes. */
  const breakFeed = (): Promise<unknown> =>
    sql`alter table revocation_feed rename to revocation_feed_away`.execute(as.deps.db);
  const mendFeed = (): Promise<unknown> =>
    sql`alter table revocation_feed_away rename to revocation_feed`.execute(as.deps.db);

  /** Tokens of a code flow for a user: access, refresh and ID token, with the session's sid. */
  async function userTokens(sub: string) {
    const issued = await issueCode(as, web, { sub, scopes: ['openid', 'accounts:read'] });
    const response = await redeem(as, web, issued);
    expect(response.status).toBe(200);
    return {
      sid: issued.sid,
      access: response.body['access_token'] as string,
      refresh: response.body['refresh_token'] as string,
    };
  }

  async function seedSession(sid: string, sub: string): Promise<void> {
    const now = as.clock.now();
    await as.deps.db
      .insertInto('sessions')
      .values({
        sid,
        cookie_hash: `h-${sid}`,
        sub,
        auth_time: now,
        created_at: now,
        expires_at: now + 3_600_000,
        ended_at: null,
      })
      .execute();
  }

  interface Prepared {
    /** Performs the revocation; rejects (or answers an error) when it did not happen. */
    readonly revoke: () => Promise<void>;
    /** Whether what the case revokes is still in force. */
    readonly live: () => Promise<boolean>;
    /** The feed rows (and pub/sub messages) the revocation must produce, in any order. */
    readonly events: () => unknown[];
  }

  const expOf = (token: string): number =>
    JSON.parse(Buffer.from(token.split('.')[1] ?? '', 'base64url').toString('utf8')).exp as number;

  const cases: ReadonlyArray<{ readonly name: string; prepare(): Promise<Prepared> }> = [
    {
      name: 'RFC 7009 revocation of an access token, with the token exchanged from it (RFC 8693)',
      async prepare() {
        const token = (await tokenRequest(as, service, { grant_type: 'client_credentials' })).body[
          'access_token'
        ] as string;
        const exchanged = await tokenRequest(as, service, {
          grant_type: 'urn:ietf:params:oauth:grant-type:token-exchange',
          subject_token: token,
          subject_token_type: 'urn:ietf:params:oauth:token-type:access_token',
          resource: API,
        });
        expect(exchanged.status).toBe(200);
        const child = exchanged.body['access_token'] as string;
        const [jti, childJti] = [await jtiOf(token), await jtiOf(child)];
        const exp = (await introspect(as, rs, token)).body['exp'] as number;
        return {
          revoke: async () => {
            const response = await revoke(as, service, token);
            if (response.status === 200) return;
            // RFC 6749 §5.2 shape and nothing of the cause (the database's message stays in the log).
            expect(response.body).toEqual({ error: 'server_error', error_description: 'Unexpected error' });
            throw new Error(`revocation answered ${response.status}`);
          },
          live: async () => (await active(token)) && (await active(child)),
          events: () => [
            { jti, exp },
            { jti: childJti, exp: expOf(child) },
          ],
        };
      },
    },
    {
      name: 'RFC 7009 revocation of a refresh token: the whole grant',
      async prepare() {
        const user = await addUser(as, { username: 'rita', password: 'rita password 1' });
        const tokens = await userTokens(user.sub);
        const jti = await jtiOf(tokens.access);
        const exp = (await introspect(as, rs, tokens.access)).body['exp'] as number;
        return {
          revoke: async () => {
            const response = await revoke(as, web, tokens.refresh);
            if (response.status === 200) return;
            // RFC 6749 §5.2 shape and nothing of the cause (the database's message stays in the log).
            expect(response.body).toEqual({ error: 'server_error', error_description: 'Unexpected error' });
            throw new Error(`revocation answered ${response.status}`);
          },
          live: async () => (await active(tokens.access)) && (await grantLive(jti)),
          events: () => [{ jti, exp }],
        };
      },
    },
    {
      name: 'logout: the session, its grants, their tokens',
      async prepare() {
        const user = await addUser(as, { username: 'lou', password: 'lou password 1' });
        const tokens = await userTokens(user.sub);
        await seedSession(tokens.sid, user.sub);
        const jti = await jtiOf(tokens.access);
        const exp = (await introspect(as, rs, tokens.access)).body['exp'] as number;
        const session = {
          sid: tokens.sid,
          sub: user.sub,
          authTime: as.clock.now(),
          expiresAt: as.clock.now() + 3_600_000,
        };
        const sessions = createSessionStore(as.deps);
        return {
          revoke: () => endSession({ services: as.server.services, sessions }, session, { reason: 'logout' }),
          live: async () => {
            const row = await as.deps.db
              .selectFrom('sessions')
              .select('ended_at')
              .where('sid', '=', tokens.sid)
              .executeTakeFirstOrThrow();
            return row.ended_at === null && (await active(tokens.access)) && (await grantLive(jti));
          },
          events: () => [{ jti, exp }, { sid: tokens.sid }],
        };
      },
    },
    {
      name: 'deleting a user: the user, its grants, their tokens',
      async prepare() {
        const user = await addUser(as, { username: 'dora', password: 'dora password 1' });
        const tokens = await userTokens(user.sub);
        const jti = await jtiOf(tokens.access);
        const exp = (await introspect(as, rs, tokens.access)).body['exp'] as number;
        const users = createUserStore(as.deps);
        return {
          revoke: async () => {
            if (!(await users.delete('dora'))) throw new Error('not deleted');
          },
          live: async () =>
            (await users.findByUsername('dora')) !== undefined &&
            (await active(tokens.access)) &&
            (await grantLive(jti)),
          events: () => [
            { jti, exp },
            { sub: user.sub, issuedBefore: Math.ceil(as.clock.now() / 1000) },
          ],
        };
      },
    },
    {
      name: 'emergency revocation of the signing key: the key and every token it signed',
      async prepare() {
        const jwtClient = await newClient(as, {
          grantTypes: ['client_credentials'],
          scopes: ['accounts:read'],
          resources: [API],
          tokenFormat: 'jwt',
        });
        const token = (await tokenRequest(as, jwtClient, { grant_type: 'client_credentials' })).body[
          'access_token'
        ] as string;
        const kid = JSON.parse(Buffer.from(token.split('.')[0] ?? '', 'base64url').toString('utf8'))
          .kid as string;
        const keys = as.server.services.keys;
        return {
          revoke: async () => {
            await keys.rotateEmergency(kid);
          },
          live: async () =>
            (await keys.list()).some((key) => key.kid === kid && key.status === 'active') &&
            (await active(token)),
          events: () => [{ kid }],
        };
      },
    },
  ];

  it.each(cases)('$name', async (testCase) => {
    const prepared = await testCase.prepare();
    expect(await prepared.live()).toBe(true);
    const mark = await lastFeedId();
    const heardBefore = heard.length;

    await breakFeed();
    try {
      await expect(prepared.revoke()).rejects.toThrow();
    } finally {
      await mendFeed();
    }
    // Rolled back whole: still in force, nothing in the feed, nothing published.
    expect(await prepared.live()).toBe(true);
    expect(await feedAfter(mark)).toEqual([]);
    expect(heard.length).toBe(heardBefore);

    await prepared.revoke();
    expect(await prepared.live()).toBe(false);
    const expected = prepared.events();
    const feed = await feedAfter(mark);
    expect(feed).toHaveLength(expected.length);
    expect(feed).toEqual(expect.arrayContaining(expected));
    await vi.waitFor(() => {
      expect(heard.slice(heardBefore).map((message) => JSON.parse(message) as unknown)).toEqual(
        expect.arrayContaining(expected),
      );
    });
  });

  it('revocations racing over the same tokens all commit, each token announced once', async () => {
    const user = await addUser(as, { username: 'rex', password: 'rex password 1' });
    const families = await Promise.all([1, 2, 3].map(() => userTokens(user.sub)));
    const jtis = await Promise.all(families.map((tokens) => jtiOf(tokens.access)));
    const mark = await lastFeedId();
    const byJti = (jti: string) => () => revokeAccessToken(as.deps, jti).then(() => undefined);
    const byRefresh = (refresh: string) => async () => {
      const response = await revoke(as, web, refresh);
      if (response.status !== 200) throw new Error(`revocation answered ${response.status}`);
    };
    await Promise.all(
      [
        ...jtis.map(byJti),
        ...families.map((tokens) => byRefresh(tokens.refresh)),
        ...jtis.map(byJti),
        async () => {
          await createUserStore(as.deps).delete('rex');
        },
      ].map((run) => run()),
    );
    for (const tokens of families) expect(await active(tokens.access)).toBe(false);
    const announced = (await feedAfter(mark))
      .map((event) => (event as { jti?: string }).jti)
      .filter((jti) => jti !== undefined);
    expect(announced.sort()).toEqual([...jtis].sort());
  });
});
