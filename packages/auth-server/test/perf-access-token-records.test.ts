import { hashToken } from '@gatehouse/core';
import { decodeJwt } from 'jose';
import { sql, type Kysely } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AuthDatabase } from '../src/db/schema.js';
import { accessTokenId } from '../src/tokens/token-id.js';
import {
  describeEachStore,
  startAuthServer,
  type StoreSetup,
  type TestAuthServer,
} from './helpers/harness.js';
import {
  API,
  TEST_RESOURCES,
  introspect,
  newClient,
  tokenRequest,
  type TestClient,
} from './helpers/oauth-client.js';

const CC = { grant_type: 'client_credentials', scope: 'accounts:read' };
const CONCURRENT = 40;

async function recordOf(db: Kysely<AuthDatabase>, jti: string) {
  return db.selectFrom('access_tokens').selectAll().where('jti', '=', jti).executeTakeFirst();
}

/** Makes every INSERT into access_tokens fail, as a full disk or a lost database would. */
async function refuseTokenInserts(
  db: Kysely<AuthDatabase>,
  stores: StoreSetup,
): Promise<() => Promise<void>> {
  if (stores.sql === 'sqlite') {
    await sql`create trigger refuse_tokens before insert on access_tokens
      begin select raise(abort, 'refused by test'); end`.execute(db);
    return async () => {
      await sql`drop trigger refuse_tokens`.execute(db);
    };
  }
  await sql`create function refuse_tokens() returns trigger language plpgsql as
    $$ begin raise exception 'refused by test'; end $$`.execute(db);
  await sql`create trigger refuse_tokens before insert on access_tokens
    for each statement execute function refuse_tokens()`.execute(db);
  return async () => {
    await sql`drop trigger refuse_tokens on access_tokens`.execute(db);
    await sql`drop function refuse_tokens()`.execute(db);
  };
}

describeEachStore('access-token records: group commit, durable before the response', (stores) => {
  let as: TestAuthServer;
  let jwtClient: TestClient;
  let opaqueClient: TestClient;
  let rs: TestClient;

  beforeAll(async () => {
    as = await startAuthServer({ stores, config: { resources: TEST_RESOURCES } });
    const base = { grantTypes: ['client_credentials'], scopes: ['accounts:read'], resources: [API] } as const;
    jwtClient = await newClient(as, { ...base, tokenFormat: 'jwt' });
    opaqueClient = await newClient(as, { ...base, tokenFormat: 'opaque' });
    rs = await newClient(as, { grantTypes: ['client_credentials'], canIntrospect: true });
  });
  afterAll(async () => {
    await as.close();
  });

  it('every token of concurrent requests is recorded when its response arrives', async () => {
    const clients = Array.from({ length: CONCURRENT }, (_, i) => (i % 2 === 0 ? jwtClient : opaqueClient));
    const checked = await Promise.all(
      clients.map(async (client) => {
        const response = await tokenRequest(as, client, CC);
        expect(response.status).toBe(200);
        const token = String(response.body['access_token']);
        // Looked up the moment this response is in: its batch committed before it was sent.
        if (client === jwtClient) {
          const row = await recordOf(as.deps.db, String(decodeJwt(token).jti));
          expect(row).toMatchObject({
            format: 'jwt',
            client_id: client.id,
            token_hash: null,
            revoked_at: null,
          });
          expect(row?.kid).toEqual(expect.any(String));
          return row?.jti;
        }
        const row = await as.deps.db
          .selectFrom('access_tokens')
          .selectAll()
          .where('token_hash', '=', hashToken(token))
          .executeTakeFirst();
        expect(row).toMatchObject({ format: 'opaque', client_id: client.id, kid: null });
        return row?.jti;
      }),
    );
    expect(new Set(checked).size).toBe(CONCURRENT);
  });

  it('a token is introspectable as soon as it is received', async () => {
    const responses = await Promise.all(Array.from({ length: 10 }, () => tokenRequest(as, opaqueClient, CC)));
    const answers = await Promise.all(
      responses.map((r) => introspect(as, rs, String(r.body['access_token']))),
    );
    for (const answer of answers)
      expect(answer.body).toMatchObject({ active: true, client_id: opaqueClient.id });
  });

  it('the lookups of access tokens use an index (query plans)', async () => {
    const db = as.deps.db;
    const queries = [
      {
        index: 'access_tokens_grant',
        query: db.selectFrom('access_tokens').select('jti').where('grant_id', '=', 'g'),
      },
      {
        index: 'access_tokens_parent',
        query: db.selectFrom('access_tokens').select('jti').where('parent_jti', 'in', ['p1', 'p2']),
      },
      {
        index: 'access_tokens_kid_expires',
        query: db
          .selectFrom('access_tokens')
          .select('jti')
          .where('kid', '=', 'k')
          .where('expires_at', '>', 0)
          .where('revoked_at', 'is', null),
      },
      {
        index: 'token_hash',
        query: db.selectFrom('access_tokens').select('jti').where('token_hash', '=', 'h'),
      },
      { index: 'pk', query: db.selectFrom('access_tokens').select('jti').where('jti', '=', 'j') },
    ];
    for (const { index, query } of queries) {
      const compiled = query.compile();
      const plan = await db.connection().execute(async (connection) => {
        const explain = (prefix: string) =>
          connection.executeQuery({ ...compiled, sql: `${prefix} ${compiled.sql}` });
        if (stores.sql === 'sqlite') return JSON.stringify((await explain('explain query plan')).rows);
        // An empty table would be scanned anyway: ask whether the index can serve the query at all.
        await sql`set enable_seqscan = off`.execute(connection);
        try {
          return JSON.stringify((await explain('explain')).rows);
        } finally {
          await sql`set enable_seqscan = on`.execute(connection);
        }
      });
      expect(plan, `${index}: ${plan}`).not.toMatch(/SCAN access_tokens|Seq Scan/);
      if (index === 'token_hash') expect(plan).toMatch(/token_hash/);
      else if (index === 'pk') expect(plan).toMatch(/sqlite_autoindex_access_tokens_1|access_tokens_pkey/);
      else expect(plan).toContain(index);
    }
  });
});

describeEachStore('access-token records: a failed write issues nothing', (stores) => {
  let as: TestAuthServer;
  let client: TestClient;

  beforeAll(async () => {
    as = await startAuthServer({ stores, config: { resources: TEST_RESOURCES } });
    client = await newClient(as, {
      grantTypes: ['client_credentials'],
      scopes: ['accounts:read'],
      resources: [API],
      tokenFormat: 'jwt',
    });
  });
  afterAll(async () => {
    await as.close();
  });

  it('every request of a failed batch answers 503 without a token, and the next batch works again', async () => {
    const restore = await refuseTokenInserts(as.deps.db, stores);
    const mark = as.audit.length;
    let responses;
    try {
      responses = await Promise.all(Array.from({ length: 10 }, () => tokenRequest(as, client, CC)));
    } finally {
      await restore();
    }
    for (const response of responses) {
      expect(response.status).toBe(503);
      expect(response.body).toEqual({
        error: 'temporarily_unavailable',
        error_description: expect.any(String) as unknown,
      });
      expect(response.text).not.toContain('refused by test');
      expect(response.headers.get('retry-after')).toBe('5');
    }
    const events = as.audit.slice(mark);
    expect(events.filter((e) => e.action === 'token.issue')).toEqual([]);
    expect(events.filter((e) => e.action === 'token.refuse')).toHaveLength(10);
    for (const event of events.filter((e) => e.action === 'token.refuse'))
      expect(event.reason).toBe('ERR_STORE_UNAVAILABLE');
    const count = await as.deps.db
      .selectFrom('access_tokens')
      .select((eb) => eb.fn.countAll().as('n'))
      .executeTakeFirstOrThrow();
    expect(Number(count.n)).toBe(0);

    const again = await tokenRequest(as, client, CC);
    expect(again.status).toBe(200);
    expect(
      await recordOf(as.deps.db, String(decodeJwt(String(again.body['access_token'])).jti)),
    ).toBeDefined();
  });
});

describe('accessTokenId (the jti of access tokens)', () => {
  it('sorts by issuance time, so new rows go to the end of the primary-key index', () => {
    const times = [0, 1, 999, 1000, Date.UTC(2026, 0, 1), Date.UTC(2026, 0, 1) + 1, 2 ** 47];
    const ids = times.map((t) => accessTokenId(t));
    expect([...ids].sort()).toEqual(ids);
  });

  it('is URL-safe and carries 80 random bits after the time', () => {
    const at = Date.UTC(2026, 0, 1);
    const ids = Array.from({ length: 1000 }, () => accessTokenId(at));
    expect(new Set(ids).size).toBe(ids.length);
    for (const id of ids) {
      expect(id).toMatch(/^[0-9a-f]{12}[A-Za-z0-9_-]{14}$/);
      expect(Number.parseInt(id.slice(0, 12), 16)).toBe(at);
    }
  });
});
