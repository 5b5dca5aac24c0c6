import { createVerifier } from '@gatehouse/guard';
import { afterEach, expect, it, vi } from 'vitest';
import { REVOCATION_CHANNEL } from '../../src/context.js';
import { issueAccessToken, type IssuedAccessToken } from '../../src/tokens/issue-access-token.js';
import type { Client } from '../../src/clients/client.js';
import { describeEachStore, startAuthServer, type TestAuthServer } from '../helpers/harness.js';
import { headerOf } from '../helpers/signing-keys.js';

describeEachStore('emergency key rotation', (stores) => {
  const servers: TestAuthServer[] = [];
  afterEach(async () => {
    // The instance sharing the store closes first: the other owns the store.
    for (const server of servers.reverse()) await server.close();
    servers.length = 0;
  });

  async function start(shareWith?: TestAuthServer): Promise<TestAuthServer> {
    const server = await startAuthServer(shareWith === undefined ? { stores } : { shareWith });
    servers.push(server);
    return server;
  }

  async function jwtClient(as: TestAuthServer): Promise<Client> {
    const { client } = await as.server.services.clients.create({
      name: 'reporting service',
      grantTypes: ['client_credentials'],
      tokenFormat: 'jwt',
    });
    return client;
  }

  function issue(as: TestAuthServer, client: Client, ttlSec?: number): Promise<IssuedAccessToken> {
    // Instances of one server share its issuer (each test server has its own URL).
    const config = servers[0]?.deps.config ?? as.deps.config;
    return issueAccessToken({ ...as.deps, config }, as.server.services.keys, {
      client,
      sub: client.clientId,
      scopes: [],
      audience: null,
      grantId: null,
      dpopJkt: null,
      ...(ttlSec === undefined ? {} : { ttlSec }),
    });
  }

  const verifierFor = (as: TestAuthServer, jwks: { keys: readonly unknown[] }) =>
    createVerifier({ issuer: as.url, audience: as.url, jwks, now: as.clock.now, cache: false });

  it('revokes the key and its tokens at once, on every instance, and says which tokens die', async () => {
    const as1 = await start();
    const as2 = await start(as1);
    const client = await jwtClient(as1);
    const revocations: string[] = [];
    const unsubscribe = await as1.deps.state.subscribe(REVOCATION_CHANNEL, (message) => {
      revocations.push(message);
    });

    const expired = await issue(as1, client);
    as1.clock.advance(400);
    const live = [await issue(as1, client), await issue(as1, client, 120), await issue(as2, client, 600)];
    const alreadyRevoked = await issue(as1, client);
    await as1.deps.db
      .updateTable('access_tokens')
      .set({ revoked_at: as1.clock.ms })
      .where('jti', '=', alreadyRevoked.jti)
      .execute();
    const compromised = headerOf(live[0]?.token ?? '').kid;
    expect(live.map((t) => headerOf(t.token).kid)).toEqual([compromised, compromised, compromised]);
    const before = verifierFor(as1, await as1.server.services.keys.jwks());
    for (const token of live) await expect(before.verify(token.token)).resolves.toBeDefined();

    const result = await as1.server.services.keys.rotateEmergency();

    expect(result).toEqual({
      revokedKid: compromised,
      newKid: expect.not.stringMatching(`^${compromised}$`) as unknown,
      tokensInvalidated: 3,
      latestExpiry: Math.max(...live.map((t) => t.expiresAt)),
    });
    const row = await as1.deps.db
      .selectFrom('signing_keys')
      .selectAll()
      .where('kid', '=', compromised)
      .executeTakeFirstOrThrow();
    expect(row).toMatchObject({ status: 'revoked', private_key: null, retired_at: as1.clock.ms });
    const tokens = await as1.deps.db.selectFrom('access_tokens').select(['jti', 'revoked_at']).execute();
    const revokedAt = (jti: string) => tokens.find((t) => t.jti === jti)?.revoked_at;
    for (const token of live) expect(revokedAt(token.jti)).toBe(as1.clock.ms);
    expect(revokedAt(expired.jti)).toBeNull();

    // The new key set: the old tokens are refused, new ones verify.
    const after = await as1.server.services.keys.jwks();
    expect(after.keys.map((k) => k.kid)).toEqual([result.newKid]);
    const verifier = verifierFor(as1, after);
    for (const token of live) {
      await expect(verifier.verify(token.token)).rejects.toMatchObject({ code: 'ERR_JWKS_NO_MATCHING_KEY' });
    }
    const fresh = await issue(as1, client);
    expect(headerOf(fresh.token).kid).toBe(result.newKid);
    await expect(verifier.verify(fresh.token)).resolves.toMatchObject({ sub: client.clientId });

    // Verifiers hear of it (REVOCATION event naming the kid), the other instance reloads at once.
    await vi.waitFor(() => {
      expect(revocations.map((m) => JSON.parse(m) as unknown)).toContainEqual({ kid: compromised });
    });
    await unsubscribe();
    await vi.waitFor(async () => {
      expect((await as2.server.services.keys.jwks()).keys.map((k) => k.kid)).toEqual([result.newKid]);
    });
    expect(headerOf((await issue(as2, client)).token).kid).toBe(result.newKid);
    const served = (await (await fetch(`${as2.url}/jwks`)).json()) as { keys: { kid: string }[] };
    expect(served.keys.map((k) => k.kid)).toEqual([result.newKid]);

    const event = as1.audit.find(
      (e) =>
        e.action === 'key.transition' && e.target?.id === compromised && e.reason === 'active -> revoked',
    );
    expect(event?.details).toMatchObject({ tokensInvalidated: 3 });
    const logs = [...as1.logs, ...as2.logs].join('\n');
    for (const token of [...live, fresh]) expect(logs).not.toContain(token.token);
  });

  it('revokes a pending key without touching the active one', async () => {
    const as = await start();
    const { keys } = as.server.services;
    const { kid: active } = await keys.sign({ sub: 'x' }, 'JWT');
    const pending = await keys.rotate();
    expect((await keys.jwks()).keys.map((k) => k.kid)).toEqual([active, pending.kid]);

    const result = await keys.rotateEmergency(pending.kid);

    expect(result).toEqual({
      revokedKid: pending.kid,
      newKid: active,
      tokensInvalidated: 0,
      latestExpiry: null,
    });
    expect((await keys.jwks()).keys.map((k) => k.kid)).toEqual([active]);
    expect((await keys.sign({ sub: 'x' }, 'JWT')).kid).toBe(active);
    // The next scheduled rotation creates a new successor.
    as.clock.advance(as.deps.config.keys.rotationIntervalSec);
    await keys.tick();
    expect((await keys.list()).filter((k) => k.status === 'pending')).toHaveLength(1);
  });

  it.each([
    ['an unknown kid', () => 'no-such-kid'],
    [
      'a kid already revoked',
      async (as: TestAuthServer) => (await as.server.services.keys.rotateEmergency()).revokedKid,
    ],
  ])('refuses %s', async (_name, kidOf) => {
    const as = await start();
    const kid = await kidOf(as);
    await expect(as.server.services.keys.rotateEmergency(kid)).rejects.toMatchObject({
      code: 'ERR_CONFIG_INVALID',
    });
  });

  it('revokes tokens an instance signed with the key before it heard of the revocation', async () => {
    const as = await start();
    const client = await jwtClient(as);
    const { revokedKid } = await as.server.services.keys.rotateEmergency();
    // Recorded as an instance that had not reloaded yet would have recorded it.
    await as.deps.db
      .insertInto('access_tokens')
      .values({
        jti: 'late-token',
        format: 'jwt',
        token_hash: null,
        grant_id: null,
        client_id: client.clientId,
        sub: client.clientId,
        scope: '',
        audience: as.url,
        dpop_jkt: null,
        kid: revokedKid,
        parent_jti: null,
        created_at: as.clock.ms,
        expires_at: as.clock.ms + 300_000,
        revoked_at: null,
      })
      .execute();
    as.clock.advance(as.deps.config.keys.checkIntervalSec);
    await as.server.services.keys.tick();
    const row = await as.deps.db
      .selectFrom('access_tokens')
      .select('revoked_at')
      .where('jti', '=', 'late-token')
      .executeTakeFirstOrThrow();
    expect(row.revoked_at).toBe(as.clock.ms);
    expect(as.audit).toContainEqual(
      expect.objectContaining({
        action: 'token.revoke',
        reason: 'signing_key_revoked',
        details: { count: 1 },
      }),
    );
  });
});
