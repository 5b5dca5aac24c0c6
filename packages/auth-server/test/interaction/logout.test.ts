import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createVerifier } from '@gatehouse/guard';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { REVOCATION_CHANNEL } from '../../src/index.js';
import { Browser, addUser, eventually, parseForm, signIn } from '../helpers/browser-flow.js';
import { describeEachStore, startAuthServer, type TestAuthServer } from '../helpers/harness.js';
import { REDIRECT_URI, newClient, tokenRequest, type TestClient } from '../helpers/oauth-client.js';

const PASSWORD = 'logout password 1';
const AFTER_LOGOUT = 'https://client.example/signed-out';

interface Received {
  readonly path: string;
  readonly contentType: string | undefined;
  readonly body: URLSearchParams;
}

/** A relying party's back-channel logout endpoint: a real local HTTP server. */
class LogoutReceiver {
  readonly received: Received[] = [];
  /** Per path: the status to answer, or 'hang' to never answer. */
  readonly behaviour = new Map<string, number | 'hang'>();
  readonly #server: Server;
  readonly #hanging: ServerResponse[] = [];

  constructor() {
    this.#server = createServer((request: IncomingMessage, response: ServerResponse) => {
      const chunks: Buffer[] = [];
      request.on('data', (chunk: Buffer) => chunks.push(chunk));
      request.on('end', () => {
        const path = request.url ?? '';
        this.received.push({
          path,
          contentType: request.headers['content-type'],
          body: new URLSearchParams(Buffer.concat(chunks).toString('utf8')),
        });
        const behaviour = this.behaviour.get(path) ?? 200;
        if (behaviour === 'hang') this.#hanging.push(response);
        else response.writeHead(behaviour, { 'cache-control': 'no-store' }).end();
      });
    });
  }

  async listen(): Promise<string> {
    await new Promise<void>((resolve) => this.#server.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(this.#server.address() as AddressInfo).port}`;
  }

  async close(): Promise<void> {
    for (const response of this.#hanging) response.destroy();
    this.#server.closeAllConnections();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }
}

describeEachStore('RP-initiated and back-channel logout', (stores) => {
  let as: TestAuthServer;
  let receiver: LogoutReceiver;
  let base: string;
  let withChannel: TestClient;
  let alsoChannel: TestClient;
  let noChannel: TestClient;
  let notInSession: TestClient;
  let failing: TestClient;
  let slow: TestClient;
  let sub: string;
  const revocations: string[] = [];

  beforeAll(async () => {
    receiver = new LogoutReceiver();
    base = await receiver.listen();
    receiver.behaviour.set('/failing', 500);
    receiver.behaviour.set('/slow', 'hang');
    as = await startAuthServer({
      stores,
      config: { login: { delayStepMs: 0, backchannelLogoutTimeoutMs: 200 } },
    });
    await as.deps.state.subscribe(REVOCATION_CHANNEL, (message) => revocations.push(message));
    const client = (path: string | null) =>
      newClient(as, {
        grantTypes: ['authorization_code', 'refresh_token'],
        scopes: ['openid', 'profile'],
        firstParty: true,
        postLogoutRedirectUris: [AFTER_LOGOUT],
        backchannelLogoutUri: path === null ? null : `${base}${path}`,
      });
    withChannel = await client('/a');
    alsoChannel = await client('/b');
    noChannel = await client(null);
    notInSession = await client('/not-in-session');
    failing = await client('/failing');
    slow = await client('/slow');
    sub = (await addUser(as, { username: 'wes', password: PASSWORD })).sub;
  });
  afterAll(async () => {
    await as.close();
    await receiver.close();
  });

  /** Signs in to each client in one browser (single sign-on); returns the tokens of the first. */
  async function session(clients: readonly TestClient[]) {
    const browser = new Browser();
    let first: Record<string, unknown> | undefined;
    for (const c of clients) {
      const result = await signIn(as, browser, {
        clientId: c.id,
        redirectUri: REDIRECT_URI,
        username: 'wes',
        password: PASSWORD,
        scope: 'openid profile',
      });
      const tokens = await tokenRequest(as, c, {
        grant_type: 'authorization_code',
        code: result.params['code'],
        redirect_uri: REDIRECT_URI,
        code_verifier: result.pkce.verifier,
      });
      expect(tokens.status).toBe(200);
      first ??= tokens.body;
    }
    const tokens = first as { id_token: string; access_token: string; refresh_token: string };
    const sid = JSON.parse(Buffer.from(tokens.id_token.split('.')[1]!, 'base64url').toString('utf8'))
      .sid as string;
    return { browser, tokens, sid };
  }

  const logoutUrl = (params: Record<string, string | undefined>): string => {
    const query = new URLSearchParams();
    for (const [name, value] of Object.entries(params)) if (value !== undefined) query.append(name, value);
    return `${as.url}/logout?${query.toString()}`;
  };

  async function sessionEnded(sid: string): Promise<boolean> {
    const row = await as.deps.db
      .selectFrom('sessions')
      .select('ended_at')
      .where('sid', '=', sid)
      .executeTakeFirstOrThrow();
    return row.ended_at !== null;
  }

  it('logs out at once with a valid id_token_hint, revokes the session grants and notifies every client', async () => {
    const { browser, tokens, sid } = await session([withChannel, alsoChannel, noChannel]);
    const before = receiver.received.length;
    const answer = await browser.get(
      logoutUrl({ id_token_hint: tokens.id_token, post_logout_redirect_uri: AFTER_LOGOUT, state: 'bye' }),
    );
    expect(answer.status).toBe(302);
    expect(answer.location).toBe(`${AFTER_LOGOUT}?state=bye`);
    expect(
      answer.headers.getSetCookie().some((c) => c.startsWith('gh_session=;') && c.includes('Max-Age=0')),
    ).toBe(true);
    expect(browser.jar.get('gh_session')).toBeUndefined();
    expect(await sessionEnded(sid)).toBe(true);

    // The refresh family and the access token die with the session.
    const refresh = await tokenRequest(as, withChannel, {
      grant_type: 'refresh_token',
      refresh_token: tokens.refresh_token,
    });
    expect(refresh.body).toMatchObject({ error: 'invalid_grant' });
    const info = await fetch(`${as.url}/userinfo`, {
      headers: { authorization: `Bearer ${tokens.access_token}` },
    });
    expect(info.status).toBe(401);
    expect(revocations).toContain(JSON.stringify({ sid }));

    // OIDC Back-Channel Logout 1.0 §2.5: one POST per client with a URI, form field logout_token.
    const notices = await eventually(() => {
      const mine = receiver.received.slice(before);
      return mine.length >= 2 ? mine : undefined;
    });
    expect(notices.map((n) => n.path).sort()).toEqual(['/a', '/b']);
    for (const [notice, client] of [
      [notices.find((n) => n.path === '/a')!, withChannel],
      [notices.find((n) => n.path === '/b')!, alsoChannel],
    ] as const) {
      expect(notice.contentType).toBe('application/x-www-form-urlencoded');
      const verifier = createVerifier({
        issuer: as.url,
        audience: client.id,
        jwksUri: `${as.url}/jwks`,
        typ: 'logout+jwt',
        requiredClaims: ['iss', 'aud', 'iat', 'exp', 'jti', 'sub'],
        now: as.clock.now,
      });
      const token = await verifier.verify(notice.body.get('logout_token')!);
      verifier.close();
      expect(token.claims).toMatchObject({
        iss: as.url,
        aud: client.id,
        sub,
        sid,
        events: { 'http://schemas.openid.net/event/backchannel-logout': {} },
      });
      // §2.4: a logout token never carries a nonce.
      expect(token.claims).not.toHaveProperty('nonce');
    }
    expect(as.audit).toContainEqual(
      expect.objectContaining({ action: 'logout', outcome: 'success', details: { clients: 3 } }),
    );
    await eventually(() =>
      as.audit.filter((e) => e.action === 'logout.backchannel' && e.outcome === 'success').length >= 2
        ? true
        : undefined,
    );
    // A client outside the session hears nothing.
    const outside = new URL(notInSession.client.backchannelLogoutUri!).pathname;
    expect(receiver.received.some((n) => n.path === outside)).toBe(false);
  });

  it('accepts an expired id_token_hint (RP-Initiated Logout §2)', async () => {
    const { browser, tokens, sid } = await session([noChannel]);
    as.clock.advance(3600);
    const answer = await browser.get(logoutUrl({ id_token_hint: tokens.id_token }));
    expect(answer.status).toBe(200);
    expect(answer.text).toContain('You are signed out.');
    expect(await sessionEnded(sid)).toBe(true);
  });

  it('asks for confirmation without a hint, refuses a forged confirmation, and logs out on the real one', async () => {
    const { browser, sid } = await session([noChannel]);
    const page = await browser.get(
      logoutUrl({ client_id: noChannel.id, post_logout_redirect_uri: AFTER_LOGOUT, state: 'st' }),
    );
    expect(page.status).toBe(200);
    expect(await sessionEnded(sid)).toBe(false);
    const form = parseForm(page.text);
    expect(form).toMatchObject({ action: `${as.url}/logout`, method: 'post' });
    expect(form.hidden['csrf']).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(page.headers.get('content-security-policy')).toContain("frame-ancestors 'none'");
    expect(page.headers.get('content-security-policy')).toContain(
      "form-action 'self' https://client.example",
    );

    const forged = await browser.post(`${as.url}/logout`, { csrf: 'y'.repeat(43), confirm: 'yes' });
    expect(forged.status).toBe(403);
    expect(await sessionEnded(sid)).toBe(false);
    const crossSite = new Browser();
    crossSite.jar.set('gh_session', browser.jar.get('gh_session')!.value);
    const withoutLogoutCookie = await crossSite.post(`${as.url}/logout`, { ...form.hidden, confirm: 'yes' });
    expect(withoutLogoutCookie.status).toBe(403);
    expect(await sessionEnded(sid)).toBe(false);

    const confirmed = await browser.submit(as.url, page, { confirm: 'yes' });
    expect(confirmed.status).toBe(303);
    expect(confirmed.location).toBe(`${AFTER_LOGOUT}?state=st`);
    expect(await sessionEnded(sid)).toBe(true);
    expect(browser.jar.get('gh_session')).toBeUndefined();
  });

  it('asks for confirmation when the hint names another user than the session', async () => {
    await addUser(as, { username: 'xena', password: PASSWORD });
    const other = new Browser();
    const result = await signIn(as, other, {
      clientId: noChannel.id,
      redirectUri: REDIRECT_URI,
      username: 'xena',
      password: PASSWORD,
      scope: 'openid',
    });
    const xenaTokens = await tokenRequest(as, noChannel, {
      grant_type: 'authorization_code',
      code: result.params['code'],
      redirect_uri: REDIRECT_URI,
      code_verifier: result.pkce.verifier,
    });
    const { browser, sid } = await session([noChannel]);
    const page = await browser.get(logoutUrl({ id_token_hint: xenaTokens.body['id_token'] as string }));
    expect(page.status).toBe(200);
    expect(parseForm(page.text).buttons).toEqual(['confirm=yes']);
    expect(await sessionEnded(sid)).toBe(false);
  });

  it('redirects at once when there is no session to end (the URI is registered)', async () => {
    const { tokens } = await session([noChannel]);
    const answer = await new Browser().get(
      logoutUrl({ id_token_hint: tokens.id_token, post_logout_redirect_uri: AFTER_LOGOUT }),
    );
    expect(answer.status).toBe(302);
    expect(answer.location).toBe(AFTER_LOGOUT);
  });

  // RP-Initiated Logout §2-3: never an open redirect; errors are shown, not redirected.
  const refused: Array<{
    name: string;
    source: string;
    params: (hint: string) => Record<string, string | undefined>;
  }> = [
    {
      name: 'an unregistered post_logout_redirect_uri',
      source: 'RP-Initiated Logout §3',
      params: (hint) => ({ id_token_hint: hint, post_logout_redirect_uri: 'https://evil.example/' }),
    },
    {
      name: 'a post_logout_redirect_uri with a path appended',
      source: 'RP-Initiated Logout §3',
      params: (hint) => ({ id_token_hint: hint, post_logout_redirect_uri: `${AFTER_LOGOUT}/x` }),
    },
    {
      name: 'a post_logout_redirect_uri without hint or client_id',
      source: 'RP-Initiated Logout §3',
      params: () => ({ post_logout_redirect_uri: AFTER_LOGOUT }),
    },
    {
      name: 'a client_id that is not the hint audience',
      source: 'RP-Initiated Logout §2',
      params: (hint) => ({ id_token_hint: hint, client_id: withChannel.id }),
    },
    {
      name: 'an unknown client_id',
      source: 'RP-Initiated Logout §2',
      params: () => ({ client_id: 'nobody', post_logout_redirect_uri: AFTER_LOGOUT }),
    },
    {
      name: 'a hint with a forged signature',
      source: 'RP-Initiated Logout §2',
      params: (hint) => ({
        id_token_hint: `${hint.slice(0, hint.lastIndexOf('.'))}.${'A'.repeat(86)}`,
        post_logout_redirect_uri: AFTER_LOGOUT,
      }),
    },
    {
      name: 'a hint that is not a JWT',
      source: 'RP-Initiated Logout §2',
      params: () => ({ id_token_hint: 'not-a-jwt', post_logout_redirect_uri: AFTER_LOGOUT }),
    },
    {
      name: 'an access token as hint',
      source: 'RFC 8725 §3.11',
      params: () => ({ id_token_hint: 'ACCESS', post_logout_redirect_uri: AFTER_LOGOUT }),
    },
  ];

  it.each(refused)('shows an error page for $name ($source)', async ({ params }) => {
    const { browser, tokens, sid } = await session([noChannel]);
    const values = params(tokens.id_token);
    if (values['id_token_hint'] === 'ACCESS') values['id_token_hint'] = tokens.access_token;
    const answer = await browser.get(logoutUrl(values));
    expect(answer.status).toBe(400);
    expect(answer.location).toBeUndefined();
    expect(await sessionEnded(sid)).toBe(false);
    expect(as.audit.at(-1)).toMatchObject({ action: 'logout', outcome: 'failure' });
  });

  it('never blocks the user on a failing or hanging client; both failures are audited', async () => {
    const { browser, tokens } = await session([failing, slow]);
    const answer = await browser.get(logoutUrl({ id_token_hint: tokens.id_token }));
    expect(answer.status).toBe(200);
    // Answered before the hanging client's timeout fired: the user never waited for it.
    expect(as.audit.some((e) => e.action === 'logout.backchannel' && e.reason === 'timeout')).toBe(false);
    const failures = await eventually(() => {
      const found = as.audit.filter((e) => e.action === 'logout.backchannel' && e.outcome === 'failure');
      return found.length >= 2 ? found : undefined;
    });
    expect(failures.map((e) => e.reason).sort()).toEqual(['status_500', 'timeout']);
    expect(as.logs.join('')).toContain('back-channel logout failed');
    expect(as.logs.join('')).not.toContain(tokens.id_token);
  });
});
