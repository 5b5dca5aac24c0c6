import { hashToken } from '@gatehouse/core';
import { createVerifier } from '@gatehouse/guard';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLoginThrottle } from '../../src/interaction/login-throttle.js';
import {
  Browser,
  addUser,
  authorizeUrl,
  parseForm,
  pkce,
  signIn,
  type PageResponse,
} from '../helpers/browser-flow.js';
import { TestClock, describeEachStore, startAuthServer, type TestAuthServer } from '../helpers/harness.js';
import { REDIRECT_URI, newClient, tokenRequest, type TestClient } from '../helpers/oauth-client.js';

const PASSWORD = 'alice password 1';

/** Opens the login page of a fresh authorization request in `browser`. */
async function openLogin(
  as: TestAuthServer,
  browser: Browser,
  client: TestClient,
  extra: Record<string, string> = {},
) {
  return browser.get(
    authorizeUrl(as, {
      response_type: 'code',
      client_id: client.id,
      redirect_uri: REDIRECT_URI,
      scope: 'openid',
      state: 's',
      code_challenge: pkce().challenge,
      code_challenge_method: 'S256',
      ...extra,
    }),
  );
}

describeEachStore('login: form, session and CSRF', (stores) => {
  let as: TestAuthServer;
  let client: TestClient;
  let aliceSub: string;
  let bobSub: string;

  beforeAll(async () => {
    as = await startAuthServer({
      stores,
      // Failures from one address add up over this suite: no delay, no address lockout here.
      config: {
        login: {
          delayStepMs: 0,
          maxFailuresPerIp: 10_000,
          maxFailuresPerAccount: 1000,
          stuffingDistinctAccounts: 10_000,
        },
      },
    });
    client = await newClient(as, {
      grantTypes: ['authorization_code', 'refresh_token'],
      scopes: ['openid', 'profile'],
      firstParty: true,
    });
    aliceSub = (await addUser(as, { username: 'alice', password: PASSWORD })).sub;
    bobSub = (await addUser(as, { username: 'bob', password: 'bob password 1' })).sub;
  });
  afterAll(async () => {
    await as.close();
  });

  it('serves the login form: inputs username and password, hidden CSRF, strict CSP, never framed', async () => {
    const page = await openLogin(as, new Browser(), client);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toBe('text/html; charset=utf-8');
    const form = parseForm(page.text);
    expect(form).toMatchObject({
      action: `${as.url}/login`,
      method: 'post',
      inputs: ['csrf', 'username', 'password'],
    });
    expect(form.hidden['csrf']).toMatch(/^[A-Za-z0-9_-]{43}$/);
    const csp = page.headers.get('content-security-policy')!;
    const directives = Object.fromEntries(
      csp.split('; ').map((d) => [d.split(' ')[0], d.split(' ').slice(1).join(' ')]),
    );
    expect(directives).toMatchObject({
      'default-src': "'none'",
      'frame-ancestors': "'none'",
      'base-uri': "'none'",
      // The successful submission redirects to the client: browsers check form-action on it.
      'form-action': "'self' https://client.example",
    });
    expect(directives['style-src']).toMatch(/^'sha256-[A-Za-z0-9+/]+=*'$/);
    expect(csp).not.toContain('unsafe-inline');
    expect(csp).not.toContain('script-src');
    expect(page.text).not.toContain('<script');
    expect(page.headers.get('x-frame-options')).toBe('DENY');
    expect(page.headers.get('cache-control')).toBe('no-store');
  });

  it('sets the interaction cookie HttpOnly, SameSite=Lax, Path=/, without Secure on an http issuer', async () => {
    const browser = new Browser();
    await openLogin(as, browser, client);
    const cookie = browser.jar.get('gh_interaction')!;
    expect(cookie.attributes).toMatchObject({ path: '/', httponly: true, samesite: 'Lax' });
    expect(cookie.attributes).not.toHaveProperty('secure');
    expect(as.logs.join('')).toContain('session cookies are sent without Secure');
  });

  it('signs in through the real form; the code redeems to tokens naming the public sid, never the cookie', async () => {
    const browser = new Browser();
    const result = await signIn(as, browser, {
      clientId: client.id,
      redirectUri: REDIRECT_URI,
      username: 'ALICE',
      password: PASSWORD,
      scope: 'openid profile',
      nonce: 'nonce-1',
      state: 'state-1',
    });
    expect(result.consentShown).toBe(false);
    expect(result.params).toEqual({ code: expect.any(String), state: 'state-1', iss: as.url });

    const session = browser.jar.get('gh_session')!;
    expect(session.value).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(session.attributes).toMatchObject({
      path: '/',
      httponly: true,
      samesite: 'Lax',
      'max-age': '28800',
    });
    expect(session.attributes).not.toHaveProperty('secure');
    expect(browser.jar.get('gh_interaction')).toBeUndefined();

    const rows = await as.deps.db.selectFrom('sessions').selectAll().where('sub', '=', aliceSub).execute();
    const row = rows.find((r) => r.ended_at === null)!;
    // Only the hash of the cookie is stored; the public sid is another random value.
    expect(row.cookie_hash).toBe(hashToken(session.value));
    expect(JSON.stringify(rows)).not.toContain(session.value);
    expect(row.sid).not.toBe(session.value);

    const tokens = await tokenRequest(as, client, {
      grant_type: 'authorization_code',
      code: result.params['code'],
      redirect_uri: REDIRECT_URI,
      code_verifier: result.pkce.verifier,
    });
    expect(tokens.status).toBe(200);
    const verifier = createVerifier({
      issuer: as.url,
      audience: client.id,
      jwksUri: `${as.url}/jwks`,
      typ: 'JWT',
      now: as.clock.now,
    });
    const idToken = await verifier.verify(tokens.body['id_token'] as string);
    verifier.close();
    expect(idToken.claims).toMatchObject({
      sub: aliceSub,
      nonce: 'nonce-1',
      sid: row.sid,
      auth_time: Math.floor(as.clock.ms / 1000),
    });
    expect(as.audit).toContainEqual(
      expect.objectContaining({
        action: 'login.success',
        outcome: 'success',
        actor: expect.objectContaining({ sub: aliceSub }),
      }),
    );
    expect(as.audit).toContainEqual(
      expect.objectContaining({ action: 'authorization.code', outcome: 'success' }),
    );
  });

  it('reuses the session: a second authorization is answered at once (single sign-on)', async () => {
    const browser = new Browser();
    await signIn(as, browser, {
      clientId: client.id,
      redirectUri: REDIRECT_URI,
      username: 'alice',
      password: PASSWORD,
    });
    const again = await openLogin(as, browser, client, { state: 'again' });
    expect(again.status).toBe(302);
    expect(new URL(again.location!).searchParams.get('state')).toBe('again');
    expect(new URL(again.location!).searchParams.get('code')).toMatch(/^[A-Za-z0-9_-]{43}$/);
  });

  it('never adopts a planted session cookie: login issues a new value (session fixation)', async () => {
    const browser = new Browser();
    browser.jar.set('gh_session', 'AttackerChosenValue_0123456789abcdefghijklmno');
    await signIn(as, browser, {
      clientId: client.id,
      redirectUri: REDIRECT_URI,
      username: 'alice',
      password: PASSWORD,
    });
    const cookie = browser.jar.get('gh_session')!.value;
    expect(cookie).not.toBe('AttackerChosenValue_0123456789abcdefghijklmno');
    const planted = await as.deps.db
      .selectFrom('sessions')
      .select('sid')
      .where('cookie_hash', '=', hashToken('AttackerChosenValue_0123456789abcdefghijklmno'))
      .execute();
    expect(planted).toEqual([]);
  });

  it('rotates the cookie when the same user signs in again; the old value stops working', async () => {
    const browser = new Browser();
    await signIn(as, browser, {
      clientId: client.id,
      redirectUri: REDIRECT_URI,
      username: 'alice',
      password: PASSWORD,
    });
    const before = browser.jar.get('gh_session')!.value;
    as.clock.advance(30);
    const relogin = await signIn(as, browser, {
      clientId: client.id,
      redirectUri: REDIRECT_URI,
      username: 'alice',
      password: PASSWORD,
      extra: { prompt: 'login' },
    });
    const after = browser.jar.get('gh_session')!.value;
    expect(after).not.toBe(before);
    const code = await as.deps.db
      .selectFrom('authorization_codes')
      .select('auth_time')
      .where('code_hash', '=', hashToken(relogin.params['code']!))
      .executeTakeFirstOrThrow();
    expect(code.auth_time).toBe(as.clock.ms);

    const stale = new Browser();
    stale.jar.set('gh_session', before);
    const page = await openLogin(as, stale, client);
    expect(page.status).toBe(200);
    expect(parseForm(page.text).inputs).toContain('password');
  });

  it('ends the earlier session when another user signs in on the same browser', async () => {
    const browser = new Browser();
    await signIn(as, browser, {
      clientId: client.id,
      redirectUri: REDIRECT_URI,
      username: 'alice',
      password: PASSWORD,
    });
    const aliceCookie = browser.jar.get('gh_session')!.value;
    const aliceSession = await as.deps.db
      .selectFrom('sessions')
      .select('sid')
      .where('cookie_hash', '=', hashToken(aliceCookie))
      .executeTakeFirstOrThrow();
    await signIn(as, browser, {
      clientId: client.id,
      redirectUri: REDIRECT_URI,
      username: 'bob',
      password: 'bob password 1',
      extra: { prompt: 'login' },
    });
    const ended = await as.deps.db
      .selectFrom('sessions')
      .select(['ended_at'])
      .where('sid', '=', aliceSession.sid)
      .executeTakeFirstOrThrow();
    expect(ended.ended_at).not.toBeNull();
    const bob = await as.deps.db
      .selectFrom('sessions')
      .select('sub')
      .where('cookie_hash', '=', hashToken(browser.jar.get('gh_session')!.value))
      .executeTakeFirstOrThrow();
    expect(bob.sub).toBe(bobSub);
  });

  it('answers a wrong password and an unknown user identically (no account enumeration)', async () => {
    const browser = new Browser();
    const page = await openLogin(as, browser, client);
    const wrong = await browser.submit(as.url, page, { username: 'alice', password: 'not the password' });
    const unknown = await browser.submit(as.url, page, { username: 'mallory', password: 'not the password' });
    expect(wrong.status).toBe(401);
    expect(unknown.status).toBe(401);
    expect(unknown.text).toBe(wrong.text);
    expect(wrong.text).toContain('Invalid username or password.');
    expect(parseForm(wrong.text).inputs).toEqual(['csrf', 'username', 'password']);
    expect(browser.jar.get('gh_session')).toBeUndefined();
    const failures = as.audit.filter((e) => e.action === 'login.failure');
    expect(failures.at(-2)).toMatchObject({
      reason: 'bad_credentials',
      target: { type: 'user', id: aliceSub },
    });
    expect(failures.at(-1)).toMatchObject({ reason: 'bad_credentials' });
    expect(failures.at(-1)).not.toHaveProperty('target');
  });

  it('never writes a password or a cookie value into audit events or logs', async () => {
    const browser = new Browser();
    const page = await openLogin(as, browser, client);
    await browser.submit(as.url, page, { username: 'alice', password: 'Leaky-Secret-Value-1' });
    await signIn(as, browser, {
      clientId: client.id,
      redirectUri: REDIRECT_URI,
      username: 'alice',
      password: PASSWORD,
    });
    const everything = JSON.stringify(as.audit) + as.logs.join('');
    expect(everything).not.toContain('Leaky-Secret-Value-1');
    expect(everything).not.toContain(PASSWORD);
    expect(everything).not.toContain(browser.jar.get('gh_session')!.value);
  });

  // OWASP CSRF Prevention Cheat Sheet: synchronizer token bound to the interaction.
  const csrfCases: Array<{
    name: string;
    source: string;
    tamper: (b: Browser, page: PageResponse, other: PageResponse) => Record<string, string>;
  }> = [
    {
      name: 'no CSRF token',
      source: 'OWASP CSRF',
      tamper: () => ({ username: 'alice', password: PASSWORD }),
    },
    {
      name: 'a wrong CSRF token',
      source: 'OWASP CSRF',
      tamper: () => ({ csrf: 'x'.repeat(43), username: 'alice', password: PASSWORD }),
    },
    {
      name: "another interaction's token",
      source: 'OWASP CSRF',
      tamper: (_b, _p, other) => ({ ...parseForm(other.text).hidden, username: 'alice', password: PASSWORD }),
    },
    {
      name: 'no interaction cookie (a cross-site post: SameSite=Lax withholds it)',
      source: 'RFC 6265bis §8.8',
      tamper: (b, page) => {
        b.jar.delete('gh_interaction');
        return { ...parseForm(page.text).hidden, username: 'alice', password: PASSWORD };
      },
    },
  ];

  it.each(csrfCases)('refuses a login post with $name ($source)', async ({ tamper }) => {
    const browser = new Browser();
    const page = await openLogin(as, browser, client);
    const other = await openLogin(as, new Browser(), client);
    const form = tamper(browser, page, other);
    const answer = await browser.post(`${as.url}/login`, form);
    expect([400, 403]).toContain(answer.status);
    expect(answer.location).toBeUndefined();
    expect(browser.jar.get('gh_session')).toBeUndefined();
  });

  it('refuses the form once the interaction has expired', async () => {
    const browser = new Browser();
    const page = await openLogin(as, browser, client);
    as.clock.advance(601);
    const answer = await browser.submit(as.url, page, { username: 'alice', password: PASSWORD });
    expect(answer.status).toBe(400);
    expect(answer.text).toContain('expired');
    expect(browser.jar.get('gh_session')).toBeUndefined();
  });

  it('answers a form with a repeated field with an HTML error page (RFC 6749 §3.1)', async () => {
    const browser = new Browser();
    const page = await openLogin(as, browser, client);
    const csrf = parseForm(page.text).hidden['csrf']!;
    const response = await fetch(`${as.url}/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', cookie: browser.jar.header()! },
      body: `csrf=${csrf}&username=alice&username=bob&password=x`,
      redirect: 'manual',
    });
    expect(response.status).toBe(400);
    expect(response.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(response.headers.get('set-cookie')).toBeNull();
  });

  it('audits a CSRF refusal', async () => {
    const browser = new Browser();
    await openLogin(as, browser, client);
    const answer = await browser.post(`${as.url}/login`, {
      csrf: 'nope',
      username: 'alice',
      password: PASSWORD,
    });
    expect(answer.status).toBe(403);
    expect(as.audit.at(-1)).toMatchObject({ action: 'csrf.refuse', outcome: 'failure', reason: 'login' });
  });

  it('re-renders the pending login at GET /login and shows an expired page without an interaction', async () => {
    const browser = new Browser();
    const page = await openLogin(as, browser, client);
    const again = await browser.get(`${as.url}/login`);
    expect(again.status).toBe(200);
    expect(parseForm(again.text).hidden).toEqual(parseForm(page.text).hidden);
    const none = await new Browser().get(`${as.url}/login`);
    expect(none.status).toBe(400);
  });
});

describeEachStore('login: brute-force protection', (stores) => {
  let as: TestAuthServer;
  let client: TestClient;

  beforeAll(async () => {
    as = await startAuthServer({
      stores,
      config: {
        login: {
          delayStepMs: 0,
          maxFailuresPerAccount: 3,
          maxFailuresPerIp: 10_000,
          stuffingDistinctAccounts: 10_000,
          lockoutSec: 60,
        },
      },
    });
    client = await newClient(as, {
      grantTypes: ['authorization_code'],
      scopes: ['openid'],
      firstParty: true,
    });
    await addUser(as, { username: 'carol', password: 'carol password 1' });
  });
  afterAll(async () => {
    await as.close();
  });

  it('locks an account after N failures, even for the right password, until the lockout ends', async () => {
    const browser = new Browser();
    const page = await openLogin(as, browser, client);
    const statuses: number[] = [];
    for (let i = 0; i < 3; i++) {
      statuses.push(
        (await browser.submit(as.url, page, { username: 'carol', password: `wrong ${i}` })).status,
      );
    }
    expect(statuses).toEqual([401, 401, 429]);
    const locked = await browser.submit(as.url, page, { username: 'carol', password: 'carol password 1' });
    expect(locked.status).toBe(429);
    expect(Number(locked.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(locked.text).toContain('Too many failed sign-in attempts');
    expect(browser.jar.get('gh_session')).toBeUndefined();
    expect(as.audit).toContainEqual(
      expect.objectContaining({ action: 'login.lockout', outcome: 'failure', reason: 'account' }),
    );
    expect(as.audit.at(-1)).toMatchObject({ action: 'login.failure', reason: 'locked' });

    as.clock.advance(61);
    const after = await browser.submit(as.url, page, { username: 'carol', password: 'carol password 1' });
    expect(after.status).toBe(303);
    expect(browser.jar.get('gh_session')).toBeDefined();
  });

  it('locks unknown usernames the same way (a lockout reveals nothing)', async () => {
    const browser = new Browser();
    const page = await openLogin(as, browser, client);
    const statuses: number[] = [];
    for (let i = 0; i < 4; i++) {
      statuses.push(
        (await browser.submit(as.url, page, { username: 'nobody-here', password: `wrong ${i}` })).status,
      );
    }
    expect(statuses).toEqual([401, 401, 429, 429]);
  });

  it('counts usernames case-insensitively (no bypass by changing case)', async () => {
    await addUser(as, { username: 'dana', password: 'dana password 1' });
    const browser = new Browser();
    const page = await openLogin(as, browser, client);
    const statuses: number[] = [];
    for (const name of ['dana', 'DANA', 'Dana']) {
      statuses.push((await browser.submit(as.url, page, { username: name, password: 'wrong' })).status);
    }
    expect(statuses).toEqual([401, 401, 429]);
  });
});

describeEachStore('login: per-address lockout and progressive delay', (stores) => {
  it('locks a source address after N failures across usernames (password spraying)', async () => {
    const as = await startAuthServer({
      stores,
      config: { login: { delayStepMs: 0, maxFailuresPerAccount: 100, maxFailuresPerIp: 3 } },
    });
    try {
      const client = await newClient(as, {
        grantTypes: ['authorization_code'],
        scopes: ['openid'],
        firstParty: true,
      });
      await addUser(as, { username: 'erin', password: 'erin password 1' });
      const browser = new Browser();
      const page = await openLogin(as, browser, client);
      const statuses: number[] = [];
      for (const name of ['u1', 'u2', 'u3']) {
        statuses.push(
          (await browser.submit(as.url, page, { username: name, password: 'Winter2026!' })).status,
        );
      }
      expect(statuses).toEqual([401, 401, 429]);
      const right = await browser.submit(as.url, page, { username: 'erin', password: 'erin password 1' });
      expect(right.status).toBe(429);
      expect(as.audit).toContainEqual(expect.objectContaining({ action: 'login.lockout', reason: 'ip' }));
    } finally {
      await as.close();
    }
  });

  it('credential stuffing: many distinct usernames from one address lock it early, audited once', async () => {
    const as = await startAuthServer({
      stores,
      config: {
        login: {
          delayStepMs: 0,
          maxFailuresPerAccount: 100,
          maxFailuresPerIp: 1000,
          stuffingDistinctAccounts: 4,
        },
      },
    });
    try {
      const client = await newClient(as, {
        grantTypes: ['authorization_code'],
        scopes: ['openid'],
        firstParty: true,
      });
      await addUser(as, { username: 'gail', password: 'gail password 1' });
      const browser = new Browser();
      const page = await openLogin(as, browser, client);
      const statuses: number[] = [];
      // A breached list: one password per account, account after account. The same account twice is
      // not a new one.
      for (const name of ['s1', 's1', 's2', 's3', 's4', 's5']) {
        statuses.push(
          (await browser.submit(as.url, page, { username: name, password: `pw-${name}` })).status,
        );
      }
      expect(statuses).toEqual([401, 401, 401, 401, 429, 429]);
      expect(as.audit.filter((event) => event.action === 'login.credential_stuffing')).toEqual([
        expect.objectContaining({ outcome: 'failure', details: { distinctAccounts: 4 } }),
      ]);
      expect(as.audit).toContainEqual(
        expect.objectContaining({ action: 'login.lockout', reason: 'stuffing' }),
      );
      // The right password of another account from the same address is refused too while it is locked.
      const right = await browser.submit(as.url, page, { username: 'gail', password: 'gail password 1' });
      expect(right.status).toBe(429);
    } finally {
      await as.close();
    }
  });

  it('delays each answer by delayStepMs per earlier failure, before answering', async () => {
    const as = await startAuthServer({
      stores,
      config: { login: { delayStepMs: 150, maxFailuresPerAccount: 100, maxFailuresPerIp: 100 } },
    });
    try {
      const client = await newClient(as, {
        grantTypes: ['authorization_code'],
        scopes: ['openid'],
        firstParty: true,
      });
      await addUser(as, { username: 'finn', password: 'finn password 1' });
      const browser = new Browser();
      const page = await openLogin(as, browser, client);
      const timed = async (password: string): Promise<number> => {
        const started = performance.now();
        await browser.submit(as.url, page, { username: 'finn', password });
        return performance.now() - started;
      };
      const first = await timed('wrong 1');
      await timed('wrong 2');
      // Two earlier failures: 2 × 150 ms, applied to the right password too.
      const third = await timed('finn password 1');
      expect(third).toBeGreaterThanOrEqual(290);
      expect(third - first).toBeGreaterThan(200);
      expect(browser.jar.get('gh_session')).toBeDefined();
    } finally {
      await as.close();
    }
  });
});

describe('login throttle', () => {
  it('caps the progressive delay at 2 s and forgets account failures after a success', async () => {
    const as = await startAuthServer({
      clock: new TestClock(),
      config: { login: { delayStepMs: 700, maxFailuresPerAccount: 100, maxFailuresPerIp: 100 } },
    });
    try {
      const throttle = createLoginThrottle(as.deps);
      expect((await throttle.status('gus', '192.0.2.1')).delayMs).toBe(0);
      await throttle.recordFailure('gus', '192.0.2.1');
      expect((await throttle.status('gus', '192.0.2.1')).delayMs).toBe(700);
      for (let i = 0; i < 4; i++) await throttle.recordFailure('gus', '192.0.2.1');
      expect((await throttle.status('gus', '192.0.2.1')).delayMs).toBe(2000);
      await throttle.recordSuccess('gus');
      // The address keeps its count (spraying stays visible); another address starts clean.
      expect((await throttle.status('gus', '192.0.2.1')).delayMs).toBe(2000);
      expect((await throttle.status('gus', '192.0.2.2')).delayMs).toBe(0);
    } finally {
      await as.close();
    }
  });
});

describeEachStore('login on an https issuer', (stores) => {
  it('uses __Host- cookies with Secure (RFC 6265bis §4.1.3.2) and logs no plain-HTTP warning', async () => {
    const as = await startAuthServer({
      stores,
      config: { issuer: 'https://as.example', login: { delayStepMs: 0 } },
    });
    try {
      const client = await newClient(as, {
        grantTypes: ['authorization_code'],
        scopes: ['openid'],
        firstParty: true,
      });
      await addUser(as, { username: 'hugo', password: 'hugo password 1' });
      const browser = new Browser();
      const page = await openLogin(as, browser, client);
      expect(page.headers.getSetCookie()[0]).toMatch(
        /^__Host-gh_interaction=[A-Za-z0-9_-]{43}; Path=\/; HttpOnly; SameSite=Lax; Max-Age=600; Secure$/,
      );
      // The form posts to the issuer's https URL; the test reaches the same server over http.
      expect(parseForm(page.text).action).toBe('https://as.example/login');
      const answer = await browser.post(`${as.url}/login`, {
        ...parseForm(page.text).hidden,
        username: 'hugo',
        password: 'hugo password 1',
      });
      expect(answer.status).toBe(303);
      expect(browser.jar.get('__Host-gh_session')?.attributes).toMatchObject({
        secure: true,
        httponly: true,
        path: '/',
        samesite: 'Lax',
      });
      expect(browser.jar.get('__Host-gh_session')?.attributes).not.toHaveProperty('domain');
      expect(as.logs.join('')).not.toContain('without Secure');
    } finally {
      await as.close();
    }
  });
});
