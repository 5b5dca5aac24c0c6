import { randomBytes } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAdminApp, createAdminOperationsFor } from '../../src/index.js';
import { describeEachStore, startAuthServer, type TestAuthServer } from '../helpers/harness.js';
import { API, TEST_RESOURCES, basic, postForm } from '../helpers/oauth-client.js';

const TOKEN = randomBytes(32).toString('base64url');

/** The members tests read from admin responses (problems and lists). */
interface AdminBody {
  readonly [member: string]: unknown;
  readonly clients?: readonly Record<string, unknown>[];
  readonly users?: readonly Record<string, unknown>[];
  readonly keys?: readonly { kid: string; status: string }[];
  readonly errors?: readonly string[];
  readonly detail?: string;
  readonly new_kid?: string;
}

interface AdminResponse {
  readonly status: number;
  readonly headers: Headers;
  readonly text: string;
  readonly body: AdminBody;
}

async function startAdmin(as: TestAuthServer, adminToken: string | undefined): Promise<FastifyInstance> {
  const app = createAdminApp({
    logger: as.deps.logger,
    deps: as.deps,
    operations: createAdminOperationsFor(as.deps, as.server.services.keys),
    adminToken,
  });
  await app.listen({ host: '127.0.0.1', port: 0 });
  return app;
}

const urlOf = (app: FastifyInstance): string =>
  `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;

function call(
  base: string,
  method: string,
  path: string,
  options: { token?: string | null; json?: unknown; body?: string; headers?: Record<string, string> } = {},
): Promise<AdminResponse> {
  const headers: Record<string, string> = { ...options.headers };
  const token = options.token === undefined ? TOKEN : options.token;
  if (token !== null) headers['authorization'] ??= `Bearer ${token}`;
  let body = options.body;
  if (options.json !== undefined) {
    headers['content-type'] = 'application/json';
    body = JSON.stringify(options.json);
  }
  return fetch(`${base}${path}`, { method, headers, ...(body === undefined ? {} : { body }) }).then(
    async (response) => {
      const text = await response.text();
      let parsed: AdminBody = {};
      try {
        parsed = JSON.parse(text) as AdminBody;
      } catch {
        parsed = {};
      }
      return { status: response.status, headers: response.headers, text, body: parsed };
    },
  );
}

describeEachStore('admin API', (stores) => {
  let as: TestAuthServer;
  let admin: FastifyInstance;
  let base: string;

  beforeAll(async () => {
    as = await startAuthServer({ stores, config: { resources: TEST_RESOURCES } });
    admin = await startAdmin(as, TOKEN);
    base = urlOf(admin);
  });
  afterAll(async () => {
    await admin.close();
    await as.close();
  });

  const refusals: Array<{ name: string; source: string; headers: Record<string, string>; error: boolean }> = [
    { name: 'no Authorization header', source: 'RFC 6750 §3.1', headers: {}, error: false },
    { name: 'wrong token', source: 'RFC 6750 §3.1', headers: { authorization: 'Bearer wrong' }, error: true },
    {
      name: 'token with different case',
      source: 'RFC 6750 §2.1 (tokens are case-sensitive)',
      headers: { authorization: `Bearer ${TOKEN.toUpperCase()}` },
      error: true,
    },
    {
      name: 'prefix of the token',
      source: 'constant-time full comparison',
      headers: { authorization: `Bearer ${TOKEN.slice(0, 20)}` },
      error: true,
    },
    {
      name: 'token with a suffix',
      source: 'constant-time full comparison',
      headers: { authorization: `Bearer ${TOKEN}x` },
      error: true,
    },
    {
      name: 'right token in the Basic scheme',
      source: 'RFC 6750 §2.1',
      headers: { authorization: basic('admin', TOKEN) },
      error: true,
    },
    { name: 'empty Bearer', source: 'RFC 6750 §2.1', headers: { authorization: 'Bearer ' }, error: true },
    {
      name: 'two tokens',
      source: 'RFC 6750 §2.1 (one b64token)',
      headers: { authorization: `Bearer ${TOKEN} ${TOKEN}` },
      error: true,
    },
  ];

  it.each(refusals)(
    '401 for $name ($source), with a Bearer challenge, audited',
    async ({ headers, error }) => {
      const before = as.audit.filter((e) => e.action === 'admin.auth_failed').length;
      const response = await call(base, 'GET', '/admin/clients', { token: null, headers });
      expect(response.status).toBe(401);
      expect(response.headers.get('content-type')).toMatch(/^application\/problem\+json/);
      expect(response.body).toMatchObject({ status: 401, title: 'Unauthorized' });
      const challenge = response.headers.get('www-authenticate');
      expect(challenge).toMatch(/^Bearer realm="gatehouse-admin"/);
      if (error) expect(challenge).toContain('error="invalid_token"');
      else expect(challenge).toBe('Bearer realm="gatehouse-admin"');
      const failures = as.audit.filter((e) => e.action === 'admin.auth_failed');
      expect(failures).toHaveLength(before + 1);
      expect(failures.at(-1)).toMatchObject({ outcome: 'failure', sourceIp: '127.0.0.1' });
      expect(JSON.stringify(failures.at(-1))).not.toContain(TOKEN);
    },
  );

  it('the token in the query string is not accepted (RFC 6750 §2.3 is not offered)', async () => {
    const response = await call(base, 'GET', `/admin/clients?access_token=${TOKEN}`, { token: null });
    expect(response.status).toBe(401);
  });

  it('unknown admin paths need the token too (no route enumeration); then 404 problem', async () => {
    expect((await call(base, 'GET', '/admin/secrets', { token: null })).status).toBe(401);
    const found = await call(base, 'GET', '/admin/secrets');
    expect(found.status).toBe(404);
    expect(found.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    expect((await call(base, 'GET', '/.well-known/openid-configuration')).status).toBe(404);
  });

  it('the scheme name is case-insensitive (RFC 9110 §11.1)', async () => {
    const response = await call(base, 'GET', '/admin/clients', {
      token: null,
      headers: { authorization: `bearer ${TOKEN}` },
    });
    expect(response.status).toBe(200);
  });

  it('clients: create returns the secret once, list never shows it, delete removes it; all audited', async () => {
    const created = await call(base, 'POST', '/admin/clients', {
      json: {
        client_name: 'Partner',
        grant_types: ['client_credentials'],
        scope: 'accounts:read',
        resources: [API],
        token_format: 'jwt',
      },
    });
    expect(created.status).toBe(201);
    expect(created.headers.get('cache-control')).toBe('no-store');
    const { client_id: clientId, client_secret: secret } = created.body as {
      client_id: string;
      client_secret: string;
    };
    expect(secret).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(created.body).toMatchObject({
      client_name: 'Partner',
      token_format: 'jwt',
      scope: 'accounts:read',
    });

    // The secret works at the token endpoint (client_secret_basic, RFC 6749 §2.3.1).
    const token = await postForm(
      `${as.url}/token`,
      { grant_type: 'client_credentials', scope: 'accounts:read' },
      { headers: { authorization: basic(clientId, secret) } },
    );
    expect(token.status).toBe(200);
    expect(token.body['token_type']).toBe('Bearer');

    const listed = await call(base, 'GET', '/admin/clients');
    expect(listed.status).toBe(200);
    expect(listed.body.clients).toContainEqual(expect.objectContaining({ client_id: clientId }));
    expect(listed.text).not.toContain(secret);
    expect(listed.text).not.toContain('secret_hash');
    expect(listed.text).not.toContain('"client_secret"');

    expect((await call(base, 'DELETE', `/admin/clients/${clientId}`)).status).toBe(204);
    const again = await call(base, 'DELETE', `/admin/clients/${clientId}`);
    expect(again.status).toBe(404);
    expect(again.body).toMatchObject({ status: 404, detail: `no client ${clientId}` });

    const actions = as.audit.filter((e) => e.action.startsWith('admin.client.'));
    expect(actions).toEqual(
      expect.arrayContaining([
        expect.objectContaining({
          action: 'admin.client.create',
          outcome: 'success',
          target: { type: 'client', id: clientId },
          sourceIp: '127.0.0.1',
          details: expect.objectContaining({ via: 'admin-api' }),
        }),
        expect.objectContaining({ action: 'admin.client.list', outcome: 'success' }),
        expect.objectContaining({ action: 'admin.client.delete', outcome: 'success' }),
        expect.objectContaining({ action: 'admin.client.delete', outcome: 'failure', reason: 'not_found' }),
      ]),
    );
    expect(JSON.stringify(as.audit)).not.toContain(secret);
    expect(as.logs.join('')).not.toContain(secret);
  });

  const badBodies: Array<{ name: string; body: string; type?: string; status: number; says?: RegExp }> = [
    {
      name: 'unknown member',
      body: JSON.stringify({ client_name: 'x', grant_types: ['client_credentials'], admin: true }),
      status: 400,
      says: /Unrecognized key/,
    },
    {
      name: 'unsupported grant (implicit, OAuth 2.1 §10.1)',
      body: JSON.stringify({ client_name: 'x', grant_types: ['implicit'] }),
      status: 400,
      says: /grant_types/,
    },
    {
      name: 'no grant types',
      body: JSON.stringify({ client_name: 'x', grant_types: [] }),
      status: 400,
      says: /grant_types/,
    },
    {
      name: 'redirect URI with a fragment (RFC 6749 §3.1.2)',
      body: JSON.stringify({
        client_name: 'x',
        grant_types: ['authorization_code'],
        redirect_uris: ['https://app.example/cb#frag'],
      }),
      status: 400,
      says: /has a fragment/,
    },
    { name: 'malformed JSON', body: '{"client_name":', status: 400 },
    { name: 'JSON that is not an object', body: '[]', status: 400 },
    {
      name: 'prototype pollution attempt',
      body: '{"client_name":"x","grant_types":["client_credentials"],"__proto__":{"admin":true}}',
      status: 400,
    },
    {
      name: 'a form instead of JSON',
      body: 'client_name=x',
      type: 'application/x-www-form-urlencoded',
      status: 415,
    },
  ];

  it.each(badBodies)('POST /admin/clients refuses $name with a problem ($status)', async (c) => {
    const before = (await call(base, 'GET', '/admin/clients')).body.clients!.length;
    const response = await call(base, 'POST', '/admin/clients', {
      body: c.body,
      headers: { 'content-type': c.type ?? 'application/json' },
    });
    expect(response.status).toBe(c.status);
    expect(response.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    expect(response.body).toMatchObject({ status: c.status });
    if (c.says !== undefined) expect(JSON.stringify(response.body.errors)).toMatch(c.says);
    expect((await call(base, 'GET', '/admin/clients')).body.clients).toHaveLength(before);
  });

  it('users: the password travels in the body only, is never returned, logged or audited', async () => {
    const password = randomBytes(12).toString('base64url');
    const created = await call(base, 'POST', '/admin/users', {
      json: { username: 'Erin', password, roles: ['admin'] },
    });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ username: 'erin', roles: ['admin'] });
    expect(created.text).not.toContain(password);
    expect(created.text).not.toContain('scrypt');

    const listed = await call(base, 'GET', '/admin/users');
    expect(listed.body.users).toContainEqual(expect.objectContaining({ username: 'erin' }));
    expect(listed.text).not.toMatch(/password|scrypt/);

    const duplicate = await call(base, 'POST', '/admin/users', { json: { username: 'ERIN', password } });
    expect(duplicate.status).toBe(400);
    expect(duplicate.body.errors).toEqual(['user erin exists']);

    expect((await call(base, 'DELETE', '/admin/users/erin')).status).toBe(204);
    expect((await call(base, 'DELETE', '/admin/users/erin')).status).toBe(404);
    expect(as.audit.map((e) => e.action)).toEqual(
      expect.arrayContaining(['admin.user.create', 'admin.user.list', 'admin.user.delete']),
    );
    expect(JSON.stringify(as.audit)).not.toContain(password);
    expect(as.logs.join('')).not.toContain(password);
  });

  it('keys: list, scheduled rotation, emergency rotation (revoked kid and the tokens that died)', async () => {
    const listed = await call(base, 'GET', '/admin/keys');
    expect(listed.status).toBe(200);
    const active = listed.body.keys!.find((k) => k.status === 'active');
    expect(active).toBeDefined();
    expect(listed.text).not.toMatch(/private|"d"/);

    const refused = await call(base, 'POST', '/admin/keys/rotate', { json: { kid: active!.kid } });
    expect(refused.status).toBe(400);
    expect(refused.body.errors).toEqual([expect.stringMatching(/^kid: /)]);

    const scheduled = await call(base, 'POST', '/admin/keys/rotate');
    expect(scheduled.status).toBe(200);
    expect(scheduled.body).toMatchObject({ emergency: false, pending: { status: 'pending' } });

    // A JWT access token signed by the active key: it dies with the key.
    const { client, clientSecret } = await as.server.services.clients.create({
      name: 'key victim',
      grantTypes: ['client_credentials'],
      scopes: ['accounts:read'],
      resources: [API],
      tokenFormat: 'jwt',
    });
    const issued = await postForm(
      `${as.url}/token`,
      { grant_type: 'client_credentials', scope: 'accounts:read' },
      { headers: { authorization: basic(client.clientId, clientSecret!) } },
    );
    expect(issued.status).toBe(200);
    const live = await as.deps.db
      .selectFrom('access_tokens')
      .select('jti')
      .where('kid', '=', active!.kid)
      .where('revoked_at', 'is', null)
      .where('expires_at', '>', as.clock.now())
      .execute();
    expect(live.length).toBeGreaterThanOrEqual(1);

    const emergency = await call(base, 'POST', '/admin/keys/rotate', { json: { emergency: true } });
    expect(emergency.status).toBe(200);
    expect(emergency.body).toMatchObject({
      emergency: true,
      revoked_kid: active!.kid,
      tokens_invalidated: live.length,
    });
    expect(emergency.body.new_kid).not.toBe(active!.kid);

    const unknown = await call(base, 'POST', '/admin/keys/rotate', {
      json: { emergency: true, kid: 'nope' },
    });
    expect(unknown.status).toBe(400);

    const after = await call(base, 'GET', '/admin/keys');
    expect(after.body.keys).toContainEqual(expect.objectContaining({ kid: active!.kid, status: 'revoked' }));
    expect(as.audit).toContainEqual(
      expect.objectContaining({
        action: 'admin.key.rotate',
        reason: 'emergency',
        target: { type: 'signing_key', id: active!.kid },
      }),
    );
  });
});

describe('admin API without a configured token', () => {
  let as: TestAuthServer;
  let admin: FastifyInstance;
  beforeAll(async () => {
    as = await startAuthServer();
    admin = await startAdmin(as, undefined);
  });
  afterAll(async () => {
    await admin.close();
    await as.close();
  });

  it('answers 503 to everyone (there is never a default credential) and says so in the log', async () => {
    for (const token of [null, '', 'anything']) {
      const response = await call(urlOf(admin), 'GET', '/admin/clients', { token });
      expect(response.status).toBe(503);
      expect(response.body.detail).toMatch(/no admin token is configured/);
    }
    expect(as.logs.join('')).toMatch(/admin API disabled/);
  });
});
