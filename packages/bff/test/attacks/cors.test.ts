import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Browser } from '../support/browser.js';
import { startBffStack, type BffStack } from '../support/bff-stack.js';

/**
 * CORS (Fetch §3.2): only `https://app.example` is listed. No other origin is ever written back,
 * `*` and `null` never appear, credentials only with a listed origin; preflights for anything
 * else are refused without CORS headers.
 */
describe('attacks: cross-origin reads (CORS)', () => {
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

  const unlisted = [
    'https://evil.example',
    'https://app.example.evil',
    'https://evilapp.example',
    'https://sub.app.example',
    'http://app.example',
    'https://APP.example',
    'https://app.example:8443',
    'null',
    'https://app.example/',
  ];

  it.each(unlisted)('simple request from %s: no Access-Control-Allow-* header', async (origin) => {
    for (const path of ['/auth/session', '/api/accounts']) {
      const page = await browser.get(`${stack.url}${path}`, { origin });
      expect(page.headers.get('access-control-allow-origin')).toBeNull();
      expect(page.headers.get('access-control-allow-credentials')).toBeNull();
      expect(page.headers.get('vary')).toContain('Origin');
    }
  });

  it.each(unlisted)('preflight from %s is refused', async (origin) => {
    const page = await browser.request(`${stack.url}/api/accounts`, {
      method: 'OPTIONS',
      headers: {
        origin,
        'access-control-request-method': 'POST',
        'access-control-request-headers': 'content-type, x-csrf',
      },
    });
    expect(page.status).toBe(403);
    expect(page.headers.get('access-control-allow-origin')).toBeNull();
    expect(page.headers.get('access-control-allow-methods')).toBeNull();
  });

  const badPreflights: Array<{ name: string; headers: Record<string, string> }> = [
    { name: 'no Access-Control-Request-Method', headers: {} },
    { name: 'method TRACE', headers: { 'access-control-request-method': 'TRACE' } },
    {
      name: 'Authorization header requested',
      headers: { 'access-control-request-method': 'GET', 'access-control-request-headers': 'authorization' },
    },
    {
      name: 'Cookie header requested',
      headers: { 'access-control-request-method': 'GET', 'access-control-request-headers': 'x-csrf, cookie' },
    },
  ];

  it.each(badPreflights)('preflight from the listed origin refused: $name', async ({ headers }) => {
    const page = await browser.request(`${stack.url}/api/accounts`, {
      method: 'OPTIONS',
      headers: { origin: 'https://app.example', ...headers },
    });
    expect(page.status).toBe(403);
    expect(page.headers.get('access-control-allow-origin')).toBeNull();
  });

  it('the listed origin: exact ACAO with credentials, and a preflight allowing X-CSRF', async () => {
    const simple = await browser.get(`${stack.url}/api/accounts`, { origin: 'https://app.example' });
    expect(simple.status).toBe(200);
    expect(simple.headers.get('access-control-allow-origin')).toBe('https://app.example');
    expect(simple.headers.get('access-control-allow-credentials')).toBe('true');

    const preflight = await browser.request(`${stack.url}/api/accounts`, {
      method: 'OPTIONS',
      headers: {
        origin: 'https://app.example',
        'access-control-request-method': 'DELETE',
        'access-control-request-headers': 'Content-Type, X-CSRF',
      },
    });
    expect(preflight.status).toBe(204);
    expect(preflight.headers.get('access-control-allow-origin')).toBe('https://app.example');
    expect(preflight.headers.get('access-control-allow-credentials')).toBe('true');
    expect(preflight.headers.get('access-control-allow-methods')).toContain('DELETE');
    expect(preflight.headers.get('access-control-allow-headers')).toContain('x-csrf');
  });

  it('same-origin requests need no CORS headers; * is never sent', async () => {
    const page = await browser.get(`${stack.url}/auth/session`, { origin: stack.url });
    expect(page.headers.get('access-control-allow-origin')).toBeNull();
    const none = await browser.get(`${stack.url}/auth/session`);
    expect(none.headers.get('access-control-allow-origin')).toBeNull();
  });
});
