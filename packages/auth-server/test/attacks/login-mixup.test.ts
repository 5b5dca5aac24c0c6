import { randomBytes } from 'node:crypto';
import { afterAll, afterEach, beforeAll, beforeEach, expect, it } from 'vitest';
import { SecretWatch, auditSince, expectErrorPage, type AttackCase } from '../helpers/attack-table.js';
import {
  Browser,
  addUser,
  authorizeUrl,
  callbackParams,
  parseForm,
  pkce,
  signIn,
  type PageResponse,
} from '../helpers/browser-flow.js';
import { describeEachStore, startAuthServer, type TestAuthServer } from '../helpers/harness.js';
import { REDIRECT_URI, newClient, tokenRequest, type TestClient } from '../helpers/oauth-client.js';

/**
 * Attacks on the browser side of the flow: password guessing (OWASP Authentication Cheat Sheet,
 * NIST SP 800-63B §5.2.2: per-account and per-address lockout, audited, no account enumeration),
 * CSRF on the login and consent forms, session fixation (OWASP Session Management: a new session
 * id at login), AS mix-up (RFC 9207: `iss` in every authorization response, success and error),
 * clickjacking of the forms (`frame-ancestors 'none'`, `X-Frame-Options`), and, over the whole
 * table, no password, secret, cookie, code or token in the logs or the audit trail.
 */

const MAX_FAILURES = 3;
const LOCKOUT_SEC = 600;

interface Ctx {
  readonly as: TestAuthServer;
  readonly otherAs: TestAuthServer;
  /** First-party web client (no consent page). */
  readonly app: TestClient;
  /** Third-party web client (consent page). */
  readonly thirdParty: TestClient;
  /** Client of the same id at the other authorization server. */
  readonly otherAsApp: TestClient;
  readonly watch: SecretWatch;
}

interface TestUser {
  readonly username: string;
  readonly password: string;
  readonly sub: string;
}

async function newUser(ctx: Ctx, server = ctx.as): Promise<TestUser> {
  const username = `user-${randomBytes(5).toString('hex')}`;
  const password = `pw ${randomBytes(9).toString('base64url')}`;
  ctx.watch.add(`password of ${username}`, password);
  const user = await addUser(server, { username, password });
  return { username, password, sub: user.sub };
}

/** Remembers the cookie values and the CSRF token of a page (all secrets). */
function remember(ctx: Ctx, browser: Browser, page?: PageResponse): void {
  for (const name of browser.jar.names()) ctx.watch.add(`cookie ${name}`, browser.jar.get(name)?.value);
  if (page !== undefined && /<form\b/i.test(page.text))
    ctx.watch.add('csrf', parseForm(page.text).hidden['csrf']);
  const code = page?.location === undefined ? undefined : new URL(page.location).searchParams.get('code');
  if (code !== null && code !== undefined) ctx.watch.add('code', code);
}

const authorization = (client: TestClient, extra: Readonly<Record<string, string | undefined>> = {}) => ({
  response_type: 'code',
  client_id: client.id,
  redirect_uri: REDIRECT_URI,
  scope: 'openid',
  state: 'st-login',
  code_challenge: pkce().challenge,
  code_challenge_method: 'S256',
  ...extra,
});

/** The login form of a fresh authorization request in `browser`. */
async function openLogin(ctx: Ctx, browser: Browser, client = ctx.app): Promise<PageResponse> {
  const page = await browser.get(authorizeUrl(ctx.as, authorization(client)));
  expect(page.status).toBe(200);
  remember(ctx, browser, page);
  return page;
}

async function submit(ctx: Ctx, browser: Browser, page: PageResponse, fields: Record<string, string>) {
  const answer = await browser.submit(ctx.as.url, page, fields);
  remember(ctx, browser, answer);
  return answer;
}

/** `attempts` wrong passwords for `username`; the statuses of the answers. */
async function guess(ctx: Ctx, browser: Browser, page: PageResponse, username: string, attempts: number) {
  const statuses: number[] = [];
  for (let i = 0; i < attempts; i++) {
    statuses.push((await submit(ctx, browser, page, { username, password: `wrong guess ${i}` })).status);
  }
  return statuses;
}

/** A locked answer: 429, a Retry-After, the login form again, no session, no redirect. */
function expectLocked(answer: PageResponse, browser: Browser): void {
  expect(answer.status).toBe(429);
  expect(Number(answer.headers.get('retry-after'))).toBeGreaterThan(0);
  expect(answer.location).toBeUndefined();
  expect(answer.text).toContain('Too many failed sign-in attempts');
  expect(browser.jar.get('gh_session')).toBeUndefined();
}

// --- Brute force -------------------------------------------------------------------------------

interface LockoutCase extends AttackCase {
  /** Locks an account, then makes the attempt that must be refused; returns it and its browser. */
  readonly attack: (ctx: Ctx) => Promise<{ answer: PageResponse; browser: Browser }>;
}

/** Locks `user`'s account from a browser; returns that browser and its (still valid) login page. */
async function lockAccount(ctx: Ctx, username: string) {
  const browser = new Browser();
  const page = await openLogin(ctx, browser);
  const mark = ctx.as.audit.length;
  expect(await guess(ctx, browser, page, username, MAX_FAILURES)).toEqual([401, 401, 429]);
  // The lockout itself is audited, as a failure, without what was typed.
  expect(auditSince(ctx.as, mark)).toContainEqual(
    expect.objectContaining({ action: 'login.lockout', outcome: 'failure', reason: 'account' }),
  );
  return { browser, page };
}

const lockoutCases: LockoutCase[] = [
  {
    name: 'the correct password during an account lockout',
    source: 'OWASP Authentication Cheat Sheet (account lockout), NIST SP 800-63B §5.2.2',
    attack: async (ctx) => {
      const user = await newUser(ctx);
      const { browser, page } = await lockAccount(ctx, user.username);
      return {
        answer: await submit(ctx, browser, page, { username: user.username, password: user.password }),
        browser,
      };
    },
  },
  {
    name: 'the correct password from a fresh browser (new interaction, no cookies)',
    source: 'NIST SP 800-63B §5.2.2 (per account, not per session)',
    attack: async (ctx) => {
      const user = await newUser(ctx);
      await lockAccount(ctx, user.username);
      const browser = new Browser();
      const page = await openLogin(ctx, browser);
      return {
        answer: await submit(ctx, browser, page, { username: user.username, password: user.password }),
        browser,
      };
    },
  },
  {
    name: 'the correct password with the username in upper case',
    source: 'NIST SP 800-63B §5.2.2 (no bypass by spelling)',
    attack: async (ctx) => {
      const user = await newUser(ctx);
      const { browser, page } = await lockAccount(ctx, user.username);
      return {
        answer: await submit(ctx, browser, page, {
          username: user.username.toUpperCase(),
          password: user.password,
        }),
        browser,
      };
    },
  },
  {
    name: 'the correct password with the username in fullwidth letters (NFKC-equivalent)',
    source: 'NIST SP 800-63B §5.2.2, UAX #15',
    attack: async (ctx) => {
      const user = await newUser(ctx);
      const { browser, page } = await lockAccount(ctx, user.username);
      const fullwidth = user.username.replace(/[a-z]/g, (c) => String.fromCharCode(c.charCodeAt(0) + 0xfee0));
      return {
        answer: await submit(ctx, browser, page, { username: fullwidth, password: user.password }),
        browser,
      };
    },
  },
  {
    name: 'the correct password with spaces around the username',
    source: 'NIST SP 800-63B §5.2.2 (no bypass by spelling)',
    attack: async (ctx) => {
      const user = await newUser(ctx);
      const { browser, page } = await lockAccount(ctx, user.username);
      return {
        answer: await submit(ctx, browser, page, {
          username: `  ${user.username} `,
          password: user.password,
        }),
        browser,
      };
    },
  },
  {
    name: 'failures spread over several browsers still lock the account',
    source: 'NIST SP 800-63B §5.2.2',
    attack: async (ctx) => {
      const user = await newUser(ctx);
      const statuses: number[] = [];
      for (let i = 0; i < MAX_FAILURES - 1; i++) {
        const b = new Browser();
        statuses.push(...(await guess(ctx, b, await openLogin(ctx, b), user.username, 1)));
      }
      expect(statuses).toEqual([401, 401]);
      const browser = new Browser();
      return {
        answer: await submit(ctx, browser, await openLogin(ctx, browser), {
          username: user.username,
          password: 'another wrong one',
        }),
        browser,
      };
    },
  },
];

// --- CSRF ----------------------------------------------------------------------------------------

interface CsrfCase extends AttackCase {
  /** The form to attack. */
  readonly form: 'login' | 'consent';
  /** The value sent as `csrf` (undefined: none), given the right one and one from another browser. */
  readonly csrf: (own: string, foreign: string) => string | undefined;
}

const csrfCases: CsrfCase[] = [
  {
    name: 'login: no CSRF token',
    source: 'OWASP CSRF Cheat Sheet (synchronizer token)',
    form: 'login',
    csrf: () => undefined,
  },
  {
    name: 'login: a wrong CSRF token',
    source: 'OWASP CSRF Cheat Sheet',
    form: 'login',
    csrf: () => randomBytes(32).toString('base64url'),
  },
  { name: 'login: an empty CSRF token', source: 'OWASP CSRF Cheat Sheet', form: 'login', csrf: () => '' },
  {
    name: 'login: the CSRF token of another browser’s session',
    source: 'OWASP CSRF Cheat Sheet (token bound to the session)',
    form: 'login',
    csrf: (_own, foreign) => foreign,
  },
  {
    name: 'login: the right CSRF token truncated',
    source: 'OWASP CSRF Cheat Sheet',
    form: 'login',
    csrf: (own) => own.slice(0, -1),
  },
  {
    name: 'consent: no CSRF token',
    source: 'RFC 6749 §10.12, OWASP CSRF Cheat Sheet',
    form: 'consent',
    csrf: () => undefined,
  },
  {
    name: 'consent: a wrong CSRF token',
    source: 'RFC 6749 §10.12',
    form: 'consent',
    csrf: () => randomBytes(32).toString('base64url'),
  },
  {
    name: 'consent: the CSRF token of another browser’s session',
    source: 'RFC 6749 §10.12',
    form: 'consent',
    csrf: (_own, foreign) => foreign,
  },
];

// --- Mix-up (RFC 9207) -------------------------------------------------------------------------

interface MixUpCase extends AttackCase {
  /** Runs a flow to its final redirect to the client. */
  readonly response: (ctx: Ctx) => Promise<PageResponse>;
  readonly expected: { readonly error?: string; readonly code?: true };
}

/** A browser already signed in at `ctx.as` (third-party client consent not yet given). */
async function signedIn(ctx: Ctx): Promise<Browser> {
  const user = await newUser(ctx);
  const browser = new Browser();
  await signIn(ctx.as, browser, {
    clientId: ctx.app.id,
    redirectUri: REDIRECT_URI,
    username: user.username,
    password: user.password,
  });
  remember(ctx, browser);
  return browser;
}

const mixUpCases: MixUpCase[] = [
  {
    name: 'a successful response (code)',
    source: 'RFC 9207 §2',
    response: async (ctx) => (await signedIn(ctx)).get(authorizeUrl(ctx.as, authorization(ctx.app))),
    expected: { code: true },
  },
  {
    name: 'access_denied (the user denies consent)',
    source: 'RFC 9207 §2 (error responses too), RFC 6749 §4.1.2.1',
    response: async (ctx) => {
      const browser = await signedIn(ctx);
      const consent = await browser.get(authorizeUrl(ctx.as, authorization(ctx.thirdParty)));
      expect(consent.status).toBe(200);
      return browser.submit(ctx.as.url, consent, { decision: 'deny' });
    },
    expected: { error: 'access_denied' },
  },
  {
    name: 'login_required (prompt=none without a session)',
    source: 'RFC 9207 §2, OIDC Core §3.1.2.6',
    response: (ctx) => new Browser().get(authorizeUrl(ctx.as, authorization(ctx.app, { prompt: 'none' }))),
    expected: { error: 'login_required' },
  },
  {
    name: 'consent_required (prompt=none, third-party client)',
    source: 'RFC 9207 §2, OIDC Core §3.1.2.6',
    response: async (ctx) =>
      (await signedIn(ctx)).get(authorizeUrl(ctx.as, authorization(ctx.thirdParty, { prompt: 'none' }))),
    expected: { error: 'consent_required' },
  },
  {
    name: 'invalid_scope',
    source: 'RFC 9207 §2, RFC 6749 §4.1.2.1',
    response: (ctx) => new Browser().get(authorizeUrl(ctx.as, authorization(ctx.app, { scope: 'admin' }))),
    expected: { error: 'invalid_scope' },
  },
  {
    name: 'unsupported_response_type',
    source: 'RFC 9207 §2, RFC 6749 §4.1.2.1',
    response: (ctx) =>
      new Browser().get(authorizeUrl(ctx.as, authorization(ctx.app, { response_type: 'token' }))),
    expected: { error: 'unsupported_response_type' },
  },
  {
    name: 'invalid_request (PKCE missing)',
    source: 'RFC 9207 §2, RFC 6749 §4.1.2.1',
    response: (ctx) =>
      new Browser().get(authorizeUrl(ctx.as, authorization(ctx.app, { code_challenge: undefined }))),
    expected: { error: 'invalid_request' },
  },
  {
    name: 'invalid_target',
    source: 'RFC 9207 §2, RFC 8707 §2',
    response: (ctx) =>
      new Browser().get(
        authorizeUrl(ctx.as, authorization(ctx.app, { resource: 'https://attacker.example' })),
      ),
    expected: { error: 'invalid_target' },
  },
];

// --- Clickjacking --------------------------------------------------------------------------------

const framedPages: Array<AttackCase & { readonly page: (ctx: Ctx) => Promise<PageResponse> }> = [
  {
    name: 'the login form',
    source: 'RFC 6749 §10.13, RFC 9700 §4.16',
    page: async (ctx) => openLogin(ctx, new Browser()),
  },
  {
    name: 'the login form after a wrong password (401)',
    source: 'RFC 6749 §10.13',
    page: async (ctx) => {
      const browser = new Browser();
      return submit(ctx, browser, await openLogin(ctx, browser), {
        username: 'nobody-at-all',
        password: 'wrong password',
      });
    },
  },
  {
    name: 'the lockout page (429)',
    source: 'RFC 6749 §10.13',
    page: async (ctx) => {
      const browser = new Browser();
      const page = await openLogin(ctx, browser);
      const username = `locked-${randomBytes(4).toString('hex')}`;
      await guess(ctx, browser, page, username, MAX_FAILURES - 1);
      const locked = await submit(ctx, browser, page, { username, password: 'wrong again' });
      expect(locked.status).toBe(429);
      return locked;
    },
  },
  {
    name: 'the consent form',
    source: 'RFC 6749 §10.13, RFC 9700 §4.16',
    page: async (ctx) => (await signedIn(ctx)).get(authorizeUrl(ctx.as, authorization(ctx.thirdParty))),
  },
  {
    name: 'the error page of an invalid client',
    source: 'RFC 6749 §10.13',
    page: (ctx) =>
      new Browser().get(authorizeUrl(ctx.as, authorization(ctx.app, { client_id: 'no-such-client' }))),
  },
  {
    name: 'the expired-interaction page',
    source: 'RFC 6749 §10.13',
    page: (ctx) => new Browser().get(`${ctx.as.url}/login`),
  },
  {
    name: 'the CSRF refusal page',
    source: 'RFC 6749 §10.13',
    page: async (ctx) => {
      const browser = new Browser();
      await openLogin(ctx, browser);
      return browser.post(`${ctx.as.url}/login`, { username: 'a', password: 'b', csrf: 'forged-csrf-token' });
    },
  },
  {
    name: 'the logout confirmation form',
    source: 'RFC 6749 §10.13, OIDC RP-Initiated Logout §2',
    page: async (ctx) => (await signedIn(ctx)).get(`${ctx.as.url}/logout`),
  },
];

describeEachStore('attacks: login, CSRF, session fixation, mix-up, clickjacking', (stores) => {
  let ctx: Ctx;

  beforeAll(async () => {
    const config = {
      login: {
        delayStepMs: 0,
        maxFailuresPerAccount: MAX_FAILURES,
        maxFailuresPerIp: 1_000_000,
        stuffingDistinctAccounts: 1_000_000,
        lockoutSec: LOCKOUT_SEC,
      },
    };
    const as = await startAuthServer({ stores, config });
    const otherAs = await startAuthServer({ stores, config });
    const web = { grantTypes: ['authorization_code' as const], scopes: ['openid', 'profile'] };
    const app = await newClient(as, { ...web, firstParty: true });
    ctx = {
      as,
      otherAs,
      app,
      thirdParty: await newClient(as, web),
      otherAsApp: await newClient(otherAs, { ...web, firstParty: true, clientId: app.id }),
      watch: new SecretWatch(),
    };
    for (const client of [ctx.app, ctx.thirdParty, ctx.otherAsApp])
      ctx.watch.add(`secret ${client.id}`, client.secret);
  });
  afterAll(async () => {
    // Over the whole table: no password, secret, cookie, CSRF token, code or token was written.
    expect(ctx.watch.size).toBeGreaterThan(20);
    ctx.watch.expectNoLeaks(ctx.as);
    ctx.watch.expectNoLeaks(ctx.otherAs);
    await Promise.all([ctx.as.close(), ctx.otherAs.close()]);
  });

  it.each(lockoutCases)('refuses $name ($source)', async ({ attack }) => {
    const mark = ctx.as.audit.length;
    const { answer, browser } = await attack(ctx);
    expectLocked(answer, browser);
    const events = auditSince(ctx.as, mark).map((e) => `${e.action}:${e.outcome}`);
    expect(events).toContain('login.lockout:failure');
    expect(events.at(-1)).toMatch(/^login\.(failure|lockout):failure$/);
    expect(events).not.toContain('login.success:success');
  });

  it('lets the account in once the lockout has ended (positive control)', async () => {
    const user = await newUser(ctx);
    await lockAccount(ctx, user.username);
    ctx.as.clock.advance(LOCKOUT_SEC + 1);
    // A new login page: the old one expired with its interaction (interactionTtlSec).
    const browser = new Browser();
    const page = await openLogin(ctx, browser);
    const answer = await submit(ctx, browser, page, { username: user.username, password: user.password });
    expect(answer.status).toBe(303);
    expect(browser.jar.get('gh_session')).toBeDefined();
  });

  it('answers a wrong password and an unknown username identically (no account enumeration)', async () => {
    const user = await newUser(ctx);
    const browser = new Browser();
    const page = await openLogin(ctx, browser);
    const known = await submit(ctx, browser, page, { username: user.username, password: 'wrong password 1' });
    const unknown = await submit(ctx, browser, page, {
      username: `ghost-${randomBytes(4).toString('hex')}`,
      password: 'wrong password 1',
    });
    expect(known.status).toBe(401);
    expect([unknown.status, unknown.text]).toEqual([known.status, known.text]);
    expect(unknown.headers.getSetCookie().map((c) => c.split('=')[0])).toEqual(
      known.headers.getSetCookie().map((c) => c.split('=')[0]),
    );
  });

  it('locks an unknown username exactly like a known one (a lockout reveals nothing)', async () => {
    const user = await newUser(ctx);
    const browser = new Browser();
    const page = await openLogin(ctx, browser);
    const known = await guess(ctx, browser, page, user.username, MAX_FAILURES + 1);
    const ghost = await guess(
      ctx,
      browser,
      page,
      `ghost-${randomBytes(4).toString('hex')}`,
      MAX_FAILURES + 1,
    );
    expect(ghost).toEqual(known);
    expect(known).toEqual([401, 401, 429, 429]);
  });

  /** The page of `form` reached by `browser` for a new user: the login or the consent form. */
  const formPage = async (browser: Browser, form: 'login' | 'consent') => {
    const user = await newUser(ctx);
    const login = await openLogin(ctx, browser, form === 'consent' ? ctx.thirdParty : ctx.app);
    if (form === 'login') return { user, page: login };
    const toConsent = await submit(ctx, browser, login, { username: user.username, password: user.password });
    expect(toConsent.location).toBe(`${ctx.as.url}/consent`);
    const page = await browser.get(toConsent.location as string);
    remember(ctx, browser, page);
    return { user, page };
  };

  it.each(csrfCases)('refuses $name ($source)', async ({ form, csrf }) => {
    const victim = new Browser();
    const { user, page } = await formPage(victim, form);
    const foreign = parseForm((await formPage(new Browser(), form)).page.text).hidden['csrf'] as string;
    const own = parseForm(page.text).hidden['csrf'] as string;
    const fields: Record<string, string | undefined> =
      form === 'login' ? { username: user.username, password: user.password } : { decision: 'approve' };
    const mark = ctx.as.audit.length;
    const answer = await victim.post(`${ctx.as.url}/${form}`, { ...fields, csrf: csrf(own, foreign) });
    expect(answer.status).toBe(403);
    expect(answer.location).toBeUndefined();
    expect(answer.headers.get('content-security-policy')).toContain("frame-ancestors 'none'");
    if (form === 'login') expect(victim.jar.get('gh_session')).toBeUndefined();
    expect(auditSince(ctx.as, mark)).toContainEqual(
      expect.objectContaining({ action: 'csrf.refuse', reason: form }),
    );
    // Positive control: the right token from the same browser goes through.
    const control = await victim.post(`${ctx.as.url}/${form}`, { ...fields, csrf: own });
    expect(control.status).toBe(303);
  });

  it('refuses a login POST without the interaction cookie (cross-site form post, OWASP CSRF)', async () => {
    const user = await newUser(ctx);
    const page = await openLogin(ctx, new Browser());
    const answer = await new Browser().post(`${ctx.as.url}/login`, {
      csrf: parseForm(page.text).hidden['csrf'],
      username: user.username,
      password: user.password,
    });
    expect(answer.status).toBe(400);
    expect(answer.headers.getSetCookie().some((c) => c.startsWith('gh_session='))).toBe(false);
  });

  it('replaces a planted random session cookie at login (session fixation)', async () => {
    const user = await newUser(ctx);
    const browser = new Browser();
    const planted = randomBytes(32).toString('base64url');
    browser.jar.set('gh_session', planted);
    const result = await signIn(ctx.as, browser, {
      clientId: ctx.app.id,
      redirectUri: REDIRECT_URI,
      username: user.username,
      password: user.password,
    });
    remember(ctx, browser);
    expect(result.params['code']).toBeDefined();
    expect(browser.jar.get('gh_session')?.value).not.toBe(planted);
    // The planted value authenticates nobody.
    const withPlanted = new Browser();
    withPlanted.jar.set('gh_session', planted);
    expect(
      parseForm((await withPlanted.get(authorizeUrl(ctx.as, authorization(ctx.app)))).text).inputs,
    ).toContain('password');
  });

  it('never lets a planted attacker session become the victim’s (session fixation with a live session)', async () => {
    const attacker = await newUser(ctx);
    const victim = await newUser(ctx);
    const attackerBrowser = new Browser();
    await signIn(ctx.as, attackerBrowser, {
      clientId: ctx.app.id,
      redirectUri: REDIRECT_URI,
      username: attacker.username,
      password: attacker.password,
    });
    const attackerCookie = attackerBrowser.jar.get('gh_session')?.value as string;
    ctx.watch.add('attacker cookie', attackerCookie);
    // The attacker plants their session cookie in the victim's browser; the victim signs in.
    const victimBrowser = new Browser();
    victimBrowser.jar.set('gh_session', attackerCookie);
    const page = await victimBrowser.get(authorizeUrl(ctx.as, authorization(ctx.app, { prompt: 'login' })));
    remember(ctx, victimBrowser, page);
    const answer = await submit(ctx, victimBrowser, page, {
      username: victim.username,
      password: victim.password,
    });
    expect(answer.status).toBe(303);
    expect(victimBrowser.jar.get('gh_session')?.value).not.toBe(attackerCookie);
    // The attacker's cookie no longer opens any session (neither theirs nor the victim's).
    const replay = await attackerBrowser.get(authorizeUrl(ctx.as, authorization(ctx.app)));
    expect(replay.status).toBe(200);
    expect(parseForm(replay.text).inputs).toContain('password');
  });

  it('advertises RFC 9207 support and the exact issuer in discovery', async () => {
    const metadata = (await (await fetch(`${ctx.as.url}/.well-known/openid-configuration`)).json()) as Record<
      string,
      unknown
    >;
    expect(metadata).toMatchObject({
      issuer: ctx.as.url,
      authorization_response_iss_parameter_supported: true,
    });
  });

  it.each(mixUpCases)('puts iss in $name ($source)', async ({ response, expected }) => {
    const answer = await response(ctx);
    expect([302, 303]).toContain(answer.status);
    const params = callbackParams(answer.location);
    if (params['code'] !== undefined) ctx.watch.add('code', params['code']);
    expect(params['iss']).toBe(ctx.as.url);
    expect(params['state']).toBe('st-login');
    if (expected.code === true) expect(params['code']).toEqual(expect.any(String));
    else expect(params).toMatchObject({ error: expected.error });
  });

  it('lets a client detect a response from another AS: other iss, and its code is refused here (RFC 9207 §2.4)', async () => {
    const user = await newUser(ctx, ctx.otherAs);
    const browser = new Browser();
    const verifier = pkce();
    const result = await signIn(ctx.otherAs, browser, {
      clientId: ctx.otherAsApp.id,
      redirectUri: REDIRECT_URI,
      username: user.username,
      password: user.password,
      pkce: verifier,
      state: 'st-login',
    });
    const code = result.params['code'] as string;
    ctx.watch.add('other AS code', code);
    // The client expected ctx.as: the iss check alone exposes the mix-up.
    expect(result.params['iss']).toBe(ctx.otherAs.url);
    expect(result.params['iss']).not.toBe(ctx.as.url);
    // And the code sent to the wrong token endpoint is worthless there.
    const stolen = await tokenRequest(ctx.as, ctx.app, {
      grant_type: 'authorization_code',
      code,
      redirect_uri: REDIRECT_URI,
      code_verifier: verifier.verifier,
    });
    expect(stolen.status).toBe(400);
    expect(stolen.body['error']).toBe('invalid_grant');
  });

  it.each(framedPages)('forbids framing $name ($source)', async ({ page }) => {
    const answer = await page(ctx);
    expect(answer.headers.get('content-type')).toBe('text/html; charset=utf-8');
    const csp = answer.headers.get('content-security-policy') ?? '';
    expect(csp.split(';').map((d) => d.trim())).toContain("frame-ancestors 'none'");
    expect(answer.headers.get('x-frame-options')).toBe('DENY');
    expect(answer.headers.get('cache-control')).toBe('no-store');
  });

  it('keeps the error page of an invalid client free of any form (positive check of the page shape)', async () => {
    expectErrorPage(
      await new Browser().get(authorizeUrl(ctx.as, authorization(ctx.app, { client_id: 'no-such-client' }))),
    );
  });
});

// --- Per-address lockout (password spraying): a server of its own per case, as a locked
// address locks every login from it.

interface SprayCase extends AttackCase {
  /** After the address is locked: the attempt that must be refused. */
  readonly attempt: (victim: TestUser) => { username: string; password: string };
}

const sprayCases: SprayCase[] = [
  {
    name: 'the correct password of another account from a locked address',
    source: 'OWASP Authentication Cheat Sheet (password spraying), NIST SP 800-63B §5.2.2',
    attempt: (victim) => ({ username: victim.username, password: victim.password }),
  },
  {
    name: 'a new username from a locked address',
    source: 'NIST SP 800-63B §5.2.2',
    attempt: () => ({ username: 'yet-another-name', password: 'Winter2026!' }),
  },
];

describeEachStore('attacks: per-address lockout', (stores) => {
  let as: TestAuthServer;
  let victim: TestUser;
  let client: TestClient;
  const watch = new SecretWatch();

  beforeEach(async () => {
    as = await startAuthServer({
      stores,
      config: {
        login: { delayStepMs: 0, maxFailuresPerIp: 3, maxFailuresPerAccount: 1000, lockoutSec: 300 },
      },
    });
    client = await newClient(as, {
      grantTypes: ['authorization_code'],
      scopes: ['openid'],
      firstParty: true,
    });
    const password = `pw ${randomBytes(9).toString('base64url')}`;
    watch.add('victim password', password);
    victim = { username: 'victim', password, sub: (await addUser(as, { username: 'victim', password })).sub };
  });
  afterEach(async () => {
    watch.expectNoLeaks(as);
    await as.close();
  });

  const loginPage = async (browser: Browser) => browser.get(authorizeUrl(as, authorization(client)));

  it.each(sprayCases)('refuses $name ($source)', async ({ attempt }) => {
    const browser = new Browser();
    const page = await loginPage(browser);
    const statuses: number[] = [];
    const mark = as.audit.length;
    for (const username of ['spray-a', 'spray-b', 'spray-c']) {
      statuses.push((await browser.submit(as.url, page, { username, password: 'Winter2026!' })).status);
    }
    expect(statuses).toEqual([401, 401, 429]);
    expect(auditSince(as, mark)).toContainEqual(
      expect.objectContaining({ action: 'login.lockout', reason: 'ip' }),
    );
    const fresh = new Browser();
    const answer = await fresh.submit(as.url, await loginPage(fresh), attempt(victim));
    expectLocked(answer, fresh);
  });

  it('lets the address in again once the lockout has ended (positive control)', async () => {
    const browser = new Browser();
    const page = await loginPage(browser);
    for (const username of ['spray-a', 'spray-b', 'spray-c'])
      await browser.submit(as.url, page, { username, password: 'Winter2026!' });
    as.clock.advance(301);
    const answer = await browser.submit(as.url, page, {
      username: victim.username,
      password: victim.password,
    });
    expect(answer.status).toBe(303);
  });

  it('accepts a correct login from a fresh address history (positive control)', async () => {
    const browser = new Browser();
    const answer = await browser.submit(as.url, await loginPage(browser), {
      username: victim.username,
      password: victim.password,
    });
    expect(answer.status).toBe(303);
  });
});
