import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Browser } from '../support/browser.js';
import { sameOriginHeaders, startBffStack, type BffStack } from '../support/bff-stack.js';

/**
 * CSRF (OWASP CSRF Prevention Cheat Sheet): a state-changing request needs an allowed Origin,
 * compared exactly, AND `X-CSRF: 1`. Each case comes from a logged-in browser; each must be
 * refused with 403 before anything reaches the gateway or ends the session.
 */
describe('attacks: cross-site request forgery', () => {
  let stack: BffStack;
  let browser: Browser;
  beforeAll(async () => {
    stack = await startBffStack();
    browser = new Browser();
    await stack.login(browser);
  });
  afterAll(async () => {
    await stack.close();
  });

  const port = (): string => new URL(stack.url).port;

  // name → headers (functions: the BFF's port is known only at run time)
  const cases: Array<{ name: string; method?: string; headers: () => Record<string, string> }> = [
    { name: 'no Origin at all', headers: () => ({ 'x-csrf': '1' }) },
    { name: 'empty Origin', headers: () => ({ origin: '', 'x-csrf': '1' }) },
    { name: 'foreign origin', headers: () => ({ origin: 'https://evil.example', 'x-csrf': '1' }) },
    {
      name: 'allowed origin as a prefix (suffix attack)',
      headers: () => ({ origin: 'https://app.example.evil', 'x-csrf': '1' }),
    },
    {
      name: 'allowed origin as a suffix',
      headers: () => ({ origin: 'https://evilapp.example', 'x-csrf': '1' }),
    },
    {
      name: 'subdomain of an allowed origin',
      headers: () => ({ origin: 'https://sub.app.example', 'x-csrf': '1' }),
    },
    { name: 'scheme downgrade', headers: () => ({ origin: 'http://app.example', 'x-csrf': '1' }) },
    { name: 'explicit default port', headers: () => ({ origin: 'https://app.example:443', 'x-csrf': '1' }) },
    { name: 'different case', headers: () => ({ origin: 'https://APP.example', 'x-csrf': '1' }) },
    { name: 'trailing slash', headers: () => ({ origin: 'https://app.example/', 'x-csrf': '1' }) },
    { name: 'opaque origin null', headers: () => ({ origin: 'null', 'x-csrf': '1' }) },
    {
      name: 'two origins in one header',
      headers: () => ({ origin: 'https://app.example, https://evil.example', 'x-csrf': '1' }),
    },
    {
      name: 'own host, other port',
      headers: () => ({ origin: `http://127.0.0.1:${Number(port()) + 1}`, 'x-csrf': '1' }),
    },
    {
      name: 'own origin as localhost alias',
      headers: () => ({ origin: `http://localhost:${port()}`, 'x-csrf': '1' }),
    },
    { name: 'allowed origin without X-CSRF', headers: () => ({ origin: stack.url }) },
    { name: 'X-CSRF: 0', headers: () => ({ origin: stack.url, 'x-csrf': '0' }) },
    { name: 'X-CSRF: true', headers: () => ({ origin: stack.url, 'x-csrf': 'true' }) },
    { name: 'X-CSRF empty', headers: () => ({ origin: stack.url, 'x-csrf': '' }) },
    { name: 'PUT without X-CSRF', method: 'PUT', headers: () => ({ origin: 'https://app.example' }) },
    {
      name: 'PATCH from a foreign origin',
      method: 'PATCH',
      headers: () => ({ origin: 'https://evil.example', 'x-csrf': '1' }),
    },
    { name: 'DELETE without Origin', method: 'DELETE', headers: () => ({ 'x-csrf': '1' }) },
  ];

  it.each(cases)('relay refuses: $name', async ({ method, headers }) => {
    stack.upstream.requests.length = 0;
    const page = await browser.request(`${stack.url}/api/accounts`, {
      method: method ?? 'POST',
      headers: { ...headers(), 'content-type': 'application/json' },
      body: '{}',
    });
    expect(page.status).toBe(403);
    expect(JSON.parse(page.text)).toMatchObject({ code: 'ERR_BFF_CSRF_REFUSED' });
    expect(stack.upstream.requests).toHaveLength(0);
  });

  it.each(cases.filter((c) => c.method === undefined))('logout refuses: $name', async ({ headers }) => {
    const page = await browser.request(`${stack.url}/auth/logout`, { method: 'POST', headers: headers() });
    expect(page.status).toBe(403);
    expect(await stack.sessionOf(browser)).toBeDefined();
  });

  it('a cross-site HTML form (urlencoded, no custom header) cannot log the user out', async () => {
    const page = await browser.postForm(`${stack.url}/auth/logout`, {}, { origin: 'https://evil.example' });
    expect(page.status).toBe(403);
    expect(await stack.sessionOf(browser)).toBeDefined();
  });

  it('controls: own origin and an allowed origin with X-CSRF: 1 pass; refusals are audited', async () => {
    for (const origin of [stack.url, 'https://app.example']) {
      const page = await browser.request(`${stack.url}/api/accounts`, {
        method: 'POST',
        headers: { origin, 'x-csrf': '1', 'content-type': 'application/json' },
        body: '{}',
      });
      expect(page.status).toBe(200);
    }
    expect((await browser.get(`${stack.url}/api/accounts`)).status).toBe(200);
    expect(sameOriginHeaders(stack)).toEqual({ origin: stack.url, 'x-csrf': '1' });
    expect(stack.audit.filter((e) => e.action === 'csrf.refuse').length).toBeGreaterThanOrEqual(cases.length);
  });
});
