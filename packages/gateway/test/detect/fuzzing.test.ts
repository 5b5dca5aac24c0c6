import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ALL_DETECTORS_OFF, Clock, metricValue, startDetectStack, type DetectStack } from './support.js';

/**
 * Fuzzing and probing: a burst of malformed, undeclared and wrong-method requests from one client,
 * refused by the gateway itself (400 validation, 404 undeclared, 405) or by the service.
 */

const THRESHOLD = 20;
const clock = new Clock();
let stack: DetectStack;

beforeAll(async () => {
  stack = await startDetectStack(
    {
      detection: {
        ...ALL_DETECTORS_OFF,
        fuzzing: { enabled: true, action: 'ban', threshold: THRESHOLD, windowSec: 60 },
        ban: { banSec: 60, multiplier: 3 },
      },
      alerts: { enabled: false },
      routes: [
        {
          id: 'items',
          match: { pathPrefix: '/items' },
          upstream: 'app',
          auth: 'none',
          openapi: 'items-api.yaml',
        },
        { id: 'reports', match: { pathPrefix: '/reports' }, upstream: 'app', auth: 'none', methods: ['GET'] },
      ],
    },
    { now: clock.now },
  );
});
afterAll(() => stack.close());

/** One fuzzing probe of each kind in turn: what a scanner sends. */
const PROBES: readonly { path: string; method?: string; body?: string; status: number }[] = [
  { path: '/items/abc', status: 400 }, // itemId must be an integer
  { path: '/items', method: 'POST', body: '{"name":"","admin":true}', status: 400 },
  { path: '/items', method: 'POST', body: '{"name":', status: 400 },
  { path: '/items/%2e%2e%2f%00', status: 400 }, // an encoded NUL: no canonical path
  { path: '/items/1/edit', status: 404 }, // undeclared operation
  { path: '/wp-admin/setup.php', status: 404 }, // no route
  { path: '/reports/1', method: 'DELETE', status: 405 },
];

async function probe(ip: string, n: number): Promise<number> {
  const { path, method, body, status } = PROBES[n % PROBES.length] as (typeof PROBES)[number];
  const answer = await stack.send(path, {
    ip,
    ...(method === undefined ? {} : { method }),
    ...(body === undefined ? {} : { body }),
  });
  expect(answer.status).toBe(status);
  return answer.status;
}

describe('fuzzing detector', () => {
  it('a burst of 400/404/405 and validation failures from one IP bans it; a repeat offence bans longer', async () => {
    const ip = '203.0.113.30';
    for (let n = 0; n < THRESHOLD; n++) await probe(ip, n);
    await expect
      .poll(() => stack.gw.gateway.bans.isBanned(ip))
      .toMatchObject({ source: 'detector', offence: 1 });
    const first = stack.gw.gateway.bans.isBanned(ip)!;
    expect((first.expiresAt - first.createdAt) / 1000).toBe(60);
    expect(await stack.send('/items/1', { ip })).toEqual({ status: 403, code: 'ERR_GATEWAY_BANNED' });
    expect(stack.audited('gateway.abuse.detected')).toEqual([
      expect.objectContaining({
        reason: 'fuzzing',
        sourceIp: ip,
        details: expect.objectContaining({
          trigger: 'errors',
          count: THRESHOLD,
          offence: 1,
          durationSec: 60,
        }),
      }),
    ]);

    // Back after the ban, at it again: the second ban is three times longer.
    clock.advance(61);
    for (let n = 0; n < THRESHOLD; n++) await probe(ip, n);
    await expect.poll(() => stack.gw.gateway.bans.isBanned(ip)).toMatchObject({ offence: 2 });
    const second = stack.gw.gateway.bans.isBanned(ip)!;
    expect((second.expiresAt - second.createdAt) / 1000).toBe(180);
    expect(metricValue(stack, 'gatehouse_gateway_detections_total{detector="fuzzing",action="ban"}')).toBe(2);
  });

  it('the same probes spread over many IPs ban nobody (false-positive check)', async () => {
    const before = stack.audited('gateway.abuse.detected').length;
    for (let n = 0; n < THRESHOLD * 3; n++) await probe(`192.0.2.${String((n % 30) + 1)}`, n);
    for (let host = 1; host <= 30; host++)
      expect(stack.gw.gateway.bans.isBanned(`192.0.2.${String(host)}`)).toBeUndefined();
    expect(stack.audited('gateway.abuse.detected')).toHaveLength(before);
  });

  it('successful traffic at the same volume from one IP is not fuzzing, nor are errors slower than the window', async () => {
    const ip = '203.0.113.31';
    for (let n = 0; n < THRESHOLD * 3; n++)
      expect((await stack.send(`/items/${String(n + 1)}`, { ip })).status).toBe(200);
    for (let round = 0; round < 3; round++) {
      for (let n = 0; n < THRESHOLD - 1; n++) await probe(ip, n);
      clock.advance(61);
    }
    expect(stack.gw.gateway.bans.isBanned(ip)).toBeUndefined();
  });

  it('an exempt address is never acted on', async () => {
    const exempt = await startDetectStack(
      {
        detection: {
          ...ALL_DETECTORS_OFF,
          exempt: ['198.51.100.0/24'],
          fuzzing: { enabled: true, action: 'ban', threshold: 3 },
        },
        alerts: { enabled: false },
        routes: [
          {
            id: 'reports',
            match: { pathPrefix: '/reports' },
            upstream: 'app',
            auth: 'none',
            methods: ['GET'],
          },
        ],
      },
      { now: clock.now },
    );
    try {
      for (let n = 0; n < 6; n++) await exempt.send('/nothing-here', { ip: '198.51.100.7' });
      expect(exempt.gw.gateway.bans.isBanned('198.51.100.7')).toBeUndefined();
      for (let n = 0; n < 3; n++) await exempt.send('/nothing-here', { ip: '203.0.113.99' });
      await expect.poll(() => exempt.gw.gateway.bans.isBanned('203.0.113.99')).toBeDefined();
    } finally {
      await exempt.close();
    }
  });
});
