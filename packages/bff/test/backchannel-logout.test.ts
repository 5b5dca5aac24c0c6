import { generateKeyPairSync, randomBytes, sign } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Browser, parseForm } from './support/browser.js';
import { startBffStack, type BffStack } from './support/bff-stack.js';

const EVENT = 'http://schemas.openid.net/event/backchannel-logout';
const b64 = (value: unknown): string => Buffer.from(JSON.stringify(value)).toString('base64url');

/** Polls (background delivery from the OP); no fixed sleep. */
async function eventually(check: () => Promise<boolean>, timeoutMs = 5000): Promise<void> {
  const started = Date.now();
  while (!(await check())) {
    if (Date.now() - started > timeoutMs) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

describe('OpenID Back-Channel Logout 1.0', () => {
  let stack: BffStack;
  beforeAll(async () => {
    stack = await startBffStack();
  });
  afterAll(async () => {
    await stack.close();
  });

  const post = (body: string, contentType = 'application/x-www-form-urlencoded') =>
    fetch(`${stack.url}/auth/backchannel-logout`, {
      method: 'POST',
      headers: { 'content-type': contentType },
      body,
    });

  /** A logout token signed by the OP's real signing key. */
  async function logoutToken(
    change: (claims: Record<string, unknown>) => void = () => undefined,
    typ = 'logout+jwt',
    sid = 'sid-1',
  ): Promise<string> {
    const iat = Math.floor(stack.as.clock.now() / 1000);
    const claims: Record<string, unknown> = {
      iss: stack.as.issuer,
      aud: stack.client.clientId,
      sub: stack.alice.sub,
      sid,
      iat,
      exp: iat + 120,
      jti: randomBytes(12).toString('base64url'),
      events: { [EVENT]: {} },
    };
    change(claims);
    return (await stack.as.server.services.keys.sign(claims, typ)).jwt;
  }

  it('the user signs out at the OP: its notification ends the BFF session', async () => {
    const browser = new Browser();
    await stack.login(browser);
    expect(await stack.sessionOf(browser)).toBeDefined();
    // Logout at the OP itself (no hint): the confirmation page, then the form.
    const confirm = await browser.get(`${stack.as.issuer}/logout`);
    const form = parseForm(confirm.text);
    const done = await browser.postForm(new URL(form.action, stack.as.issuer).href, form.hidden);
    expect(done.status).toBe(200);
    await eventually(async () => (await stack.sessionOf(browser)) === undefined);
    expect(stack.audit.some((e) => e.action === 'bff.backchannel_logout' && e.outcome === 'success')).toBe(
      true,
    );
  });

  it('a valid token naming the OP session ends exactly the sessions of that sid', async () => {
    const a = new Browser();
    const b = new Browser();
    await stack.login(a);
    await stack.login(b);
    const sid = (await stack.sessionOf(a))!.opSid!;
    const response = await post(
      new URLSearchParams({ logout_token: await logoutToken(undefined, undefined, sid) }).toString(),
    );
    expect(response.status).toBe(200);
    expect(response.headers.get('cache-control')).toBe('no-store');
    expect(await stack.sessionOf(a)).toBeUndefined();
    expect(await stack.sessionOf(b)).toBeDefined();
  });

  const foreignKey = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
  const attacks: Array<{ name: string; body: () => Promise<string>; contentType?: string }> = [
    { name: 'no logout_token', body: () => Promise.resolve('') },
    {
      name: 'logout_token twice',
      body: async () => `logout_token=${await logoutToken()}&logout_token=${await logoutToken()}`,
    },
    { name: 'not a JWT', body: () => Promise.resolve('logout_token=not.a.jwt') },
    {
      name: 'JSON body instead of a form',
      contentType: 'application/json',
      body: async () => JSON.stringify({ logout_token: await logoutToken() }),
    },
    {
      name: 'an ID token (typ JWT)',
      body: async () => `logout_token=${await logoutToken(undefined, 'JWT')}`,
    },
    {
      name: 'events claim missing',
      body: async () => `logout_token=${await logoutToken((c) => delete c['events'])}`,
    },
    {
      name: 'events without the back-channel member',
      body: async () => `logout_token=${await logoutToken((c) => (c['events'] = { 'urn:other': {} }))}`,
    },
    {
      name: 'event member not an object',
      body: async () => `logout_token=${await logoutToken((c) => (c['events'] = { [EVENT]: 'yes' }))}`,
    },
    {
      name: 'nonce present',
      body: async () => `logout_token=${await logoutToken((c) => (c['nonce'] = 'n'))}`,
    },
    {
      name: 'audience of another client',
      body: async () => `logout_token=${await logoutToken((c) => (c['aud'] = 'other-client'))}`,
    },
    {
      name: 'another issuer',
      body: async () => `logout_token=${await logoutToken((c) => (c['iss'] = 'https://evil.example'))}`,
    },
    {
      name: 'expired',
      body: async () =>
        `logout_token=${await logoutToken((c) => {
          c['iat'] = (c['iat'] as number) - 3600;
          c['exp'] = (c['iat'] as number) + 120;
        })}`,
    },
    { name: 'no jti', body: async () => `logout_token=${await logoutToken((c) => delete c['jti'])}` },
    {
      name: 'neither sub nor sid',
      body: async () =>
        `logout_token=${await logoutToken((c) => {
          delete c['sub'];
          delete c['sid'];
        })}`,
    },
    {
      name: 'alg none',
      body: async () => {
        const payload = (await logoutToken()).split('.')[1]!;
        return `logout_token=${b64({ alg: 'none', typ: 'logout+jwt' })}.${payload}.`;
      },
    },
    {
      name: 'signed by a key the OP never published',
      body: async () => {
        const [header, payload] = (await logoutToken()).split('.');
        const signature = sign('sha256', Buffer.from(`${header!}.${payload!}`), {
          key: foreignKey,
          dsaEncoding: 'ieee-p1363',
        }).toString('base64url');
        return `logout_token=${header!}.${payload!}.${signature}`;
      },
    },
    {
      name: 'payload altered after signing',
      body: async () => {
        const [header, , signature] = (await logoutToken()).split('.');
        const forged = b64({ iss: stack.as.issuer, aud: stack.client.clientId, sub: 'someone-else' });
        return `logout_token=${header!}.${forged}.${signature!}`;
      },
    },
  ];

  it.each(attacks)('refused with 400 invalid_request: $name', async ({ body, contentType }) => {
    const browser = new Browser();
    await stack.login(browser);
    const response = await post(await body(), contentType);
    expect(response.status).toBe(400);
    expect(await response.json()).toEqual({ error: 'invalid_request' });
    expect(await stack.sessionOf(browser)).toBeDefined();
  });

  it('replay: the same logout token is accepted once', async () => {
    const token = await logoutToken(undefined, undefined, 'sid-replay');
    expect((await post(`logout_token=${token}`)).status).toBe(200);
    expect((await post(`logout_token=${token}`)).status).toBe(400);
  });
});
