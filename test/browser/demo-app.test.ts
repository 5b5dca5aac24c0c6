import { X509Certificate, createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { requireService } from '@gatehouse/testing';
import { type Browser as Chromium, type BrowserContext, type Page as Tab } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchChromium, startDemoStackAndChromium } from '../support/chromium.js';
import {
  Browser,
  ROOT,
  loginThroughBff,
  startDemoStack,
  type DemoStack,
  type DemoUser,
} from '../support/demo-stack.js';

/**
 * The demo app (examples/demo/app) in real Chromium against `gatehouse up`: what a user sees when
 * logging in through the BFF, working with accounts and orders, being refused another user's
 * account and logging out — and what a page never gets (OAuth 2.0 for Browser-Based Applications
 * §6.1: the BFF keeps every token; the browser holds only an HttpOnly cookie), and what another
 * origin cannot do with that cookie (CORS exact allowlist, OWASP CSRF: Origin + X-CSRF).
 */
const chromiumStatus = await requireService('chromium', 'demo app in Chromium');

const VIEWPORT = { width: 1280, height: 800 };
const SESSION_COOKIE = 'bff_session';
/** A compact JWS (RFC 7515 §7.1), what an access or ID token of the demo looks like. */
const JWT_PATTERN = /eyJ[\w-]{5,}\.eyJ[\w-]{5,}\.[\w-]*/;
/**
 * The README's screenshots are refreshed on demand (`GATEHOUSE_UPDATE_SCREENSHOTS=1 npx vitest run
 * test/browser`), so that an ordinary run leaves the tracked files alone; otherwise they go to a
 * temporary folder (still taken and checked).
 */
const IMAGES =
  process.env['GATEHOUSE_UPDATE_SCREENSHOTS'] === '1'
    ? join(ROOT, 'docs/images')
    : mkdtempSync(join(tmpdir(), 'gatehouse-screenshots-'));

let stack: DemoStack;
let chromiumBrowser: Chromium;
let attacker: Server;
let attackerOrigin = '';
/** One of bob's accounts, created over HTTP through the BFF. */
let bobAccount = '';

/** What a scenario must not see in the console or as uncaught errors. */
interface Watch {
  readonly pageErrors: string[];
  readonly cspViolations: string[];
}

interface Scenario {
  readonly context: BrowserContext;
  readonly page: Tab;
  readonly watch: Watch;
}

/** A fresh browser profile (no cookies, no storage) at the app's size, in a fixed locale and zone. */
async function openScenario(): Promise<Scenario> {
  const context = await chromiumBrowser.newContext({
    viewport: VIEWPORT,
    deviceScaleFactor: 1,
    locale: 'en-US',
    timezoneId: 'UTC',
    colorScheme: 'light',
    reducedMotion: 'reduce',
  });
  const page = await context.newPage();
  const watch: Watch = { pageErrors: [], cspViolations: [] };
  page.on('pageerror', (error) => watch.pageErrors.push(`${error.name}: ${error.message}`));
  page.on('console', (message) => {
    if (message.text().includes('Content Security Policy')) watch.cspViolations.push(message.text());
  });
  return { context, page, watch };
}

/** Closes the scenario's browser profile, then fails on any page error or CSP violation it saw. */
async function closeScenario(scenario: Scenario): Promise<void> {
  await scenario.context.close();
  expect(scenario.watch.pageErrors).toEqual([]);
  expect(scenario.watch.cspViolations).toEqual([]);
}

/** Runs `body` in a fresh scenario, always closing it (a failure of `body` is the one reported). */
async function inScenario(body: (scenario: Scenario) => Promise<void>): Promise<void> {
  const scenario = await openScenario();
  try {
    await body(scenario);
  } catch (err) {
    await scenario.context.close();
    throw err;
  }
  await closeScenario(scenario);
}

async function openApp(page: Tab): Promise<void> {
  await page.goto(`${stack.demo.bff}/`);
  await page.locator('body[data-view="logged-out"], body[data-view="logged-in"]').waitFor();
}

/** Clicks #login on the logged-out view: lands on the auth server's login form. */
async function startLogin(page: Tab): Promise<void> {
  await page.locator('body[data-view="logged-out"]').waitFor();
  await page.locator('#login').click();
  await page.waitForURL((url) => url.origin === stack.demo.issuer);
  await page.locator('input[name="username"]').waitFor();
}

/** Fills the auth server's form, approves consent if asked, and waits for the loaded app. */
async function finishLogin(page: Tab, user: DemoUser): Promise<void> {
  await page.locator('input[name="username"]').fill(user.username);
  await page.locator('input[name="password"]').fill(user.password);
  await page.locator('button[type="submit"]').click();
  const consent = page.locator('button[name="decision"][value="approve"]');
  await page
    .locator('body[data-view="logged-in"], button[name="decision"][value="approve"]')
    .first()
    .waitFor();
  if (await consent.isVisible()) await consent.click();
  await waitForLoggedIn(page);
}

async function waitForLoggedIn(page: Tab): Promise<void> {
  await page.locator('body[data-view="logged-in"]').waitFor();
  await page.locator('#accounts[aria-busy="false"]').waitFor();
  await page.locator('#orders[aria-busy="false"]').waitFor();
}

async function logInThroughUi(page: Tab, user: DemoUser): Promise<void> {
  await openApp(page);
  await startLogin(page);
  await finishLogin(page, user);
}

/** Submits a form of the app and waits for its success line (app.js: shown after the reload). */
async function expectSuccess(page: Tab): Promise<string> {
  const message = page.locator('#message[data-kind="success"]');
  await message.waitFor();
  return (await message.textContent()) ?? '';
}

async function createAccount(page: Tab, nickname: string): Promise<string> {
  const form = page.locator('#create-account-form');
  await form.locator('input[name="nickname"]').fill(nickname);
  await form.locator('button[type="submit"]').click();
  const text = await expectSuccess(page);
  const id = /\(([^()]+)\)\.?$/.exec(text)?.[1];
  if (id === undefined) throw new Error(`no account id in "${text}"`);
  return id;
}

async function createOrder(page: Tab, accountId: string, amount: number): Promise<void> {
  const form = page.locator('#create-order-form');
  await form.locator('select[name="accountId"]').selectOption(accountId);
  await form.locator('input[name="amount"]').fill(String(amount));
  await form.locator('button[type="submit"]').click();
  await expectSuccess(page);
}

async function openAccount(page: Tab, accountId: string): Promise<void> {
  const form = page.locator('#open-account-form');
  await form.locator('input[name="accountId"]').fill(accountId);
  await form.locator('button[type="submit"]').click();
  await page.locator('#open-account-result.found, #open-account-result.refused').waitFor();
}

/** Alice's accounts as the BFF reports them to her session (the context's own cookies). */
async function accountIdsOf(context: BrowserContext): Promise<string[]> {
  const answer = await context.request.get(`${stack.demo.bff}/api/accounts?limit=100`);
  expect(answer.status()).toBe(200);
  return ((await answer.json()) as { id: string }[]).map((account) => account.id);
}

interface Exchange {
  url: string;
  method: string;
  /** As sent on the wire (Chrome DevTools Protocol "ExtraInfo": cookies included). */
  origin?: string | undefined;
  cookie?: string | undefined;
  /** As received, even when CORS then hides the answer from the page's script. */
  status?: number | undefined;
}

/**
 * What the browser sends and receives at the network layer, where Playwright's own events stop:
 * a CORS-blocked answer never reaches `page.on('response')`.
 */
async function recordTraffic(context: BrowserContext, page: Tab): Promise<Exchange[]> {
  const cdp = await context.newCDPSession(page);
  const byId = new Map<string, Exchange>();
  const entry = (id: string): Exchange => {
    let found = byId.get(id);
    if (found === undefined) {
      found = { url: '', method: '' };
      byId.set(id, found);
    }
    return found;
  };
  const header = (headers: Record<string, unknown>, name: string): string | undefined => {
    const key = Object.keys(headers).find((candidate) => candidate.toLowerCase() === name);
    return key === undefined ? undefined : String(headers[key]);
  };
  const list: Exchange[] = [];
  cdp.on('Network.requestWillBeSent', (event) => {
    const exchange = entry(event.requestId);
    exchange.url = event.request.url;
    exchange.method = event.request.method;
    if (!list.includes(exchange)) list.push(exchange);
  });
  cdp.on('Network.requestWillBeSentExtraInfo', (event) => {
    const exchange = entry(event.requestId);
    exchange.origin = header(event.headers, 'origin');
    exchange.cookie = header(event.headers, 'cookie');
  });
  cdp.on('Network.responseReceivedExtraInfo', (event) => {
    entry(event.requestId).status = event.statusCode;
  });
  await cdp.send('Network.enable');
  return list;
}

/** The "attacker" site: any path answers an empty page, `/form` a self-submitting CSRF form. */
function startAttacker(bff: string): Promise<Server> {
  const server = createServer((request, response) => {
    const url = new URL(request.url ?? '/', 'http://attacker.invalid');
    const form =
      url.pathname === '/form'
        ? // The classic JSON-over-text/plain CSRF body: `{"nickname":"csrf form","x":"="}`.
          `<form method="post" action="${bff}/api/accounts" enctype="${url.searchParams.get('enctype') ?? 'text/plain'}">
  <input type="hidden" name='{"nickname":"csrf form","x":"' value='"}'>
</form>
<script>document.forms[0].submit()</script>`
        : '';
    response.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
    response.end(`<!doctype html><html><head><title>attacker</title></head><body>${form}</body></html>`);
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)));
}

describe.skipIf(!chromiumStatus.available)('the demo app in Chromium', () => {
  beforeAll(async () => {
    ({ stack, browser: chromiumBrowser } = await startDemoStackAndChromium());
    attacker = await startAttacker(stack.demo.bff);
    // Same host, another port: another origin (RFC 6454 §4), though the same site for cookies.
    attackerOrigin = `http://127.0.0.1:${(attacker.address() as AddressInfo).port}`;
    // Bob's account, made the way the e2e suite does (scripted browser through the BFF).
    const bob = new Browser();
    await loginThroughBff(bob, stack.demo, stack.demo.users.bob);
    const created = await bob.request(`${stack.demo.bff}/api/accounts`, {
      method: 'POST',
      headers: { origin: stack.demo.bff, 'x-csrf': '1', 'content-type': 'application/json' },
      body: JSON.stringify({ nickname: 'bob checking' }),
    });
    expect(created.status).toBe(201);
    bobAccount = (JSON.parse(created.text) as { id: string }).id;
  }, 120_000);

  afterAll(async () => {
    // Each may be missing when beforeAll failed half-way.
    await (chromiumBrowser as Chromium | undefined)?.close();
    const server = attacker as Server | undefined;
    if (server !== undefined) await new Promise((resolve) => server.close(resolve));
    const started = stack as DemoStack | undefined;
    if (started !== undefined) {
      expect(await started.stop()).toBe(0);
      rmSync(started.dataDir, { recursive: true, force: true });
    }
  }, 30_000);

  // First, so that alice's pictures hold only what this test creates (the other scenarios pass
  // in any order; only the pictures would be busier).
  it('screenshots of the main screens (docs/images)', async () => {
    const shots: Record<string, Buffer> = {};
    const shoot = async (page: Tab, name: string): Promise<void> => {
      // Nothing moving or blinking, and no error line anywhere on the screen.
      await expect(page.locator('.message--error, .error').count()).resolves.toBe(0);
      shots[name] = await page.screenshot({ animations: 'disabled', caret: 'hide' });
    };
    await inScenario(async ({ page }) => {
      await openApp(page);
      await page.locator('body[data-view="logged-out"]').waitFor();
      await shoot(page, 'demo-logged-out.png');

      await startLogin(page);
      await shoot(page, 'demo-login.png');

      await finishLogin(page, stack.demo.users.alice);
      const accountId = await createAccount(page, 'Savings');
      await createOrder(page, accountId, 250);
      await page.mouse.move(0, 0);
      await page.locator('#orders tr[data-order-id]').first().waitFor();
      await shoot(page, 'demo-accounts.png');

      await openAccount(page, bobAccount);
      await expect(page.locator('#open-account-result').getAttribute('class')).resolves.toContain('refused');
      await page.locator('#open-account-result').scrollIntoViewIfNeeded();
      await page.mouse.move(0, 0);
      await shoot(page, 'demo-refused.png');
    });
    // Written only once every step above passed.
    mkdirSync(IMAGES, { recursive: true });
    for (const [name, png] of Object.entries(shots)) writeFileSync(join(IMAGES, name), png);
    expect(Object.keys(shots)).toHaveLength(4);
  });

  it('alice logs in through the BFF, creates an account and places an order', async () => {
    await inScenario(async ({ page }) => {
      await logInThroughUi(page, stack.demo.users.alice);
      await expect(page.locator('#user-name').textContent()).resolves.toBe('Alice Example');
      await expect(page.locator('#user-sub').textContent()).resolves.toBe(stack.demo.users.alice.sub);
      expect(new URL(page.url()).origin).toBe(stack.demo.bff);

      const accountId = await createAccount(page, 'Holiday fund');
      const row = page.locator(`#accounts tr[data-account-id="${accountId}"]`);
      await expect(row.locator('[data-field="nickname"]').textContent()).resolves.toBe('Holiday fund');

      await createOrder(page, accountId, 125);
      const order = page.locator('#orders tr[data-order-id]').filter({ hasText: accountId });
      await expect(order.count()).resolves.toBe(1);
      await expect(order.locator('[data-field="amount"]').textContent()).resolves.toBe('125');
      await expect(page.locator('#message').getAttribute('data-kind')).resolves.toBe('success');

      // Every column in view: stacked at 1280px, side by side on a wide screen, never cut off.
      const layout = () =>
        page.evaluate(() =>
          Array.from(document.querySelectorAll<HTMLElement>('.table-wrap')).map((wrap) => ({
            clipped: wrap.scrollWidth > wrap.clientWidth,
            top: Math.round(wrap.getBoundingClientRect().top),
          })),
        );
      const narrow = await layout();
      expect(narrow.map((wrap) => wrap.clipped)).toEqual([false, false]);
      expect(narrow[1]?.top).toBeGreaterThan(narrow[0]?.top ?? Infinity);
      await page.setViewportSize({ width: 1600, height: 900 });
      const wide = await layout();
      expect(wide).toEqual([
        { clipped: false, top: wide[0]?.top },
        { clipped: false, top: wide[0]?.top },
      ]);
    });
  });

  it("alice is refused bob's account (404), and opens her own", async () => {
    await inScenario(async ({ page }) => {
      await logInThroughUi(page, stack.demo.users.alice);
      await openAccount(page, bobAccount);
      const result = page.locator('#open-account-result');
      await expect(result.getAttribute('class')).resolves.toContain('refused');
      await expect(result.textContent()).resolves.toContain('404');
      await expect(result.textContent()).resolves.not.toContain('bob checking');

      const mine = await createAccount(page, 'Own account');
      await openAccount(page, mine);
      await expect(result.getAttribute('class')).resolves.toContain('found');
      await expect(result.locator('dd').allTextContents()).resolves.toEqual([
        mine,
        'Own account',
        stack.demo.users.alice.sub,
        expect.any(String),
      ]);
    });
  });

  it('no token reaches the page: HttpOnly cookie only, empty storage, no token in any answer', async () => {
    await inScenario(async ({ context, page }) => {
      // Every answer the BFF gives this page, read as it arrives; redirects have none. A body is gone
      // once the page navigates away (a page of the login hops on a slow machine): such an answer is
      // left out, and the paths that matter must all have been read (asserted below).
      const answers: Promise<{ path: string; text: string } | undefined>[] = [];
      page.on('response', (response) => {
        const url = new URL(response.url());
        if (url.origin !== stack.demo.bff || (response.status() >= 300 && response.status() < 400)) return;
        answers.push(
          response.text().then(
            (text) => ({ path: url.pathname, text }),
            () => undefined,
          ),
        );
      });
      await logInThroughUi(page, stack.demo.users.alice);
      await createAccount(page, 'Token check');

      const seen = await page.evaluate(async () => ({
        cookie: document.cookie,
        local: localStorage.length,
        session: sessionStorage.length,
        databases: (await indexedDB.databases()).length,
      }));
      expect(seen).toEqual({ cookie: '', local: 0, session: 0, databases: 0 });

      const cookies = await context.cookies(stack.demo.bff);
      const session = cookies.find((cookie) => cookie.name === SESSION_COOKIE);
      expect(session).toMatchObject({ httpOnly: true, path: '/', secure: false });
      expect(['Lax', 'Strict']).toContain(session?.sameSite);
      expect(session?.value).toMatch(/^[A-Za-z0-9_-]{43}$/);
      // The auth server's cookies on the same host are HttpOnly too.
      for (const cookie of cookies) expect(cookie, cookie.name).toMatchObject({ httpOnly: true });

      expect(await page.content()).not.toMatch(JWT_PATTERN);
      expect(await page.content()).not.toMatch(/access_token|refresh_token|id_token/);

      const info = await page.evaluate(async (): Promise<unknown> => (await fetch('/auth/session')).json());
      expect(info).toMatchObject({ authenticated: true, sub: stack.demo.users.alice.sub });
      expect(Object.keys(info as object).filter((key) => /token/i.test(key))).toEqual([]);

      const bodies = (await Promise.all(answers)).filter((answer) => answer !== undefined);
      expect(bodies.map((answer) => answer.path)).toEqual(
        expect.arrayContaining(['/', '/app.js', '/auth/session', '/api/accounts', '/api/orders']),
      );
      for (const { path, text } of bodies) {
        expect(text, path).not.toMatch(JWT_PATTERN);
        expect(text, path).not.toMatch(/"(access|refresh|id)_token"/);
      }
    });
  });

  /**
   * A fetch by the page's own script: what the script gets to see — `read <status>: <body>` when the
   * browser lets it read the answer, else the error's name (a CORS refusal is a TypeError).
   */
  function fetchFromPage(page: Tab, url: string, init: RequestInit): Promise<string> {
    return page.evaluate(
      async ([target, options]) => {
        try {
          const answer = await fetch(target, options);
          return `read ${answer.status}: ${await answer.text()}`;
        } catch (err) {
          return (err as Error).name;
        }
      },
      [url, init] as const,
    );
  }

  describe('another origin, in alice’s logged-in browser, can neither read the API nor change it', () => {
    /** What the attacker's page gets to see; the BFF's answer is observed at the network layer. */
    type Outcome = 'TypeError' | 'navigated';
    const attacks: {
      name: string;
      /** Runs on the attacker's page; resolves what its script observed. */
      run: (page: Tab, bff: string) => Promise<string>;
      seen: Outcome;
      /** The BFF's status as the network saw it; undefined: never sent (preflight refused). */
      status: number | undefined;
    }[] = [
      {
        name: 'fetch GET /api/accounts with credentials: the answer is unreadable (CORS)',
        run: (page, bff) => fetchFromPage(page, `${bff}/api/accounts`, { credentials: 'include' }),
        seen: 'TypeError',
        // The relay serves it (the cookie is same-site); the browser withholds it from the script.
        status: 200,
      },
      {
        name: 'fetch POST /api/accounts text/plain with credentials (a simple request, no preflight)',
        run: (page, bff) =>
          fetchFromPage(page, `${bff}/api/accounts`, {
            method: 'POST',
            credentials: 'include',
            headers: { 'content-type': 'text/plain' },
            body: JSON.stringify({ nickname: 'csrf fetch' }),
          }),
        seen: 'TypeError',
        status: 403,
      },
      {
        name: 'fetch POST /api/accounts JSON with X-CSRF: 1 (the preflight is refused, nothing sent)',
        run: (page, bff) =>
          fetchFromPage(page, `${bff}/api/accounts`, {
            method: 'POST',
            credentials: 'include',
            headers: { 'content-type': 'application/json', 'x-csrf': '1' },
            body: JSON.stringify({ nickname: 'csrf preflight' }),
          }),
        seen: 'TypeError',
        status: undefined,
      },
      {
        name: 'HTML form POST /api/accounts, enctype text/plain, auto-submitted',
        run: async (page) => {
          await page.goto(`${attackerOrigin}/form?enctype=text/plain`);
          await page.waitForURL((url) => url.origin === stack.demo.bff);
          return 'navigated';
        },
        seen: 'navigated',
        status: 403,
      },
      {
        name: 'HTML form POST /api/accounts, urlencoded, auto-submitted',
        run: async (page) => {
          await page.goto(`${attackerOrigin}/form?enctype=application/x-www-form-urlencoded`);
          await page.waitForURL((url) => url.origin === stack.demo.bff);
          return 'navigated';
        },
        seen: 'navigated',
        status: 403,
      },
    ];

    let victim: Scenario;
    let before: string[] = [];

    beforeAll(async () => {
      victim = await openScenario();
      await logInThroughUi(victim.page, stack.demo.users.alice);
      await createAccount(victim.page, 'Victim account');
      before = await accountIdsOf(victim.context);
    }, 60_000);

    afterAll(async () => {
      const opened = victim as Scenario | undefined;
      if (opened !== undefined) await closeScenario(opened);
    });

    it.each(attacks)('$name', async (attack) => {
      const page = await victim.context.newPage();
      try {
        await page.goto(`${attackerOrigin}/`);
        expect(new URL(page.url()).origin).toBe(attackerOrigin);
        const traffic = await recordTraffic(victim.context, page);
        const seen = await attack.run(page, stack.demo.bff);
        expect(seen).toBe(attack.seen);
        const answered = () =>
          traffic.filter(
            (entry) =>
              entry.url.startsWith(`${stack.demo.bff}/api/accounts`) &&
              entry.method !== 'OPTIONS' &&
              entry.status !== undefined,
          );
        if (attack.status === undefined) {
          expect(answered()).toEqual([]);
        } else {
          await expect.poll(() => answered().length).toBe(1);
          // It really went out with alice's cookie: what stopped it was the BFF, not the browser.
          expect(answered()[0]).toMatchObject({ status: attack.status, origin: attackerOrigin });
          expect(answered()[0]?.cookie).toContain(`${SESSION_COOKIE}=`);
        }
        // Nothing changed: alice's accounts are exactly what they were.
        expect(await accountIdsOf(victim.context)).toEqual(before);
      } finally {
        await page.close();
      }
    });

    it('the app itself, in the same browser, still works (the refusals were not a broken session)', async () => {
      await openApp(victim.page);
      await waitForLoggedIn(victim.page);
      const rows = victim.page.locator('#accounts tr[data-account-id]');
      await expect(rows.count()).resolves.toBe(before.length);
      const id = await createAccount(victim.page, 'After the attacks');
      expect(await accountIdsOf(victim.context)).toEqual(expect.arrayContaining([...before, id]));
    });
  });

  it('logout ends the session: the old cookie is refused afterwards', async () => {
    await inScenario(async ({ context, page }) => {
      await logInThroughUi(page, stack.demo.users.alice);
      const old = (await context.cookies(stack.demo.bff)).find((cookie) => cookie.name === SESSION_COOKIE);
      expect(old).toBeDefined();
      const oldCookie = `${SESSION_COOKIE}=${old?.value ?? ''}`;
      const replay = (path: string) =>
        fetch(`${stack.demo.bff}${path}`, { headers: { cookie: oldCookie, accept: 'application/json' } });
      expect((await replay('/api/accounts')).status).toBe(200);

      // RP-Initiated Logout 1.0 §2: the auth server's end-session endpoint sends the browser back
      // to the BFF's "/" (its registered post_logout_redirect_uri).
      const backHome = page.waitForResponse(
        (response) =>
          response.request().isNavigationRequest() &&
          response.url() === `${stack.demo.bff}/` &&
          response.request().redirectedFrom() !== null,
      );
      // The page's own logout call answers a URL of the BFF, never the end-session URL with the ID
      // token (read in flight: the page navigates away right after it).
      let answered = '';
      await page.route(`${stack.demo.bff}/auth/logout`, async (route) => {
        const response = await route.fetch();
        answered = await response.text();
        await route.fulfill({ response });
      });
      await page.locator('#logout').click();
      const home = await backHome;
      expect(JSON.parse(answered)).toEqual({ redirectTo: `${stack.demo.bff}/auth/logout/continue` });
      expect(answered).not.toMatch(/ey[\w-]+\.ey/);
      expect(new URL(home.request().redirectedFrom()?.url() ?? '').origin).toBe(stack.demo.issuer);
      await page.locator('body[data-view="logged-out"]').waitFor();
      await expect(page.locator('#login').isVisible()).resolves.toBe(true);
      await expect(page.locator('#user-box').isVisible()).resolves.toBe(false);

      expect((await context.cookies(stack.demo.bff)).map((cookie) => cookie.name)).not.toContain(
        SESSION_COOKIE,
      );
      expect((await replay('/api/accounts')).status).toBe(401);
      await expect((await replay('/auth/session')).json()).resolves.toEqual({ authenticated: false });
      const fromPage = await page.evaluate(async (): Promise<unknown> =>
        (await fetch('/auth/session')).json(),
      );
      expect(fromPage).toEqual({ authenticated: false });

      // Logging in again asks for the password: the auth server's session ended too.
      await startLogin(page);
      await expect(page.locator('input[name="password"]').isVisible()).resolves.toBe(true);
    });
  });
});

describe.skipIf(!chromiumStatus.available)('the demo app in Chromium over HTTPS (gatehouse up --tls)', () => {
  let plain: { stack: DemoStack; browser: Chromium };

  beforeAll(async () => {
    plain = { stack, browser: chromiumBrowser };
    stack = await startDemoStack({ tls: true });
    // Chromium trusts the stack's certificate the way a developer who imported the development CA
    // would see it: pinned by its public key, nothing else is accepted.
    const server = new X509Certificate(readFileSync(join(stack.dataDir, 'pki', 'server.pem')));
    const spki = createHash('sha256')
      .update(server.publicKey.export({ type: 'spki', format: 'der' }))
      .digest('base64');
    chromiumBrowser = await launchChromium([`--ignore-certificate-errors-spki-list=${spki}`]);
  }, 120_000);

  afterAll(async () => {
    await (chromiumBrowser as Chromium | undefined)?.close();
    const started = stack as DemoStack | undefined;
    if (started !== undefined && started !== plain.stack) expect(await started.stop()).toBe(0);
    ({ stack, browser: chromiumBrowser } = plain);
  });

  it('logs alice in over HTTPS: a __Host- Secure HttpOnly session cookie, no token in the page', async () => {
    expect(stack.demo.bff.startsWith('https://')).toBe(true);
    await inScenario(async ({ context, page }) => {
      await logInThroughUi(page, stack.demo.users.alice);
      await expect(page.locator('#user-name').textContent()).resolves.toBe('Alice Example');
      const cookies = await context.cookies(stack.demo.bff);
      const session = cookies.find((cookie) => cookie.name === `__Host-${SESSION_COOKIE}`);
      expect(session).toMatchObject({ secure: true, httpOnly: true, sameSite: 'Lax', path: '/' });
      expect(cookies.map((cookie) => cookie.name)).not.toContain(SESSION_COOKIE);
      await expect(page.evaluate(() => document.cookie)).resolves.toBe('');
    });
  });
});
