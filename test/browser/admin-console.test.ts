import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { requireService } from '@gatehouse/testing';
import {
  type Browser as Chromium,
  type BrowserContext,
  type ConsoleMessage,
  type Page as Tab,
} from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDemoStackAndChromium } from '../support/chromium.js';
import { ROOT, clientToken, type DemoStack } from '../support/demo-stack.js';

/**
 * The gateway admin console (packages/gateway/src/admin/console) in real Chromium on the admin
 * entry of `gatehouse up`: nothing without the token, a wrong token refused, live panels fed by
 * real traffic through the gateway, a ban lifted (and the gateway serving that address again),
 * and signing out forgetting the token — all under the console's strict CSP, with no console error.
 */
const chromiumStatus = await requireService('chromium', 'admin console in Chromium');

const CSP =
  "default-src 'self'; script-src 'self'; style-src 'self'; connect-src 'self'; " +
  "frame-ancestors 'none'; base-uri 'none'; form-action 'none'";
/** Written to docs/images only with GATEHOUSE_UPDATE_SCREENSHOTS=1 (as demo-app.test.ts does). */
const IMAGES =
  process.env['GATEHOUSE_UPDATE_SCREENSHOTS'] === '1'
    ? join(ROOT, 'docs/images')
    : mkdtempSync(join(tmpdir(), 'gatehouse-screenshots-'));
/** A documentation address (RFC 5737): a ban that stays while another is lifted, and is pictured. */
const OTHER_IP = '203.0.113.9';

let stack: DemoStack;
let chromiumBrowser: Chromium;
let partnerToken = '';

interface Watch {
  readonly problems: string[];
  /** Every request the page made: method, path and Authorization header. */
  readonly requests: { method: string; url: string; authorization: string | undefined }[];
}

interface Scenario {
  readonly context: BrowserContext;
  readonly page: Tab;
  readonly watch: Watch;
}

/**
 * Answers the console expects and shows as states, which Chromium also logs as failed loads: the
 * wrong token's 401 at sign-in, and a 404 where an API is not on this listener.
 */
function expectedFailure(message: ConsoleMessage): boolean {
  const text = message.text();
  const path = new URL(message.location().url || 'http://x.invalid/').pathname;
  return (
    (text.includes('status of 401') && path === '/admin/gateway/health') ||
    (text.includes('status of 404') && path === '/admin/keys')
  );
}

async function openScenario(): Promise<Scenario> {
  const context = await chromiumBrowser.newContext({
    viewport: { width: 1280, height: 800 },
    deviceScaleFactor: 1,
    locale: 'en-US',
    timezoneId: 'UTC',
    colorScheme: 'light',
    reducedMotion: 'reduce',
  });
  const page = await context.newPage();
  const watch: Watch = { problems: [], requests: [] };
  page.on('pageerror', (error) => watch.problems.push(`${error.name}: ${error.message}`));
  page.on('console', (message) => {
    if (message.text().includes('Content Security Policy')) watch.problems.push(message.text());
    else if (message.type() === 'error' && !expectedFailure(message)) watch.problems.push(message.text());
  });
  page.on('request', (request) =>
    watch.requests.push({
      method: request.method(),
      url: request.url(),
      authorization: request.headers()['authorization'],
    }),
  );
  return { context, page, watch };
}

async function inScenario(body: (scenario: Scenario) => Promise<void>): Promise<void> {
  const scenario = await openScenario();
  try {
    await body(scenario);
  } finally {
    await scenario.context.close();
  }
  expect(scenario.watch.problems).toEqual([]);
}

async function openConsole(page: Tab): Promise<void> {
  await page.goto(`${stack.demo.admin}/admin/console`);
  await page.locator('body[data-view="signed-out"] #sign-in').waitFor();
}

async function signIn(page: Tab, token: string): Promise<void> {
  await page.locator('#token').fill(token);
  await page.locator('#sign-in button[type="submit"]').click();
}

/**
 * Requests through the gateway: the partner's token, public ones, and some 404s. No 401: enough of
 * them would have the brute-force detector ban this machine's address.
 */
async function traffic(rounds: number): Promise<void> {
  for (let i = 0; i < rounds; i++) {
    const answers = await Promise.all([
      fetch(`${stack.demo.gateway}/api/accounts`, { headers: { authorization: `Bearer ${partnerToken}` } }),
      fetch(`${stack.demo.gateway}/public/status`),
      fetch(`${stack.demo.gateway}/public/status`),
      ...(i % 2 === 0 ? [fetch(`${stack.demo.gateway}/api/nothing-here`)] : []),
    ]);
    for (const answer of answers) await answer.body?.cancel();
  }
}

/** Keeps traffic flowing until stopped: the charts need requests between their samples. */
function pump(): { stop(): Promise<void> } {
  let running = true;
  const done = (async () => {
    while (running) {
      await traffic(1);
      await new Promise((resolve) => setTimeout(resolve, 150));
    }
  })();
  return {
    async stop() {
      running = false;
      await done;
    },
  };
}

function admin(path: string, init: RequestInit = {}): Promise<Response> {
  return fetch(`${stack.demo.admin}${path}`, {
    ...init,
    headers: {
      authorization: `Bearer ${stack.demo.adminToken}`,
      'content-type': 'application/json',
    },
  });
}

async function ban(subject: string): Promise<void> {
  const response = await admin('/admin/gateway/bans', {
    method: 'POST',
    body: JSON.stringify({ subject, durationSec: 3600, reason: 'console test' }),
  });
  expect(response.status).toBe(201);
  await response.body?.cancel();
}

/** The rate chart has a line with at least one sample above zero. */
async function waitForLiveCharts(page: Tab): Promise<void> {
  await page.waitForFunction(
    () => {
      const line = document.querySelector('#rate-chart polyline');
      const points = (line?.getAttribute('points') ?? '').split(' ').filter((p) => p !== '');
      return points.length >= 2 && points.some((p) => Number(p.split(',')[1]) < 97);
    },
    undefined,
    { timeout: 30_000 },
  );
}

describe.skipIf(!chromiumStatus.available)('the admin console in Chromium', () => {
  beforeAll(async () => {
    ({ stack, browser: chromiumBrowser } = await startDemoStackAndChromium());
    partnerToken = await clientToken(stack.demo, 'partner');
  }, 120_000);

  afterAll(async () => {
    await (chromiumBrowser as Chromium | undefined)?.close();
    const started = stack as DemoStack | undefined;
    if (started !== undefined) {
      expect(await started.stop()).toBe(0);
      rmSync(started.dataDir, { recursive: true, force: true });
    }
  }, 30_000);

  it('is served on the admin entry without a token, under a strict CSP, framing refused', async () => {
    for (const path of ['/admin/console', '/admin/console/console.js', '/admin/console/console.css']) {
      const response = await fetch(`${stack.demo.admin}${path}`);
      expect(response.status).toBe(200);
      expect(response.headers.get('content-security-policy')).toBe(CSP);
      expect(response.headers.get('x-frame-options')).toBe('DENY');
      expect(response.headers.get('referrer-policy')).toBe('no-referrer');
      expect(response.headers.get('cache-control')).toBe('no-store');
      await response.body?.cancel();
    }
  });

  it('shows no data and calls no API before sign-in; a wrong token is refused', async () => {
    await inScenario(async ({ page, watch }) => {
      await openConsole(page);
      await expect(page.locator('#dashboard').isHidden()).resolves.toBe(true);
      await expect(page.locator('#sign-out').isHidden()).resolves.toBe(true);
      await expect(page.locator('#token').getAttribute('type')).resolves.toBe('password');
      const apiCalls = () =>
        watch.requests.filter((r) =>
          /^\/(admin\/(gateway|keys|audit)\/|metrics$)/.test(new URL(r.url).pathname),
        );
      expect(apiCalls()).toEqual([]);

      await signIn(page, 'not-the-admin-token-0123456789abcdef');
      await page.locator('#message[data-kind="error"]').waitFor();
      await expect(page.locator('#message').textContent()).resolves.toBe('Wrong admin token.');
      await expect(page.locator('body').getAttribute('data-view')).resolves.toBe('signed-out');
      await expect(page.locator('#token').inputValue()).resolves.toBe('');
      // Only the one check of the token was made; no panel was loaded with it.
      expect(apiCalls().map((r) => new URL(r.url).pathname)).toEqual(['/admin/gateway/health']);
    });
  });

  it('fills the panels with the right token: traffic, top clients, keys, audit chain', async () => {
    await inScenario(async ({ page, watch }) => {
      const partnerId = stack.demo.clients.partner.client_id;
      await traffic(3);
      await openConsole(page);
      await signIn(page, stack.demo.adminToken);
      await page.locator('body[data-view="signed-in"]').waitFor();
      const flow = pump();
      try {
        await waitForLiveCharts(page);
        await page.locator('#errors-chart polyline.line--4xx').waitFor({ state: 'attached' });
      } finally {
        await flow.stop();
      }
      // Requests through the gateway: by client id with a token, by address without.
      await page.locator(`#clients tr[data-client="${partnerId}"]`).waitFor();
      await page.locator('#clients tr[data-client="127.0.0.1"]').waitFor();
      const partnerRow = await page.locator(`#clients tr[data-client="${partnerId}"] td`).allTextContents();
      expect(partnerRow.slice(0, 2)).toEqual([partnerId, 'client id']);
      expect(Number(partnerRow[2])).toBeGreaterThanOrEqual(3);
      await expect(page.locator('#ratio-4xx').textContent()).resolves.toMatch(/^\d+\.\d %$/);

      // The auth server's key states through the admin entry.
      await page.locator('#keys tr[data-kid]').first().waitFor();
      const states = await page.locator('#keys tr[data-kid] td:nth-child(3)').allTextContents();
      expect(states).toContain('active');
      // The audit chain, verified by the auth server (GET /admin/audit/verify through the admin entry).
      await page.locator('#audit-status .badge').waitFor();
      expect(await page.locator('#audit-status .badge').textContent()).toBe('intact');
      await expect(page.locator('#alerts-empty, #alerts tr').first().isVisible()).resolves.toBe(true);
      await expect(page.locator('#detections-empty, #detections tr').first().isVisible()).resolves.toBe(true);

      // Every API call carried the token as a bearer token, never in a URL; nothing is stored.
      const calls = watch.requests.filter((r) => new URL(r.url).pathname.startsWith('/admin/gateway/'));
      expect(calls.length).toBeGreaterThan(4);
      for (const call of calls) expect(call.authorization).toBe(`Bearer ${stack.demo.adminToken}`);
      for (const request of watch.requests) expect(request.url).not.toContain(stack.demo.adminToken);
      await expect(
        page.evaluate(() => ({
          local: localStorage.length,
          session: sessionStorage.length,
          cookie: document.cookie,
        })),
      ).resolves.toEqual({ local: 0, session: 0, cookie: '' });
      expect(await page.content()).not.toContain(stack.demo.adminToken);
    });
  }, 60_000);

  it('lifts a ban after a confirmation, and the gateway serves that address again', async () => {
    await ban('127.0.0.1');
    await ban(OTHER_IP);
    try {
      const refused = await fetch(`${stack.demo.gateway}/public/status`);
      expect(refused.status).toBe(403);
      await refused.body?.cancel();

      await inScenario(async ({ page }) => {
        await openConsole(page);
        await signIn(page, stack.demo.adminToken);
        const own = page.locator('#bans tr[data-ban="127.0.0.1"]');
        const other = page.locator(`#bans tr[data-ban="${OTHER_IP}"]`);
        await own.waitFor();
        await other.waitFor();
        await expect(own.locator('td').nth(1).textContent()).resolves.toBe('console test');

        // Cancel leaves the ban alone.
        await other.locator('[data-action="lift"]').click();
        await other.locator('[data-action="cancel-lift"]').click();
        await other.locator('[data-action="lift"]').waitFor();

        await own.locator('[data-action="lift"]').click();
        // Nothing is lifted until confirmed.
        await own.locator('[data-action="confirm-lift"]').waitFor();
        await expect(own.locator('[data-action="lift"]').count()).resolves.toBe(0);
        await expect(other.locator('[data-action="lift"]').count()).resolves.toBe(1);
        await own.locator('[data-action="confirm-lift"]').click();
        await page.locator('#message[data-kind="success"]').waitFor();
        await expect(page.locator('#message').textContent()).resolves.toBe(
          'The ban on 127.0.0.1 was lifted.',
        );
        await own.waitFor({ state: 'detached' });
        await expect(other.count()).resolves.toBe(1);
      });

      const served = await fetch(`${stack.demo.gateway}/public/status`);
      expect(served.status).toBe(200);
      await served.body?.cancel();
      const bans = (await (await admin('/admin/gateway/bans')).json()) as { bans: { subject: string }[] };
      expect(bans.bans.map((b) => b.subject)).toEqual([OTHER_IP]);
    } finally {
      // Whatever happened above, no ban is left for the other tests.
      for (const subject of ['127.0.0.1', OTHER_IP])
        await (await admin(`/admin/gateway/bans/${subject}`, { method: 'DELETE' })).body?.cancel();
    }
  }, 60_000);

  it('signing out forgets the token and clears every panel', async () => {
    await traffic(1);
    await inScenario(async ({ page }) => {
      await openConsole(page);
      await signIn(page, stack.demo.adminToken);
      await page.locator('body[data-view="signed-in"]').waitFor();
      await page.locator('#clients tr').first().waitFor();
      await page.locator('#sign-out').click();
      await page.locator('body[data-view="signed-out"]').waitFor();
      await expect(page.locator('#dashboard').isHidden()).resolves.toBe(true);
      for (const table of ['#clients', '#bans', '#alerts', '#detections', '#keys'])
        await expect(page.locator(`${table} tr`).count()).resolves.toBe(0);
      await expect(page.locator('#rate-chart polyline').count()).resolves.toBe(0);
      await expect(page.locator('#rate-now').textContent()).resolves.toBe('–');
      await expect(page.locator('#token').inputValue()).resolves.toBe('');
      expect(await page.content()).not.toContain(stack.demo.adminToken);
    });
  });

  it('screenshot (docs/images/admin-console.png)', async () => {
    let shot: Buffer | undefined;
    await ban(OTHER_IP);
    await inScenario(async ({ page }) => {
      await page.setViewportSize({ width: 1280, height: 1000 });
      await openConsole(page);
      await signIn(page, stack.demo.adminToken);
      await page.locator('body[data-view="signed-in"]').waitFor();
      const flow = pump();
      try {
        await waitForLiveCharts(page);
        // A few samples, so the chart shows a line rather than a segment.
        await page.waitForFunction(
          () =>
            (document.querySelector('#rate-chart polyline')?.getAttribute('points') ?? '').split(' ')
              .length >= 5,
          undefined,
          { timeout: 30_000 },
        );
      } finally {
        await flow.stop();
      }
      await page.locator(`#bans tr[data-ban="${OTHER_IP}"]`).waitFor();
      await page.locator('#keys tr[data-kid]').first().waitFor();
      await page.locator('#audit-status .badge').waitFor();
      await page.mouse.move(0, 0);
      await expect(page.locator('#message[data-kind="error"]').count()).resolves.toBe(0);
      shot = await page.screenshot({ fullPage: true, animations: 'disabled', caret: 'hide' });
    });
    mkdirSync(IMAGES, { recursive: true });
    writeFileSync(join(IMAGES, 'admin-console.png'), shot as Buffer);
    await (await admin(`/admin/gateway/bans/${OTHER_IP}`, { method: 'DELETE' })).body?.cancel();
  }, 90_000);
});
