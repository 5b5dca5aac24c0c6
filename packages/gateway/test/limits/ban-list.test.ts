import type { AuditEvent } from '@gatehouse/core';
import { requireService } from '@gatehouse/testing';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { BANS_CHANNEL, createBanList, type BanList } from '../../src/limits/ban-list.js';
import { openBanBacking, type BanBacking, type SqlKind, type StateKind } from './ban-backing.js';

const postgres = await requireService('postgres', 'gateway ban list on PostgreSQL');
const redis = await requireService('redis', 'gateway ban list on Redis');

const SETUPS: readonly (readonly [SqlKind, StateKind, boolean])[] = [
  ['sqlite', 'memory', true],
  ['sqlite', 'redis', redis.available],
  ['postgres', 'memory', postgres.available],
  ['postgres', 'redis', postgres.available && redis.available],
];

/** What "at once" means across instances: the brief's bound for a ban to bite everywhere. */
const PROPAGATION = { timeout: 1000, interval: 10 };

describe.each(SETUPS)('ban list on %s with %s shared state', (sqlKind, stateKind, available) => {
  let backing: BanBacking;
  let a: BanList;
  let b: BanList;
  const audit: AuditEvent[] = [];
  let started: BanList[] = [];

  // Resync is slowed to a minute unless a test is about it: what propagates, propagates by event.
  const instance = (i: number, syncIntervalMs = 60_000): BanList =>
    createBanList({
      db: backing.sql.db,
      state: backing.state(i),
      now: backing.clock.now,
      logger: backing.logger,
      audit: (event) => void audit.push(event),
      syncIntervalMs,
    });
  const start = async (list: BanList): Promise<BanList> => {
    await list.start();
    started.push(list);
    return list;
  };

  beforeAll(async () => {
    if (!available) return;
    backing = await openBanBacking(sqlKind, stateKind);
  });
  afterAll(async () => {
    if (available) await backing.release();
  });
  afterEach(async () => {
    if (!available) return;
    await Promise.all(started.map((list) => list.stop()));
    started = [];
    audit.length = 0;
    await backing.sql.db.deleteFrom('gateway_bans').execute();
  });

  describe.skipIf(!available)('', () => {
    it('a ban added on one instance applies on the other at once', async () => {
      a = await start(instance(0));
      b = await start(instance(1));
      expect(b.isBanned('192.0.2.66')).toBeUndefined();
      const ban = await a.add({
        subject: '192.0.2.66',
        durationSec: 600,
        reason: 'scraping',
        source: 'admin',
        actor: 'ops',
      });
      expect(a.isBanned('192.0.2.66')).toEqual(ban);
      await expect.poll(() => b.isBanned('192.0.2.66'), PROPAGATION).toEqual(ban);
      expect(b.isBanned('::ffff:192.0.2.66')).toEqual(ban);
      expect(b.isBanned('192.0.2.67')).toBeUndefined();
      expect(ban).toMatchObject({
        subject: '192.0.2.66',
        reason: 'scraping',
        source: 'admin',
        createdBy: 'ops',
        offence: 1,
        expiresAt: ban.createdAt + 600_000,
      });
      expect(a.activeCount()).toBe(1);
      expect(b.activeCount()).toBe(1);
      expect(await b.list()).toEqual([ban]);
    });

    it('blocks: IPv4 and IPv6 CIDR bans cover their addresses, spelled any way', async () => {
      a = await start(instance(0));
      b = await start(instance(1));
      const v4 = await b.add({ subject: '203.0.113.0/24', durationSec: 60, reason: 'botnet', source: 'cli' });
      const v6 = await b.add({
        subject: '2001:DB8:0:0::/032',
        durationSec: 60,
        reason: 'botnet',
        source: 'cli',
      });
      expect(v6.subject).toBe('2001:db8::/32');
      await expect.poll(() => a.activeCount(), PROPAGATION).toBe(2);
      expect(a.isBanned('203.0.113.200')).toEqual(v4);
      expect(a.isBanned('203.0.114.1')).toBeUndefined();
      expect(a.isBanned('2001:db8:1::5')).toEqual(v6);
      expect(a.isBanned('2001:0db8:0000::5')).toEqual(v6);
      expect(a.isBanned('2001:db9::5')).toBeUndefined();
    });

    it("a client's network (a block) is banned by its own ban or one around it, not by its addresses'", async () => {
      a = await start(instance(0));
      const own = await a.add({ subject: '2001:db8:7:1::/64', durationSec: 60, reason: 'x', source: 'cli' });
      const around = await a.add({ subject: '2001:db8:8::/48', durationSec: 60, reason: 'x', source: 'cli' });
      await a.add({ subject: '2001:db8:9:1::5', durationSec: 60, reason: 'x', source: 'cli' });
      await a.add({ subject: '2001:db8:9:2::/96', durationSec: 60, reason: 'x', source: 'cli' });
      expect(a.isBanned('2001:db8:7:1::/64')).toEqual(own);
      expect(a.isBanned('2001:db8:8:5::/64')).toEqual(around);
      // An address, or a smaller block, inside the network does not ban all of it.
      expect(a.isBanned('2001:db8:9:1::/64')).toBeUndefined();
      expect(a.isBanned('2001:db8:9:2::/64')).toBeUndefined();
      expect(a.isBanned('2001:db8:7:2::/64')).toBeUndefined();
    });

    it('a lifted ban stops applying everywhere at once', async () => {
      a = await start(instance(0));
      b = await start(instance(1));
      await a.add({ subject: '2001:db8::66', durationSec: 600, reason: 'abuse', source: 'admin' });
      await expect.poll(() => b.isBanned('2001:db8::66'), PROPAGATION).toBeDefined();
      expect(await b.remove('2001:DB8:0::66', 'ops')).toBe(true);
      expect(b.isBanned('2001:db8::66')).toBeUndefined();
      await expect.poll(() => a.isBanned('2001:db8::66'), PROPAGATION).toBeUndefined();
      expect(await a.remove('2001:db8::66')).toBe(false);
      expect(await a.list()).toEqual([]);
    });

    it('a ban written by the CLI (no Redis, no running gateway) lands within about a second', async () => {
      a = await start(instance(0, 1000));
      // The CLI's own process: same database, a private memory state nobody else hears.
      const { createMemorySharedState } = await import('@gatehouse/core');
      const cliState = createMemorySharedState();
      const cli = createBanList({ db: backing.sql.db, state: cliState, logger: backing.logger });
      try {
        const ban = await cli.add({
          subject: '198.51.100.9',
          durationSec: 60,
          reason: 'manual',
          source: 'cli',
        });
        // Default resync period (1 s), plus one query.
        await expect.poll(() => a.isBanned('198.51.100.9'), { timeout: 2000, interval: 20 }).toEqual(ban);
        expect(await cli.remove('198.51.100.9')).toBe(true);
        await expect.poll(() => a.isBanned('198.51.100.9'), { timeout: 2000, interval: 20 }).toBeUndefined();
      } finally {
        await cliState.close();
      }
    });

    it('an expired ban stops applying at its expiry, on every instance', async () => {
      a = await start(instance(0));
      b = await start(instance(1));
      await a.add({ subject: '192.0.2.99', durationSec: 60, reason: 'abuse', source: 'admin' });
      await expect.poll(() => b.isBanned('192.0.2.99'), PROPAGATION).toBeDefined();
      backing.clock.advance(59_999);
      expect(a.isBanned('192.0.2.99')).toBeDefined();
      expect(b.isBanned('192.0.2.99')).toBeDefined();
      backing.clock.advance(1);
      expect(a.isBanned('192.0.2.99')).toBeUndefined();
      expect(b.isBanned('192.0.2.99')).toBeUndefined();
      expect(a.activeCount()).toBe(0);
      expect(await a.list()).toEqual([]);
      // Lifting an expired ban lifts nothing.
      expect(await a.remove('192.0.2.99')).toBe(false);
    });

    it('bans survive a restart: a new instance loads them before it serves', async () => {
      a = await start(instance(0));
      const ban = await a.add({
        subject: '192.0.2.50',
        durationSec: 600,
        reason: 'abuse',
        source: 'detector',
      });
      await a.stop();
      const restarted = await start(instance(0));
      expect(restarted.isBanned('192.0.2.50')).toEqual(ban);
    });

    it('banning again replaces the ban: one row, the new expiry and offence', async () => {
      a = await start(instance(0));
      b = await start(instance(1));
      await a.add({ subject: '192.0.2.77', durationSec: 60, reason: 'first', source: 'brute-force' });
      const second = await a.add({
        subject: '192.0.2.77',
        durationSec: 120,
        reason: 'again',
        source: 'brute-force',
        offence: 2,
      });
      expect(await a.list()).toEqual([second]);
      await expect.poll(() => b.isBanned('192.0.2.77'), PROPAGATION).toEqual(second);
      backing.clock.advance(60_000);
      expect(b.isBanned('192.0.2.77')).toEqual(second);
    });

    it('audits every ban and every lift', async () => {
      a = await start(instance(0));
      await a.add({ subject: '192.0.2.1', durationSec: 30, reason: 'test', source: 'admin', actor: 'ops' });
      await a.remove('192.0.2.1', 'ops');
      await a.remove('192.0.2.1', 'ops');
      expect(audit).toEqual([
        expect.objectContaining({
          action: 'gateway.ban.add',
          outcome: 'success',
          component: 'gateway',
          actor: { sub: 'ops' },
          target: { type: 'ip', id: '192.0.2.1' },
          reason: 'admin',
          details: expect.objectContaining({ reason: 'test', durationSec: 30, offence: 1 }),
        }),
        expect.objectContaining({ action: 'gateway.ban.remove', outcome: 'success', actor: { sub: 'ops' } }),
        expect.objectContaining({ action: 'gateway.ban.remove', outcome: 'failure', reason: 'not_banned' }),
      ]);
    });

    it('ignores malformed events on the channel', async () => {
      a = await start(instance(0));
      const state = backing.state(1);
      for (const message of [
        'not json',
        '{"type":"add"}',
        '{"type":"add","ban":{"subject":"0.0.0.0/0"}}',
        '{"type":"remove","subject":"example.com"}',
        JSON.stringify({
          type: 'add',
          ban: {
            id: 'x',
            subject: 'nope',
            reason: 'r',
            source: 'admin',
            createdAt: 1,
            expiresAt: 2,
            offence: 1,
          },
        }),
      ]) {
        await state.publish(BANS_CHANNEL, message);
      }
      await a.add({ subject: '192.0.2.2', durationSec: 30, reason: 'marker', source: 'admin' });
      await expect
        .poll(() => backing.logs.filter((line) => line.includes('malformed ban event')).length)
        .toBe(5);
      expect(a.activeCount()).toBe(1);
    });

    it('refuses what is not an IP address or block, and durations that are not positive', async () => {
      a = instance(0);
      for (const subject of ['example.com', '10.0.0.0/33', 'fe80::1%eth0', '1.2.3.4/8/1', '']) {
        await expect(a.add({ subject, durationSec: 60, reason: 'x', source: 'admin' })).rejects.toThrow(
          TypeError,
        );
      }
      for (const durationSec of [0, -1, Number.NaN, Number.POSITIVE_INFINITY]) {
        await expect(
          a.add({ subject: '192.0.2.1', durationSec, reason: 'x', source: 'admin' }),
        ).rejects.toThrow(RangeError);
      }
      await expect(
        a.add({ subject: '192.0.2.1', durationSec: 1, reason: 'x', source: 'admin', offence: 0 }),
      ).rejects.toThrow(RangeError);
      expect(await a.list()).toEqual([]);
    });
  });
});

describe('ban list when the database fails', () => {
  it('keeps enforcing the last known bans, expiry included, and logs the failure', async () => {
    const backing = await openBanBacking('sqlite', 'memory');
    const list = createBanList({
      db: backing.sql.db,
      state: backing.state(0),
      now: backing.clock.now,
      logger: backing.logger,
      syncIntervalMs: 10,
    });
    try {
      await list.start();
      await list.add({ subject: '192.0.2.10', durationSec: 60, reason: 'x', source: 'admin' });
      await backing.sql.close();
      const failures = () => backing.logs.filter((line) => line.includes('ban resync failed')).length;
      await expect.poll(failures).toBe(1);
      expect(list.isBanned('192.0.2.10')).toBeDefined();
      backing.clock.advance(60_000);
      expect(list.isBanned('192.0.2.10')).toBeUndefined();
    } finally {
      await list.stop();
      await backing.release();
    }
  });
});
