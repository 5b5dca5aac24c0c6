import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Browser } from '../support/browser.js';
import { startBffStack, type BffStack } from '../support/bff-stack.js';

/** Post-login return URL (OWASP Unvalidated Redirects): only same-origin relative paths. */
describe('attacks: open redirect through returnTo', () => {
  let stack: BffStack;
  beforeAll(async () => {
    stack = await startBffStack();
  });
  afterAll(async () => {
    await stack.close();
  });

  const refused = [
    '//evil.example',
    '///evil.example',
    '/\\evil.example',
    '\\\\evil.example',
    '\\/evil.example',
    'https://evil.example',
    'HTTPS://evil.example/path',
    'http:evil.example',
    '//evil.example/%2F..',
    'javascript:alert(1)',
    'data:text/html,<script>alert(1)</script>',
    'evil.example',
    ' /accounts',
    '/\t/evil.example',
    '/\n/evil.example',
    '/accounts\r\nSet-Cookie: x=1',
    '/..//evil.example',
    '/.//evil.example',
    '',
    `/${'a'.repeat(2100)}`,
  ];

  it.each(refused)('refuses %j with 400 before any login starts', async (returnTo) => {
    const browser = new Browser();
    const page = await browser.get(`${stack.url}/auth/login?returnTo=${encodeURIComponent(returnTo)}`);
    expect(page.status).toBe(400);
    expect(page.location).toBeUndefined();
    expect(JSON.parse(page.text)).toMatchObject({ code: 'ERR_BFF_RETURN_TO_INVALID' });
    expect(browser.cookie('bff_login')).toBeUndefined();
  });

  it('refuses returnTo given twice', async () => {
    const page = await new Browser().get(`${stack.url}/auth/login?returnTo=/a&returnTo=//evil.example`);
    expect(page.status).toBe(400);
  });

  it.each([
    ['/', '/'],
    ['/accounts/a1?tab=orders#recent', '/accounts/a1?tab=orders#recent'],
    ['/%2F%2Fevil.example', '/%2F%2Fevil.example'],
    ['/a/../b', '/b'],
  ])('accepts %j and lands on %j after login', async (returnTo, landing) => {
    const done = await stack.login(new Browser(), stack.alice, returnTo);
    expect(done.status).toBe(303);
    expect(done.location).toBe(`${stack.url}${landing}`);
  });
});
