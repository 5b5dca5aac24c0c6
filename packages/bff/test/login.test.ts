import { hashToken } from '@gatehouse/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Browser } from './support/browser.js';
import { LOGIN_COOKIE, SESSION_COOKIE, startBffStack, type BffStack } from './support/bff-stack.js';

describe('login: authorization code + PKCE through the real OP login form', () => {
  let stack: BffStack;
  beforeAll(async () => {
    stack = await startBffStack();
  });
  afterAll(async () => {
    await stack.close();
  });

  it('sends the browser to the OP with PKCE S256, state, nonce and the registered redirect URI', async () => {
    const page = await new Browser().get(`${stack.url}/auth/login?returnTo=/accounts`);
    expect(page.status).toBe(303);
    const location = new URL(page.location!);
    expect(`${location.origin}${location.pathname}`).toBe(`${stack.as.issuer}/authorize`);
    const params = Object.fromEntries(location.searchParams);
    expect(params).toMatchObject({
      response_type: 'code',
      client_id: stack.client.clientId,
      redirect_uri: `${stack.url}/auth/callback`,
      code_challenge_method: 'S256',
      scope: 'openid profile accounts:read',
    });
    expect(params['code_challenge']).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(params['state']).toMatch(/^[A-Za-z0-9_-]{20,}$/);
    expect(params['nonce']).toMatch(/^[A-Za-z0-9_-]{20,}$/);
    // The verifier never leaves the server.
    expect(page.location).not.toContain('code_verifier');
    expect(page.headers.get('cache-control')).toBe('no-store');
  });

  it('logs in end to end: session cookie, redirect to returnTo, /auth/session without tokens', async () => {
    const browser = new Browser();
    const before = await browser.get(`${stack.url}/auth/session`);
    expect(JSON.parse(before.text)).toEqual({ authenticated: false });

    const done = await stack.login(browser, stack.alice, '/accounts?tab=2#top');
    expect(done.status).toBe(303);
    expect(done.location).toBe(`${stack.url}/accounts?tab=2#top`);
    expect(browser.cookie(LOGIN_COOKIE)).toBeUndefined();

    const cookie = browser.cookie(SESSION_COOKIE)!;
    expect(cookie.value).toMatch(/^[A-Za-z0-9_-]{43}$/);
    // Stored by hash only.
    expect(await stack.store.get(cookie.value)).toBeUndefined();
    const stored = await stack.store.get(hashToken(cookie.value));
    expect(stored).toMatchObject({ sub: stack.alice.sub, name: 'alice Example', opSid: expect.any(String) });

    const info = await browser.get(`${stack.url}/auth/session`);
    expect(info.status).toBe(200);
    expect(info.headers.get('cache-control')).toBe('no-store');
    const body = JSON.parse(info.text) as Record<string, unknown>;
    expect(body).toEqual({
      authenticated: true,
      sub: stack.alice.sub,
      name: 'alice Example',
      expiresAt: expect.any(String),
    });
    for (const token of [stored!.accessToken, stored!.idToken, stored!.refreshToken!]) {
      expect(info.text).not.toContain(token);
    }
    expect(stack.audit.some((e) => e.action === 'bff.login' && e.outcome === 'success')).toBe(true);
  });

  it('a callback replayed after use, or without the login cookie, is refused', async () => {
    const browser = new Browser();
    let page = await browser.get(`${stack.url}/auth/login`);
    page = await browser.get(page.location!);
    const { parseForm } = await import('./support/browser.js');
    const form = parseForm(page.text);
    page = await browser.postForm(new URL(form.action, stack.as.issuer).href, {
      ...form.hidden,
      username: stack.bob.username,
      password: stack.bob.password,
    });
    const callback = page.location!;
    // Another browser (an attacker who planted the callback URL): no login cookie.
    const other = await new Browser().get(callback);
    expect(other.status).toBe(400);
    expect(JSON.parse(other.text)).toMatchObject({ code: 'ERR_BFF_LOGIN_FAILED' });

    const first = await browser.get(callback);
    expect(first.status).toBe(303);
    const replay = new Browser();
    replay.setCookie(LOGIN_COOKIE, 'x'.repeat(43));
    expect((await replay.get(callback)).status).toBe(400);
  });

  it('PAR (RFC 9126): with pushedAuthorizationRequests=always only client_id and request_uri travel in the URL', async () => {
    const par = await startBffStack({
      client: { requirePar: true },
      pushed: 'always',
    });
    try {
      const start = await new Browser().get(`${par.url}/auth/login`);
      const params = Object.fromEntries(new URL(start.location!).searchParams);
      expect(Object.keys(params).sort()).toEqual(['client_id', 'request_uri']);
      expect(params['request_uri']).toMatch(/^urn:ietf:params:oauth:request_uri:/);
      const browser = new Browser();
      expect((await par.login(browser)).status).toBe(303);
      expect(await par.sessionOf(browser)).toMatchObject({ sub: par.alice.sub });
    } finally {
      await par.close();
    }
  });

  it('a client the OP holds to PAR fails to log in without it (the OP refuses the plain request)', async () => {
    const par = await startBffStack({ client: { requirePar: true } });
    try {
      const done = await par.login(new Browser());
      expect(done.status).toBe(400);
      expect(par.audit.some((e) => e.action === 'bff.login' && e.outcome === 'failure')).toBe(true);
    } finally {
      await par.close();
    }
  });
});
