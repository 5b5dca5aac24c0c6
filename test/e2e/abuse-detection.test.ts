import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { exportAuditLog, type AuditExportDocument } from '@gatehouse/audit';
import { openSqlDatabase } from '@gatehouse/core';
import { parseForm } from '@gatehouse/testing';
import { Agent, request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  Browser,
  missingBuild,
  startDemoStack,
  writeStackFile,
  type DemoStack,
  type Page,
} from '../support/demo-stack.js';

/**
 * Issue 6 end to end: every abuse detector of the gateway, and the auth server's login throttling,
 * driven by a scripted attack over real HTTP against `gatehouse up`, checked where an operator
 * sees it (the admin API's bans, detections and alerts, the audit store) and where the attacker
 * does (403 once banned, 429 once locked out); then the same volume spread over many tokens and
 * addresses, which must trip nothing.
 *
 * Client addresses: the demo gateway trusts no proxy (`trustedProxies` is empty), so the client IP
 * is the socket peer; each scenario connects from its own loopback address (127.0.N.x, Linux
 * routes all of 127/8 to lo) because bans are per IP. 127.0.0.1 is left to the stack itself.
 *
 * The stack runs the demo's stack file with the thresholds below lowered where the defaults would
 * take minutes or hundreds of identities; everything else (brute-force bans, fuzzing, the
 * embedded alert rules, the login throttle) runs with the shipped defaults. Not driven: the
 * embedded `server-error-ratio` alert — the demo services do not answer 5xx, and stopping one
 * makes `gatehouse up` stop the whole stack (by design); the rule is tested in the gateway's own
 * suite (packages/gateway/test/detect).
 */
const STACK = {
  gateway: {
    detection: {
      // Default action flag: a ban here exercises the detector → ban list path end to end.
      enumeration: { action: 'ban' },
      // Defaults: 1000 distinct paths, no baseline. Here: 40, and more than 5× the median of the
      // other tokens ("far above baseline") once 3 others are active.
      bulkScraping: { distinctPaths: 40, baselineFactor: 5, minPeers: 3 },
      // Defaults: flag; 20 addresses per token (kept); 50 tokens per address (10 here).
      rateLimitEvasion: { action: 'ban', identitiesPerIp: 10 },
    },
    // The embedded rules as shipped, evaluated every second instead of every 5.
    alerts: { evaluateEverySec: 1 },
  },
};

/** Demo defaults the assertions depend on (packages/gateway/src/config, auth-server login). */
const BRUTE_FORCE = { threshold: 20, windowSec: 60, banSec: 300 };
const ENUMERATION_IDS = 30;
const FUZZING_THRESHOLD = 100;
const RATE_EVASION_IPS = 20;
const LOGIN = { maxFailuresPerAccount: 5, stuffingDistinctAccounts: 10, lockoutSec: 900 };
/** Each login verifies a password with scrypt at the production cost (deliberately slow). */
const PASSWORD_HASHING_TIMEOUT_MS = 60_000;

let stack: DemoStack;
const stackDir = mkdtempSync(join(tmpdir(), 'gatehouse-abuse-'));
const agents = new Map<string, Agent>();

/** An HTTP client whose connections leave from `address` (the gateway's client IP). */
function from(address: string): Agent {
  let agent = agents.get(address);
  if (agent === undefined) {
    agent = new Agent({ localAddress: address, connections: 4 });
    agents.set(address, agent);
  }
  return agent;
}

interface Answer {
  status: number;
  body: unknown;
}

async function call(
  address: string,
  path: string,
  options: {
    token?: string;
    method?: string | undefined;
    body?: unknown;
    headers?: Record<string, string>;
  } = {},
): Promise<Answer> {
  const response = await request(`${stack.demo.gateway}${path}`, {
    dispatcher: from(address),
    method: (options.method ?? 'GET') as 'GET',
    headers: {
      ...options.headers,
      ...(options.token === undefined ? {} : { authorization: `Bearer ${options.token}` }),
      ...(options.body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    ...(options.body === undefined ? {} : { body: JSON.stringify(options.body) }),
  });
  const text = await response.body.text();
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch {
    // not JSON
  }
  return { status: response.statusCode, body };
}

const codeOf = (answer: Answer): unknown => (answer.body as { code?: unknown } | null)?.code;

async function admin(method: string, path: string, body?: unknown): Promise<Answer> {
  const response = await fetch(`${stack.demo.admin}${path}`, {
    method,
    headers: {
      authorization: `Bearer ${stack.demo.adminToken}`,
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await response.text();
  return { status: response.status, body: text === '' ? undefined : JSON.parse(text) };
}

interface BanView {
  subject: string;
  source: string;
  reason: string;
  createdBy: string;
  createdAt: number;
  expiresAt: number;
}

interface DetectionView {
  detector: string;
  trigger: string;
  action: string;
  key: string;
  ip: string;
  clientId?: string;
  sub?: string;
  count: number;
  threshold: number;
}

interface AlertView {
  rule: string;
  status: string;
  value: number;
  threshold: number;
  flagged: boolean;
  actions: { action: string; outcome: string }[];
}

async function bans(): Promise<BanView[]> {
  const answer = await admin('GET', '/admin/gateway/bans');
  expect(answer.status).toBe(200);
  return (answer.body as { bans: BanView[] }).bans;
}

async function detections(): Promise<DetectionView[]> {
  const answer = await admin('GET', '/admin/gateway/detections');
  expect(answer.status).toBe(200);
  return (answer.body as { detections: DetectionView[] }).detections;
}

/** Polls until `check` returns a value (detector bans land just after the answer that tripped them). */
async function eventually<T>(
  what: string,
  check: () => Promise<T | undefined>,
  timeoutMs = 5000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const found = await check();
    if (found !== undefined) return found;
    if (Date.now() > deadline) throw new Error(`not within ${timeoutMs} ms: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** Waits until `address` is refused as banned, on a public route that would otherwise answer 200. */
async function bannedAnswer(address: string): Promise<Answer> {
  return eventually(`${address} banned`, async () => {
    const answer = await call(address, '/public/status');
    return answer.status === 403 ? answer : undefined;
  });
}

/**
 * The audit store as `gatehouse audit export` reads it (the same export over the stack's SQLite
 * file, in process: a CLI start per poll would cost seconds). Components spool their events and
 * ship them in the background, so this polls until `match` finds every expected one.
 */
async function auditEvents(
  what: string,
  match: (events: AuditExportDocument[]) => boolean,
): Promise<AuditExportDocument[]> {
  return eventually(
    `audit events: ${what}`,
    async () => {
      const sql = openSqlDatabase<unknown>({ sqliteFile: join(stack.dataDir, 'gatehouse.db') });
      try {
        const events: AuditExportDocument[] = [];
        for await (const doc of exportAuditLog(sql.db)) events.push(doc);
        return match(events) ? events : undefined;
      } finally {
        await sql.close();
      }
    },
    10_000,
  );
}

const isEvent =
  (action: string, fields: { ip?: string; reason?: string; target?: string; client?: string } = {}) =>
  (doc: AuditExportDocument): boolean =>
    doc.event.action === action &&
    (fields.ip === undefined || doc.source?.ip === fields.ip) &&
    (fields.reason === undefined || doc.event.reason === fields.reason) &&
    (fields.target === undefined || doc.gatehouse?.target?.id === fields.target) &&
    (fields.client === undefined || doc.gatehouse?.client_id === fields.client);

async function discovery(): Promise<{ authorization_endpoint: string; token_endpoint: string }> {
  return (await (await fetch(`${stack.demo.issuer}/.well-known/openid-configuration`)).json()) as {
    authorization_endpoint: string;
    token_endpoint: string;
  };
}

/** A new client-credentials client (a partner) through the admin API, and a token for the gateway. */
async function newClientToken(
  name: string,
  scope = 'accounts:read accounts:write orders:read',
): Promise<{
  clientId: string;
  token: string;
}> {
  const created = await admin('POST', '/admin/clients', {
    client_name: name,
    grant_types: ['client_credentials'],
    scope,
    resources: [stack.demo.gateway, 'https://accounts.internal', 'https://orders.internal'],
    token_format: 'opaque',
  });
  expect(created.status).toBe(201);
  const { client_id: clientId, client_secret: secret } = created.body as {
    client_id: string;
    client_secret: string;
  };
  const response = await fetch((await discovery()).token_endpoint, {
    method: 'POST',
    headers: {
      authorization: `Basic ${Buffer.from(`${clientId}:${secret}`).toString('base64')}`,
      'content-type': 'application/x-www-form-urlencoded',
    },
    body: new URLSearchParams({ grant_type: 'client_credentials', resource: stack.demo.gateway }).toString(),
  });
  const body = (await response.json()) as { access_token?: string };
  expect(response.status).toBe(200);
  return { clientId, token: body.access_token as string };
}

/** The auth server's login form from `address`: an authorization request of the demo's public client. */
async function openLoginForm(address: string): Promise<{
  browser: Browser;
  submit: (username: string, password: string) => Promise<Page>;
  verifier: string;
}> {
  const browser = new Browser({ dispatcher: from(address) });
  const verifier = randomBytes(32).toString('base64url');
  const { cli } = stack.demo.clients;
  const query = new URLSearchParams({
    response_type: 'code',
    client_id: cli.client_id,
    redirect_uri: cli.redirect_uri,
    scope: 'openid accounts:read accounts:write',
    // RFC 7636 §4.2: S256 challenge of the verifier.
    code_challenge: createHash('sha256').update(verifier).digest('base64url'),
    code_challenge_method: 'S256',
    state: randomBytes(8).toString('hex'),
    resource: stack.demo.gateway,
  });
  const page = await browser.get(`${(await discovery()).authorization_endpoint}?${query.toString()}`);
  expect(page.status).toBe(200);
  const form = parseForm(page.text);
  expect(form.inputs).toContain('password');
  const action = new URL(form.action, stack.demo.issuer).href;
  return {
    browser,
    verifier,
    submit: (username, password) => browser.postForm(action, { ...form.hidden, username, password }),
  };
}

/** A user's access token for the gateway: authorization code + PKCE with the demo's `cli` client. */
async function userToken(address: string, user: { username: string; password: string }): Promise<string> {
  const { browser, submit, verifier } = await openLoginForm(address);
  let page = await submit(user.username, user.password);
  const { cli } = stack.demo.clients;
  for (let hops = 0; hops < 5 && page.location?.startsWith(cli.redirect_uri) !== true; hops++) {
    if (page.location !== undefined) page = await browser.get(page.location);
    else {
      // The consent page: approve.
      const form = parseForm(page.text);
      expect(form.buttons).toContain('decision=approve');
      page = await browser.postForm(new URL(form.action, stack.demo.issuer).href, {
        ...form.hidden,
        decision: 'approve',
      });
    }
  }
  const code = new URL(page.location as string).searchParams.get('code');
  expect(code).not.toBeNull();
  const response = await fetch((await discovery()).token_endpoint, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({
      grant_type: 'authorization_code',
      code: code as string,
      redirect_uri: cli.redirect_uri,
      client_id: cli.client_id,
      code_verifier: verifier,
      resource: stack.demo.gateway,
    }).toString(),
  });
  const body = (await response.json()) as { access_token?: string };
  expect(response.status).toBe(200);
  return body.access_token as string;
}

const range = (n: number, start = 0): number[] => Array.from({ length: n }, (_, i) => start + i);
const garbageToken = (): string => randomBytes(24).toString('base64url');

beforeAll(async () => {
  const missing = missingBuild();
  if (missing.length > 0) throw new Error(`not built: ${missing.join(', ')} (run npm run build)`);
  stack = await startDemoStack({ config: writeStackFile(stackDir, STACK) });
}, 120_000);

afterAll(async () => {
  await Promise.all([...agents.values()].map((agent) => agent.close()));
  const started = stack as DemoStack | undefined;
  if (started !== undefined) {
    expect(await started.stop()).toBe(0);
    rmSync(started.dataDir, { recursive: true, force: true });
  }
  rmSync(stackDir, { recursive: true, force: true });
});

describe('brute force', () => {
  it('repeated 401s from one address at the gateway: a temporary ban, 403 before any other work', async () => {
    const attacker = '127.0.1.1';
    const { token } = await newClientToken('brute-force victim client');
    const answers = [];
    for (let i = 0; i < BRUTE_FORCE.threshold; i++)
      answers.push((await call(attacker, '/api/accounts', { token: garbageToken() })).status);
    expect(answers).toEqual(range(BRUTE_FORCE.threshold).map(() => 401));

    // Banned: refused before routing and authentication, a public route and a valid token alike.
    expect(codeOf(await bannedAnswer(attacker))).toBe('ERR_GATEWAY_BANNED');
    const withToken = await call(attacker, '/api/accounts', { token });
    expect(withToken.status).toBe(403);
    expect(codeOf(withToken)).toBe('ERR_GATEWAY_BANNED');
    // The demo gateway trusts no proxy: a forwarded-for header does not lift the ban.
    const forwarded = await call(attacker, '/public/status', {
      headers: { 'x-forwarded-for': '203.0.113.9', forwarded: 'for=203.0.113.9' },
    });
    expect(forwarded.status).toBe(403);
    // Another address is unaffected.
    expect((await call('127.0.1.9', '/api/accounts', { token })).status).toBe(200);

    const ban = (await bans()).find((entry) => entry.subject === attacker);
    expect(ban).toMatchObject({ source: 'brute-force', createdBy: 'brute-force-detector' });
    expect(ban!.expiresAt - ban!.createdAt).toBe(BRUTE_FORCE.banSec * 1000);

    await auditEvents('brute force detected and ban added', (events) => {
      const detected = events.find(isEvent('gateway.brute_force.detected', { ip: attacker }));
      const added = events.find(isEvent('gateway.ban.add', { target: attacker, reason: 'brute-force' }));
      return detected?.gatehouse?.details?.['failures'] === BRUTE_FORCE.threshold && added !== undefined;
    });
  });

  it(
    'failed logins for one account at the login form: the account is locked out, the right password too',
    async () => {
      const attacker = '127.0.1.2';
      const victim = { username: 'lockout-victim', password: randomBytes(18).toString('base64url') };
      const created = await admin('POST', '/admin/users', { ...victim, name: 'Lockout Victim' });
      expect(created.status).toBe(201);
      const { sub } = created.body as { sub: string };

      const { submit } = await openLoginForm(attacker);
      // An online guesser tries in parallel; the lockout still lands at the 5th failure.
      const guesses = await Promise.all(
        range(LOGIN.maxFailuresPerAccount).map((i) => submit(victim.username, `guess-${i}-wrong`)),
      );
      const statuses = guesses.map((page) => page.status);
      expect(statuses.filter((status) => status === 429)).toHaveLength(1);
      expect(statuses.filter((status) => status === 401)).toHaveLength(LOGIN.maxFailuresPerAccount - 1);

      // The account is locked, from any address and with the right password: 429 with Retry-After.
      const rightPassword = await (await openLoginForm('127.0.1.3')).submit(victim.username, victim.password);
      expect(rightPassword.status).toBe(429);
      expect(Number(rightPassword.headers.get('retry-after'))).toBeGreaterThan(LOGIN.lockoutSec - 60);
      expect(rightPassword.text).toContain('Too many failed sign-in attempts');
      expect(rightPassword.location).toBeUndefined();

      await auditEvents('login lockout of the account', (events) =>
        events.some(isEvent('login.lockout', { ip: attacker, reason: 'account', target: sub })),
      );
    },
    PASSWORD_HASHING_TIMEOUT_MS,
  );
});

describe('credential stuffing', () => {
  it(
    'many usernames from one address at the login form: audited as stuffing, the address locked out',
    async () => {
      const attacker = '127.0.2.1';
      const { submit } = await openLoginForm(attacker);
      // A breached-credentials list: one try per account (unknown and real names alike).
      const usernames = [
        'alice',
        ...range(LOGIN.stuffingDistinctAccounts - 1).map((i) => `stuffed-${i}@example.com`),
      ];
      const pages = await Promise.all(usernames.map((name) => submit(name, `breached-${name}`)));
      const statuses = pages.map((page) => page.status);
      expect(statuses.filter((status) => status === 429)).toHaveLength(1);
      expect(statuses.filter((status) => status === 401)).toHaveLength(usernames.length - 1);

      // The address is locked out: even a real user's right password from it is refused.
      const alice = await submit('alice', stack.demo.users.alice.password);
      expect(alice.status).toBe(429);
      expect(alice.headers.get('retry-after')).not.toBeNull();

      await auditEvents('credential stuffing and the address lockout', (events) => {
        const stuffing = events.find(isEvent('login.credential_stuffing', { ip: attacker }));
        return (
          stuffing?.gatehouse?.details?.['distinctAccounts'] === LOGIN.stuffingDistinctAccounts &&
          events.some(isEvent('login.lockout', { ip: attacker, reason: 'stuffing' }))
        );
      });
    },
    PASSWORD_HASHING_TIMEOUT_MS,
  );
});

describe('enumeration (BOLA)', () => {
  it('403/404 on many distinct sequential object ids with a valid token: detected and banned as configured', async () => {
    const attacker = '127.0.3.1';
    const { clientId, token } = await newClientToken('enumerating partner');
    // acc_1, acc_2, …: valid ids by the OpenAPI pattern, none of them the caller's (404, no leak).
    for (const n of range(ENUMERATION_IDS, 1)) {
      expect((await call(attacker, `/api/accounts/acc_${n}`, { token })).status).toBe(404);
    }
    expect(codeOf(await bannedAnswer(attacker))).toBe('ERR_GATEWAY_BANNED');
    expect((await call(attacker, '/api/accounts', { token })).status).toBe(403);

    const ban = (await bans()).find((entry) => entry.subject === attacker);
    expect(ban).toMatchObject({ source: 'detector', createdBy: 'enumeration-detector' });
    expect(ban!.reason).toBe(`enumeration: distinct_ids ${ENUMERATION_IDS} in 60 s`);

    await auditEvents('enumeration detected', (events) =>
      events.some(
        (doc) =>
          isEvent('gateway.abuse.detected', { ip: attacker, reason: 'enumeration', target: clientId })(doc) &&
          doc.gatehouse?.decision === 'deny' &&
          doc.gatehouse.details?.['trigger'] === 'distinct_ids' &&
          doc.gatehouse.details['banned'] === 1,
      ),
    );
  });
});

describe('fuzzing', () => {
  it('a burst of 400/404/405 and OpenAPI validation failures from one address: flagged for review', async () => {
    const attacker = '127.0.4.1';
    const { token } = await newClientToken('fuzzing partner');
    const probes: { method?: string; path: string; body?: unknown }[] = [
      { path: '/.env' }, // undeclared: 404 at the gateway
      { path: '/wp-login.php' },
      { path: '/api/v1/users' },
      { method: 'TRACE', path: '/api/accounts' }, // 405: never proxied
      { path: '/api/accounts?limit=0' }, // validation: limit ≥ 1
      { path: "/api/accounts/1'%20OR%20'1'='1" }, // validation: the id pattern
      { method: 'POST', path: '/api/accounts', body: { nickname: '', isAdmin: true } }, // body schema
      { method: 'DELETE', path: '/api/accounts/acc_1' }, // undeclared operation: 404
    ];
    const seen = new Set<number>();
    for (const i of range(FUZZING_THRESHOLD)) {
      const probe = probes[i % probes.length]!;
      const answer = await call(attacker, probe.path, { token, method: probe.method, body: probe.body });
      seen.add(answer.status);
    }
    expect([...seen].sort()).toEqual([400, 404, 405]);

    const found = (await detections()).find((d) => d.detector === 'fuzzing' && d.ip === attacker);
    expect(found).toMatchObject({
      trigger: 'errors',
      action: 'flag',
      key: `ip:${attacker}`,
      count: FUZZING_THRESHOLD,
      threshold: FUZZING_THRESHOLD,
    });
    // Flagged, not banned: the address is still served.
    expect((await call(attacker, '/public/status')).status).toBe(200);
    expect((await bans()).map((ban) => ban.subject)).not.toContain(attacker);

    await auditEvents('fuzzing detected', (events) =>
      events.some(isEvent('gateway.abuse.detected', { ip: attacker, reason: 'fuzzing', target: attacker })),
    );
  });
});

describe('bulk scraping', () => {
  it(
    'one token reading far more distinct resources than the other tokens: flagged for review',
    async () => {
      // The baseline: a few partners reading what partners read.
      const peers = await Promise.all(range(4).map((i) => newClientToken(`scraping peer ${i}`)));
      await Promise.all(
        peers.map(async ({ token }, i) => {
          for (const path of ['/api/accounts', '/api/orders'])
            expect((await call(`127.0.5.${10 + i}`, path, { token })).status).toBe(200);
        }),
      );

      // A logged-in user's token walking every object it can reach, each one a distinct path.
      const scraper = '127.0.5.1';
      const alice = stack.demo.users.alice;
      const token = await userToken(scraper, alice);
      const ids: string[] = [];
      for (const n of range(45)) {
        const created = await call(scraper, '/api/accounts', {
          token,
          method: 'POST',
          body: { nickname: `scraped ${n}` },
        });
        expect(created.status).toBe(201);
        ids.push((created.body as { id: string }).id);
      }
      for (const id of ids) expect((await call(scraper, `/api/accounts/${id}`, { token })).status).toBe(200);

      const flagged = (await detections()).filter((d) => d.detector === 'bulk-scraping');
      const found = flagged.find((d) => d.sub === alice.sub);
      expect(found).toMatchObject({
        trigger: 'distinct_paths',
        action: 'flag',
        ip: scraper,
        key: `token:client:${stack.demo.clients.cli.client_id} sub:${alice.sub}`,
        threshold: 40,
      });
      expect(found!.count).toBeGreaterThanOrEqual(40);
      // The peers are the baseline, not suspects; flagged only, so nothing is banned.
      const peerIds = new Set(peers.map((peer) => peer.clientId));
      expect(flagged.filter((d) => d.clientId !== undefined && peerIds.has(d.clientId))).toEqual([]);
      expect((await bans()).map((ban) => ban.subject)).not.toContain(scraper);

      await auditEvents('bulk scraping detected', (events) =>
        events.some(
          (doc) =>
            isEvent('gateway.abuse.detected', { ip: scraper, reason: 'bulk-scraping' })(doc) &&
            doc.gatehouse?.details?.['trigger'] === 'distinct_paths',
        ),
      );
    },
    PASSWORD_HASHING_TIMEOUT_MS,
  );
});

describe('rate-limit evasion', () => {
  it('one token from many addresses: detected, and every address it was used from is banned', async () => {
    const { clientId, token } = await newClientToken('leaked token client');
    const addresses = range(RATE_EVASION_IPS, 1).map((n) => `127.0.6.${n}`);
    for (const address of addresses)
      expect((await call(address, '/api/accounts', { token })).status).toBe(200);

    for (const address of addresses) expect(codeOf(await bannedAnswer(address))).toBe('ERR_GATEWAY_BANNED');
    const banned = (await bans()).filter((ban) => ban.createdBy === 'rate-limit-evasion-detector');
    expect(banned.map((ban) => ban.subject)).toEqual(expect.arrayContaining(addresses));

    await auditEvents('token spread over many addresses', (events) =>
      events.some(
        (doc) =>
          isEvent('gateway.abuse.detected', { reason: 'rate-limit-evasion', client: clientId })(doc) &&
          doc.gatehouse?.details?.['trigger'] === 'identity_ips' &&
          doc.gatehouse.details['banned'] === RATE_EVASION_IPS,
      ),
    );
  });

  it('many tokens from one address: detected and the address banned', async () => {
    const attacker = '127.0.7.1';
    const tokens = await Promise.all(range(10).map((i) => newClientToken(`rotated token ${i}`)));
    for (const { token } of tokens) expect((await call(attacker, '/api/orders', { token })).status).toBe(200);

    expect(codeOf(await bannedAnswer(attacker))).toBe('ERR_GATEWAY_BANNED');
    const ban = (await bans()).find((entry) => entry.subject === attacker);
    expect(ban).toMatchObject({ source: 'detector', createdBy: 'rate-limit-evasion-detector' });

    await auditEvents('many tokens from one address', (events) =>
      events.some(
        (doc) =>
          isEvent('gateway.abuse.detected', {
            ip: attacker,
            reason: 'rate-limit-evasion',
            target: attacker,
          })(doc) && doc.gatehouse?.details?.['trigger'] === 'ip_identities',
      ),
    );
  });
});

describe('alerts', () => {
  it('the embedded 401-spike rule (baseline) fires: listed on the admin API and audited', async () => {
    // 60 failed authentications over 5 addresses: under the brute-force threshold of each.
    const addresses = range(5, 1).map((n) => `127.0.8.${n}`);
    await Promise.all(
      addresses.map(async (address) => {
        for (let i = 0; i < 12; i++)
          expect((await call(address, '/api/orders', { token: garbageToken() })).status).toBe(401);
      }),
    );

    const alert = await eventually('auth-failure-spike firing', async () => {
      const answer = await admin('GET', '/admin/gateway/alerts');
      expect(answer.status).toBe(200);
      const { firing } = answer.body as { firing: AlertView[] };
      return firing.find((entry) => entry.rule === 'auth-failure-spike');
    });
    expect(alert).toMatchObject({ status: 'firing', flagged: true });
    expect(alert.value).toBeGreaterThanOrEqual(50);
    expect(alert.actions).toEqual([expect.objectContaining({ action: 'flag', outcome: 'success' })]);
    // An alert is not a ban: none of these addresses is refused.
    const subjects = new Set((await bans()).map((ban) => ban.subject));
    for (const address of addresses) expect(subjects.has(address)).toBe(false);

    await auditEvents('alert fired', (events) =>
      events.some(isEvent('gateway.alert.fired', { reason: 'auth-failure-spike' })),
    );
  });
});

describe('false positives: the same volume from many users and addresses', () => {
  it('spread over 10 tokens, each from its own address: no detection, no ban', async () => {
    const users = await Promise.all(range(10).map((i) => newClientToken(`ordinary partner ${i}`)));
    const addresses = users.map((_, i) => `127.0.9.${i + 1}`);
    await Promise.all(
      users.map(async ({ token }, i) => {
        const address = addresses[i]!;
        // Their share of the attacks' volume: 401s (expired tokens), 404s on distinct ids,
        // mistakes the gateway refuses (400/404/405), and ordinary reads.
        for (let n = 0; n < BRUTE_FORCE.threshold / 10; n++)
          expect((await call(address, '/api/accounts', { token: garbageToken() })).status).toBe(401);
        for (const n of range(ENUMERATION_IDS / 10, 100 + 10 * i))
          expect((await call(address, `/api/accounts/acc_${n}`, { token })).status).toBe(404);
        for (const n of range(FUZZING_THRESHOLD / 10 - ENUMERATION_IDS / 10)) {
          const path = n % 2 === 0 ? '/api/accounts?limit=0' : '/api/nothing-here';
          expect([400, 404]).toContain((await call(address, path, { token })).status);
        }
        for (const path of ['/api/accounts', '/api/orders', '/api/accounts', '/api/orders'])
          expect((await call(address, path, { token })).status).toBe(200);
      }),
    );

    const ips = new Set(addresses);
    const clients = new Set(users.map((user) => user.clientId));
    const suspicious = (await detections()).filter(
      (d) => ips.has(d.ip) || (d.clientId !== undefined && clients.has(d.clientId)),
    );
    expect(suspicious).toEqual([]);
    expect((await bans()).filter((ban) => ips.has(ban.subject))).toEqual([]);
    for (const [i, address] of addresses.entries())
      expect((await call(address, '/api/accounts', { token: users[i]!.token })).status).toBe(200);
    // Nothing in the audit store either. A barrier first: the gateway ships its audit events in
    // order, so once this ban's event is stored, any detection of the traffic above would be too.
    const barrier = '127.0.9.250';
    const added = await admin('POST', '/admin/gateway/bans', {
      subject: barrier,
      durationSec: 60,
      reason: 'audit barrier',
    });
    expect(added.status).toBe(201);
    const events = await auditEvents('the barrier ban', (all) =>
      all.some(isEvent('gateway.ban.add', { target: barrier })),
    );
    expect((await admin('DELETE', `/admin/gateway/bans/${barrier}`)).status).toBe(204);
    const flaggedHere = events.filter(
      (doc) =>
        ['gateway.abuse.detected', 'gateway.brute_force.detected', 'gateway.ban.add'].includes(
          doc.event.action,
        ) &&
        (ips.has(doc.source?.ip ?? '') || ips.has(doc.gatehouse?.target?.id ?? '')) &&
        doc.gatehouse?.target?.id !== barrier,
    );
    expect(flaggedHere).toEqual([]);
  });

  it(
    'failed logins spread over many addresses and accounts: nothing locked out',
    async () => {
      const addresses = range(LOGIN.stuffingDistinctAccounts, 1).map((n) => `127.0.10.${n}`);
      const pages = await Promise.all(
        addresses.map(async (address, i) =>
          (await openLoginForm(address)).submit(`typo-user-${i}`, 'forgot it'),
        ),
      );
      expect(pages.map((page) => page.status)).toEqual(addresses.map(() => 401));
      const events = await auditEvents('the failed logins', (all) =>
        addresses.every((address) => all.some(isEvent('login.failure', { ip: address }))),
      );
      const ips = new Set(addresses);
      expect(
        events.filter(
          (doc) =>
            ['login.lockout', 'login.credential_stuffing'].includes(doc.event.action) &&
            ips.has(doc.source?.ip ?? ''),
        ),
      ).toEqual([]);
    },
    PASSWORD_HASHING_TIMEOUT_MS,
  );
});
