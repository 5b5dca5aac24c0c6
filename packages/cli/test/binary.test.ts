import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TEST_ADMIN_TOKEN, TEST_KEK_B64 } from './helpers/cli.js';
import { BIN, builtOrSkip, childEnv, distOf, startBinary, type Started } from './helpers/binary.js';

const built = builtOrSkip('gatehouse binary end to end', distOf(['auth-server', 'core', 'guard']));

/** `gatehouse auth-server` in `dir`; resolves once both listeners are announced. */
function startServer(dir: string): Promise<Started> {
  return startBinary(['auth-server', '--config', join(dir, 'gatehouse.yaml')], dir, (stderr) => {
    const url = /listening on (http:\/\/\S+)/.exec(stderr)?.[1];
    const admin = /admin API on (http:\/\/\S+)\/admin/.exec(stderr)?.[1];
    return url === undefined || admin === undefined ? undefined : { url, admin };
  });
}

describe.skipIf(!built)('gatehouse binary end to end (node packages/cli/bin/gatehouse.js)', () => {
  let dir: string;
  let server: Started | undefined;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'gatehouse-bin-'));
    await writeFile(
      join(dir, 'gatehouse.yaml'),
      [
        'log:',
        '  level: info',
        'admin:',
        '  token: ${GATEHOUSE_ADMIN_TOKEN}',
        '  listen:',
        '    port: 0',
        'authServer:',
        '  issuer: http://127.0.0.1:4000',
        '  listen:',
        '    port: 0',
        '  resources:',
        '    - id: https://api.example.com',
        '      scopes: [accounts:read]',
        '',
      ].join('\n'),
    );
    server = await startServer(dir);
  });
  afterAll(async () => {
    if (server !== undefined && server.child.exitCode === null) server.child.kill('SIGKILL');
    await rm(dir, { recursive: true, force: true });
  });

  it('serves discovery and issues a client-credentials token to a client made with `clients create`', async () => {
    const discovery = await fetch(`${server!.url}/.well-known/openid-configuration`);
    expect(discovery.status).toBe(200);
    const metadata = (await discovery.json()) as { issuer: string; token_endpoint: string };
    expect(metadata.issuer).toBe('http://127.0.0.1:4000');

    // The store command works on the same data dir while the server runs (SQLite WAL).
    const { stdout } = await promisify(execFile)(
      process.execPath,
      [
        BIN,
        'clients',
        'create',
        '--name',
        'e2e',
        '--grant',
        'client_credentials',
        '--scope',
        'accounts:read',
        '--resource',
        'https://api.example.com',
        '--json',
      ],
      { cwd: dir, env: childEnv() },
    );
    const client = JSON.parse(stdout) as { client_id: string; client_secret: string };
    const token = await fetch(`${server!.url}${new URL(metadata.token_endpoint).pathname}`, {
      method: 'POST',
      headers: {
        authorization: `Basic ${Buffer.from(`${client.client_id}:${client.client_secret}`).toString('base64')}`,
        'content-type': 'application/x-www-form-urlencoded',
      },
      body: 'grant_type=client_credentials&scope=accounts%3Aread',
    });
    expect(token.status).toBe(200);
    expect(await token.json()).toMatchObject({ token_type: 'Bearer', scope: 'accounts:read' });
  });

  it('serves the admin API on its own listener, only with the admin token', async () => {
    expect((await fetch(`${server!.admin}/admin/clients`)).status).toBe(401);
    const listed = await fetch(`${server!.admin}/admin/clients`, {
      headers: { authorization: `Bearer ${TEST_ADMIN_TOKEN}` },
    });
    expect(listed.status).toBe(200);
    expect(Array.isArray(((await listed.json()) as { clients: unknown }).clients)).toBe(true);
    expect((await fetch(`${server!.url}/admin/clients`)).status).toBe(404);
  });

  it('logs JSON lines on stdout without secrets, and stops cleanly on SIGTERM (exit 0)', async () => {
    server!.child.kill('SIGTERM');
    const { code, signal } = await server!.exit;
    expect({ code, signal }).toEqual({ code: 0, signal: null });
    expect(server!.stderr()).toContain('gatehouse auth-server: stopped');
    const lines = server!
      .stdout()
      .split('\n')
      .filter(Boolean)
      .map((line) => JSON.parse(line) as { msg?: string });
    expect(lines.map((line) => line.msg)).toEqual(
      expect.arrayContaining(['auth server started', 'shutting down']),
    );
    expect(server!.stdout()).not.toContain(TEST_ADMIN_TOKEN);
    expect(server!.stdout()).not.toContain(TEST_KEK_B64);
  });
});
