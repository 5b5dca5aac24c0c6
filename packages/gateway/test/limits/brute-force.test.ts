import type { AuditEvent, SharedState } from '@gatehouse/core';
import { requireService } from '@gatehouse/testing';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createBanList, type BanList } from '../../src/limits/ban-list.js';
import { createBruteForceDetector, type BruteForceOptions } from '../../src/limits/brute-force.js';
import { openBanBacking, type BanBacking, type StateKind } from './ban-backing.js';

const redis = await requireService('redis', 'gateway brute-force detection on Redis');

describe.each([
  ['memory', true],
  ['redis', redis.available],
] as const)('brute-force detection over %s shared state', (stateKind: StateKind, available) => {
  let backing: BanBacking;
  let bans: BanList;
  let otherInstance: BanList;
  const audit: AuditEvent[] = [];

  const detector = (state: SharedState, overrides: Partial<BruteForceOptions> = {}) =>
    createBruteForceDetector({
      state,
      bans,
      threshold: 3,
      windowSec: 60,
      banSec: 10,
      multiplier: 2,
      maxBanSec: 25,
      now: backing.clock.now,
      logger: backing.logger,
      audit: (event) => void audit.push(event),
      ...overrides,
    });

  beforeAll(async () => {
    if (available) backing = await openBanBacking('sqlite', stateKind);
  });
  afterAll(async () => {
    if (available) await backing.release();
  });
  afterEach(async () => {
    if (!available) return;
    await Promise.all([bans.stop(), otherInstance.stop()]);
    audit.length = 0;
  });

  /** Each test gets its own addresses: counters and offences live in shared state across tests. */
  let net = 0;
  const addresses = (): ((host: number) => string) => {
    net++;
    return (host) => `10.${String(stateKind === 'memory' ? 1 : 2)}.${String(net)}.${String(host)}`;
  };

  const startBans = async (): Promise<void> => {
    const make = (i: number) =>
      createBanList({
        db: backing.sql.db,
        state: backing.state(i),
        now: backing.clock.now,
        logger: backing.logger,
        audit: (event) => void audit.push(event),
        syncIntervalMs: 60_000,
      });
    bans = make(0);
    otherInstance = make(1);
    await Promise.all([bans.start(), otherInstance.start()]);
  };

  describe.skipIf(!available)('', () => {
    it('repeated 401s from one IP ban it, longer at each offence, up to the maximum', async () => {
      await startBans();
      const ip = addresses()(1);
      const detect = detector(backing.state(0));
      const durations: number[] = [];
      for (let offence = 1; offence <= 4; offence++) {
        await detect.recordFailure({ ip, clientId: undefined });
        await detect.recordFailure({ ip, clientId: `app-${String(offence)}` });
        expect(bans.isBanned(ip)).toBeUndefined();
        await detect.recordFailure({ ip, clientId: undefined });
        const ban = bans.isBanned(ip);
        expect(ban).toMatchObject({ source: 'brute-force', offence, createdBy: 'brute-force-detector' });
        durations.push((ban!.expiresAt - ban!.createdAt) / 1000);
        // Every instance refuses it at once.
        await expect.poll(() => otherInstance.isBanned(ip), { timeout: 1000, interval: 10 }).toEqual(ban);
        backing.clock.advance(ban!.expiresAt - backing.clock.now());
        expect(bans.isBanned(ip)).toBeUndefined();
      }
      expect(durations).toEqual([10, 20, 25, 25]);
      const detected = audit.filter((e) => e.action === 'gateway.brute_force.detected');
      expect(detected).toHaveLength(4);
      expect(detected[0]).toMatchObject({
        outcome: 'success',
        component: 'gateway',
        sourceIp: ip,
        decision: 'deny',
        reason: 'ip_failures',
        details: { failures: 3, windowSec: 60, offence: 1, durationSec: 10 },
      });
      expect(audit.filter((e) => e.action === 'gateway.ban.add')).toHaveLength(4);
    });

    it('failures against one client id from many IPs ban each failing IP past the threshold', async () => {
      await startBans();
      const ip = addresses();
      const clientId = `victim-${ip(0)}`;
      const detect = detector(backing.state(0));
      for (let host = 1; host <= 5; host++) await detect.recordFailure({ ip: ip(host), clientId });
      expect([1, 2, 3, 4, 5].map((host) => bans.isBanned(ip(host)) !== undefined)).toEqual([
        false,
        false,
        true,
        true,
        true,
      ]);
      expect(audit.find((e) => e.action === 'gateway.brute_force.detected')).toMatchObject({
        reason: 'client_failures',
        details: { failures: 3, clientId },
      });
    });

    it('counts across instances: failures seen by two gateways add up', async () => {
      await startBans();
      const ip = addresses()(1);
      const first = detector(backing.state(0));
      const second = detector(backing.state(1));
      await first.recordFailure({ ip, clientId: undefined });
      await second.recordFailure({ ip, clientId: undefined });
      await first.recordFailure({ ip, clientId: undefined });
      expect(bans.isBanned(ip)).toBeDefined();
    });

    it('a burst of concurrent failures bans once, as a first offence', async () => {
      await startBans();
      const ip = addresses()(1);
      const detect = detector(backing.state(0));
      const other = detector(backing.state(1));
      await Promise.all(
        Array.from({ length: 30 }, (_, i) =>
          (i % 2 === 0 ? detect : other).recordFailure({ ip, clientId: 'app' }),
        ),
      );
      expect(bans.isBanned(ip)).toMatchObject({ offence: 1 });
      expect(audit.filter((e) => e.action === 'gateway.ban.add')).toHaveLength(1);
    });

    // Redis expires counters in real time; the memory state follows the test clock.
    it.skipIf(stateKind === 'redis')('failures spread beyond the window do not ban', async () => {
      await startBans();
      const ip = addresses()(1);
      const detect = detector(backing.state(0));
      for (let i = 0; i < 6; i++) {
        await detect.recordFailure({ ip, clientId: undefined });
        backing.clock.advance(31_000);
      }
      expect(bans.isBanned(ip)).toBeUndefined();
    });

    it('a failing shared state leaves the failure uncounted instead of failing the request', async () => {
      await startBans();
      const broken: SharedState = {
        ...backing.state(0),
        increment: () => Promise.reject(new Error('redis down')),
      };
      await expect(
        detector(broken).recordFailure({ ip: addresses()(1), clientId: undefined }),
      ).resolves.toBeUndefined();
      expect(backing.logs.some((line) => line.includes('brute-force detection failed'))).toBe(true);
    });

    it('refuses settings that cannot work', () => {
      const state = backing.state(0);
      for (const bad of [
        { threshold: 0 },
        { windowSec: 0 },
        { banSec: -1 },
        { maxBanSec: Number.NaN },
        { multiplier: 0.5 },
      ]) {
        expect(() => detector(state, bad)).toThrow(RangeError);
      }
    });
  });
});
