import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Browser } from './support/browser.js';
import { SESSION_COOKIE, startBffStack, type BffStack } from './support/bff-stack.js';

describe('BFF listening over HTTPS (listen.tls)', () => {
  let stack: BffStack;
  let browser: Browser;

  beforeAll(async () => {
    stack = await startBffStack({ tls: true });
    browser = new Browser({ dispatcher: stack.tls!.dispatcher });
  });

  afterAll(async () => {
    await stack.close();
  });

  it('logs in over https: __Host- session cookie with Secure, HttpOnly, Path=/ and no Domain; HSTS', async () => {
    expect(stack.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    const done = await stack.login(browser, stack.alice, '/');
    expect(done.status).toBe(303);
    const cookie = browser.cookie(`__Host-${SESSION_COOKIE}`);
    expect(cookie).toBeDefined();
    // RFC 6265bis §4.1.3.2: the __Host- prefix requires Secure, Path=/ and no Domain.
    expect(cookie!.line).toMatch(new RegExp(`^__Host-${SESSION_COOKIE}=[A-Za-z0-9_-]{43};`));
    expect(cookie!.attributes).toMatchObject({ secure: true, httponly: true, path: '/' });
    expect(cookie!.attributes['domain']).toBeUndefined();
    expect(browser.cookie(SESSION_COOKIE)).toBeUndefined();

    const info = await browser.get(`${stack.url}/auth/session`);
    expect(JSON.parse(info.text)).toMatchObject({ authenticated: true, sub: stack.alice.sub });
    expect(info.headers.get('strict-transport-security')).toBe('max-age=31536000; includeSubDomains');
  });

  it.each([
    ['plain HTTP on the TLS port', () => fetch(`${stack.url.replace('https:', 'http:')}/auth/session`)],
    ['a client that does not trust the certificate', () => fetch(`${stack.url}/auth/session`)],
  ])('refuses %s', async (_name, send) => {
    await expect(send()).rejects.toThrow();
  });

  it('reloads its certificate on demand (SIGHUP)', async () => {
    expect(await stack.bff.reloadCertificates()).toBe(true);
    const info = await browser.get(`${stack.url}/auth/session`);
    expect(info.status).toBe(200);
  });
});
