import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { appendFileSync, existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TEST_ADMIN_TOKEN, TEST_KEK_B64 } from './helpers/cli.js';

const BIN = fileURLToPath(new URL('../bin/gatehouse.js', import.meta.url));
const DIST = [
  new URL('../dist/main.js', import.meta.url),
  new URL('../../auth-server/dist/index.js', import.meta.url),
  new URL('../../core/dist/index.js', import.meta.url),
  new URL('../../guard/dist/index.js', import.meta.url),
].map((url) => fileURLToPath(url));

/** The built binary needs `npm run build` (`npm test` builds first); without it this suite skips, saying why. */
function builtOrSkip(): boolean {
  const missing = DIST.filter((file) => !existsSync(file));
  if (missing.length === 0) return true;
  const message = `gatehouse binary end to end: skipped, not built (${missing.join(', ')}); run npm run build`;
  if (process.env['GATEHOUSE_REQUIRE_ALL'] === '1')
    throw new Error(`${message}, and GATEHOUSE_REQUIRE_ALL=1 forbids skipping`);
  const log = process.env['GATEHOUSE_SKIP_LOG'];
  if (log !== undefined) appendFileSync(log, `${message}\n`);
  process.stderr.write(`[gatehouse] ${message}\n`);
  return false;
}

/** The child's environment: the test KEK and admin token, none of the machine's store URLs. */
function childEnv(): NodeJS.ProcessEnv {
  return {
    PATH: process.env['PATH'],
    GATEHOUSE_KEK: TEST_KEK_B64,
    GATEHOUSE_ADMIN_TOKEN: TEST_ADMIN_TOKEN,
  };
}

interface Started {
  readonly child: ChildProcess;
  readonly url: string;
  readonly admin: string;
  readonly stdout: () => string;
  readonly stderr: () => string;
  readonly exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

function startServer(dir: string): Promise<Started> {
  const child = spawn(process.execPath, [BIN, 'auth-server', '--config', join(dir, 'gatehouse.yaml')], {
    cwd: dir,
    env: childEnv(),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString('utf8')));
  const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once('exit', (code, signal) => resolve({ code, signal }));
  });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`server did not start:\n${err}`)), 15_000);
    child.stderr.on('data', (chunk: Buffer) => {
      err += chunk.toString('utf8');
      const url = /listening on (http:\/\/\S+)/.exec(err)?.[1];
      const admin = /admin API on (http:\/\/\S+)\/admin/.exec(err)?.[1];
      if (url !== undefined && admin !== undefined) {
        clearTimeout(timer);
        resolve({ child, url, admin, stdout: () => out, stderr: () => err, exit });
      }
    });
    void exit.then(({ code }) => {
      clearTimeout(timer);
      reject(new Error(`server exited with ${code}:\n${err}`));
    });
  });
}

const built = builtOrSkip();

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
