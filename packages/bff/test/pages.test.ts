import { mkdtempSync, writeFileSync, mkdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Browser } from './support/browser.js';
import { startBffStack, type BffStack } from './support/bff-stack.js';

const ADMIN_TOKEN = 'a'.repeat(24) + 'admin-token-for-tests';

describe('static files, security headers and session administration', () => {
  let stack: BffStack;
  let folder: string;
  beforeAll(async () => {
    const root = mkdtempSync(join(tmpdir(), 'bff-static-'));
    folder = join(root, 'app');
    mkdirSync(join(folder, 'js'), { recursive: true });
    writeFileSync(
      join(folder, 'index.html'),
      '<!doctype html><title>demo</title><script src="/js/app.js"></script>',
    );
    writeFileSync(join(folder, 'js', 'app.js'), 'console.log(1);');
    writeFileSync(join(root, 'secret.txt'), 'outside the folder');
    stack = await startBffStack({ bff: { staticDir: folder, admin: { token: ADMIN_TOKEN } } });
  });
  afterAll(async () => {
    await stack.close();
    rmSync(join(folder, '..'), { recursive: true, force: true });
  });

  it('serves the app with its content types', async () => {
    const index = await new Browser().get(`${stack.url}/`);
    expect(index.status).toBe(200);
    expect(index.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(index.text).toContain('<title>demo</title>');
    const js = await new Browser().get(`${stack.url}/js/app.js`);
    expect(js.headers.get('content-type')).toBe('text/javascript; charset=utf-8');
  });

  it.each([
    '/../secret.txt',
    '/%2e%2e/secret.txt',
    '/js/%2e%2e/%2e%2e/secret.txt',
    '/..%2fsecret.txt',
    '/..%5csecret.txt',
    '/index.html%00.js',
    '/%E0%A4%A',
    '/missing.html',
  ])('path %s stays inside the folder (404, or 400 when not decodable)', async (path) => {
    const response = await fetch(`${stack.url}${path}`);
    expect([400, 404]).toContain(response.status);
    expect(await response.text()).not.toContain('outside the folder');
  });

  it.each(['/', '/auth/session', '/nowhere', '/api/accounts', '/auth/login?returnTo=//evil'])(
    'security headers on %s',
    async (path) => {
      const page = await new Browser().get(`${stack.url}${path}`);
      const csp = page.headers.get('content-security-policy')!;
      expect(csp).toContain("script-src 'self'");
      expect(csp).not.toContain('unsafe-inline');
      expect(csp).not.toContain('unsafe-eval');
      expect(csp).toContain("frame-ancestors 'none'");
      expect(csp).toContain("object-src 'none'");
      expect(page.headers.get('referrer-policy')).toBe('no-referrer');
      expect(page.headers.get('x-content-type-options')).toBe('nosniff');
      expect(page.headers.get('x-frame-options')).toBe('DENY');
    },
  );

  it('admin: list and revoke a user’s sessions with the admin token only', async () => {
    const browser = new Browser();
    await stack.login(browser, stack.bob);
    const base = `${stack.url}/admin/bff/sessions`;
    for (const authorization of [undefined, 'Bearer wrong', `Basic ${ADMIN_TOKEN}`]) {
      const response = await fetch(`${base}?sub=${stack.bob.sub}`, {
        headers: authorization === undefined ? {} : { authorization },
      });
      expect(response.status).toBe(401);
    }
    const auth = { authorization: `Bearer ${ADMIN_TOKEN}` };
    const listed = (await (await fetch(`${base}?sub=${stack.bob.sub}`, { headers: auth })).json()) as {
      sessions: Array<Record<string, unknown>>;
    };
    expect(listed.sessions).toHaveLength(1);
    expect(Object.keys(listed.sessions[0]!).sort()).toEqual(
      ['createdAt', 'expiresAt', 'lastSeenAt', 'name', 'ref', 'sub'].sort(),
    );
    const ref = listed.sessions[0]!['ref'] as string;
    const revoked = await fetch(`${base}/${ref}`, { method: 'DELETE', headers: auth });
    expect(await revoked.json()).toEqual({ revoked: 1 });
    expect(await stack.sessionOf(browser)).toBeUndefined();
    expect((await fetch(base, { headers: auth })).status).toBe(400);
  });
});
