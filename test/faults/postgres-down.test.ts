import { createHash, randomBytes } from 'node:crypto';
import {
  freePort,
  relayTargetOf,
  requireService,
  serviceUrl,
  startTcpRelay,
  type TcpRelay,
} from '@gatehouse/testing';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Browser, parseForm, type Page } from '../../packages/bff/test/support/browser.js';
import {
  builtOrSkip,
  childEnv,
  distOf,
  startBinary,
  type Started,
} from '../../packages/cli/test/helpers/binary.js';
import {
  createTestDeployment,
  TEST_ADMIN_TOKEN,
  type TestDeployment,
} from '../../packages/cli/test/helpers/cli.js';

/**
 * Issue 7, "PostgreSQL down": a real `gatehouse auth-server` process whose database is reached
 * through a TCP relay, which the test cuts (connection refused) or blackholes (the connection is
 * accepted and never answered). Every endpoint answers within the configured connect timeout, with
 * 503 + Retry-After and a standard body (RFC 6749 §5.2 `temporarily_unavailable` on OAuth
 * endpoints, RFC 9457 problem+json elsewhere, a page on the browser-facing ones), never a 500 and
 * never a driver message; nothing is answered 200 that is not stored (row and audit event); and
 * once the relay is back, the same calls succeed without a restart.
 */
const SUITE = 'faults: PostgreSQL down';
const postgres = await requireService('postgres', SUITE);
const built = postgres.available && builtOrSkip(SUITE, distOf(['auth-server', 'audit', 'core', 'guard']));

const API = 'https://api.example.com';
const REDIRECT_URI = 'http://127.0.0.1:9/callback';
/** `connect_timeout` of the server's DATABASE_URL (libpq's name, in seconds). */
const CONNECT_TIMEOUT_SEC = 1;
/** What "answers within a bounded time" means here: the connect timeout, plus slack for a busy CI. */
const ANSWER_BOUND_MS = CONNECT_TIMEOUT_SEC * 1000 + 1500;

interface Answer {
  readonly status: number;
  readonly headers: Headers;
  readonly text: string;
  readonly ms: number;
}

async function timed(url: string, init: RequestInit = {}): Promise<Answer> {
  const started = performance.now();
  const response = await fetch(url, { ...init, redirect: 'manual' });
  const text = await response.text();
  return { status: response.status, headers: response.headers, text, ms: performance.now() - started };
}

interface ClientCredentials {
  readonly client_id: string;
  readonly client_secret: string;
}

const basic = (id: string, secret: string): string =>
  `Basic ${Buffer.from(`${encodeURIComponent(id)}:${encodeURIComponent(secret)}`).toString('base64')}`;

function form(fields: Record<string, string>, authorization?: string): RequestInit {
  return {
    method: 'POST',
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      ...(authorization === undefined ? {} : { authorization }),
    },
    body: new URLSearchParams(fields).toString(),
  };
}

describe.skipIf(!built)('auth server on PostgreSQL through a relay that goes down', () => {
  const schema = `faults_${randomBytes(6).toString('hex')}`;
  let relay: TcpRelay;
  let deployment: TestDeployment;
  let server: Started;
  let directUrl: string;
  let web: ClientCredentials;
  const password = randomBytes(18).toString('base64url');

  async function query<R extends pg.QueryResultRow>(text: string, values: unknown[] = []): Promise<R[]> {
    const client = new pg.Client({ connectionString: serviceUrl('postgres') });
    await client.connect();
    try {
      return (await client.query<R>(text, values)).rows;
    } finally {
      await client.end();
    }
  }

  /** `gatehouse clients create … --json`, straight to PostgreSQL (only the server uses the relay). */
  async function createClient(args: readonly string[]): Promise<ClientCredentials> {
    const created = await deployment.run(['clients', 'create', ...args, '--json'], {
      env: { DATABASE_URL: directUrl },
    });
    expect(created.code, created.stderr).toBe(0);
    return JSON.parse(created.stdout) as ClientCredentials;
  }

  beforeAll(async () => {
    await query(`CREATE SCHEMA ${schema}`);
    cleanups.push(() => query(`DROP SCHEMA ${schema} CASCADE`));
    const direct = new URL(serviceUrl('postgres'));
    direct.searchParams.set('options', `-c search_path=${schema}`);
    directUrl = direct.toString();
    relay = await startTcpRelay([relayTargetOf(directUrl, 5432)]);
    cleanups.push(() => relay.close());
    const viaRelay = new URL(directUrl);
    viaRelay.host = `127.0.0.1:${relay.port}`;
    viaRelay.searchParams.set('connect_timeout', String(CONNECT_TIMEOUT_SEC));

    // The issuer names the listener (its login form posts to the issuer's /login).
    const port = await freePort();
    deployment = await createTestDeployment(
      [
        'log:',
        '  level: info',
        'admin:',
        '  token: ${GATEHOUSE_ADMIN_TOKEN}',
        '  listen:',
        '    port: 0',
        'authServer:',
        `  issuer: http://127.0.0.1:${port}`,
        '  listen:',
        `    port: ${port}`,
        '  resources:',
        `    - id: ${API}`,
        '      scopes: [accounts:read]',
        '',
      ].join('\n'),
    );
    cleanups.push(() => deployment.remove());
    web = await createClient([
      '--name',
      'web',
      '--grant',
      'authorization_code',
      '--redirect-uri',
      REDIRECT_URI,
      '--scope',
      'openid profile',
      '--first-party',
    ]);
    const user = await deployment.run(['users', 'create', '--username', 'pat'], {
      env: { DATABASE_URL: directUrl },
      stdin: password,
    });
    expect(user.code, user.stderr).toBe(0);
    server = await startBinary(
      ['auth-server', '--config', deployment.configFile],
      deployment.dir,
      (stderr) => {
        const url = /listening on (http:\/\/\S+)/.exec(stderr)?.[1];
        const admin = /admin API on (http:\/\/\S+)\/admin/.exec(stderr)?.[1];
        return url === undefined || admin === undefined ? undefined : { url, admin };
      },
      childEnv({ DATABASE_URL: viaRelay.toString() }),
    );
    cleanups.push(async () => {
      if (server.child.exitCode === null) server.child.kill('SIGTERM');
      return server.exit;
    });
  });

  /** Undone in reverse order after the suite (what beforeAll got to set up). */
  const cleanups: Array<() => Promise<unknown>> = [];
  afterAll(async () => {
    for (const cleanup of cleanups.reverse()) await cleanup();
  });

  function clientCredentials(client: ClientCredentials): Promise<Answer> {
    return timed(
      `${server.url}/token`,
      form(
        { grant_type: 'client_credentials', scope: 'accounts:read', resource: API },
        basic(client.client_id, client.client_secret),
      ),
    );
  }

  function introspect(client: ClientCredentials, token: string): Promise<Answer> {
    return timed(`${server.url}/introspect`, form({ token }, basic(client.client_id, client.client_secret)));
  }

  function revoke(client: ClientCredentials, token: string): Promise<Answer> {
    return timed(`${server.url}/revoke`, form({ token }, basic(client.client_id, client.client_secret)));
  }

  function createClientViaAdmin(name: string): Promise<Answer> {
    return timed(`${server.admin}/admin/clients`, {
      method: 'POST',
      headers: { authorization: `Bearer ${TEST_ADMIN_TOKEN}`, 'content-type': 'application/json' },
      body: JSON.stringify({
        client_name: name,
        grant_types: ['client_credentials'],
        scope: 'accounts:read',
        resources: [API],
      }),
    });
  }

  /** A browser at the login form of the web client (the interaction lives in shared state). */
  async function atLoginForm(): Promise<{ browser: Browser; page: Page; verifier: string; state: string }> {
    const browser = new Browser();
    const verifier = randomBytes(32).toString('base64url');
    const state = randomBytes(8).toString('hex');
    const params = new URLSearchParams({
      response_type: 'code',
      client_id: web.client_id,
      redirect_uri: REDIRECT_URI,
      scope: 'openid profile',
      state,
      code_challenge: createHash('sha256').update(verifier).digest('base64url'),
      code_challenge_method: 'S256',
    });
    const page = await browser.get(`${server.url}/authorize?${params.toString()}`);
    expect(page.status, page.text).toBe(200);
    expect(parseForm(page.text).inputs).toContain('password');
    return { browser, page, verifier, state };
  }

  function submitLogin(login: { browser: Browser; page: Page }): Promise<Page> {
    const parsed = parseForm(login.page.text);
    return login.browser.postForm(new URL(parsed.action, server.url).href, {
      ...parsed.hidden,
      username: 'pat',
      password,
    });
  }

  /** What must never reach a client: driver messages, SQL, the database's address, a stack. */
  function expectNothingInternal(answer: { text: string }): void {
    for (const leak of [
      /postgres/i,
      /ECONN/,
      /\b(select|insert|update|delete)\s/i,
      /search_path/,
      /:5432\b/,
      new RegExp(`:${relay.port}\\b`),
      /\bat \S+ \(/,
      /Error:/,
      /timeout/i,
    ]) {
      expect(answer.text).not.toMatch(leak);
    }
  }

  /** The audit events of one client, as shipped from the server's spool to PostgreSQL. */
  function auditOf(clientId: string): Promise<Array<{ action: string; reason: string | null }>> {
    return query(`SELECT action, reason FROM ${schema}.audit_log WHERE actor_client_id = $1 ORDER BY seq`, [
      clientId,
    ]);
  }

  const outages = [
    {
      name: 'refused (relay cut)',
      detail: 'postgres: ECONNREFUSED',
      down: () => relay.cut(),
      up: () => relay.restore(),
    },
    {
      name: 'hanging (relay blackholed)',
      detail: 'postgres: connect timeout',
      down: (): Promise<void> => {
        relay.setBlackhole(true);
        return Promise.resolve();
      },
      up: (): Promise<void> => {
        relay.setBlackhole(false);
        return Promise.resolve();
      },
    },
  ];

  it.each(outages)(
    '$name: 503 + Retry-After within the connect timeout, nothing half-written, recovery without a restart',
    { timeout: 45_000 },
    async (outage) => {
      // A client of this case alone, so that its rows and audit events count only this case's calls.
      const service = await createClient([
        '--name',
        `service ${outage.name}`,
        '--grant',
        'client_credentials',
        '--scope',
        'accounts:read',
        '--resource',
        API,
        '--token-format',
        'opaque',
        '--introspect',
      ]);
      const tokenAnswers: number[] = [];
      const requestToken = async (): Promise<Answer> => {
        const answer = await clientCredentials(service);
        tokenAnswers.push(answer.status);
        return answer;
      };

      // Before the outage: a token answered 200, and a user at the login form.
      const first = await requestToken();
      expect(first.status, first.text).toBe(200);
      const before = (JSON.parse(first.text) as { access_token: string }).access_token;
      const login = await atLoginForm();
      expect((await timed(`${server.admin}/readyz`)).status).toBe(200);

      await outage.down();
      const unknownClient = `unknown-${randomBytes(4).toString('hex')}`;
      const adminName = `during ${outage.name}`;
      const [
        discovery,
        jwks,
        token,
        introspection,
        revocation,
        authorize,
        loginPost,
        userinfo,
        adminWrite,
        readiness,
      ] = await Promise.all([
        timed(`${server.url}/.well-known/openid-configuration`),
        timed(`${server.url}/jwks`),
        requestToken(),
        introspect(service, before),
        revoke(service, before),
        timed(
          `${server.url}/authorize?${new URLSearchParams({
            response_type: 'code',
            client_id: unknownClient,
            redirect_uri: REDIRECT_URI,
          }).toString()}`,
        ),
        submitLogin(login),
        timed(`${server.url}/userinfo`, { headers: { authorization: `Bearer ${before}` } }),
        createClientViaAdmin(adminName),
        timed(`${server.admin}/readyz`),
      ]);

      // Discovery and the key set are served from memory (both are read at start and on key events).
      expect(discovery.status).toBe(200);
      expect(jwks.status).toBe(200);
      expect((JSON.parse(jwks.text) as { keys: unknown[] }).keys.length).toBeGreaterThan(0);

      // OAuth endpoints: RFC 6749 §5.2 JSON, `temporarily_unavailable`, Retry-After.
      for (const answer of [token, introspection, revocation]) {
        expect(answer.status, answer.text).toBe(503);
        expect(answer.headers.get('retry-after')).toBe('5');
        expect(answer.headers.get('content-type')).toMatch(/^application\/json/);
        expect(answer.headers.get('cache-control')).toBe('no-store');
        expect(JSON.parse(answer.text)).toEqual({
          error: 'temporarily_unavailable',
          error_description: 'The service is temporarily unavailable',
        });
      }
      // Browser-facing endpoints: an HTML page, never a redirect to the client with an error.
      for (const page of [authorize, loginPost]) {
        expect(page.status, page.text).toBe(503);
        expect(page.headers.get('retry-after')).toBe('5');
        expect(page.headers.get('content-type')).toMatch(/^text\/html/);
        expect(page.headers.get('location')).toBeNull();
        expect(page.text).toContain('temporarily unavailable');
      }
      // UserInfo (a protected resource) and the admin API: RFC 9457 problem+json.
      for (const answer of [userinfo, adminWrite]) {
        expect(answer.status, answer.text).toBe(503);
        expect(answer.headers.get('retry-after')).toBe('5');
        expect(answer.headers.get('content-type')).toMatch(/^application\/problem\+json/);
        expect(JSON.parse(answer.text)).toMatchObject({ status: 503, title: 'Service Unavailable' });
      }
      expect(readiness.status).toBe(503);
      expect(JSON.parse(readiness.text)).toEqual({ status: 'not ready' });

      for (const answer of [token, introspection, revocation, authorize, userinfo, adminWrite, readiness]) {
        expect(answer.ms).toBeLessThan(ANSWER_BOUND_MS);
      }
      for (const answer of [token, introspection, revocation, authorize, loginPost, userinfo, adminWrite]) {
        expectNothingInternal(answer);
      }

      // Back: the same calls succeed again, without a restart, within a few seconds.
      await outage.up();
      const upAt = performance.now();
      await expect
        .poll(async () => (await requestToken()).status, { timeout: 5000, interval: 100 })
        .toBe(200);
      expect(performance.now() - upAt).toBeLessThan(5000);
      await expect
        .poll(async () => (await timed(`${server.admin}/readyz`)).status, { timeout: 5000, interval: 100 })
        .toBe(200);

      // The revocation answered 503 did not happen: the token answered 200 before the cut is active.
      const active = await introspect(service, before);
      expect(active.status).toBe(200);
      expect(JSON.parse(active.text)).toMatchObject({ active: true, client_id: service.client_id });

      // The login form posted during the outage can be posted again: sign-in, code, token, UserInfo.
      const signedIn = await submitLogin(login);
      expect(signedIn.status, signedIn.text).toBe(303);
      const callback = new URL(signedIn.location!);
      expect(callback.origin + callback.pathname).toBe(REDIRECT_URI);
      expect(callback.searchParams.get('state')).toBe(login.state);
      const exchanged = await timed(
        `${server.url}/token`,
        form(
          {
            grant_type: 'authorization_code',
            code: callback.searchParams.get('code')!,
            redirect_uri: REDIRECT_URI,
            code_verifier: login.verifier,
          },
          basic(web.client_id, web.client_secret),
        ),
      );
      expect(exchanged.status, exchanged.text).toBe(200);
      const userToken = (JSON.parse(exchanged.text) as { access_token: string }).access_token;
      const claims = await timed(`${server.url}/userinfo`, {
        headers: { authorization: `Bearer ${userToken}` },
      });
      expect(claims.status, claims.text).toBe(200);
      expect(JSON.parse(claims.text)).toMatchObject({ preferred_username: 'pat' });

      // The authorization endpoint and the admin API answer again.
      expect((await atLoginForm()).page.status).toBe(200);
      const adminAgain = await createClientViaAdmin(`after ${outage.name}`);
      expect(adminAgain.status, adminAgain.text).toBe(201);

      // Revocation works again, and takes effect.
      expect((await revoke(service, before)).status).toBe(200);
      expect(JSON.parse((await introspect(service, before)).text)).toEqual({ active: false });

      // Never a partial write: every token answered 200 is a row and a token.issue event, none
      // answered 503 is; the admin write answered 503 created nothing.
      const answered200 = tokenAnswers.filter((status) => status === 200).length;
      const answered503 = tokenAnswers.filter((status) => status === 503).length;
      expect(answered200 + answered503).toBe(tokenAnswers.length);
      const rows = await query<{ n: number }>(
        `SELECT count(*)::int AS n FROM ${schema}.access_tokens WHERE client_id = $1`,
        [service.client_id],
      );
      expect(rows).toEqual([{ n: answered200 }]);
      const names = (await query<{ name: string }>(`SELECT name FROM ${schema}.clients`)).map((c) => c.name);
      expect(names).not.toContain(adminName);
      expect(names).toContain(`after ${outage.name}`);
      // Audit events were spooled on disk during the outage and shipped once PostgreSQL was back.
      // The spool ships in the background, so wait for the last event (the revocation after
      // recovery) as well as the issues: CI once read the table between the two.
      const shipped = async (): Promise<{ issued: number; revoked: number }> => {
        const events = await auditOf(service.client_id);
        return {
          issued: events.filter((e) => e.action === 'token.issue').length,
          revoked: events.filter((e) => e.action === 'token.revoke').length,
        };
      };
      await expect
        .poll(shipped, { timeout: 20_000, interval: 250 })
        .toEqual({ issued: answered200, revoked: 1 });
      const audited = await auditOf(service.client_id);
      // Each refused token request is audited with the code the client was answered with.
      expect(audited.filter((e) => e.action === 'token.refuse')).toEqual(
        Array.from({ length: answered503 }, () => ({
          action: 'token.refuse',
          reason: 'ERR_STORE_UNAVAILABLE',
        })),
      );
      // The revocation answered 503 left no event; the one after recovery did.
      expect(audited.filter((e) => e.action === 'token.revoke')).toHaveLength(1);

      // The operator: log lines naming the code and the cause (never a secret), the refusal
      // counter, and the readiness probe seen above.
      const log = server.stdout();
      expect(log).toContain(outage.detail);
      expect(log).toContain('"code":"ERR_STORE_UNAVAILABLE"');
      expect(log).not.toContain('"code":"ERR_INTERNAL"');
      expect(log).not.toContain(service.client_secret);
      expect(log).not.toContain(password);
      const metrics = await (await fetch(`${server.admin}/metrics`)).text();
      expect(metrics).toMatch(
        /gatehouse_auth_token_refusals_total\{grant_type="client_credentials",error="temporarily_unavailable"\} [1-9]/,
      );
    },
  );
});
