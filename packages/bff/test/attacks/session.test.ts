import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Browser } from '../support/browser.js';
import {
  LOGIN_COOKIE,
  SESSION_COOKIE,
  sameOriginHeaders,
  startBffStack,
  type BffStack,
} from '../support/bff-stack.js';

const loggedIn = async (stack: BffStack, browser: Browser): Promise<boolean> =>
  (JSON.parse((await browser.get(`${stack.url}/auth/session`)).text) as { authenticated: boolean })
    .authenticated;

describe('attacks: session cookie, fixation, replay and timeouts', () => {
  let stack: BffStack;
  beforeAll(async () => {
    stack = await startBffStack({ bff: { session: { idleTimeoutSec: 900, absoluteTimeoutSec: 3600 } } });
  });
  afterAll(async () => {
    await stack.close();
  });

  it('session cookie: HttpOnly, SameSite=Lax, Path=/, host-only, no Secure on plain-HTTP loopback', async () => {
    const browser = new Browser();
    const start = await browser.get(`${stack.url}/auth/login`);
    expect(browser.cookie(LOGIN_COOKIE)!.attributes).toEqual({
      path: '/',
      'max-age': '600',
      httponly: true,
      samesite: 'Lax',
    });
    expect(start.status).toBe(303);
    await stack.login(browser);
    const cookie = browser.cookie(SESSION_COOKIE)!;
    expect(cookie.attributes).toEqual({ path: '/', 'max-age': '3600', httponly: true, samesite: 'Lax' });
    expect(cookie.attributes['domain']).toBeUndefined();
  });

  it('session fixation: a planted cookie (unknown or a valid one of the attacker) is replaced at login', async () => {
    const planted = randomBytes(32).toString('base64url');
    const victim = new Browser();
    victim.setCookie(SESSION_COOKIE, planted);
    await stack.login(victim, stack.alice);
    const issued = victim.cookie(SESSION_COOKIE)!.value;
    expect(issued).not.toBe(planted);
    const attackerBrowser = new Browser();
    attackerBrowser.setCookie(SESSION_COOKIE, planted);
    expect(await loggedIn(stack, attackerBrowser)).toBe(false);

    // The attacker logs in as bob and plants bob's session id in the victim's browser.
    const attacker = new Browser();
    await stack.login(attacker, stack.bob);
    const bobs = attacker.cookie(SESSION_COOKIE)!.value;
    const victim2 = new Browser();
    victim2.setCookie(SESSION_COOKIE, bobs);
    await stack.login(victim2, stack.alice);
    expect(victim2.cookie(SESSION_COOKIE)!.value).not.toBe(bobs);
    expect(await stack.sessionOf(victim2)).toMatchObject({ sub: stack.alice.sub });
    // The planted session ended: the id the attacker knows leads nowhere.
    expect(await loggedIn(stack, attacker)).toBe(false);
  });

  const forged: Array<{ name: string; header: (real: string) => string }> = [
    {
      name: 'random well-formed id',
      header: () => `${SESSION_COOKIE}=${randomBytes(32).toString('base64url')}`,
    },
    { name: 'the stored hash instead of the id', header: (real) => `${SESSION_COOKIE}=${real.slice(1)}x` },
    { name: 'truncated id', header: (real) => `${SESSION_COOKIE}=${real.slice(0, 42)}` },
    { name: 'id with a suffix', header: (real) => `${SESSION_COOKIE}=${real}A` },
    {
      name: 'cookie sent twice (tossed duplicate)',
      header: (real) =>
        `${SESSION_COOKIE}=${real}; ${SESSION_COOKIE}=${randomBytes(32).toString('base64url')}`,
    },
    {
      name: 'right value under the __Host- name on http',
      header: (real) => `__Host-${SESSION_COOKIE}=${real}`,
    },
  ];

  it.each(forged)('forged cookie refused: $name', async ({ header }) => {
    const browser = new Browser();
    await stack.login(browser);
    const real = browser.cookie(SESSION_COOKIE)!.value;
    for (const path of ['/auth/session', '/api/accounts']) {
      const response = await fetch(`${stack.url}${path}`, { headers: { cookie: header(real) } });
      const body = (await response.json()) as Record<string, unknown>;
      if (path === '/auth/session') expect(body).toEqual({ authenticated: false });
      else expect(response.status).toBe(401);
    }
  });

  it('replay of a logged-out session: the old cookie is dead everywhere', async () => {
    const browser = new Browser();
    await stack.login(browser);
    const old = browser.cookie(SESSION_COOKIE)!.value;
    const out = await browser.request(`${stack.url}/auth/logout`, {
      method: 'POST',
      headers: sameOriginHeaders(stack),
    });
    expect(out.status).toBe(303);
    expect(browser.cookie(SESSION_COOKIE)).toBeUndefined();
    const replay = new Browser();
    replay.setCookie(SESSION_COOKIE, old);
    expect(await loggedIn(stack, replay)).toBe(false);
    expect((await replay.get(`${stack.url}/api/accounts`)).status).toBe(401);
  });

  it('idle timeout: a session unused for idleTimeoutSec is gone; activity extends it', async () => {
    const browser = new Browser();
    await stack.login(browser);
    stack.clock.advance(600);
    try {
      expect(await loggedIn(stack, browser)).toBe(true);
      stack.clock.advance(600);
      expect(await loggedIn(stack, browser)).toBe(true);
      stack.clock.advance(901);
      expect(await loggedIn(stack, browser)).toBe(false);
      expect(stack.audit.some((e) => e.action === 'bff.session_end' && e.reason === 'idle')).toBe(true);
    } finally {
      stack.clock.offsetMs = 0;
    }
  });

  it('absolute timeout: even an active session ends after absoluteTimeoutSec', async () => {
    const browser = new Browser();
    await stack.login(browser);
    try {
      for (let elapsed = 0; elapsed < 3600 - 800; elapsed += 800) {
        stack.clock.advance(800);
        expect(await loggedIn(stack, browser)).toBe(true);
      }
      stack.clock.advance(800);
      expect(await loggedIn(stack, browser)).toBe(false);
      expect(stack.audit.some((e) => e.action === 'bff.session_end' && e.reason === 'absolute')).toBe(true);
    } finally {
      stack.clock.offsetMs = 0;
    }
  });
});

describe('https public URL: Secure cookies with the __Host- prefix', () => {
  let stack: BffStack;
  beforeAll(async () => {
    stack = await startBffStack({ publicUrl: 'https://bff.example' });
  });
  afterAll(async () => {
    await stack.close();
  });

  it('login and session cookies are __Host-, Secure, HttpOnly, Path=/, no Domain; HSTS is sent', async () => {
    const browser = new Browser();
    const done = await stack.login(browser);
    expect(done.status).toBe(303);
    expect(done.headers.get('location')).toBe('/');
    const cookie = browser.cookie(`__Host-${SESSION_COOKIE}`)!;
    expect(cookie.attributes).toMatchObject({ path: '/', httponly: true, secure: true, samesite: 'Lax' });
    expect(cookie.attributes['domain']).toBeUndefined();
    expect(browser.cookie(SESSION_COOKIE)).toBeUndefined();
    const info = await browser.get(`${stack.url}/auth/session`);
    expect(JSON.parse(info.text)).toMatchObject({ authenticated: true, sub: stack.alice.sub });
    expect(info.headers.get('strict-transport-security')).toContain('max-age=');
  });
});
