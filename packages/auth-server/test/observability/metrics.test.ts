import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { promtoolPath, requireService } from '@gatehouse/testing';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createAdminApp, createAdminOperationsFor } from '../../src/index.js';
import { Browser, addUser, authorizeUrl, pkce, signIn } from '../helpers/browser-flow.js';
import { describeEachStore, startAuthServer, type TestAuthServer } from '../helpers/harness.js';
import {
  API,
  REDIRECT_URI,
  TEST_RESOURCES,
  introspect,
  newClient,
  postForm,
  revoke,
  tokenRequest,
  type TestClient,
} from '../helpers/oauth-client.js';

/**
 * The auth server's own series on the admin listener's `/metrics` (issue 6): requests and latency
 * per endpoint, tokens issued, refusals by RFC 6749 §5.2 error, revocations, introspections,
 * sign-ins and signing keys by state. Each case scrapes before and after what it does and asserts
 * the exact change of every series, so a case depends on no other. No label value comes from a
 * request: unknown grant types are `other`, unknown paths are `other`.
 */

const promtool = await requireService('promtool', 'auth-server /metrics (promtool check metrics)');
const PASSWORD = 'alice password 1';

/** Every sample of the auth server's series, keyed by name and labels. */
type Samples = ReadonlyMap<string, number>;

function parseSamples(text: string): Samples {
  const samples = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (!line.startsWith('gatehouse_auth_')) continue;
    const at = line.lastIndexOf(' ');
    samples.set(line.slice(0, at), Number(line.slice(at + 1)));
  }
  return samples;
}

/**
 * What changed between two scrapes, series by series. Histogram buckets and sums depend on timing:
 * `_count` stands for them. The signing-key gauge is asserted on its own.
 */
function changes(before: Samples, after: Samples): Record<string, number> {
  const changed: Record<string, number> = {};
  for (const [series, value] of after) {
    if (/_bucket\{|_sum\{|^gatehouse_auth_signing_keys/.test(series)) continue;
    const delta = value - (before.get(series) ?? 0);
    if (delta !== 0) changed[series] = delta;
  }
  return changed;
}

const requests = (endpoint: string, code: number, n = 1): Record<string, number> => ({
  [`gatehouse_auth_requests_total{endpoint="${endpoint}",code="${code}"}`]: n,
});
const timed = (endpoint: string, n: number): Record<string, number> => ({
  [`gatehouse_auth_request_duration_seconds_count{endpoint="${endpoint}"}`]: n,
});
const issued = (grantType: string, tokenType: string, n = 1): Record<string, number> => ({
  [`gatehouse_auth_tokens_issued_total{grant_type="${grantType}",token_type="${tokenType}"}`]: n,
});
const refused = (grantType: string, error: string): Record<string, number> => ({
  [`gatehouse_auth_token_refusals_total{grant_type="${grantType}",error="${error}"}`]: 1,
});
const logins = (outcome: string, n: number): Record<string, number> => ({
  [`gatehouse_auth_logins_total{outcome="${outcome}"}`]: n,
});

describeEachStore('auth server metrics', (stores) => {
  let as: TestAuthServer;
  let admin: FastifyInstance;
  let service: TestClient;
  let introspector: TestClient;
  let web: TestClient;

  async function scrape(): Promise<{ status: number; text: string }> {
    const response = await fetch(`http://127.0.0.1:${(admin.server.address() as AddressInfo).port}/metrics`);
    return { status: response.status, text: await response.text() };
  }

  /** The exact change of every auth server series while `act` runs. */
  async function measure(act: () => Promise<void>): Promise<Record<string, number>> {
    const before = parseSamples((await scrape()).text);
    await act();
    return changes(before, parseSamples((await scrape()).text));
  }

  beforeAll(async () => {
    as = await startAuthServer({
      stores,
      config: {
        resources: TEST_RESOURCES,
        // A lockout after 2 failures of one account; the address itself is never locked here.
        login: {
          delayStepMs: 0,
          maxFailuresPerAccount: 2,
          maxFailuresPerIp: 10_000,
          stuffingDistinctAccounts: 10_000,
        },
      },
    });
    admin = createAdminApp({
      logger: as.deps.logger,
      deps: as.deps,
      operations: createAdminOperationsFor(as.deps, as.server.services.keys),
      adminToken: randomBytes(32).toString('base64url'),
      metrics: as.server.metrics,
    });
    await admin.listen({ host: '127.0.0.1', port: 0 });
    service = await newClient(as, {
      grantTypes: ['client_credentials'],
      scopes: ['accounts:read'],
      resources: [API],
    });
    introspector = await newClient(as, { grantTypes: ['client_credentials'], canIntrospect: true });
    web = await newClient(as, {
      grantTypes: ['authorization_code', 'refresh_token'],
      scopes: ['openid'],
      firstParty: true,
    });
    await addUser(as, { username: 'alice', password: PASSWORD });
    await addUser(as, { username: 'bob', password: 'bob password 1' });
  });
  afterAll(async () => {
    await admin.close();
    await as.close();
  });

  it('counts a client-credentials issuance: one access token, one 200 at the token endpoint', async () => {
    const delta = await measure(async () => {
      const response = await tokenRequest(as, service, { grant_type: 'client_credentials' });
      expect(response.status).toBe(200);
      expect(Object.keys(response.body)).not.toContain('refresh_token');
    });
    expect(delta).toEqual({
      ...requests('token', 200),
      ...timed('token', 1),
      ...issued('client_credentials', 'access'),
    });
  });

  it('counts a sign-in and the code and refresh grants: access, refresh and ID tokens each', async () => {
    const delta = await measure(async () => {
      const browser = new Browser();
      const signedIn = await signIn(as, browser, {
        clientId: web.id,
        redirectUri: REDIRECT_URI,
        username: 'alice',
        password: PASSWORD,
        scope: 'openid',
        nonce: 'n-1',
      });
      const code = await tokenRequest(as, web, {
        grant_type: 'authorization_code',
        code: signedIn.params['code'],
        redirect_uri: REDIRECT_URI,
        code_verifier: signedIn.pkce.verifier,
      });
      expect(code.status).toBe(200);
      expect(Object.keys(code.body)).toEqual(
        expect.arrayContaining(['access_token', 'refresh_token', 'id_token']),
      );
      const refreshed = await tokenRequest(as, web, {
        grant_type: 'refresh_token',
        refresh_token: code.body['refresh_token'] as string,
      });
      expect(refreshed.status).toBe(200);
      expect(Object.keys(refreshed.body)).toEqual(
        expect.arrayContaining(['access_token', 'refresh_token', 'id_token']),
      );
    });
    const tokenSeries = Object.fromEntries(
      Object.entries(delta).filter(([series]) => /tokens_issued|logins|endpoint="token"/.test(series)),
    );
    expect(tokenSeries).toEqual({
      ...requests('token', 200, 2),
      ...timed('token', 2),
      ...issued('authorization_code', 'access'),
      ...issued('authorization_code', 'refresh'),
      ...issued('authorization_code', 'id'),
      ...issued('refresh_token', 'access'),
      ...issued('refresh_token', 'refresh'),
      ...issued('refresh_token', 'id'),
      ...logins('success', 1),
    });
    // The browser part: the authorization endpoint and the login form, by their fixed names.
    expect(delta).toMatchObject({
      ...requests('login', 303),
      ...timed('authorize', 1),
      ...timed('login', 1),
    });
  });

  // Each refused token request: what was sent, the answer, and the series it adds to.
  const refusals: {
    name: string;
    params: Record<string, string>;
    secret?: string;
    status: number;
    grantType: string;
    error: string;
  }[] = [
    {
      name: 'a wrong client secret',
      params: { grant_type: 'client_credentials' },
      secret: 'wrong',
      status: 401,
      grantType: 'client_credentials',
      error: 'invalid_client',
    },
    {
      name: 'a grant type the server does not know (never a label)',
      params: { grant_type: 'x<script>' },
      status: 400,
      grantType: 'other',
      error: 'unsupported_grant_type',
    },
    {
      name: 'no grant type',
      params: {},
      status: 400,
      grantType: 'other',
      error: 'invalid_request',
    },
    {
      name: 'a grant the client is not registered for',
      params: { grant_type: 'authorization_code', code: 'c', code_verifier: 'v' },
      status: 400,
      grantType: 'authorization_code',
      error: 'unauthorized_client',
    },
    {
      name: 'a scope the client may not have',
      params: { grant_type: 'client_credentials', scope: 'orders:write' },
      status: 400,
      grantType: 'client_credentials',
      error: 'invalid_scope',
    },
  ];

  it.each(refusals)('counts a refusal for $name by its RFC 6749 §5.2 error', async (refusal) => {
    const delta = await measure(async () => {
      const client = refusal.secret === undefined ? service : { ...service, secret: refusal.secret };
      const response = await tokenRequest(as, client, refusal.params);
      expect(response.status).toBe(refusal.status);
      expect(response.body['error']).toBe(refusal.error);
    });
    expect(delta).toEqual({
      ...requests('token', refusal.status),
      ...timed('token', 1),
      ...refused(refusal.grantType, refusal.error),
    });
  });

  it('counts a body the form parser refused as the invalid_request it was answered with', async () => {
    const delta = await measure(async () => {
      const response = await postForm(
        `${as.url}/token`,
        { grant_type: 'client_credentials', padding: 'x'.repeat(70 * 1024) },
        { client: service },
      );
      expect(response.status).toBe(400);
      expect(response.body['error']).toBe('invalid_request');
    });
    expect(delta).toEqual({
      ...requests('token', 400),
      ...timed('token', 1),
      ...refused('other', 'invalid_request'),
    });
    expect(as.audit.findLast((event) => event.action === 'token.refuse')?.reason).toBe(
      'ERR_OAUTH_INVALID_REQUEST',
    );
  });

  it('counts introspection answers by active, a caller not allowed to introspect as inactive', async () => {
    const token = (await tokenRequest(as, service, { grant_type: 'client_credentials' })).body[
      'access_token'
    ] as string;
    const delta = await measure(async () => {
      expect((await introspect(as, introspector, token)).body['active']).toBe(true);
      expect((await introspect(as, introspector, 'not-a-token')).body['active']).toBe(false);
      expect((await introspect(as, service, token)).body['active']).toBe(false);
    });
    expect(delta).toEqual({
      ...requests('introspect', 200, 3),
      ...timed('introspect', 3),
      'gatehouse_auth_introspections_total{active="true"}': 1,
      'gatehouse_auth_introspections_total{active="false"}': 2,
    });
  });

  it("counts revoked tokens only: not an unknown token, not another client's", async () => {
    const token = (await tokenRequest(as, service, { grant_type: 'client_credentials' })).body[
      'access_token'
    ] as string;
    const delta = await measure(async () => {
      // RFC 7009 §2.2: 200 in every case.
      expect((await revoke(as, introspector, token)).status).toBe(200);
      expect((await revoke(as, service, 'not-a-token')).status).toBe(200);
      expect((await revoke(as, service, token)).status).toBe(200);
    });
    expect(delta).toEqual({
      ...requests('revoke', 200, 3),
      ...timed('revoke', 3),
      gatehouse_auth_revocations_total: 1,
    });
  });

  it('counts failed sign-ins, the lockout they cause, and attempts refused while locked', async () => {
    const browser = new Browser();
    const delta = await measure(async () => {
      const page = await browser.get(
        authorizeUrl(as, {
          response_type: 'code',
          client_id: web.id,
          redirect_uri: REDIRECT_URI,
          scope: 'openid',
          code_challenge: pkce().challenge,
          code_challenge_method: 'S256',
        }),
      );
      const first = await browser.submit(as.url, page, { username: 'bob', password: 'wrong 1' });
      expect(first.status).toBe(401);
      const second = await browser.submit(as.url, first, { username: 'bob', password: 'wrong 2' });
      expect(second.status).toBe(429);
      // Locked: refused even with the right password.
      const third = await browser.submit(as.url, second, { username: 'bob', password: 'bob password 1' });
      expect(third.status).toBe(429);
    });
    expect(delta).toEqual({
      ...requests('authorize', 200),
      ...timed('authorize', 1),
      ...requests('login', 401),
      ...requests('login', 429, 2),
      ...timed('login', 3),
      ...logins('failure', 3),
      ...logins('lockout', 1),
    });
  });

  it('names unknown paths `other` and never puts a path, a query or a grant type sent by a client in a label', async () => {
    const probe = `probe-${randomBytes(6).toString('hex')}`;
    const delta = await measure(async () => {
      expect((await fetch(`${as.url}/${probe}`)).status).toBe(404);
      expect((await fetch(`${as.url}/jwks?${probe}=1`)).status).toBe(200);
      expect((await fetch(`${as.url}/.well-known/openid-configuration`)).status).toBe(200);
      const response = await postForm(
        `${as.url}/token`,
        { grant_type: `${probe}<script>` },
        { client: service },
      );
      expect(response.status).toBe(400);
    });
    expect(delta).toEqual({
      ...requests('other', 404),
      ...timed('other', 1),
      ...requests('jwks', 200),
      ...timed('jwks', 1),
      ...requests('discovery', 200),
      ...timed('discovery', 1),
      ...requests('token', 400),
      ...timed('token', 1),
      ...refused('other', 'unsupported_grant_type'),
    });
    const { text } = await scrape();
    expect(text).not.toContain(probe);
    expect(text).not.toContain('<script');
    for (const name of [service.id, web.id, 'alice', 'bob']) expect(text).not.toContain(name);
  });

  it('shows the signing keys by state, every state present, and follows a rotation', async () => {
    const keys = (): Record<string, number> =>
      Object.fromEntries(
        [...parseSamples(text).entries()].filter(([series]) =>
          series.startsWith('gatehouse_auth_signing_keys'),
        ),
      );
    let text = (await scrape()).text;
    const listed = await as.server.services.keys.list();
    const count = (status: string): number => listed.filter((key) => key.status === status).length;
    expect(keys()).toEqual({
      'gatehouse_auth_signing_keys{state="pending"}': count('pending'),
      'gatehouse_auth_signing_keys{state="active"}': 1,
      'gatehouse_auth_signing_keys{state="retiring"}': count('retiring'),
      'gatehouse_auth_signing_keys{state="retired"}': count('retired'),
      'gatehouse_auth_signing_keys{state="revoked"}': count('revoked'),
    });
    const pendingBefore = count('pending');
    // A rotation pre-publishes a successor: pending until it signs (keys.prePublishSec).
    await as.server.services.keys.rotate();
    text = (await scrape()).text;
    expect(keys()).toMatchObject({
      'gatehouse_auth_signing_keys{state="pending"}': Math.max(pendingBefore, 1),
      'gatehouse_auth_signing_keys{state="active"}': 1,
    });
  });

  it.runIf(promtool.available)('passes promtool check metrics', async () => {
    const { status, text } = await scrape();
    expect(status).toBe(200);
    const result = spawnSync(promtoolPath(), ['check', 'metrics'], { input: text, encoding: 'utf8' });
    expect({ status: result.status, stdout: result.stdout, stderr: result.stderr }).toEqual({
      status: 0,
      stdout: '',
      stderr: '',
    });
  });
});
