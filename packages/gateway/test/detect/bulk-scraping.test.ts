import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ACCOUNTS, API, startAuthServer, TestClock, type TestAuthServer } from '../support/auth-server.js';
import {
  ALL_DETECTORS_OFF,
  metricValue,
  startDetectStack,
  startScriptedUpstream,
  type DetectStack,
  type ScriptedUpstream,
} from './support.js';

/**
 * Bulk scraping: one token reading far more distinct resources in the window than anyone else.
 * Real tokens from the real auth server; the key is the token's client id and subject.
 */

const THRESHOLD = 15;
const clock = new TestClock();
let as: TestAuthServer;
let upstream: ScriptedUpstream;
let auth: { issuer: string; audience: string[]; clientId: string; clientSecret: string };

/** A fresh client and an access token for the catalog route. */
async function tokenOfNewClient(): Promise<{ clientId: string; token: string }> {
  const client = await as.createClient({ resources: [ACCOUNTS], tokenFormat: 'jwt' });
  return { clientId: client.clientId, token: await as.tokenFor(client, { resource: ACCOUNTS }) };
}

async function stackWith(bulkScraping: Record<string, unknown>): Promise<DetectStack> {
  return startDetectStack(
    {
      auth,
      detection: { ...ALL_DETECTORS_OFF, bulkScraping: { enabled: true, windowSec: 300, ...bulkScraping } },
      alerts: { enabled: false },
      routes: [
        {
          id: 'catalog',
          match: { pathPrefix: '/catalog' },
          upstream: 'app',
          auth: 'jwt',
          audience: ACCOUNTS,
        },
      ],
    },
    { now: clock.now, state: as.state, upstream },
  );
}

beforeAll(async () => {
  as = await startAuthServer({ clock });
  const gatewayClient = await as.createGatewayClient();
  auth = {
    issuer: as.issuer,
    audience: [API],
    clientId: gatewayClient.clientId,
    clientSecret: gatewayClient.clientSecret,
  };
  upstream = await startScriptedUpstream();
  upstream.answer = (path) => (path.includes('/missing/') ? 404 : 200);
});
afterAll(async () => {
  await upstream.close();
  await as.close();
});

describe('threshold', () => {
  let stack: DetectStack;
  beforeAll(async () => {
    stack = await stackWith({ action: 'flag', distinctPaths: THRESHOLD });
  });
  afterAll(() => stack.close());

  it('one token reading many distinct resources is flagged, from whichever IPs it comes', async () => {
    const scraper = await tokenOfNewClient();
    for (let page = 0; page < THRESHOLD; page++) {
      const ip = `203.0.113.${String(40 + (page % 3))}`;
      expect(
        (await stack.send(`/catalog/products/p${String(page)}`, { ip, token: scraper.token })).status,
      ).toBe(200);
    }
    const detections = stack.gw.gateway.detections();
    expect(detections).toEqual([
      expect.objectContaining({
        detector: 'bulk-scraping',
        trigger: 'distinct_paths',
        action: 'flag',
        clientId: scraper.clientId,
        count: THRESHOLD,
        windowSec: 300,
      }),
    ]);
    expect(detections[0]?.key).toBe(`token:client:${scraper.clientId}`);
    expect(stack.audited('gateway.abuse.detected')).toEqual([
      expect.objectContaining({
        reason: 'bulk-scraping',
        actor: expect.objectContaining({ clientId: scraper.clientId }),
        target: expect.objectContaining({ type: 'token' }),
      }),
    ]);
    expect(
      metricValue(stack, 'gatehouse_gateway_detections_total{detector="bulk-scraping",action="flag"}'),
    ).toBe(1);
  });

  it('the same volume over many tokens, re-reads, and refused reads flag nobody (false-positive check)', async () => {
    const before = stack.gw.gateway.detections().length;
    const users = await Promise.all(Array.from({ length: 8 }, () => tokenOfNewClient()));
    for (const [i, user] of users.entries()) {
      const ip = `192.0.2.${String(i + 1)}`;
      for (let page = 0; page < 5; page++)
        await stack.send(`/catalog/products/p${String(page)}`, { ip, token: user.token });
      // A dashboard polling the same resource all day is not scraping.
      for (let n = 0; n < THRESHOLD; n++) await stack.send('/catalog/products/p0', { ip, token: user.token });
    }
    // 404s are the enumeration detector's business.
    const prober = await tokenOfNewClient();
    for (let page = 0; page < THRESHOLD * 2; page++)
      expect((await stack.send(`/catalog/missing/p${String(page)}`, { token: prober.token })).status).toBe(
        404,
      );
    expect(stack.gw.gateway.detections()).toHaveLength(before);
  });

  it('reads spread beyond the window do not add up', async () => {
    const before = stack.gw.gateway.detections().length;
    const slow = await tokenOfNewClient();
    for (let page = 0; page < THRESHOLD * 2; page++) {
      await stack.send(`/catalog/products/slow-${String(page)}`, { token: slow.token });
      if (page % 10 === 9) clock.advance(301);
    }
    expect(stack.gw.gateway.detections()).toHaveLength(before);
  });
});

describe('baseline: above the threshold and above N× the median of the other tokens', () => {
  let stack: DetectStack;
  beforeAll(async () => {
    stack = await stackWith({ action: 'log', distinctPaths: 10, baselineFactor: 2, minPeers: 3 });
  });
  afterAll(() => stack.close());

  it('a busy hour for every token is not scraping by one; twice the median is', async () => {
    const peers = await Promise.all(Array.from({ length: 4 }, () => tokenOfNewClient()));
    // Every token reads 12 pages, in step: all cross the threshold of 10 together.
    for (let page = 0; page < 12; page++)
      for (const [i, peer] of peers.entries())
        await stack.send(`/catalog/items/${String(page)}`, {
          ip: `192.0.2.${String(50 + i)}`,
          token: peer.token,
        });
    expect(stack.audited('gateway.abuse.detected')).toHaveLength(0);

    clock.advance(2);
    const scraper = await tokenOfNewClient();
    // Median of the others: 12 → the bar is 24 distinct paths.
    for (let page = 0; page < 24; page++)
      await stack.send(`/catalog/items/${String(page)}`, { ip: '203.0.113.60', token: scraper.token });
    expect(stack.audited('gateway.abuse.detected')).toHaveLength(0);
    await stack.send('/catalog/items/24', { ip: '203.0.113.60', token: scraper.token });
    expect(stack.audited('gateway.abuse.detected')).toEqual([
      expect.objectContaining({
        reason: 'bulk-scraping',
        details: expect.objectContaining({ action: 'log', count: 25, threshold: 10 }),
      }),
    ]);
    // `log` keeps nothing for review.
    expect(stack.gw.gateway.detections()).toHaveLength(0);
  });
});
