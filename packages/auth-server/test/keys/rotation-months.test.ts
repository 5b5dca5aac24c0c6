import { isGuardError } from '@gatehouse/guard';
import { it } from 'vitest';
import { describeEachStore, startAuthServer, TestClock } from '../helpers/harness.js';
import { CachingVerifier, claimsAt } from '../helpers/signing-keys.js';

const HOUR = 3600;
const DAY = 86_400;

interface Scenario {
  readonly name: string;
  readonly keys: {
    readonly rotationIntervalSec: number;
    readonly prePublishSec: number;
    readonly jwksMaxAgeSec: number;
    readonly checkIntervalSec: number;
  };
  readonly tokens: { readonly accessTokenTtlSec: number; readonly idTokenTtlSec: number };
  readonly stepSec: number;
  readonly days: number;
}

// Issue 3, Keys: "no token valid at issuance ever fails verification because of rotation".
const scenarios: Scenario[] = [
  {
    name: 'weekly rotation, 1 day pre-publication, 5 min JWKS cache, hourly ticks, 120 days',
    keys: { rotationIntervalSec: 7 * DAY, prePublishSec: DAY, jwksMaxAgeSec: 300, checkIntervalSec: HOUR },
    tokens: { accessTokenTtlSec: 2 * HOUR, idTokenTtlSec: HOUR },
    stepSec: HOUR,
    days: 120,
  },
  {
    // The tight edge: pre-publication no longer than the verifiers' cache, tokens that outlive
    // it, and signing between ticks (a tick every third step).
    name: 'daily rotation, pre-publication = JWKS cache = 3 h, 5 h tokens, 20 min steps, 14 days',
    keys: {
      rotationIntervalSec: DAY,
      prePublishSec: 3 * HOUR,
      jwksMaxAgeSec: 3 * HOUR,
      checkIntervalSec: HOUR,
    },
    tokens: { accessTokenTtlSec: 5 * HOUR, idTokenTtlSec: HOUR },
    stepSec: 20 * 60,
    days: 14,
  },
  {
    // Minute resolution, so a key unpublished or used even one step too early shows.
    name: 'two-hourly rotation, 10 min pre-publication, 9 min JWKS cache, 15 min tokens, 1 min ticks, 2 days',
    keys: { rotationIntervalSec: 2 * HOUR, prePublishSec: 600, jwksMaxAgeSec: 540, checkIntervalSec: 60 },
    tokens: { accessTokenTtlSec: 900, idTokenTtlSec: 300 },
    stepSec: 60,
    days: 2,
  },
];

interface Issued {
  readonly jwt: string;
  readonly kid: string;
  readonly typ: 'at+jwt' | null;
  readonly expMs: number;
  readonly issuedAt: number;
}

describeEachStore('key rotation over simulated months', (stores) => {
  // Independent servers and clocks: the scenarios run side by side.
  it.concurrent.for(scenarios)(
    '$name: every unexpired token verifies at every step',
    { timeout: 180_000 },
    async (scenario, { expect, onTestFinished }) => {
      const clock = new TestClock();
      const as = await startAuthServer({
        stores,
        clock,
        config: { keys: scenario.keys, tokens: scenario.tokens },
      });
      onTestFinished(() => as.close());
      const { keys } = as.server.services;
      const db = as.deps.db;
      const verifier = new CachingVerifier(() => keys.jwks(), scenario.keys.jwksMaxAgeSec, clock);
      const firstSeen = new Map<string, number>();
      const firstSigned = new Map<string, number>();
      const failures: string[] = [];
      const invariantBreaks: string[] = [];
      let live: Issued[] = [];

      const issue = async (typ: 'at+jwt' | null): Promise<void> => {
        const ttl = typ === null ? scenario.tokens.idTokenTtlSec : scenario.tokens.accessTokenTtlSec;
        const claims = claimsAt(clock, ttl);
        const { jwt, kid } = await keys.sign(claims, typ ?? 'JWT');
        if (!firstSigned.has(kid)) firstSigned.set(kid, clock.ms);
        live.push({ jwt, kid, typ, expMs: claims.exp * 1000, issuedAt: clock.ms });
      };

      const steps = (scenario.days * DAY) / scenario.stepSec;
      for (let step = 1; step <= steps; step++) {
        clock.advance(scenario.stepSec);
        // Signed between ticks: `sign` itself notices a key due to rotate.
        await issue('at+jwt');
        if ((step * scenario.stepSec) % scenario.keys.checkIntervalSec === 0) await keys.tick();
        await issue(null);
        for (const key of (await keys.jwks()).keys) {
          if (key.kid !== undefined && !firstSeen.has(key.kid)) firstSeen.set(key.kid, clock.ms);
        }
        await verifier.refreshIfStale();
        live = live.filter((token) => token.expMs > clock.ms);
        for (const token of live) {
          try {
            await verifier.verify(token.jwt, token.typ);
          } catch (err) {
            const code = isGuardError(err) ? err.code : String(err);
            failures.push(
              `step ${step}: ${token.typ ?? 'JWT'} of ${token.kid} issued at ${token.issuedAt}: ${code}`,
            );
          }
        }
        const counts = await db
          .selectFrom('signing_keys')
          .select(['status', (eb) => eb.fn.countAll<number | string>().as('n')])
          .where('status', 'in', ['active', 'pending'])
          .groupBy('status')
          .execute();
        const count = (status: string): number => Number(counts.find((c) => c.status === status)?.n ?? 0);
        if (count('active') !== 1 || count('pending') > 1) {
          invariantBreaks.push(`step ${step}: ${count('active')} active, ${count('pending')} pending`);
        }
      }

      expect(failures.slice(0, 10)).toEqual([]);
      expect(invariantBreaks.slice(0, 10)).toEqual([]);

      const list = await keys.list();
      const rotations = Math.floor((scenario.days * DAY) / scenario.keys.rotationIntervalSec);
      expect(list.length).toBeGreaterThanOrEqual(rotations);
      expect(list.map((k) => k.generation)).toEqual(list.map((_k, i) => i + 1));
      // Every successor was in the JWKS for at least prePublishSec before its first signature.
      for (const key of list.filter((k) => k.generation > 1 && firstSigned.has(k.kid))) {
        const published = firstSeen.get(key.kid);
        expect(published, key.kid).toBeDefined();
        expect((firstSigned.get(key.kid) ?? 0) - (published ?? 0)).toBeGreaterThanOrEqual(
          scenario.keys.prePublishSec * 1000,
        );
        expect((key.activatedAt ?? 0) - key.createdAt).toBeGreaterThanOrEqual(
          scenario.keys.prePublishSec * 1000,
        );
      }
      // Old keys left the JWKS, and no key but the active and the pending one holds a private key.
      const retired = list.filter((k) => k.status === 'retired');
      expect(retired.length).toBeGreaterThanOrEqual(list.length - 3);
      const sealed = await db
        .selectFrom('signing_keys')
        .select(['kid', 'status'])
        .where('private_key', 'is not', null)
        .execute();
      expect(sealed.every((k) => k.status === 'active' || k.status === 'pending')).toBe(true);
      // The verifier really worked from cached copies, refreshed once they were max-age old.
      const gaps = verifier.refreshes.slice(1).map((t, i) => t - (verifier.refreshes[i] ?? 0));
      expect(Math.min(...gaps)).toBeGreaterThanOrEqual(scenario.keys.jwksMaxAgeSec * 1000);
    },
  );
});
