import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Browser } from './support/browser.js';
import { sameOriginHeaders, startBffStack, type BffStack } from './support/bff-stack.js';

const refreshGrants = (stack: BffStack): number =>
  stack.as.audit.filter(
    (e) =>
      e.action === 'token.issue' &&
      e.actor?.clientId === stack.client.clientId &&
      e.details?.['grant_type'] === 'refresh_token',
  ).length;

describe('token relay: /api/* to the gateway with the session access token', () => {
  let stack: BffStack;
  beforeAll(async () => {
    stack = await startBffStack();
  });
  afterAll(async () => {
    await stack.close();
  });

  it('adds Authorization: Bearer, keeps path and query, drops the browser cookies and CSRF headers', async () => {
    const browser = new Browser();
    await stack.login(browser);
    const session = (await stack.sessionOf(browser))!;
    stack.upstream.requests.length = 0;
    const page = await browser.request(`${stack.url}/api/accounts/a1?view=full&x=%2F`, {
      method: 'POST',
      headers: {
        ...sameOriginHeaders(stack),
        'content-type': 'application/json',
        authorization: 'Bearer attacker-chosen',
        'x-forwarded-for': '6.6.6.6',
        accept: 'application/json',
      },
      body: JSON.stringify({ nickname: 'savings' }),
    });
    expect(page.status).toBe(200);
    expect(JSON.parse(page.text)).toEqual({ path: '/api/accounts/a1?view=full&x=%2F' });
    expect(page.headers.get('x-upstream')).toBe('yes');
    // The gateway's cookies never reach the browser on our origin.
    expect(page.headers.getSetCookie()).toEqual([]);
    // Security headers on relayed answers too.
    expect(page.headers.get('x-content-type-options')).toBe('nosniff');

    expect(stack.upstream.requests).toHaveLength(1);
    const seen = stack.upstream.requests[0]!;
    expect(seen.method).toBe('POST');
    expect(seen.url).toBe('/api/accounts/a1?view=full&x=%2F');
    expect(seen.headers['authorization']).toBe(`Bearer ${session.accessToken}`);
    expect(seen.headers['cookie']).toBeUndefined();
    expect(seen.headers['x-csrf']).toBeUndefined();
    expect(seen.headers['origin']).toBeUndefined();
    // The browser's own address, as the BFF saw it; the browser's X-Forwarded-For is dropped.
    expect(seen.headers['x-forwarded-for']).toBe('127.0.0.1');
    expect(seen.headers['content-type']).toBe('application/json');
    expect(JSON.parse(seen.body)).toEqual({ nickname: 'savings' });
  });

  it('without a session: 401 problem, nothing relayed', async () => {
    stack.upstream.requests.length = 0;
    const page = await new Browser().get(`${stack.url}/api/accounts`);
    expect(page.status).toBe(401);
    expect(JSON.parse(page.text)).toMatchObject({ code: 'ERR_BFF_SESSION_REQUIRED' });
    expect(stack.upstream.requests).toHaveLength(0);
  });

  it('refreshes shortly before expiry ONCE for 10 concurrent requests, then relays the new token', async () => {
    const browser = new Browser();
    await stack.login(browser);
    const before = (await stack.sessionOf(browser))!;
    const grantsBefore = refreshGrants(stack);
    // Inside the refresh window (default token life 300 s, refresh 60 s before expiry).
    stack.clock.advance(250);
    stack.upstream.requests.length = 0;
    const pages = await Promise.all(
      Array.from({ length: 10 }, (_, i) => browser.get(`${stack.url}/api/orders?i=${i}`)),
    );
    expect(pages.map((p) => p.status)).toEqual(Array(10).fill(200));
    expect(refreshGrants(stack) - grantsBefore).toBe(1);
    const after = (await stack.sessionOf(browser))!;
    expect(after.accessToken).not.toBe(before.accessToken);
    expect(after.refreshToken).not.toBe(before.refreshToken);
    const bearers = new Set(stack.upstream.requests.map((r) => r.headers['authorization']));
    expect([...bearers]).toEqual([`Bearer ${after.accessToken}`]);

    // The next request within the token's life does not refresh again.
    await browser.get(`${stack.url}/api/orders`);
    expect(refreshGrants(stack) - grantsBefore).toBe(1);
    stack.clock.offsetMs = 0;
  });

  it('a refresh the OP refuses (grant revoked) ends the session: 401, cookie dead', async () => {
    const browser = new Browser();
    await stack.login(browser);
    const session = (await stack.sessionOf(browser))!;
    await stack.as.revoke(stack.client, session.refreshToken!);
    stack.clock.advance(290);
    try {
      const page = await browser.get(`${stack.url}/api/orders`);
      expect(page.status).toBe(401);
      expect(await stack.sessionOf(browser)).toBeUndefined();
      const info = await browser.get(`${stack.url}/auth/session`);
      expect(JSON.parse(info.text)).toEqual({ authenticated: false });
    } finally {
      stack.clock.offsetMs = 0;
    }
  });
});
