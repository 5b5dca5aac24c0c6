import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ALL_DETECTORS_OFF, Clock, metricValue, startDetectStack, type DetectStack } from './support.js';

/**
 * BOLA / IDOR scraping: an actor asking for object after object it may not see (403/404 on
 * distinct ids), or walking consecutive ids. Driven over real HTTP against a real gateway whose
 * upstream answers 403/404 as a service with object-level checks would.
 */

const THRESHOLD = 10;
const routes = [
  {
    id: 'items',
    match: { pathPrefix: '/items' },
    upstream: 'app',
    auth: 'none' as const,
    openapi: 'items-api.yaml',
  },
  {
    id: 'shops',
    match: { pathPrefix: '/shops' },
    upstream: 'app',
    auth: 'none' as const,
    openapi: 'items-api.yaml',
  },
  { id: 'objects', match: { pathPrefix: '/objects' }, upstream: 'app', auth: 'none' as const },
];

describe('distinct denied ids → ban', () => {
  const clock = new Clock();
  let stack: DetectStack;

  beforeAll(async () => {
    stack = await startDetectStack(
      {
        detection: {
          ...ALL_DETECTORS_OFF,
          enumeration: {
            enabled: true,
            action: 'ban',
            distinctIds: THRESHOLD,
            sequentialRun: 0,
            windowSec: 60,
          },
          ban: { banSec: 120 },
        },
        alerts: { enabled: false },
        routes,
      },
      { now: clock.now },
    );
    // A service with object-level authorization: items and objects are never the caller's.
    stack.upstream.answer = (path) =>
      path.startsWith('/items/') ? 403 : path.startsWith('/objects/') ? 404 : 200;
  });
  afterAll(() => stack.close());

  it('one IP asking for OpenAPI-declared objects it may not see is banned at the threshold', async () => {
    const ip = '203.0.113.10';
    for (let i = 1; i <= THRESHOLD; i++) {
      // Scattered ids: this is the distinct-id count, not the sequential walk.
      expect((await stack.send(`/items/${String(i * 37)}`, { ip })).status).toBe(403);
    }
    await expect
      .poll(() => stack.gw.gateway.bans.isBanned(ip))
      .toMatchObject({
        source: 'detector',
        createdBy: 'enumeration-detector',
        offence: 1,
      });
    const reached = stack.upstream.requests.length;
    expect(await stack.send('/items/1', { ip })).toEqual({ status: 403, code: 'ERR_GATEWAY_BANNED' });
    expect(stack.upstream.requests).toHaveLength(reached);
    const [detected] = stack.audited('gateway.abuse.detected');
    expect(detected).toMatchObject({
      outcome: 'success',
      component: 'gateway',
      sourceIp: ip,
      reason: 'enumeration',
      decision: 'deny',
      target: { type: 'ip', id: ip },
      details: {
        trigger: 'distinct_ids',
        action: 'ban',
        count: THRESHOLD,
        threshold: THRESHOLD,
        banned: 1,
        offence: 1,
        durationSec: 120,
      },
    });
    expect(stack.audited('gateway.ban.add').at(-1)).toMatchObject({ target: { id: ip }, reason: 'detector' });
    expect(
      metricValue(stack, 'gatehouse_gateway_detections_total{detector="enumeration",action="ban"}'),
    ).toBe(1);
  });

  it('without OpenAPI, an id-like last segment is the object id (404s)', async () => {
    const ip = '203.0.113.11';
    // Numbers, UUIDs, ULIDs and opaque ids with a digit: all look like object ids.
    const ids = [
      '17',
      '3f2504e0-4f89-11d3-9a0c-0305e82c3301',
      '01ARZ3NDEKTSV4RRFFQ69G5FAV',
      'usr_8f3k2m9q',
      '9001',
      '6ba7b810-9dad-11d1-80b4-00c04fd430c8',
      '01BX5ZZKBKACTAV9WEVGEMMVRZ',
      'ord_a1b2c3d4',
      '31337',
      'c0ffee00c0ffee00',
    ];
    expect(ids).toHaveLength(THRESHOLD);
    for (const id of ids) expect((await stack.send(`/objects/${id}`, { ip })).status).toBe(404);
    await expect.poll(() => stack.gw.gateway.bans.isBanned(ip)).toBeDefined();
  });

  it('asking again and again for the same missing object is not enumeration', async () => {
    const ip = '203.0.113.12';
    for (let i = 0; i < THRESHOLD * 3; i++)
      expect((await stack.send('/objects/4242', { ip })).status).toBe(404);
    // Names that are not ids (a search, a collection) do not count either.
    for (let i = 0; i < THRESHOLD * 2; i++)
      await stack.send(`/objects/search-${'abcdefghijklmnopqrstuvwxyz'[i] ?? ''}`, { ip });
    expect(stack.gw.gateway.bans.isBanned(ip)).toBeUndefined();
  });

  it('the same volume of denied ids spread over many clients bans nobody (false-positive check)', async () => {
    const before = stack.audited('gateway.abuse.detected').length;
    for (let i = 0; i < THRESHOLD * 4; i++) {
      const ip = `192.0.2.${String(i + 1)}`;
      expect((await stack.send(`/items/${String(5000 + i)}`, { ip })).status).toBe(403);
    }
    for (let i = 0; i < THRESHOLD * 4; i++)
      expect(stack.gw.gateway.bans.isBanned(`192.0.2.${String(i + 1)}`)).toBeUndefined();
    expect(stack.audited('gateway.abuse.detected')).toHaveLength(before);
  });

  it('denied ids spread beyond the window do not add up', async () => {
    const ip = '203.0.113.13';
    for (let round = 0; round < 3; round++) {
      for (let i = 0; i < THRESHOLD - 1; i++)
        await stack.send(`/items/${String(round * 1000 + i * 3 + 1)}`, { ip });
      clock.advance(61);
    }
    expect(stack.gw.gateway.bans.isBanned(ip)).toBeUndefined();
  });
});

describe('sequential ids → flag for review', () => {
  const clock = new Clock();
  let stack: DetectStack;
  const RUN = 8;

  beforeAll(async () => {
    stack = await startDetectStack(
      {
        detection: {
          ...ALL_DETECTORS_OFF,
          enumeration: {
            enabled: true,
            action: 'flag',
            distinctIds: 1000,
            sequentialRun: RUN,
            windowSec: 60,
          },
        },
        alerts: { enabled: false },
        routes,
      },
      { now: clock.now },
    );
  });
  afterAll(() => stack.close());

  it('a walk over consecutive ids is flagged even when every answer is 200 (the BOLA hole)', async () => {
    const ip = '203.0.113.20';
    for (let id = 500; id > 500 - RUN; id--)
      expect((await stack.send(`/shops/acme/items/${String(id)}`, { ip })).status).toBe(200);
    const { status, body } = await stack.admin('/admin/gateway/detections');
    expect(status).toBe(200);
    expect((body as { detections: unknown[] }).detections).toEqual([
      expect.objectContaining({
        detector: 'enumeration',
        trigger: 'sequential_ids',
        action: 'flag',
        key: `ip:${ip}`,
        ip,
        route: 'shops',
        count: RUN,
        threshold: RUN,
      }),
    ]);
    // Flagged, not banned.
    expect(stack.gw.gateway.bans.isBanned(ip)).toBeUndefined();
    expect(stack.audited('gateway.abuse.detected')).toEqual([
      expect.objectContaining({
        reason: 'enumeration',
        decision: 'allow',
        details: expect.objectContaining({ action: 'flag', trigger: 'sequential_ids' }),
      }),
    ]);
    expect(
      metricValue(stack, 'gatehouse_gateway_detections_total{detector="enumeration",action="flag"}'),
    ).toBe(1);
  });

  it('normal browsing is not a walk: gaps, repeats, and the same ids read by many clients', async () => {
    const before = stack.gw.gateway.detections().length;
    const ip = '203.0.113.21';
    for (const id of [1, 2, 3, 5, 6, 7, 9, 10, 11, 13, 14, 15, 15, 16])
      await stack.send(`/objects/${String(id)}`, { ip });
    for (let id = 100; id < 100 + RUN * 3; id++)
      await stack.send(`/objects/${String(id)}`, { ip: `192.0.2.${String(id - 99)}` });
    expect(stack.gw.gateway.detections()).toHaveLength(before);
  });

  it('a walk slower than the window is not flagged', async () => {
    const before = stack.gw.gateway.detections().length;
    const ip = '203.0.113.22';
    for (let id = 1; id <= RUN * 2; id++) {
      await stack.send(`/objects/${String(id)}`, { ip });
      if (id % (RUN - 1) === 0) clock.advance(61);
    }
    expect(stack.gw.gateway.detections()).toHaveLength(before);
  });

  it('a reload rebuilds the detectors from the new block and keeps what was flagged', async () => {
    const flagged = stack.gw.gateway.detections();
    expect(flagged.length).toBeGreaterThan(0);
    const config = stack.gw.gateway.config();
    await stack.gw.gateway.reload({
      ...config,
      detection: { ...config.detection, enumeration: { ...config.detection.enumeration, enabled: false } },
    });
    for (let id = 1; id <= RUN * 2; id++) await stack.send(`/objects/${String(id)}`, { ip: '203.0.113.23' });
    expect(stack.gw.gateway.detections()).toEqual(flagged);
  });

  it('the admin API wants its token', async () => {
    expect((await fetch(`${stack.adminUrl}/admin/gateway/detections`)).status).toBe(401);
  });
});
