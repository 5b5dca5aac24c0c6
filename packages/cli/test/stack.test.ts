import { statSync, readFileSync, writeFileSync, mkdtempSync, rmSync, existsSync } from 'node:fs';
import { createServer as createHttpServer, type Server as HttpServer } from 'node:http';
import { createServer, type AddressInfo, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createDevCa } from '@gatehouse/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePortBase } from '../../../test/support/demo-stack.js';
import { UsageError } from '../src/io.js';
import { startAdminFront, type AdminFront } from '../src/stack/admin-front.js';
import { loadStack, portsFrom } from '../src/stack/load-stack.js';
import { runCli } from './helpers/cli.js';

const ROOT = fileURLToPath(new URL('../../..', import.meta.url));
const STACK_FILE = join(ROOT, 'examples/demo/gatehouse.yaml');
const io = (cwd = ROOT) => ({
  stdout: { write: () => true },
  stderr: { write: () => true },
  stdin: { [Symbol.asyncIterator]: async function* () {} },
  env: {},
  cwd,
});

describe('the stack file', () => {
  it('examples/demo/gatehouse.yaml: the ports of the contract and .gatehouse/ at the repository root', async () => {
    const stack = await loadStack(io(), {});
    expect(stack.urls).toMatchObject({
      issuer: 'http://127.0.0.1:4000',
      gateway: 'http://127.0.0.1:8080',
      bff: 'http://127.0.0.1:3000',
      admin: 'http://127.0.0.1:9090',
    });
    expect(stack.dataDir).toBe(join(ROOT, '.gatehouse'));
    expect(stack.appDir).toBe(join(ROOT, 'examples/demo/app'));
    expect(existsSync(stack.openapiFile)).toBe(true);
    expect((await loadStack(io('/tmp'), { config: STACK_FILE, dataDir: 'd' })).dataDir).toBe('/tmp/d');
  });

  it('--port-base N gives N, N+1, … in the documented order', () => {
    const ports = portsFrom('20000', {
      authServer: 1,
      gateway: 2,
      bff: 3,
      admin: 4,
      authServerAdmin: 5,
      gatewayAdmin: 6,
      accounts: 7,
      orders: 8,
    });
    expect(Object.values(ports)).toEqual([20000, 20001, 20002, 20003, 20004, 20005, 20006, 20007]);
  });

  it.each(['0', '80', '65530', '1.5', 'x', '-1'])('--port-base %s is a usage error', (base) => {
    expect(() => portsFrom(base, {} as never)).toThrow(UsageError);
  });

  const services = {
    accounts: { main: 'a.js', audience: 'https://a.internal', scopes: ['a:read'], paths: ['/api/a'] },
    orders: { main: 'o.js', audience: 'https://o.internal', scopes: ['o:read'], paths: ['/api/o'] },
  };
  const bad: { name: string; stack: Record<string, unknown>; says: RegExp }[] = [
    {
      name: 'a host off the machine',
      stack: { services, host: '0.0.0.0' },
      says: /host: a loopback address/,
    },
    { name: 'an unknown key', stack: { services, colour: 'blue' }, says: /colour/ },
    { name: 'two components on one port', stack: { services, ports: { gateway: 4000 } }, says: /both 4000/ },
    {
      name: 'a service without its audience',
      stack: { services: { ...services, accounts: { ...services.accounts, audience: undefined } } },
      says: /audience/,
    },
    { name: 'no services', stack: {}, says: /services/ },
  ];
  it.each(bad)('refuses $name, saying what is wrong, and writes nothing', async ({ stack, says }) => {
    const dir = mkdtempSync(join(tmpdir(), 'gatehouse-stack-'));
    try {
      // JSON is YAML: the stack file as a JSON document.
      writeFileSync(join(dir, 'stack.yaml'), JSON.stringify(stack));
      const result = await runCli(['init', '--config', 'stack.yaml', '--data-dir', 'data'], { cwd: dir });
      expect(result.code).not.toBe(0);
      expect(result.stderr).toMatch(says);
      expect(existsSync(join(dir, 'data'))).toBe(false);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('gatehouse init', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'gatehouse-init-'));
  });
  afterAll(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  it('first run: CA, certificates, clients, users, demo.json and the deployment file; secrets owner-only', async () => {
    const data = join(dir, 'data');
    const result = await runCli(['init', '--data-dir', data, '--port-base', '23000', '--json'], {
      cwd: ROOT,
    });
    expect(result.code).toBe(0);
    expect(JSON.parse(result.stdout)).toMatchObject({ created: true, dataDir: data });
    for (const file of [
      'demo.json',
      'stack-state.json',
      'gatehouse.yaml',
      'pki/ca-key.pem',
      'pki/gateway-key.pem',
      'pki/accounts-key.pem',
    ])
      expect(statSync(join(data, file)).mode & 0o077, file).toBe(0);
    expect(statSync(data).mode & 0o077).toBe(0);
    const demo = JSON.parse(readFileSync(join(data, 'demo.json'), 'utf8'));
    expect(demo.issuer).toBe('http://127.0.0.1:23000');
    expect(Object.keys(demo.clients)).toEqual(['partner', 'internal', 'cli']);
    expect(Object.keys(demo.users)).toEqual(['alice', 'bob', 'admin']);
    // No secret on standard output.
    expect(result.stdout).not.toContain(demo.users.alice.password);
    // The generated deployment is a valid configuration for every component.
    const check = await runCli(['config', 'validate', '--config', join(data, 'gatehouse.yaml')], {
      cwd: ROOT,
    });
    expect(check.stderr + check.stdout).not.toMatch(/invalid/i);
    expect(check.code).toBe(0);
    // The first signing key exists, sealed with the data dir's development key-encryption key.
    expect(statSync(join(data, 'kek.key')).mode & 0o077).toBe(0);
    const keys = await runCli(['keys', 'list', '--json', '--config', join(data, 'gatehouse.yaml')], {
      cwd: ROOT,
    });
    expect(keys.code).toBe(0);
    expect(
      (JSON.parse(keys.stdout) as { keys: { status: string }[] }).keys.map((key) => key.status),
    ).toContain('active');
  });

  it('later runs reuse everything (same secrets); other ports are refused for this data dir', async () => {
    const data = join(dir, 'data');
    const before = readFileSync(join(data, 'demo.json'), 'utf8');
    const ca = readFileSync(join(data, 'pki/ca.pem'), 'utf8');
    const again = await runCli(['init', '--data-dir', data, '--port-base', '23000'], { cwd: ROOT });
    expect(again.code).toBe(0);
    expect(again.stdout).toContain('reused');
    expect(readFileSync(join(data, 'demo.json'), 'utf8')).toBe(before);
    expect(readFileSync(join(data, 'pki/ca.pem'), 'utf8')).toBe(ca);
    const moved = await runCli(['init', '--data-dir', data, '--port-base', '24000'], { cwd: ROOT });
    expect(moved.code).toBe(1);
    expect(moved.stderr).toMatch(/other addresses/);
    const https = await runCli(['init', '--data-dir', data, '--port-base', '23000', '--tls'], { cwd: ROOT });
    expect(https.code).toBe(1);
    expect(https.stderr).toMatch(/--tls setting/);
  });

  it('refuses a data dir with a database but no state (an interrupted first run)', async () => {
    const data = join(dir, 'half');
    await runCli(['init', '--data-dir', data, '--port-base', '23100'], { cwd: ROOT });
    rmSync(join(data, 'stack-state.json'));
    const result = await runCli(['init', '--data-dir', data, '--port-base', '23100'], { cwd: ROOT });
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/interrupted/);
  });

  it.each(['init', 'up'])('%s refuses NODE_ENV=production', async (command) => {
    const result = await runCli([command, '--data-dir', join(dir, 'prod')], {
      cwd: ROOT,
      env: { NODE_ENV: 'production' },
    });
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/NODE_ENV=production/);
    expect(existsSync(join(dir, 'prod'))).toBe(false);
  });
});

describe('gatehouse up: a component that cannot start', () => {
  let busy: Server;
  afterAll(async () => {
    await new Promise((resolve) => busy.close(resolve));
  });

  it('stops the others and exits 1 when the gateway cannot listen', async () => {
    const base = await freePortBase();
    busy = createServer();
    await new Promise<void>((resolve) => busy.listen(base + 1, '127.0.0.1', resolve));
    const data = mkdtempSync(join(tmpdir(), 'gatehouse-up-'));
    try {
      const result = await runCli(['up', '--data-dir', data, '--port-base', String(base)], {
        cwd: ROOT,
        env: { PATH: process.env['PATH'] },
      });
      expect(result.code).toBe(1);
      expect(result.stderr).toMatch(/gateway exited while starting/);
      expect(result.stderr).toContain('gatehouse up: stopped');
      // Nothing is left listening on the stack's other ports.
      for (const offset of [0, 2, 6, 7]) {
        const free = await new Promise<boolean>((resolve) => {
          const probe = createServer();
          probe.once('error', () => resolve(false));
          probe.listen(base + offset, '127.0.0.1', () => probe.close(() => resolve(true)));
        });
        expect(free, `port ${base + offset}`).toBe(true);
      }
    } finally {
      rmSync(data, { recursive: true, force: true });
    }
  }, 60_000);
});

describe('the admin entry', () => {
  /** A component's admin listener that answers with its name and the path it was asked for. */
  const echoes: HttpServer[] = [];
  const targets: Record<'gateway' | 'bff' | 'authServer', string> = { gateway: '', bff: '', authServer: '' };
  let front: AdminFront;

  beforeAll(async () => {
    for (const name of ['gateway', 'bff', 'authServer'] as const) {
      const echo = createHttpServer((req, res) => {
        res.writeHead(200, {
          'content-type': 'application/json',
          // What the gateway's admin console is served with: the entry passes it on.
          'content-security-policy': "default-src 'self'",
          'x-frame-options': 'DENY',
          'referrer-policy': 'no-referrer',
          'x-content-type-options': 'nosniff',
          'set-cookie': 'never=passed',
        });
        res.end(JSON.stringify({ name, path: req.url, authorization: req.headers.authorization ?? null }));
      });
      await new Promise<void>((resolve) => echo.listen(0, '127.0.0.1', resolve));
      echoes.push(echo);
      targets[name] = `http://127.0.0.1:${(echo.address() as AddressInfo).port}`;
    }
    front = await startAdminFront({
      host: '127.0.0.1',
      port: 0,
      targets,
      stackReady: () => Promise.resolve(true),
      ca: (await createDevCa()).certPem,
    });
  });
  afterAll(async () => {
    await front.close();
    for (const echo of echoes) await new Promise((resolve) => echo.close(resolve));
  });

  it.each([
    ['/metrics', 'gateway', '/metrics'],
    ['/metrics/auth-server', 'authServer', '/metrics'],
    ['/metrics/auth-server?name[]=x', 'authServer', '/metrics?name[]=x'],
    ['/admin/gateway/routes', 'gateway', '/admin/gateway/routes'],
    ['/admin/console', 'gateway', '/admin/console'],
    ['/admin/console/console.js', 'gateway', '/admin/console/console.js'],
    ['/admin/consoles', 'authServer', '/admin/consoles'],
    ['/admin/bff/sessions?sub=u1', 'bff', '/admin/bff/sessions?sub=u1'],
    ['/admin/clients', 'authServer', '/admin/clients'],
    ['/admin', 'authServer', '/admin'],
  ])('%s goes to the %s admin listener as %s', async (path, name, seen) => {
    const response = await fetch(`${front.url}${path}`, { headers: { authorization: 'Bearer t' } });
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ name, path: seen, authorization: 'Bearer t' });
  });

  it('passes on the security headers of an answer (the console CSP), and no others', async () => {
    const response = await fetch(`${front.url}/admin/console`);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-security-policy')).toBe("default-src 'self'");
    expect(response.headers.get('x-frame-options')).toBe('DENY');
    expect(response.headers.get('referrer-policy')).toBe('no-referrer');
    expect(response.headers.get('x-content-type-options')).toBe('nosniff');
    expect(response.headers.get('set-cookie')).toBeNull();
    await response.body?.cancel();
  });

  it.each(['/metrics/', '/metrics/gateway', '/metrics/auth-server/x', '/metrics-auth-server', '/nothing'])(
    '%s is 404 at the entry itself',
    async (path) => {
      const response = await fetch(`${front.url}${path}`);
      expect(response.status).toBe(404);
      expect(response.headers.get('content-type')).toBe('application/problem+json');
      await response.body?.cancel();
    },
  );
});
