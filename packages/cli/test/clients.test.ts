import { generateKeyPairSync } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { hashToken, openSqlDatabase } from '@gatehouse/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDeployment, type TestDeployment } from './helpers/cli.js';
import { readAuditLog } from './helpers/audit.js';

interface ClientJson {
  client_id: string;
  client_secret?: string;
  client_name: string;
  grant_types: string[];
  scope: string;
  token_format: string;
  token_endpoint_auth_method: string;
  redirect_uris: string[];
  resources: string[];
  first_party: boolean;
  can_introspect: boolean;
  client_id_issued_at: number;
}

async function storedClient(deployment: TestDeployment, clientId: string) {
  const sql = openSqlDatabase<{ clients: { client_id: string; secret_hash: string | null } }>({
    sqliteFile: join(deployment.dataDir, 'gatehouse.db'),
  });
  try {
    return await sql.db
      .selectFrom('clients')
      .selectAll()
      .where('client_id', '=', clientId)
      .executeTakeFirst();
  } finally {
    await sql.close();
  }
}

async function auditLines(deployment: TestDeployment): Promise<Record<string, unknown>[]> {
  const text = await readAuditLog(deployment.dataDir);
  return text
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line) as Record<string, unknown>);
}

describe('gatehouse clients', () => {
  let deployment: TestDeployment;
  beforeAll(async () => {
    deployment = await createTestDeployment();
  });
  afterAll(async () => {
    await deployment.remove();
  });

  it('create --json: one JSON document with the secret, stored only as its SHA-256', async () => {
    const result = await deployment.run([
      'clients',
      'create',
      '--name',
      'Partner',
      '--grant',
      'client_credentials',
      '--scope',
      'accounts:read orders:read',
      '--token-format',
      'opaque',
      '--introspect',
      '--resource',
      'https://api.example.com',
      '--json',
    ]);
    expect(result.code).toBe(0);
    const client = JSON.parse(result.stdout) as ClientJson;
    expect(client).toMatchObject({
      client_name: 'Partner',
      grant_types: ['client_credentials'],
      scope: 'accounts:read orders:read',
      token_format: 'opaque',
      token_endpoint_auth_method: 'client_secret_basic',
      resources: ['https://api.example.com'],
      can_introspect: true,
      first_party: false,
    });
    expect(client.client_id).toMatch(/^[A-Za-z0-9_-]{16,}$/);
    // 256-bit random secret, base64url.
    expect(client.client_secret).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(Object.keys(client)).not.toContain('secret_hash');
    const row = await storedClient(deployment, client.client_id);
    expect(row?.secret_hash).toBe(hashToken(client.client_secret!));
    expect(JSON.stringify(row)).not.toContain(client.client_secret);
  });

  it('create: prints the secret once in the human form; list never shows secrets or hashes', async () => {
    const created = await deployment.run([
      'clients',
      'create',
      '--name',
      'Internal',
      '--grant',
      'client_credentials',
      '--grant',
      'token-exchange',
      '--scope',
      'accounts:write',
      '--token-format',
      'jwt',
    ]);
    expect(created.code).toBe(0);
    const clientId = /client_id: +(\S+)/.exec(created.stdout)?.[1];
    const secret = /client_secret: +(\S+)/.exec(created.stdout)?.[1];
    expect(clientId).toBeDefined();
    expect(secret).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(created.stdout.split(secret!)).toHaveLength(2);
    expect(created.stdout).toContain('shown once');
    expect(created.stdout).toContain('urn:ietf:params:oauth:grant-type:token-exchange');

    const row = await storedClient(deployment, clientId!);
    for (const argv of [
      ['clients', 'list'],
      ['clients', 'list', '--json'],
    ]) {
      const listed = await deployment.run(argv);
      expect(listed.code).toBe(0);
      expect(listed.stdout).toContain(clientId);
      expect(listed.stdout).not.toContain(secret);
      expect(listed.stdout).not.toContain(row!.secret_hash!);
      expect(listed.stdout).not.toMatch(/client_secret["': ]|secret_hash/);
    }
    const list = JSON.parse((await deployment.run(['clients', 'list', '--json'])).stdout) as {
      clients: ClientJson[];
    };
    expect(list.clients.map((c) => c.client_name)).toEqual(expect.arrayContaining(['Internal', 'Partner']));
  });

  it('a public client (authorization code + PKCE) gets no secret', async () => {
    const result = await deployment.run([
      'clients',
      'create',
      '--name',
      'CLI',
      '--grant',
      'authorization_code',
      '--grant',
      'refresh_token',
      '--public',
      '--redirect-uri',
      'http://127.0.0.1:8765/callback',
      '--scope',
      'openid accounts:read',
      '--json',
    ]);
    expect(result.code).toBe(0);
    const client = JSON.parse(result.stdout) as ClientJson;
    expect(client.token_endpoint_auth_method).toBe('none');
    expect(client.redirect_uris).toEqual(['http://127.0.0.1:8765/callback']);
    expect(client).not.toHaveProperty('client_secret');
    expect((await storedClient(deployment, client.client_id))?.secret_hash).toBeNull();
  });

  it('a tls_client_auth client (RFC 8705 §2.1) is registered with its one certificate name and no secret', async () => {
    const result = await deployment.run([
      'clients',
      'create',
      '--name',
      'Partner over mTLS',
      '--grant',
      'client_credentials',
      '--auth-method',
      'tls_client_auth',
      '--tls-san-dns',
      'partner.example',
      '--bound-tokens',
      '--json',
    ]);
    expect(result.code).toBe(0);
    const client = JSON.parse(result.stdout) as ClientJson & Record<string, unknown>;
    expect(client).toMatchObject({
      token_endpoint_auth_method: 'tls_client_auth',
      tls_client_auth_san_dns: 'partner.example',
      tls_client_certificate_bound_access_tokens: true,
    });
    expect(client).not.toHaveProperty('client_secret');
  });

  it.each([
    ['no certificate name', []],
    ['two certificate names', ['--tls-san-dns', 'a.example', '--tls-san-uri', 'spiffe://x/y']],
  ])('refuses a tls_client_auth client with %s, saying why', async (_name, flags) => {
    const result = await deployment.run([
      'clients',
      'create',
      '--name',
      'bad',
      '--grant',
      'client_credentials',
      '--auth-method',
      'tls_client_auth',
      ...flags,
    ]);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/tls_client_auth/);
  });

  it('a private_key_jwt client (RFC 7523) takes its public keys from --jwks FILE and gets no secret', async () => {
    const { publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const jwk = { ...publicKey.export({ format: 'jwk' }), kid: 'k1', alg: 'ES256', use: 'sig' };
    await writeFile(join(deployment.dir, 'client-keys.json'), JSON.stringify({ keys: [jwk] }));
    const result = await deployment.run([
      'clients',
      'create',
      '--name',
      'Signed',
      '--grant',
      'client_credentials',
      '--auth-method',
      'private_key_jwt',
      '--jwks',
      'client-keys.json',
      '--json',
    ]);
    expect(result.code).toBe(0);
    const client = JSON.parse(result.stdout) as ClientJson & { jwks: { keys: unknown[] } };
    expect(client.token_endpoint_auth_method).toBe('private_key_jwt');
    expect(client.jwks).toEqual({ keys: [jwk] });
    expect(client).not.toHaveProperty('client_secret');
    const missing = await deployment.run([
      'clients',
      'create',
      '--name',
      'Unsigned',
      '--grant',
      'client_credentials',
      '--auth-method',
      'private_key_jwt',
    ]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain('jwks: required for private_key_jwt');
  });

  const refusals: Array<{ name: string; argv: string[]; says: RegExp }> = [
    {
      name: 'unknown grant type',
      argv: ['--grant', 'password'],
      says: /grant_types\.0: Invalid option/,
    },
    {
      name: 'implicit grant is not supported (OAuth 2.1 §10.1)',
      argv: ['--grant', 'implicit'],
      says: /grant_types\.0/,
    },
    {
      name: 'unknown token format',
      argv: ['--grant', 'client_credentials', '--token-format', 'saml'],
      says: /token_format/,
    },
    {
      name: 'authorization code without a redirect URI',
      argv: ['--grant', 'authorization_code'],
      says: /redirectUris: required for authorization_code/,
    },
    {
      name: 'plain-HTTP redirect URI off loopback (RFC 8252 §7.3)',
      argv: ['--grant', 'authorization_code', '--redirect-uri', 'http://evil.example/cb'],
      says: /http only on loopback/,
    },
    {
      name: 'public client with client credentials',
      argv: ['--grant', 'client_credentials', '--public'],
      says: /public client cannot use client_credentials/,
    },
    {
      name: 'resource with a fragment (RFC 8707 §2)',
      argv: ['--grant', 'client_credentials', '--resource', 'https://api.example.com/#x'],
      says: /has a fragment/,
    },
  ];

  it.each(refusals)('refuses $name: exit 1 with the problem, nothing stored', async ({ argv, says }) => {
    const before = JSON.parse((await deployment.run(['clients', 'list', '--json'])).stdout) as {
      clients: unknown[];
    };
    const result = await deployment.run(['clients', 'create', '--name', 'Bad', ...argv]);
    expect(result.code).toBe(1);
    expect(result.stdout).toBe('');
    expect(result.stderr).toMatch(says);
    const after = JSON.parse((await deployment.run(['clients', 'list', '--json'])).stdout) as {
      clients: unknown[];
    };
    expect(after.clients).toHaveLength(before.clients.length);
  });

  it('delete removes a client; deleting an unknown one fails (exit 1)', async () => {
    const created = JSON.parse(
      (
        await deployment.run([
          'clients',
          'create',
          '--name',
          'Doomed',
          '--grant',
          'client_credentials',
          '--json',
        ])
      ).stdout,
    ) as ClientJson;
    const deleted = await deployment.run(['clients', 'delete', created.client_id]);
    expect(deleted.code).toBe(0);
    expect(deleted.stdout).toContain(`Client ${created.client_id} deleted`);
    expect(await storedClient(deployment, created.client_id)).toBeUndefined();
    const again = await deployment.run(['clients', 'delete', created.client_id]);
    expect(again.code).toBe(1);
    expect(again.stderr).toContain(`no client ${created.client_id}`);
  });

  it('an id that begins with "-" is deleted after "--"; before it, it is refused as an unknown option (exit 2)', async () => {
    const created = JSON.parse(
      (
        await deployment.run([
          'clients',
          'create',
          '--name',
          'Dashed',
          '--grant',
          'client_credentials',
          '--json',
        ])
      ).stdout,
    ) as ClientJson;
    // Ids made before client ids were kept from starting with '-' or '_' may still begin with one.
    const dashed = `-${created.client_id.slice(1)}`;
    const sql = openSqlDatabase<{ clients: { client_id: string } }>({
      sqliteFile: join(deployment.dataDir, 'gatehouse.db'),
    });
    try {
      await sql.db
        .updateTable('clients')
        .set({ client_id: dashed })
        .where('client_id', '=', created.client_id)
        .execute();
    } finally {
      await sql.close();
    }
    const refused = await deployment.run(['clients', 'delete', dashed]);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain("'--'");
    expect(await storedClient(deployment, dashed)).toBeDefined();
    const deleted = await deployment.run(['clients', 'delete', '--', dashed]);
    expect(deleted.code).toBe(0);
    expect(deleted.stdout).toContain(`Client ${dashed} deleted`);
    expect(await storedClient(deployment, dashed)).toBeUndefined();
  });

  it('audits every action in the audit store, from the command line, without secrets', async () => {
    // Its own actions: the other tests of the file may run alone or fail.
    const doomed = JSON.parse(
      (
        await deployment.run([
          'clients',
          'create',
          '--name',
          'Gone',
          '--grant',
          'client_credentials',
          '--json',
        ])
      ).stdout,
    ) as ClientJson;
    expect((await deployment.run(['clients', 'delete', doomed.client_id])).code).toBe(0);
    expect((await deployment.run(['clients', 'delete', doomed.client_id])).code).toBe(1);
    expect((await deployment.run(['clients', 'create', '--name', 'Bad', '--grant', 'password'])).code).toBe(
      1,
    );
    expect((await deployment.run(['clients', 'list'])).code).toBe(0);
    const created = await deployment.run([
      'clients',
      'create',
      '--name',
      'Audited',
      '--grant',
      'client_credentials',
      '--json',
    ]);
    const client = JSON.parse(created.stdout) as ClientJson;
    const events = await auditLines(deployment);
    expect(events).toContainEqual(
      expect.objectContaining({
        action: 'admin.client.create',
        outcome: 'success',
        component: 'auth-server',
        target: { type: 'client', id: client.client_id },
        details: expect.objectContaining({ via: 'cli' }),
      }),
    );
    expect(events).toContainEqual(
      expect.objectContaining({
        action: 'admin.client.create',
        outcome: 'failure',
        reason: 'invalid_request',
      }),
    );
    expect(events).toContainEqual(
      expect.objectContaining({ action: 'admin.client.delete', outcome: 'success' }),
    );
    expect(events).toContainEqual(
      expect.objectContaining({ action: 'admin.client.delete', outcome: 'failure', reason: 'not_found' }),
    );
    expect(events).toContainEqual(expect.objectContaining({ action: 'admin.client.list' }));
    const text = await readAuditLog(deployment.dataDir);
    expect(text).not.toContain(client.client_secret);
  });
});
