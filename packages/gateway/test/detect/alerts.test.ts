import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ALL_DETECTORS_OFF, Clock, metricValue, startDetectStack, type DetectStack } from './support.js';

/**
 * Alert rules evaluated in the gateway over its own request stream, with a real webhook receiver
 * that can go down and come back. Evaluations are run on demand (`gateway.alerts.evaluate()`) at
 * a frozen clock; the timer's own runs are kept out of the way with a long interval.
 */

const SECRET = 'alert-webhook-secret-0123456789abcdef';

interface Delivery {
  headers: IncomingHttpHeaders;
  body: { status: string; alert: Record<string, unknown> };
}

/** A real HTTP receiver on a fixed port that can be stopped (connection refused) and restarted. */
class Receiver {
  readonly received: Delivery[] = [];
  port = 0;
  private server: Server | undefined;

  async up(): Promise<void> {
    const server = createServer((req, res) => {
      let text = '';
      req.on('data', (chunk: Buffer) => (text += chunk.toString('utf8')));
      req.on('end', () => {
        this.received.push({ headers: req.headers, body: JSON.parse(text) as Delivery['body'] });
        res.writeHead(204).end();
      });
    });
    this.server = server;
    await new Promise<void>((resolve) => server.listen(this.port, '127.0.0.1', resolve));
    this.port = (server.address() as AddressInfo).port;
  }

  async down(): Promise<void> {
    const server = this.server;
    if (server === undefined) return;
    this.server = undefined;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  get url(): string {
    return `http://127.0.0.1:${String(this.port)}/alerts`;
  }
}

const ROUTES = [
  { id: 'shop', match: { pathPrefix: '/shop' }, upstream: 'app', auth: 'none' as const },
  { id: 'login', match: { pathPrefix: '/login' }, upstream: 'app', auth: 'none' as const },
];

/** The upstream fails `/shop/broken…` with 500 and refuses `/login/wrong…` with 401. */
function scriptUpstream(stack: DetectStack): void {
  stack.upstream.answer = (path) =>
    path.startsWith('/shop/broken')
      ? 500
      : path.startsWith('/login/wrong')
        ? 401
        : path.startsWith('/shop/none')
          ? 404
          : 200;
}

async function traffic(stack: DetectStack, ok: number, failing: number, ip = '198.51.100.1'): Promise<void> {
  for (let n = 0; n < ok; n++) expect((await stack.send(`/shop/item-${String(n)}`, { ip })).status).toBe(200);
  for (let n = 0; n < failing; n++)
    expect((await stack.send(`/shop/broken-${String(n)}`, { ip })).status).toBe(500);
}

describe('a 5xx ratio rule escalating to a webhook', () => {
  const clock = new Clock();
  const receiver = new Receiver();
  let stack: DetectStack;

  beforeAll(async () => {
    await receiver.up();
    stack = await startDetectStack(
      {
        detection: ALL_DETECTORS_OFF,
        alerts: {
          evaluateEverySec: 3600,
          defaultRules: false,
          webhook: { url: receiver.url, secret: SECRET, backoffMs: 10, maxBackoffMs: 200, retries: 20 },
          rules: [
            {
              id: 'upstream-errors',
              kind: 'ratio',
              status: ['5xx'],
              windowSec: 60,
              above: 0.2,
              minRequests: 10,
              actions: ['webhook', 'flag'],
              cooldownSec: 300,
              severity: 'critical',
              summary: 'Upstream failing',
            },
          ],
        },
        routes: ROUTES,
      },
      { now: clock.now },
    );
    scriptUpstream(stack);
  });
  afterAll(async () => {
    await stack.close();
    await receiver.down();
  });

  it('a 5xx burst fires one alert: one webhook POST with the secret, flagged, audited, in the gauge', async () => {
    // Below the minimum number of requests, even 100% errors are not a ratio worth paging for.
    await traffic(stack, 0, 5);
    await stack.gw.gateway.alerts.evaluate();
    expect(stack.gw.gateway.alerts.list().firing).toEqual([]);

    await traffic(stack, 8, 2);
    await stack.gw.gateway.alerts.evaluate();
    await stack.gw.gateway.alerts.idle();
    expect(receiver.received).toHaveLength(1);
    const [delivery] = receiver.received;
    expect(delivery?.headers.authorization).toBe(`Bearer ${SECRET}`);
    expect(delivery?.body).toMatchObject({
      status: 'firing',
      alert: {
        rule: 'upstream-errors',
        severity: 'critical',
        scope: 'global',
        value: 7 / 15,
        threshold: 0.2,
        windowSec: 60,
      },
    });
    const { firing } = stack.gw.gateway.alerts.list();
    expect(firing).toEqual([
      expect.objectContaining({
        rule: 'upstream-errors',
        status: 'firing',
        flagged: true,
        actions: [
          expect.objectContaining({ action: 'webhook', event: 'fired', outcome: 'success', attempts: 1 }),
          expect.objectContaining({ action: 'flag', outcome: 'success' }),
        ],
      }),
    ]);
    expect(stack.audited('gateway.alert.fired')).toEqual([
      expect.objectContaining({
        reason: 'upstream-errors',
        outcome: 'success',
        details: expect.objectContaining({ alertId: firing[0]?.id }),
      }),
    ]);
    expect(stack.audited('gateway.alert.action').map((e) => [e.details?.['action'], e.outcome])).toEqual([
      ['flag', 'success'],
      ['webhook', 'success'],
    ]);
    expect(metricValue(stack, 'gatehouse_gateway_alerts_firing{rule="upstream-errors"}')).toBe(1);
    // Nothing secret in any log line.
    expect(JSON.stringify(stack.gw.logs)).not.toContain(SECRET);
  });

  it('while the condition holds it stays one alert (deduplication)', async () => {
    await traffic(stack, 2, 5);
    await stack.gw.gateway.alerts.evaluate();
    clock.advance(10);
    await stack.gw.gateway.alerts.evaluate();
    await stack.gw.gateway.alerts.idle();
    expect(receiver.received).toHaveLength(1);
    expect(stack.audited('gateway.alert.fired')).toHaveLength(1);
    const [alert] = stack.gw.gateway.alerts.list().firing;
    expect(alert?.value).toBeCloseTo(12 / 22);
  });

  it('resolves when the window clears: audited, POSTed as resolved, listed as recent; then rests for the cooldown', async () => {
    clock.advance(61);
    await stack.gw.gateway.alerts.evaluate();
    await stack.gw.gateway.alerts.idle();
    expect(stack.audited('gateway.alert.resolved')).toEqual([
      expect.objectContaining({
        reason: 'upstream-errors',
        details: expect.objectContaining({ durationSec: 71 }),
      }),
    ]);
    expect(receiver.received.map((d) => d.body.status)).toEqual(['firing', 'resolved']);
    const { firing, recent } = stack.gw.gateway.alerts.list();
    expect(firing).toEqual([]);
    expect(recent[0]).toMatchObject({ rule: 'upstream-errors', status: 'resolved' });
    expect(metricValue(stack, 'gatehouse_gateway_alerts_firing{rule="upstream-errors"}')).toBe(0);

    // Failing again at once: the cooldown holds it back.
    await traffic(stack, 5, 5);
    await stack.gw.gateway.alerts.evaluate();
    expect(stack.gw.gateway.alerts.list().firing).toEqual([]);
    // After the cooldown, a new burst is a new alert.
    clock.advance(301);
    await traffic(stack, 5, 5);
    await stack.gw.gateway.alerts.evaluate();
    const [again] = stack.gw.gateway.alerts.list().firing;
    expect(again?.id).not.toBe(recent[0]?.id);
    await stack.gw.gateway.alerts.idle();
    expect(receiver.received.map((d) => d.body.status)).toEqual(['firing', 'resolved', 'firing']);
  });

  it('the admin API lists firing and recent alerts', async () => {
    const { status, body } = await stack.admin('/admin/gateway/alerts');
    expect(status).toBe(200);
    expect(body).toMatchObject({
      firing: [{ rule: 'upstream-errors', status: 'firing' }],
      recent: [{ rule: 'upstream-errors', status: 'resolved' }],
    });
    expect((await fetch(`${stack.adminUrl}/admin/gateway/alerts`)).status).toBe(401);
  });

  it('a receiver that is down gets the alert once it is back, after retries', async () => {
    clock.advance(61);
    await stack.gw.gateway.alerts.evaluate(); // the previous alert resolves
    await stack.gw.gateway.alerts.idle();
    const delivered = receiver.received.length;
    clock.advance(301);
    await receiver.down();
    await traffic(stack, 5, 5);
    await stack.gw.gateway.alerts.evaluate();
    // Attempts fail (connection refused) and are retried…
    await expect
      .poll(
        () =>
          stack.gw.logs.filter((line) => line['msg'] === 'alert webhook delivery failed; retrying').length,
      )
      .toBeGreaterThanOrEqual(2);
    // …until the receiver is back.
    await receiver.up();
    await stack.gw.gateway.alerts.idle();
    expect(receiver.received.slice(delivered).map((d) => d.body.status)).toEqual(['firing']);
    const action = stack.gw.gateway.alerts.list().firing[0]?.actions.find((a) => a.action === 'webhook');
    expect(action).toMatchObject({ outcome: 'success', event: 'fired' });
    expect(action?.attempts).toBeGreaterThanOrEqual(3);
    expect(stack.audited('gateway.alert.action').at(-1)).toMatchObject({
      outcome: 'success',
      details: expect.objectContaining({ action: 'webhook', attempts: action?.attempts }),
    });
    const failures = stack.gw.logs.filter(
      (line) => line['msg'] === 'alert webhook delivery failed; retrying',
    );
    expect(failures[0]).toMatchObject({ error: 'ECONNREFUSED' });
    expect(JSON.stringify(failures)).not.toContain(receiver.url);
  });
});

describe('per-IP and baseline rules', () => {
  const clock = new Clock();
  let stack: DetectStack;

  beforeAll(async () => {
    stack = await startDetectStack(
      {
        detection: { ...ALL_DETECTORS_OFF, ban: { banSec: 300 } },
        alerts: {
          evaluateEverySec: 3600,
          defaultRules: false,
          rules: [
            {
              id: 'ip-not-found',
              kind: 'count',
              status: [404],
              scope: 'ip',
              windowSec: 60,
              above: 15,
              actions: ['ban', 'flag'],
            },
            {
              id: 'login-failures',
              kind: 'baseline',
              status: [401],
              routes: ['login'],
              windowSec: 60,
              baselineSec: 600,
              factor: 5,
              minRequests: 5,
              actions: ['flag'],
            },
          ],
        },
        routes: ROUTES,
      },
      { now: clock.now },
    );
    scriptUpstream(stack);
  });
  afterAll(() => stack.close());

  it('a per-IP count rule bans the address over the threshold, not the one below it', async () => {
    for (let n = 0; n < 16; n++) await stack.send(`/shop/none-${String(n)}`, { ip: '203.0.113.90' });
    for (let n = 0; n < 10; n++) await stack.send(`/shop/none-${String(n)}`, { ip: '203.0.113.91' });
    await stack.gw.gateway.alerts.evaluate();
    expect(stack.gw.gateway.bans.isBanned('203.0.113.90')).toMatchObject({
      source: 'detector',
      createdBy: 'alert:ip-not-found',
      offence: 1,
    });
    expect(stack.gw.gateway.bans.isBanned('203.0.113.91')).toBeUndefined();
    expect(stack.gw.gateway.alerts.list().firing).toEqual([
      expect.objectContaining({
        rule: 'ip-not-found',
        scope: 'ip',
        key: '203.0.113.90',
        value: 16,
        threshold: 15,
      }),
    ]);
    expect(stack.audited('gateway.alert.action').find((e) => e.details?.['action'] === 'ban')).toMatchObject({
      outcome: 'success',
      sourceIp: '203.0.113.90',
      target: { type: 'ip', id: '203.0.113.90' },
      details: { event: 'fired', offence: 1, durationSec: 300 },
    });
    expect(await stack.send('/shop/item', { ip: '203.0.113.90' })).toEqual({
      status: 403,
      code: 'ERR_GATEWAY_BANNED',
    });
    expect(metricValue(stack, 'gatehouse_gateway_alerts_firing{rule="ip-not-found"}')).toBe(1);
  });

  it('a baseline rule fires on 401s above five times their usual rate, not at it', async () => {
    // Nine quiet minutes: two failed logins a minute is the usual rate.
    for (let minute = 0; minute < 9; minute++) {
      for (let n = 0; n < 2; n++)
        expect((await stack.send(`/login/wrong-${String(n)}`, { ip: '192.0.2.7' })).status).toBe(401);
      clock.advance(60);
      await stack.gw.gateway.alerts.evaluate();
    }
    expect(stack.audited('gateway.alert.fired').filter((e) => e.reason === 'login-failures')).toEqual([]);
    // Five times two a minute is ten: ten is not above it, eleven is.
    for (let n = 0; n < 10; n++)
      await stack.send(`/login/wrong-${String(n)}`, { ip: `198.51.100.${String(n)}` });
    await stack.gw.gateway.alerts.evaluate();
    expect(stack.audited('gateway.alert.fired').filter((e) => e.reason === 'login-failures')).toEqual([]);
    await stack.send('/login/wrong-10', { ip: '198.51.100.10' });
    await stack.gw.gateway.alerts.evaluate();
    expect(stack.audited('gateway.alert.fired').filter((e) => e.reason === 'login-failures')).toEqual([
      expect.objectContaining({
        target: { type: 'gateway' },
        details: expect.objectContaining({ value: 11, threshold: 10 }),
      }),
    ]);
  });
});

describe('the embedded rules', () => {
  it('are on by default and evaluated by the gateway every evaluateEverySec', async () => {
    const clock = new Clock();
    const stack = await startDetectStack(
      { detection: ALL_DETECTORS_OFF, alerts: { evaluateEverySec: 1 }, routes: ROUTES },
      { now: clock.now },
    );
    try {
      scriptUpstream(stack);
      await traffic(stack, 40, 10);
      // The timer, not the test, evaluates: the 5xx ratio rule fires within a few seconds.
      await expect
        .poll(() => stack.gw.gateway.alerts.list().firing.map((alert) => alert.rule), {
          timeout: 5000,
          interval: 100,
        })
        .toEqual(['server-error-ratio']);
      expect(metricValue(stack, 'gatehouse_gateway_alerts_firing{rule="auth-failure-spike"}')).toBe(0);
      expect(metricValue(stack, 'gatehouse_gateway_alerts_firing{rule="rate-limit-flood"}')).toBe(0);
    } finally {
      await stack.close();
    }
  });
});
