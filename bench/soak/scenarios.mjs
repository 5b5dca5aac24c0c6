/**
 * The mixed load of the soak: what a day of the demo stack looks like, compressed. Every operation
 * is one HTTP request (a login or a revocation is a short chain of them); the scheduler picks
 * operations at random by weight, at a fixed rate. Each request says which status it expects, so
 * that a refused call that gets through, or an admitted one that is refused, is counted.
 *
 * Callers and their tokens:
 * - partner (client credentials, opaque access tokens: the gateway introspects and exchanges them)
 *   and internal (client credentials, JWT access tokens), each with a ring of its latest tokens,
 *   refilled by the token operations at a steady rate, as a fleet of client instances would;
 * - alice, bob and admin through the `cli` public client (authorization code + PKCE, opaque tokens):
 *   their refresh tokens are rotated all along (RFC 9700 §2.2.2), one rotation at a time per user;
 * - browsers through the BFF: two stay logged in for the whole run (the BFF refreshes their tokens
 *   before expiry), two log out and in again over and over (OIDC login form, RP-initiated logout).
 *
 * Refused calls (no token, unknown token, revoked token, wrong scope, undeclared path, another
 * user's object) are part of the mix. The gateway bans an address after 20 401s in a minute and
 * flags one with 100 404s: the refused calls without a usable token come from a pool of loopback
 * addresses (127.0.0.N), like scanners from many addresses, so that the well-behaved callers on
 * 127.0.0.1 are never banned.
 */
import { createHash, randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { Browser, parseForm } from './http-client.mjs';

/**
 * @typedef {object} DemoJson `<dataDir>/demo.json` (docs/architecture.md, "Contract: the demo stack").
 * @property {string} issuer
 * @property {string} gateway
 * @property {string} bff
 * @property {string} admin
 * @property {string} adminToken
 * @property {Record<'partner' | 'internal', { client_id: string, client_secret: string, scope: string }>
 *   & { cli: { client_id: string, redirect_uri: string, scope: string } }} clients
 * @property {Record<UserName, { username: string, password: string, sub: string }>} users
 */

/** @typedef {'alice' | 'bob' | 'admin'} UserName */

/**
 * @typedef {object} Operation
 * @property {string} id
 * @property {number} weight Share of the operations (the weights add up to about 100: a weight is
 *   about a percentage of the operations).
 * @property {() => Promise<void>} run
 */

/** Undeclared paths a scanner tries (404 at the gateway, before any authentication). */
const SCANNER_PATHS = [
  '/api/v2/accounts',
  '/api/users',
  '/admin',
  '/.env',
  '/api/accounts/a/b',
  '/wp-login.php',
];

/**
 * A bounded ring of recent values, picked at random.
 * @template T
 * @param {number} max
 */
function ring(max) {
  /** @type {T[]} */
  const items = [];
  let next = 0;
  return {
    /** @param {T} item */
    push(item) {
      if (items.length < max) items.push(item);
      else items[next] = item;
      next = (next + 1) % max;
    },
    /** @param {() => number} random */
    pick(random) {
      return items[Math.floor(random() * items.length)];
    },
    get size() {
      return items.length;
    },
  };
}

/**
 * @param {string} text
 * @returns {any}
 */
function parseJson(text) {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/**
 * RFC 6749 §2.3.1: client id and secret form-encoded, then Basic.
 * @param {string} id
 * @param {string} secret
 */
function basic(id, secret) {
  return `Basic ${Buffer.from(`${encodeURIComponent(id)}:${encodeURIComponent(secret)}`).toString('base64')}`;
}

const FORM = 'application/x-www-form-urlencoded';
const JSON_TYPE = 'application/json';

/**
 * @param {object} options
 * @param {import('./http-client.mjs').HttpClient} options.http
 * @param {import('./recorder.mjs').Recorder} options.recorder
 * @param {DemoJson} options.demo
 * @param {{ clientId: string, clientSecret: string }} options.gatewayClient The gateway's own client
 *   (`<dataDir>/stack-state.json`): the one client allowed to introspect.
 * @param {readonly string[]} options.pool Source addresses of the refused calls.
 * @param {() => number} options.random
 */
export function createScenarios({ http, recorder, demo, gatewayClient, pool, random }) {
  /** @type {Record<string, string>} */
  let endpoints = {};
  /** @type {Record<'partner' | 'internal', ReturnType<typeof ring<string>>>} */
  const tokens = { partner: ring(16), internal: ring(16) };
  let poolNext = 0;
  const fromPool = () => pool[poolNext++ % pool.length];

  /**
   * @typedef {object} User
   * @property {UserName} name
   * @property {string} accessToken cli access token (opaque)
   * @property {string} refreshToken
   * @property {Promise<void>} rotation The refresh in progress: one at a time per user, a refresh
   *   token is single-use and a reuse revokes the whole grant (RFC 9700 §4.14.2).
   * @property {string} firstAccount
   * @property {ReturnType<typeof ring<string>>} accounts
   * @property {ReturnType<typeof ring<string>>} orders
   */
  /** @type {User[]} */
  const users = [];

  /**
   * @typedef {object} BffBrowser
   * @property {User} user
   * @property {Browser} browser
   * @property {boolean} churn Logs out and in again (the others stay logged in).
   * @property {boolean} busy Logging in or out: no API call meanwhile.
   * @property {number} inFlight API calls under way with the browser's session.
   */
  /** @type {BffBrowser[]} */
  const browsers = [];

  /**
   * Sends and records one request.
   * @param {(request: import('./http-client.mjs').RequestOptions) => Promise<import('./http-client.mjs').Answer>} send
   * @param {string} label
   * @param {import('./http-client.mjs').RequestOptions} request
   * @param {number | readonly number[]} expected
   * @param {(body: any) => boolean} [check] Checks the JSON body of a 2xx answer.
   */
  async function callWith(send, label, request, expected, check) {
    const answer = await send(request);
    const statuses = typeof expected === 'number' ? [expected] : expected;
    let asExpected = statuses.includes(answer.status);
    if (asExpected && check !== undefined && answer.status < 300) asExpected = check(parseJson(answer.text));
    recorder.record(label, answer, asExpected, statuses.join('|'));
    return answer;
  }

  /**
   * @param {string} label
   * @param {import('./http-client.mjs').RequestOptions} request
   * @param {number | readonly number[]} expected
   * @param {(body: any) => boolean} [check]
   */
  const call = (label, request, expected, check) => callWith(http.send, label, request, expected, check);

  /**
   * @param {string} label
   * @param {Browser} browser
   * @param {import('./http-client.mjs').RequestOptions} request
   * @param {number | readonly number[]} expected
   * @param {(body: any) => boolean} [check]
   * @returns {Promise<import('./http-client.mjs').Page>}
   */
  const browse = async (label, browser, request, expected, check) =>
    /** @type {import('./http-client.mjs').Page} */ (
      await callWith((r) => browser.request(r), label, request, expected, check)
    );

  /**
   * @param {string | undefined} token
   * @param {Record<string, string>} [extra]
   */
  const bearer = (token, extra = {}) => ({
    ...(token === undefined ? {} : { authorization: `Bearer ${token}` }),
    ...extra,
  });

  /**
   * A client-credentials token for the gateway's audience (RFC 8707 resource).
   * @param {'partner' | 'internal'} client
   * @returns {Promise<string | undefined>}
   */
  async function clientToken(client) {
    const { client_id: id, client_secret: secret } = demo.clients[client];
    const answer = await call(
      client === 'partner' ? 'token: client credentials (opaque)' : 'token: client credentials (JWT)',
      {
        method: 'POST',
        url: endpoints['token_endpoint'] ?? '',
        headers: { authorization: basic(id, secret), 'content-type': FORM },
        body: new URLSearchParams({ grant_type: 'client_credentials', resource: demo.gateway }).toString(),
      },
      200,
      (body) => typeof body?.access_token === 'string',
    );
    return answer.status === 200 ? parseJson(answer.text)?.access_token : undefined;
  }

  /**
   * The authorization code flow of the `cli` public client (PKCE S256), as a command-line app runs
   * it: the login form of the auth server, consent when asked, the code from the redirect (nothing
   * listens on the redirect URI: the browser's Location header is enough), then the token request.
   * @param {UserName} name
   * @returns {Promise<{ access_token: string, refresh_token: string }>}
   */
  async function cliLogin(name) {
    const browser = new Browser(http.send);
    const cli = demo.clients.cli;
    const verifier = randomBytes(32).toString('base64url');
    const query = new URLSearchParams({
      response_type: 'code',
      client_id: cli.client_id,
      redirect_uri: cli.redirect_uri,
      scope: cli.scope,
      state: randomBytes(16).toString('base64url'),
      code_challenge: createHash('sha256').update(verifier).digest('base64url'),
      code_challenge_method: 'S256',
      resource: demo.gateway,
    });
    let page = await browse(
      'cli: authorize',
      browser,
      { url: `${endpoints['authorization_endpoint'] ?? ''}?${query.toString()}` },
      [200, 302, 303],
    );
    page = await passLoginAndConsent('cli', browser, page, demo.users[name]);
    const code = page.location?.startsWith(cli.redirect_uri)
      ? new URL(page.location).searchParams.get('code')
      : null;
    if (code === null) throw new Error(`cli login of ${name}: no code (status ${String(page.status)})`);
    const answer = await call(
      'cli: code for tokens',
      {
        method: 'POST',
        url: endpoints['token_endpoint'] ?? '',
        headers: { 'content-type': FORM },
        body: new URLSearchParams({
          grant_type: 'authorization_code',
          code,
          redirect_uri: cli.redirect_uri,
          code_verifier: verifier,
          client_id: cli.client_id,
        }).toString(),
      },
      200,
      (body) => typeof body?.refresh_token === 'string',
    );
    const body = parseJson(answer.text);
    if (answer.status !== 200 || typeof body?.refresh_token !== 'string')
      throw new Error(`cli login of ${name}: token request answered ${String(answer.status)}`);
    return body;
  }

  /**
   * The auth server's side of a login the browser was sent to: the login form when there is no
   * session at the auth server yet, the consent form when asked. Resolves the last answer, whose
   * Location is the client's redirect URI.
   * @param {string} prefix
   * @param {Browser} browser
   * @param {import('./http-client.mjs').Page} page The answer of the authorization endpoint.
   * @param {{ username: string, password: string }} user
   */
  async function passLoginAndConsent(prefix, browser, page, user) {
    let form = page.status === 200 ? parseForm(page.text) : undefined;
    if (form?.inputs.includes('password') === true) {
      page = await browse(
        `${prefix}: login form`,
        browser,
        {
          method: 'POST',
          url: new URL(form.action, demo.issuer).href,
          headers: { 'content-type': FORM },
          body: new URLSearchParams({
            ...form.hidden,
            username: user.username,
            password: user.password,
          }).toString(),
        },
        [302, 303],
      );
    }
    if (page.location === `${demo.issuer}/consent`)
      page = await browse(`${prefix}: consent`, browser, { url: page.location }, 200);
    form = page.status === 200 ? parseForm(page.text) : undefined;
    if (form?.buttons.includes('decision=approve') === true) {
      page = await browse(
        `${prefix}: consent`,
        browser,
        {
          method: 'POST',
          url: new URL(form.action, demo.issuer).href,
          headers: { 'content-type': FORM },
          body: new URLSearchParams({ ...form.hidden, decision: 'approve' }).toString(),
        },
        [302, 303],
      );
    }
    return page;
  }

  /**
   * Login through the BFF: its login route, the auth server's login form, the BFF's callback.
   * @param {BffBrowser} b
   */
  async function bffLogin(b) {
    const started = await browse(
      'bff: login start',
      b.browser,
      { url: `${demo.bff}/auth/login?returnTo=%2F` },
      303,
    );
    if (started.location === undefined) throw new Error(`bff login: ${String(started.status)}`);
    let page = await browse('bff: authorize', b.browser, { url: started.location }, [200, 302, 303]);
    page = await passLoginAndConsent('bff', b.browser, page, demo.users[b.user.name]);
    if (page.location?.startsWith(`${demo.bff}/auth/callback`) !== true)
      throw new Error(
        `bff login of ${b.user.name}: the auth server did not come back (${String(page.status)})`,
      );
    await browse('bff: callback', b.browser, { url: page.location }, 303);
  }

  /**
   * Logout through the BFF (refresh token revoked, cookie cleared), then the auth server's
   * end-session endpoint the BFF redirects to (RP-Initiated Logout 1.0), which ends the session
   * at the auth server: the next login shows the login form again.
   * @param {BffBrowser} b
   */
  async function bffLogout(b) {
    const page = await browse(
      'bff: logout',
      b.browser,
      { method: 'POST', url: `${demo.bff}/auth/logout`, headers: { origin: demo.bff, 'x-csrf': '1' } },
      303,
    );
    if (page.location?.startsWith(demo.issuer) === true)
      await browse('bff: end session at the auth server', b.browser, { url: page.location }, [200, 302, 303]);
    b.browser.clear();
  }

  /**
   * A user's turn to rotate the refresh token: the new pair replaces the old one.
   * @param {User} user
   */
  async function rotate(user) {
    const answer = await call(
      'cli: refresh token rotation',
      {
        method: 'POST',
        url: endpoints['token_endpoint'] ?? '',
        headers: { 'content-type': FORM },
        body: new URLSearchParams({
          grant_type: 'refresh_token',
          refresh_token: user.refreshToken,
          client_id: demo.clients.cli.client_id,
        }).toString(),
      },
      200,
      (body) => typeof body?.refresh_token === 'string' && body.refresh_token !== user.refreshToken,
    );
    const body = parseJson(answer.text);
    if (answer.status === 200 && typeof body?.refresh_token === 'string') {
      user.refreshToken = body.refresh_token;
      user.accessToken = body.access_token;
    } else {
      // Counted already; start a new grant so the rest of the run still has a user token.
      const fresh = await cliLogin(user.name);
      user.refreshToken = fresh.refresh_token;
      user.accessToken = fresh.access_token;
    }
  }

  const pickUser = () => /** @type {User} */ (users[Math.floor(random() * users.length)]);
  const pickToken = (/** @type {'partner' | 'internal'} */ client) =>
    /** @type {string} */ (tokens[client].pick(random));
  const gw = (/** @type {string} */ path) => `${demo.gateway}${path}`;
  const isArray = (/** @type {unknown} */ body) => Array.isArray(body);

  /** @param {User} user */
  async function createAccount(user) {
    const answer = await call(
      'gateway: POST /api/accounts (user, cli token)',
      {
        method: 'POST',
        url: gw('/api/accounts'),
        headers: bearer(user.accessToken, { 'content-type': JSON_TYPE }),
        body: JSON.stringify({ nickname: `soak ${user.name}` }),
      },
      201,
      (body) => typeof body?.id === 'string',
    );
    const id = parseJson(answer.text)?.id;
    if (answer.status === 201 && typeof id === 'string') user.accounts.push(id);
    return id;
  }

  /**
   * An order through the BFF (the session's token has orders:write), on one of the user's accounts.
   * @param {BffBrowser} b
   */
  async function createOrder(b) {
    const page = await browse(
      'bff: POST /api/orders',
      b.browser,
      {
        method: 'POST',
        url: `${demo.bff}/api/orders`,
        headers: { origin: demo.bff, 'x-csrf': '1', 'content-type': JSON_TYPE },
        body: JSON.stringify({
          accountId: b.user.accounts.pick(random) ?? b.user.firstAccount,
          amount: 1 + Math.floor(random() * 999),
        }),
      },
      201,
      (body) => typeof body?.id === 'string',
    );
    const id = parseJson(page.text)?.id;
    if (page.status === 201 && typeof id === 'string') b.user.orders.push(id);
  }

  /**
   * Runs `fn` with a browser that is not logging in or out (the long-lived ones never are), counted
   * in flight meanwhile.
   * @param {(b: BffBrowser) => Promise<void>} fn
   */
  async function withBrowser(fn) {
    const free = browsers.filter((b) => !b.busy);
    const b = /** @type {BffBrowser} */ (free[Math.floor(random() * free.length)]);
    b.inFlight++;
    try {
      await fn(b);
    } finally {
      b.inFlight--;
    }
  }

  /** @type {Operation[]} */
  const operations = [
    // Auth server: tokens, keys, introspection, revocation, refresh rotation.
    {
      id: 'token-opaque',
      weight: 2,
      run: async () => void pushToken('partner', await clientToken('partner')),
    },
    {
      id: 'token-jwt',
      weight: 2,
      run: async () => void pushToken('internal', await clientToken('internal')),
    },
    {
      id: 'jwks',
      weight: 2,
      run: async () =>
        void (await call('auth server: GET jwks', { url: endpoints['jwks_uri'] ?? '' }, 200, (b) =>
          Array.isArray(b?.keys),
        )),
    },
    {
      id: 'discovery',
      weight: 0.5,
      run: async () =>
        void (await call(
          'auth server: GET openid-configuration',
          { url: `${demo.issuer}/.well-known/openid-configuration` },
          200,
          (b) => b?.issuer === demo.issuer,
        )),
    },
    {
      id: 'introspect',
      weight: 2,
      run: async () =>
        void (await introspect('auth server: introspect (active)', pickToken('partner'), true)),
    },
    {
      id: 'revoke',
      weight: 0.5,
      run: async () => {
        const token = await clientToken('partner');
        if (token === undefined) return;
        const { client_id: id, client_secret: secret } = demo.clients.partner;
        await call(
          'auth server: revoke',
          {
            method: 'POST',
            url: endpoints['revocation_endpoint'] ?? '',
            headers: { authorization: basic(id, secret), 'content-type': FORM },
            body: new URLSearchParams({ token, token_type_hint: 'access_token' }).toString(),
          },
          200,
        );
        await introspect('auth server: introspect (revoked)', token, false);
        await call(
          'gateway: revoked token (refused)',
          { url: gw('/api/accounts'), headers: bearer(token), source: fromPool() },
          401,
        );
      },
    },
    {
      id: 'refresh',
      weight: 1,
      run: async () => {
        const user = pickUser();
        const turn = user.rotation.then(() => rotate(user));
        // The next rotation waits for this one, whatever its outcome (a failure is counted here).
        user.rotation = turn.catch(() => undefined);
        await turn;
      },
    },

    // Gateway, admitted: both token kinds, reads and writes on both services.
    {
      id: 'public-status',
      weight: 4,
      run: async () => void (await call('gateway: GET /public/status', { url: gw('/public/status') }, 200)),
    },
    .../** @type {const} */ (['partner', 'internal']).flatMap((client) => {
      const kind = client === 'partner' ? 'opaque' : 'JWT';
      return ['accounts', 'orders'].map((resource) => ({
        id: `${client}-list-${resource}`,
        weight: resource === 'accounts' ? 12 : 10,
        run: async () =>
          void (await call(
            `gateway: GET /api/${resource} (${kind} client token)`,
            { url: gw(`/api/${resource}?limit=20`), headers: bearer(pickToken(client)) },
            200,
            isArray,
          )),
      }));
    }),
    {
      id: 'user-list-accounts',
      weight: 5,
      run: async () =>
        void (await call(
          'gateway: GET /api/accounts (user, cli token)',
          { url: gw('/api/accounts?limit=20'), headers: bearer(pickUser().accessToken) },
          200,
          isArray,
        )),
    },
    {
      id: 'user-get-account',
      weight: 5,
      run: async () => {
        const user = pickUser();
        await call(
          'gateway: GET /api/accounts/{id} (own, cli token)',
          {
            url: gw(`/api/accounts/${user.accounts.pick(random) ?? user.firstAccount}`),
            headers: bearer(user.accessToken),
          },
          200,
          (body) => typeof body?.id === 'string',
        );
      },
    },
    { id: 'user-create-account', weight: 1.5, run: async () => void (await createAccount(pickUser())) },
    {
      id: 'user-list-orders',
      weight: 2.5,
      run: async () =>
        void (await call(
          'gateway: GET /api/orders (user, cli token)',
          { url: gw('/api/orders?limit=20'), headers: bearer(pickUser().accessToken) },
          200,
          isArray,
        )),
    },

    // BFF: API calls from logged-in browsers, and logins and logouts.
    ...[
      { id: 'bff-session', weight: 1.5, label: 'bff: GET /auth/session', path: '/auth/session' },
      { id: 'bff-list-accounts', weight: 4, label: 'bff: GET /api/accounts', path: '/api/accounts?limit=20' },
      { id: 'bff-list-orders', weight: 3.5, label: 'bff: GET /api/orders', path: '/api/orders?limit=20' },
    ].map(({ id, weight, label, path }) => ({
      id,
      weight,
      run: () =>
        withBrowser(async (b) => {
          const check =
            path === '/auth/session' ? (/** @type {any} */ body) => body?.authenticated === true : isArray;
          await browse(label, b.browser, { url: `${demo.bff}${path}` }, 200, check);
        }),
    })),
    { id: 'bff-create-order', weight: 1.5, run: () => withBrowser(createOrder) },
    {
      id: 'bff-get-order',
      weight: 3.5,
      run: () =>
        withBrowser(async (b) => {
          const order = b.user.orders.pick(random);
          if (order === undefined) return;
          await browse(
            'bff: GET /api/orders/{id}',
            b.browser,
            { url: `${demo.bff}/api/orders/${order}` },
            200,
            (body) => body?.id === order,
          );
        }),
    },
    {
      id: 'bff-relogin',
      weight: 0.1,
      run: async () => {
        const candidates = browsers.filter((b) => b.churn && !b.busy);
        const b = candidates[Math.floor(random() * candidates.length)];
        if (b === undefined) return;
        b.busy = true;
        try {
          // A call still in flight with the session's token would reach the gateway after the
          // logout revoked it: a 401 the scenario did not intend (and 401s ban the BFF's address).
          while (b.inFlight > 0) await sleep(20);
          await bffLogout(b);
          await bffLogin(b);
        } finally {
          b.busy = false;
        }
      },
    },

    // Refused calls.
    {
      id: 'refused-no-token',
      weight: 2,
      run: async () =>
        void (await call(
          'gateway: no token (refused)',
          { url: gw('/api/accounts'), source: fromPool() },
          401,
        )),
    },
    {
      id: 'refused-unknown-token',
      weight: 1,
      run: async () =>
        void (await call(
          'gateway: unknown token (refused)',
          {
            url: gw('/api/orders'),
            headers: bearer(randomBytes(24).toString('base64url')),
            source: fromPool(),
          },
          401,
        )),
    },
    {
      id: 'refused-wrong-scope-accounts',
      weight: 2,
      run: async () =>
        void (await call(
          'gateway: POST /api/accounts, no accounts:write (refused)',
          {
            method: 'POST',
            url: gw('/api/accounts'),
            headers: bearer(pickToken('partner'), { 'content-type': JSON_TYPE }),
            body: JSON.stringify({ nickname: 'partner' }),
          },
          403,
        )),
    },
    {
      id: 'refused-wrong-scope-orders',
      weight: 1,
      run: async () =>
        void (await call(
          'gateway: POST /api/orders, no orders:write (refused)',
          {
            method: 'POST',
            url: gw('/api/orders'),
            headers: bearer(pickToken('partner'), { 'content-type': JSON_TYPE }),
            body: JSON.stringify({ accountId: 'acc_0', amount: 1 }),
          },
          403,
        )),
    },
    {
      id: 'refused-client-creates',
      weight: 1,
      run: async () =>
        void (await call(
          'gateway: POST /api/accounts by a client, no user (refused by the service)',
          {
            method: 'POST',
            url: gw('/api/accounts'),
            headers: bearer(pickToken('internal'), { 'content-type': JSON_TYPE }),
            body: JSON.stringify({ nickname: 'robot' }),
          },
          403,
        )),
    },
    {
      id: 'refused-undeclared-path',
      weight: 2,
      run: async () =>
        void (await call(
          'gateway: undeclared path (404)',
          { url: gw(SCANNER_PATHS[Math.floor(random() * SCANNER_PATHS.length)] ?? '/'), source: fromPool() },
          404,
        )),
    },
    {
      id: 'refused-other-users-account',
      weight: 0.5,
      run: async () =>
        void (await call(
          "gateway: a user's account with a client token (404)",
          { url: gw(`/api/accounts/${pickUser().firstAccount}`), headers: bearer(pickToken('partner')) },
          404,
        )),
    },
  ];

  /**
   * @param {'partner' | 'internal'} client
   * @param {string | undefined} token
   */
  function pushToken(client, token) {
    if (token !== undefined) tokens[client].push(token);
  }

  /**
   * RFC 7662 introspection by the gateway's client (the one allowed to introspect).
   * @param {string} label
   * @param {string} token
   * @param {boolean} active
   */
  function introspect(label, token, active) {
    return call(
      label,
      {
        method: 'POST',
        url: endpoints['introspection_endpoint'] ?? '',
        headers: {
          authorization: basic(gatewayClient.clientId, gatewayClient.clientSecret),
          'content-type': FORM,
        },
        body: new URLSearchParams({ token, token_type_hint: 'access_token' }).toString(),
      },
      200,
      (body) => body?.active === active,
    );
  }

  return {
    operations,

    /**
     * Before the load: endpoints from discovery (the contract), tokens in the rings, the cli grants
     * of the three users with an account each, the BFF browsers logged in with an order each.
     * Throws when the stack does not behave as the scenarios expect.
     */
    async setup() {
      const discovery = await call(
        'auth server: GET openid-configuration',
        { url: `${demo.issuer}/.well-known/openid-configuration` },
        200,
      );
      endpoints = parseJson(discovery.text) ?? {};
      for (const name of [
        'token_endpoint',
        'authorization_endpoint',
        'jwks_uri',
        'introspection_endpoint',
        'revocation_endpoint',
      ]) {
        if (typeof endpoints[name] !== 'string') throw new Error(`discovery has no ${name}`);
      }
      for (let i = 0; i < 4; i++) {
        pushToken('partner', await clientToken('partner'));
        pushToken('internal', await clientToken('internal'));
      }
      if (tokens.partner.size === 0 || tokens.internal.size === 0)
        throw new Error('no client-credentials token');
      for (const name of /** @type {UserName[]} */ (['alice', 'bob', 'admin'])) {
        const granted = await cliLogin(name);
        /** @type {User} */
        const user = {
          name,
          accessToken: granted.access_token,
          refreshToken: granted.refresh_token,
          rotation: Promise.resolve(),
          firstAccount: '',
          accounts: ring(20),
          orders: ring(20),
        };
        const id = await createAccount(user);
        if (typeof id !== 'string')
          throw new Error(`${name} could not create an account through the gateway`);
        user.firstAccount = id;
        users.push(user);
      }
      const byName = (/** @type {UserName} */ name) =>
        /** @type {User} */ (users.find((u) => u.name === name));
      for (const [name, churn] of /** @type {[UserName, boolean][]} */ ([
        ['alice', false],
        ['bob', false],
        ['admin', true],
        ['bob', true],
      ])) {
        const b = { user: byName(name), browser: new Browser(http.send), churn, busy: false, inFlight: 0 };
        await bffLogin(b);
        browsers.push(b);
      }
      for (const b of browsers) await createOrder(b);
      if (users.some((u) => u.orders.size === 0))
        throw new Error('orders could not be created through the BFF');
    },
  };
}
