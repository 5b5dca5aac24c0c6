import {
  CHECKPOINT_TYP,
  createAuditJwsSigner,
  createAuditStore,
  verifyAuditLog,
  type AuditSigner,
  type AuditStore,
} from '@gatehouse/audit';
import { compactVerify } from 'jose';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  createTestKey,
  ENGINES,
  keyServiceSigner,
  openBacking,
  rawSigner,
  resolverOf,
  sampleInputs,
  TestClock,
  type Backing,
  type TestKey,
} from './support/backing.js';

describe.each(ENGINES)('signed checkpoints on %s', (engine, available) => {
  let backing: Backing;
  let store: AuditStore;
  let clock: TestClock;
  let key: TestKey;

  beforeEach(async () => {
    if (!available) return;
    backing = await openBacking(engine);
    clock = new TestClock();
    store = createAuditStore(backing.sql.db, { now: clock.now });
    key = await createTestKey();
  });
  afterEach(async () => {
    if (available) await backing.release();
  });

  describe.skipIf(!available)('', () => {
    it('has nothing to sign while the log is empty', async () => {
      expect(await store.checkpoint(rawSigner(key))).toBeUndefined();
      expect(await store.latestCheckpoint()).toBeUndefined();
    });

    it('signs { seq, hash, time } of the head as an ES256 compact JWS', async () => {
      await store.append(sampleInputs(1, 12));
      const head = await store.head();
      const cp = await store.checkpoint(rawSigner(key));
      expect(cp).toEqual({
        seq: 12,
        hash: head.hash,
        kid: key.kid,
        createdAt: clock.ms,
        jws: expect.any(String),
      });

      // Any JOSE library verifies it with the public key (RFC 7515).
      const { payload, protectedHeader } = await compactVerify(cp!.jws, key.publicKey, {
        algorithms: ['ES256'],
      });
      expect(protectedHeader).toEqual({ alg: 'ES256', typ: CHECKPOINT_TYP, kid: key.kid });
      expect(JSON.parse(new TextDecoder().decode(payload))).toEqual({
        seq: 12,
        hash: head.hash,
        time: new Date(clock.ms).toISOString(),
      });
      expect(await store.latestCheckpoint()).toEqual(cp);
      expect(await verifyAuditLog(backing.sql.db, { resolveKey: resolverOf(key) })).toMatchObject({
        ok: true,
        checked: 12,
        checkpoints: 1,
      });
    });

    it('does not sign the same head twice', async () => {
      await store.append(sampleInputs(1, 3));
      const first = await store.checkpoint(rawSigner(key));
      clock.ms += 60_000;
      expect(await store.checkpoint(rawSigner(key))).toEqual(first);
      const rows = await backing.sql.db.selectFrom('audit_checkpoints').selectAll().execute();
      expect(rows).toHaveLength(1);
    });

    it("takes the auth server's KeyService shape, and verifies across a key rotation with JWKs", async () => {
      const next = await createTestKey();
      await store.append(sampleInputs(1, 5));
      await store.checkpoint(keyServiceSigner(key));
      await store.append(sampleInputs(6, 5));
      await store.checkpoint(keyServiceSigner(next));
      const checkpoints = await backing.sql.db
        .selectFrom('audit_checkpoints')
        .selectAll()
        .orderBy('seq')
        .execute();
      expect(checkpoints.map((c) => [Number(c.seq), c.kid])).toEqual([
        [5, key.kid],
        [10, next.kid],
      ]);
      // Verification resolves every kid ever used, the retired one included (a JWK will do).
      const jwks = [key.publicJwk, next.publicJwk];
      const result = await verifyAuditLog(backing.sql.db, {
        resolveKey: (kid) => jwks.find((k) => k.kid === kid),
      });
      expect(result).toMatchObject({ ok: true, checked: 10, checkpoints: 2 });
      // Without the retired key, its checkpoint cannot be trusted.
      const withoutOld = await verifyAuditLog(backing.sql.db, { resolveKey: resolverOf(next) });
      expect(withoutOld.firstProblem).toEqual({
        seq: 5,
        kind: 'bad_signature',
        detail: `checkpoint at seq 5: no public key for kid ${key.kid}`,
      });
    });

    it('names the newest checkpoint written before a time', async () => {
      // sampleEvent(i) is at 2026-01-01T00:00:00Z + i seconds.
      await store.append(sampleInputs(1, 5));
      const early = await store.checkpoint(rawSigner(key));
      await store.append(sampleInputs(6, 5));
      const late = await store.checkpoint(rawSigner(key));
      expect(await store.latestCheckpointBefore('2026-01-01T00:00:01Z')).toBeUndefined();
      expect(await store.latestCheckpointBefore('2026-01-01T00:00:07Z')).toEqual(early);
      expect(await store.latestCheckpointBefore(new Date('2026-01-02T00:00:00Z'))).toEqual(late);
    });

    const lying: readonly (readonly [string, (key: TestKey) => AuditSigner])[] = [
      [
        'signs another payload',
        (k) => ({ sign: (payload, typ) => rawSigner(k).sign({ ...payload, seq: 1 }, typ) }),
      ],
      ['leaves out typ', (k) => ({ sign: (payload) => rawSigner(k).sign(payload, 'JWT') })],
      [
        'names another kid than it signed with',
        (k) => ({
          sign: async (payload, typ) => ({ ...(await rawSigner(k).sign(payload, typ)), kid: 'other' }),
        }),
      ],
      ['returns no JWS', () => ({ sign: () => Promise.resolve({ jwt: 'not-a-jws', kid: 'k' }) })],
    ];
    it.each(lying)('refuses a signer that %s, storing nothing', async (_, make) => {
      await store.append(sampleInputs(1, 3));
      await expect(store.checkpoint(make(key))).rejects.toMatchObject({ code: 'ERR_AUDIT_SIGNER_INVALID' });
      expect(await store.latestCheckpoint()).toBeUndefined();
    });

    it('refuses a symmetric algorithm for a raw key', () => {
      expect(() =>
        createAuditJwsSigner({ kid: 'k', alg: 'HS256', sign: () => Promise.resolve(Buffer.alloc(32)) }),
      ).toThrow(/not an asymmetric JWS algorithm/);
    });

    it('never signs a chain that does not verify since the last checkpoint', async () => {
      await store.append(sampleInputs(1, 5));
      await store.checkpoint(rawSigner(key));
      await store.append(sampleInputs(6, 5));
      await backing.raw(`update audit_log set reason = 'edited' where seq = 8`);
      await expect(store.checkpoint(rawSigner(key))).rejects.toMatchObject({
        code: 'ERR_AUDIT_CHAIN_BROKEN',
        detail: 'seq 8: hash does not match the record',
      });
      await backing.raw(`delete from audit_log where seq >= 3`);
      await expect(store.checkpoint(rawSigner(key))).rejects.toMatchObject({
        code: 'ERR_AUDIT_CHAIN_BROKEN',
      });
      expect((await store.latestCheckpoint())?.seq).toBe(5);
    });
  });
});
