import { afterEach, beforeEach, expect, it } from 'vitest';
import { createKeyService, type KeyCheck, type KeyService } from '../../src/keys/key-service.js';
import { describeEachStore, startAuthServer, type TestAuthServer } from '../helpers/harness.js';

// Defaults: rotation 30 days, pre-publication 1 day, JWKS max-age 300 s, ticks every 60 s,
// expiry warning 1 day; the longest token lives 300 s.
const DAY_MS = 86_400_000;
const TICK_MS = 60_000;

describeEachStore('keys check', (stores) => {
  let as: TestAuthServer;
  let keys: KeyService;
  beforeEach(async () => {
    as = await startAuthServer({ stores });
    keys = as.server.services.keys;
  });
  afterEach(async () => {
    await as.close();
  });

  /** Another instance (or the CLI) that has loaded the key set once and hears of no change. */
  const observer = (): KeyService => createKeyService(as.deps, () => Promise.resolve(300));
  const codes = (check: KeyCheck) =>
    check.findings.map((f) => `${f.severity} ${f.code} ${f.kid ?? ''}`.trim());
  const activeKid = async () => (await keys.list()).find((k) => k.status === 'active')?.kid ?? '';

  it('is ok for a fresh key set and through a scheduled rotation', async () => {
    await expect(keys.check()).resolves.toEqual({ ok: true, findings: [] });
    const [first] = await keys.list();
    as.clock.ms = (first?.rotatesAt ?? 0) - DAY_MS;
    await keys.tick();
    await expect(keys.check()).resolves.toEqual({ ok: true, findings: [] });
    as.clock.ms = first?.rotatesAt ?? 0;
    await keys.tick();
    await expect(keys.check()).resolves.toEqual({ ok: true, findings: [] });
  });

  it('no active key: high', async () => {
    await as.deps.db
      .updateTable('signing_keys')
      .set({ status: 'retired' })
      .where('status', '=', 'active')
      .execute();
    const check = await observer().check();
    expect(check.ok).toBe(false);
    expect(codes(check)).toEqual(['high no_active_key']);
  });

  it('the active key rotates out soon and no successor is published: high, once the successor is overdue', async () => {
    const [first] = await keys.list();
    const due = (first?.rotatesAt ?? 0) - DAY_MS;
    // Within the tick the successor may still be on its way.
    as.clock.ms = due + TICK_MS;
    await expect(keys.check()).resolves.toEqual({ ok: true, findings: [] });
    as.clock.ms = due + TICK_MS + 1000;
    const check = await keys.check();
    expect(check.ok).toBe(false);
    expect(codes(check)).toEqual([`high active_key_expiring ${first?.kid}`]);
    expect(check.findings[0]?.message).toMatch(
      /rotates out at 2026-01-31T00:00:00\.000Z and no successor is published/,
    );
    await keys.tick();
    await expect(keys.check()).resolves.toEqual({ ok: true, findings: [] });
  });

  it('the JWKS misses the active key and still serves a revoked one: high', async () => {
    const stale = observer();
    await stale.jwks();
    const { revokedKid, newKid } = await keys.rotateEmergency();
    const check = await stale.check();
    expect(check.ok).toBe(false);
    expect(codes(check)).toEqual([
      `high jwks_missing_active_key ${newKid}`,
      `high stale_published_key ${revokedKid}`,
    ]);
    // The instance that rotated is consistent; the stale one recovers at its next tick.
    await expect(keys.check()).resolves.toEqual({ ok: true, findings: [] });
    await stale.tick();
    await expect(stale.check()).resolves.toEqual({ ok: true, findings: [] });
  });

  it('a retiring key published past its unpublish time: high (stale)', async () => {
    const old = await activeKid();
    await keys.rotate();
    as.clock.advance(86_400);
    await keys.tick();
    const retiring = (await keys.list()).find((k) => k.kid === old);
    expect(retiring?.status).toBe('retiring');
    as.clock.ms = (retiring?.unpublishAt ?? 0) + TICK_MS + 1;
    const check = await keys.check();
    expect(codes(check)).toEqual([`high stale_published_key ${old}`]);
    expect(check.ok).toBe(false);
    await keys.tick();
    await expect(keys.check()).resolves.toEqual({ ok: true, findings: [] });
  });

  it('a pending key overdue for promotion: medium (still ok)', async () => {
    const pending = await keys.rotate();
    as.clock.ms = pending.activatesAt + TICK_MS + 1;
    const check = await keys.check();
    expect(check).toEqual({
      ok: true,
      findings: [
        {
          severity: 'medium',
          code: 'pending_key_overdue',
          kid: pending.kid,
          message: expect.stringMatching(
            /^pending key \S+ was due to sign from 2026-01-02T00:00:00\.000Z/,
          ) as unknown,
        },
      ],
    });
  });

  it('names keys only: no key material in any finding', async () => {
    const stale = observer();
    await stale.jwks();
    await keys.rotateEmergency();
    const pending = await keys.rotate();
    as.clock.ms = pending.activatesAt + TICK_MS + 1;
    const check = await stale.check();
    expect(check.findings.length).toBeGreaterThanOrEqual(3);
    const sealed = await as.deps.db.selectFrom('signing_keys').select('private_key').execute();
    const text = JSON.stringify(check);
    for (const { private_key } of sealed) if (private_key !== null) expect(text).not.toContain(private_key);
    expect(text).not.toMatch(/PRIVATE KEY|"d":/);
  });
});
