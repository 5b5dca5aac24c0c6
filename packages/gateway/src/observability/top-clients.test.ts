import { describe, expect, it } from 'vitest';
import { createTopClients } from './top-clients.js';

function clock(start = Date.parse('2026-01-01T00:00:00Z')) {
  let now = start;
  return { now: () => now, advance: (ms: number) => (now += ms) };
}

describe('createTopClients', () => {
  it('counts requests and errors per client id, else per address, heaviest first', () => {
    const time = clock();
    const top = createTopClients({ capacity: 8, now: time.now });
    for (let i = 0; i < 5; i++) top.record('partner', '10.0.0.1', i === 0);
    for (let i = 0; i < 3; i++) top.record(undefined, '10.0.0.2', true);
    top.record(undefined, '10.0.0.1', false);
    expect(top.list()).toEqual({
      since: '2026-01-01T00:00:00.000Z',
      periodSec: 300,
      capacity: 8,
      clients: [
        { kind: 'client_id', id: 'partner', requests: 5, errors: 1, overcount: 0 },
        { kind: 'ip', id: '10.0.0.2', requests: 3, errors: 3, overcount: 0 },
        { kind: 'ip', id: '10.0.0.1', requests: 1, errors: 0, overcount: 0 },
      ],
    });
  });

  it('keeps a client id and an address with the same spelling apart', () => {
    const top = createTopClients({ capacity: 4 });
    top.record('10.0.0.9', '10.0.0.1', false);
    top.record(undefined, '10.0.0.9', false);
    expect(top.list().clients.map((c) => [c.kind, c.id, c.requests])).toEqual([
      ['client_id', '10.0.0.9', 1],
      ['ip', '10.0.0.9', 1],
    ]);
  });

  it('stays within its capacity and still finds the heavy hitters among many one-off clients', () => {
    const top = createTopClients({ capacity: 64 });
    // 3 heavy clients hidden in a stream of 5000 distinct addresses seen once each.
    for (let i = 0; i < 5000; i++) {
      top.record(undefined, `198.51.${Math.floor(i / 256)}.${i % 256}`, false);
      if (i % 10 === 0) top.record('heavy-a', '10.0.0.1', false);
      if (i % 20 === 0) top.record('heavy-b', '10.0.0.1', false);
      if (i % 25 === 0) top.record(undefined, '203.0.113.7', true);
    }
    const { clients } = top.list();
    // Every client above N/capacity (5950/64 ≈ 93 requests) is guaranteed to be listed and ranked
    // above any one-off client, whose estimate is at most N/capacity.
    expect(clients).toHaveLength(64);
    expect(clients.slice(0, 3).map((c) => c.id)).toEqual(['heavy-a', 'heavy-b', '203.0.113.7']);
    // Space-Saving: the count never undercounts, and overcounts by at most `overcount`.
    const [a, b, c] = clients;
    expect(a!.requests - a!.overcount).toBeLessThanOrEqual(500);
    expect(a!.requests).toBeGreaterThanOrEqual(500);
    expect(b!.requests).toBeGreaterThanOrEqual(250);
    expect(c!.requests).toBeGreaterThanOrEqual(200);
    expect(c!.errors).toBeLessThanOrEqual(200);
  });

  it('evicts the least counted client and gives the newcomer its count as overcount', () => {
    const top = createTopClients({ capacity: 2 });
    top.record('a', 'x', false);
    top.record('a', 'x', false);
    top.record('b', 'x', true);
    top.record('c', 'x', false);
    expect(top.list().clients).toEqual([
      { kind: 'client_id', id: 'a', requests: 2, errors: 0, overcount: 0 },
      { kind: 'client_id', id: 'c', requests: 2, errors: 0, overcount: 1 },
    ]);
  });

  it('lists at most `limit` clients', () => {
    const top = createTopClients();
    for (const id of ['a', 'b', 'c']) top.record(id, 'x', false);
    expect(top.list(2).clients).toHaveLength(2);
  });

  it('counts over the current and the previous period, and forgets older ones', () => {
    const time = clock();
    const top = createTopClients({ periodSec: 60, now: time.now });
    top.record('old', 'x', false);
    time.advance(60_000);
    top.record('recent', 'x', false);
    top.record('old', 'x', false);
    expect(top.list().clients.map((c) => [c.id, c.requests])).toEqual([
      ['old', 2],
      ['recent', 1],
    ]);
    expect(top.list().since).toBe('2026-01-01T00:00:00.000Z');
    time.advance(60_000);
    top.record('new', 'x', false);
    expect(top.list().clients.map((c) => [c.id, c.requests])).toEqual([
      ['new', 1],
      ['old', 1],
      ['recent', 1],
    ]);
    expect(top.list().since).toBe('2026-01-01T00:01:00.000Z');
    // Two idle periods: nothing is left in the window.
    time.advance(120_000);
    expect(top.list().clients).toEqual([]);
  });

  it('refuses a capacity or a period that cannot work', () => {
    expect(() => createTopClients({ capacity: 0 })).toThrow(RangeError);
    expect(() => createTopClients({ capacity: 1.5 })).toThrow(RangeError);
    expect(() => createTopClients({ periodSec: 0 })).toThrow(RangeError);
  });
});
