import { Readable } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { run } from '../src/index.js';
import { createTestDeployment, TEST_ADMIN_TOKEN, TEST_KEK_B64, type TestDeployment } from './helpers/cli.js';
import { readAuditLog } from './helpers/audit.js';

/** Starts `gatehouse auth-server` in-process; resolves once it printed where it listens. */
async function startInProcess(
  deployment: TestDeployment,
  env: Record<string, string>,
): Promise<{
  url: string;
  admin: string;
  stop: () => Promise<{ code: number; stdout: string; stderr: string }>;
}> {
  const controller = new AbortController();
  let stdout = '';
  let stderr = '';
  let announce: (() => void) | undefined;
  const announced = new Promise<void>((resolve) => (announce = resolve));
  const done = run(['auth-server'], {
    stdout: { write: (text: string) => (stdout += text) },
    stderr: {
      write: (text: string) => {
        stderr += text;
        if (stderr.includes('admin API on')) announce?.();
      },
    },
    stdin: Readable.from([]),
    env,
    cwd: deployment.dir,
    signal: controller.signal,
  });
  await Promise.race([
    announced,
    done.then((code) => {
      throw new Error(`auth-server exited early (${code}): ${stderr}`);
    }),
  ]);
  return {
    url: /listening on (\S+)/.exec(stderr)![1]!,
    admin: /admin API on (\S+)\/admin/.exec(stderr)![1]!,
    stop: async () => {
      controller.abort();
      const code = await done;
      return { code, stdout, stderr };
    },
  };
}

describe('gatehouse auth-server', () => {
  let deployment: TestDeployment | undefined;
  afterEach(async () => {
    await deployment?.remove();
    deployment = undefined;
  });

  it('starts on the configured stores, serves the issuer and the admin API, and stops on its signal', async () => {
    deployment = await createTestDeployment();
    const server = await startInProcess(deployment, deployment.env);
    const jwks = await fetch(`${server.url}/jwks`);
    expect(jwks.status).toBe(200);
    const keys = await fetch(`${server.admin}/admin/keys`, {
      headers: { authorization: `Bearer ${TEST_ADMIN_TOKEN}` },
    });
    expect(keys.status).toBe(200);
    const stopped = await server.stop();
    expect(stopped.code).toBe(0);
    expect(stopped.stderr).toContain('gatehouse auth-server: issuer http://127.0.0.1:4000');
    expect(stopped.stderr).toContain('gatehouse auth-server: stopped');
    await expect(fetch(`${server.url}/jwks`)).rejects.toThrow();
    // The admin read was audited to the data dir's log, flushed and closed on shutdown.
    const audit = await readAuditLog(deployment.dataDir);
    expect(audit).toMatch(/"action":"admin\.key\.list".*"via":"admin-api"/);
    const list = await deployment.run(['keys', 'list', '--json']);
    expect(JSON.parse(list.stdout)).toMatchObject({ keys: [{ status: 'active' }] });
  });

  it('in development, unsafe settings are loud warnings and the server still starts', async () => {
    deployment = await createTestDeployment(
      'authServer:\n  issuer: http://auth.internal.example\n  listen:\n    port: 0\nadmin:\n  listen:\n    port: 0\n',
    );
    const server = await startInProcess(deployment, { GATEHOUSE_KEK: TEST_KEK_B64 });
    const stopped = await server.stop();
    expect(stopped.code).toBe(0);
    expect(stopped.stderr).toMatch(
      /WARNING: authServer\.issuer http:\/\/auth\.internal\.example is plain HTTP/,
    );
    expect(stopped.stderr).toMatch(/WARNING: admin\.token is not set/);
    const disabled = stopped.stdout.split('\n').find((line) => line.includes('admin API disabled'));
    expect(disabled).toBeDefined();
  });

  const refusals: Array<{ name: string; config: string; env: Record<string, string>; says: RegExp }> = [
    {
      name: 'plain-HTTP issuer off loopback (OAuth 2.1 §1.5)',
      config: 'admin:\n  token: ${GATEHOUSE_ADMIN_TOKEN}\nauthServer:\n  issuer: http://auth.example.com\n',
      env: { GATEHOUSE_KEK: TEST_KEK_B64, GATEHOUSE_ADMIN_TOKEN: TEST_ADMIN_TOKEN },
      says: /issuer http:\/\/auth\.example\.com is plain HTTP/,
    },
    {
      name: 'no admin token (never a default credential)',
      config: 'authServer:\n  issuer: https://auth.example.com\n',
      env: { GATEHOUSE_KEK: TEST_KEK_B64 },
      says: /admin\.token is not set/,
    },
  ];

  it.each(refusals)('production refuses to start: $name (exit 1, nothing listening)', async (c) => {
    deployment = await createTestDeployment(c.config);
    const result = await deployment.run(['auth-server'], { env: { ...c.env, NODE_ENV: 'production' } });
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('refusing to start in production');
    expect(result.stderr).toMatch(c.says);
    expect(result.stderr).not.toContain('listening on');
  });

  it('production refuses to start without a key-encryption key (never generates one)', async () => {
    deployment = await createTestDeployment(
      'admin:\n  token: ${GATEHOUSE_ADMIN_TOKEN}\nauthServer:\n  issuer: https://auth.example.com\n',
    );
    const result = await deployment.run(['auth-server'], {
      env: { GATEHOUSE_KEK: '', GATEHOUSE_ADMIN_TOKEN: TEST_ADMIN_TOKEN, NODE_ENV: 'production' },
    });
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/production requires a key-encryption key/);
    expect(result.stderr).not.toContain('listening on');
  });

  it('a port already in use fails the start (exit 1) after closing what it opened', async () => {
    deployment = await createTestDeployment();
    const first = await startInProcess(deployment, deployment.env);
    const taken = new URL(first.url).port;
    const other = await createTestDeployment(
      `authServer:\n  issuer: http://127.0.0.1:4000\n  listen:\n    port: ${taken}\nadmin:\n  listen:\n    port: 0\n`,
    );
    try {
      const second = await other.run(['auth-server'], { env: { GATEHOUSE_KEK: TEST_KEK_B64 } });
      expect(second.code).toBe(1);
      expect(second.stderr).toMatch(/EADDRINUSE/);
      // Its stores were closed: the data dir is usable at once by the next command.
      expect((await other.run(['clients', 'list'])).code).toBe(0);
    } finally {
      await other.remove();
      await first.stop();
    }
  });
});
