import { mkdtempSync, rmSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createDevCa, type DevCa, type IssueCertificateOptions } from '@gatehouse/core';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { openSqlDatabase } from '@gatehouse/core';
import { sql } from 'kysely';
import {
  MINIMAL_CONFIG,
  TEST_ADMIN_TOKEN,
  TEST_KEK_B64,
  createTestDeployment,
  runCli,
  type CliResult,
  type TestDeployment,
} from './helpers/cli.js';

const DAY_MS = 86_400_000;
const ROOT = fileURLToPath(new URL('../../../', import.meta.url));

interface FindingJson {
  severity: 'high' | 'warning' | 'info';
  check: string;
  message: string;
  file?: string;
  notAfter?: string;
  daysLeft?: number;
  kid?: string;
}

interface ReportJson {
  ok: boolean;
  config: string;
  stackFile?: string;
  dataDir: string;
  withinDays: number;
  findings: FindingJson[];
}

/**
 * A deployment whose listeners (auth server, its admin API) and gateway upstream use certificates
 * of a development CA in `pki/`, as an operator lays them out beside gatehouse.yaml.
 */
const CONFIG = `dataDir: .
authServer:
  issuer: https://127.0.0.1:4000
  listen:
    port: 0
    tls: { certFile: pki/server.pem, keyFile: pki/server-key.pem }
admin:
  token: \${GATEHOUSE_ADMIN_TOKEN}
  listen:
    port: 0
    tls: { certFile: pki/server.pem, keyFile: pki/server-key.pem, caFile: pki/ca.pem, clientAuth: require }
gateway:
  upstreams:
    accounts:
      targets: [https://127.0.0.1:9443]
      tls: { certFile: pki/gateway.pem, keyFile: pki/gateway-key.pem, caFile: pki/ca.pem }
  routes:
    - id: status
      match: { path: /public/status, methods: [GET] }
      upstream: accounts
      auth: none
`;

const ENV = { GATEHOUSE_KEK: TEST_KEK_B64, GATEHOUSE_ADMIN_TOKEN: TEST_ADMIN_TOKEN };

const days = (n: number): Date => new Date(Date.now() + n * DAY_MS);

describe('gatehouse doctor: TLS files and configuration', () => {
  let dir: string;
  let ca: DevCa;
  const pki = (name: string): string => join(dir, 'pki', name);
  const doctor = (argv: readonly string[] = [], env: Record<string, string> = ENV): Promise<CliResult> =>
    runCli(['doctor', ...argv], { cwd: dir, env });
  const report = async (argv: readonly string[] = []): Promise<{ code: number; report: ReportJson }> => {
    const result = await doctor(['--json', ...argv]);
    expect(result.stderr).toBe('');
    return { code: result.code, report: JSON.parse(result.stdout) as ReportJson };
  };
  /** NAME.pem and NAME-key.pem (0600) from the CA, with any dates. */
  const plant = async (name: string, options: Partial<IssueCertificateOptions> = {}): Promise<void> => {
    const pair = await ca.issue({
      commonName: name,
      dns: ['localhost'],
      usage: 'server',
      validityDays: 90,
      ...options,
    });
    await writeFile(pki(`${name}-key.pem`), pair.keyPem, { mode: 0o600 });
    await writeFile(pki(`${name}.pem`), pair.certPem);
  };

  beforeAll(async () => {
    ca = await createDevCa({ validityDays: 365 });
  });
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'gatehouse-doctor-'));
    await mkdir(join(dir, 'pki'), { mode: 0o700 });
    await writeFile(pki('ca.pem'), ca.certPem);
    await writeFile(pki('ca-key.pem'), ca.keyPem, { mode: 0o600 });
    await plant('server');
    await plant('gateway', { usage: 'client', dns: [], uri: ['spiffe://gatehouse.local/gateway'] });
    await writeFile(join(dir, 'gatehouse.yaml'), CONFIG);
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('all fine: exit 0, only the note that the database does not exist yet', async () => {
    const { code, report: r } = await report();
    expect(code).toBe(0);
    expect(r).toEqual({
      ok: true,
      config: join(dir, 'gatehouse.yaml'),
      dataDir: dir,
      withinDays: 14,
      findings: [expect.objectContaining({ severity: 'info', check: 'keys.no_store' })],
    });
    const human = await doctor();
    expect(human.code).toBe(0);
    expect(human.stdout).toContain(`gatehouse doctor: ${join(dir, 'gatehouse.yaml')}`);
    expect(human.stdout).toMatch(/^INFO +keys\.no_store +no database at /m);
    expect(human.stdout.trimEnd().split('\n').at(-1)).toBe('0 high, 0 warning(s), 1 info.');
  });

  const cases: Array<{
    name: string;
    arrange: () => Promise<unknown>;
    argv?: string[];
    code: number;
    finding: Partial<FindingJson> & { severity: FindingJson['severity']; check: string };
  }> = [
    {
      name: 'a listener certificate expiring within 14 days: warning, exit 0',
      arrange: () => plant('server', { notAfter: days(5.5) }),
      code: 0,
      finding: { severity: 'warning', check: 'tls.cert_expiring', daysLeft: 5 },
    },
    {
      name: 'an expired listener certificate: high, exit 1',
      arrange: () => plant('server', { notBefore: days(-30), notAfter: days(-1.5) }),
      code: 1,
      finding: { severity: 'high', check: 'tls.cert_expired', daysLeft: -1 },
    },
    {
      name: 'a 20-day certificate with --within-days 30: warning',
      arrange: () => plant('server', { notAfter: days(20.5) }),
      argv: ['--within-days', '30'],
      code: 0,
      finding: { severity: 'warning', check: 'tls.cert_expiring', daysLeft: 20 },
    },
    {
      name: "the upstream client certificate expiring: names the upstream's setting",
      arrange: () => plant('gateway', { usage: 'client', dns: [], notAfter: days(3.5) }),
      code: 0,
      finding: { severity: 'warning', check: 'tls.cert_expiring', daysLeft: 3 },
    },
    {
      name: 'a certificate file that is not a certificate: high',
      arrange: () => writeFile(pki('server.pem'), 'not a certificate\n'),
      code: 1,
      finding: { severity: 'high', check: 'tls.cert_invalid' },
    },
    {
      name: 'a certificate file that is missing: high',
      arrange: () => rm(pki('server.pem')),
      code: 1,
      finding: { severity: 'high', check: 'tls.cert_unreadable' },
    },
    {
      name: 'a listener key readable by everyone (0644): high',
      arrange: () => chmod(pki('server-key.pem'), 0o644),
      code: 1,
      finding: { severity: 'high', check: 'tls.key_permissions' },
    },
    {
      name: 'a listener key readable by its group (0640): warning',
      arrange: () => chmod(pki('server-key.pem'), 0o640),
      code: 0,
      finding: { severity: 'warning', check: 'tls.key_permissions' },
    },
    {
      name: 'a key that belongs to another certificate: high',
      arrange: async () => {
        await plant('other');
        await writeFile(pki('server-key.pem'), await readFile(pki('other-key.pem')), { mode: 0o600 });
      },
      code: 1,
      finding: { severity: 'high', check: 'tls.key_mismatch' },
    },
    {
      name: 'a certificate of the pki folder no setting names, expired: high',
      arrange: () => plant('partner', { notBefore: days(-30), notAfter: days(-2.5) }),
      code: 1,
      finding: { severity: 'high', check: 'pki.cert_expired', daysLeft: -2 },
    },
    {
      name: 'a key of the pki folder open to everyone: high',
      arrange: async () => {
        await plant('partner');
        await chmod(pki('partner-key.pem'), 0o604);
      },
      code: 1,
      finding: { severity: 'high', check: 'pki.key_permissions' },
    },
    {
      name: 'no admin token (a configuration finding): high',
      arrange: async () => {
        const text = await readFile(join(dir, 'gatehouse.yaml'), 'utf8');
        await writeFile(join(dir, 'gatehouse.yaml'), text.replace('  token: ${GATEHOUSE_ADMIN_TOKEN}\n', ''));
      },
      code: 1,
      finding: { severity: 'high', check: 'config.admin_token_missing' },
    },
    {
      name: 'operators instead of the token, one admin listener asking for no certificate: warning, not high',
      arrange: async () => {
        const text = await readFile(join(dir, 'gatehouse.yaml'), 'utf8');
        await writeFile(
          join(dir, 'gatehouse.yaml'),
          text.replace('  token: ${GATEHOUSE_ADMIN_TOKEN}\n', '  operators: [spiffe://ops.example/alice]\n'),
        );
      },
      code: 0,
      finding: {
        severity: 'warning',
        check: 'config.admin_operators_without_client_auth',
        message: expect.stringMatching(/but gateway\.admin\.listen asks for no client certificate/) as string,
      },
    },
    {
      name: 'access tokens living a day (a configuration finding): warning',
      arrange: async () => {
        const text = await readFile(join(dir, 'gatehouse.yaml'), 'utf8');
        await writeFile(
          join(dir, 'gatehouse.yaml'),
          text.replace(
            '  issuer: https://127.0.0.1:4000\n',
            '  issuer: https://127.0.0.1:4000\n  tokens: { accessTokenTtlSec: 86400 }\n',
          ),
        );
      },
      code: 0,
      finding: {
        severity: 'warning',
        check: 'config.token_lifetime_long',
        message: expect.stringContaining(
          'authServer.tokens.accessTokenTtlSec is 1 d, above 3600 s',
        ) as string,
      },
    },
  ];

  it.each(cases)('$name', async ({ arrange, argv = [], code, finding }) => {
    await arrange();
    const { code: exit, report: r } = await report(argv);
    expect(exit).toBe(code);
    expect(r.ok).toBe(code === 0);
    expect(r.findings).toContainEqual(expect.objectContaining(finding));
    // Each file once, even when several settings name it (server.pem serves two listeners).
    const reported = r.findings.map((f) => `${f.check} ${f.file ?? ''}`);
    expect(new Set(reported).size).toBe(reported.length);
  });

  it('human output: a line per finding with severity and check, named settings and files, a summary', async () => {
    await plant('server', { notAfter: days(5.5) });
    await chmod(pki('gateway-key.pem'), 0o644);
    const result = await doctor();
    expect(result.code).toBe(1);
    const lines = result.stdout.trimEnd().split('\n');
    expect(lines[1]).toMatch(/^SEVERITY +CHECK +FINDING$/);
    // High first.
    expect(lines[2]).toMatch(
      new RegExp(
        `^HIGH +tls\\.key_permissions +gateway\\.upstreams\\.accounts\\.tls: the private key ${pki('gateway-key.pem')} is accessible to other users \\(mode 0644\\); chmod 600 it$`,
      ),
    );
    expect(lines[3]).toMatch(
      new RegExp(
        `^WARNING +tls\\.cert_expiring +authServer\\.listen\\.tls, admin\\.listen\\.tls: certificate ${pki('server.pem')} expires within 14 day\\(s\\): 5 day\\(s\\) left, notAfter \\S+Z$`,
      ),
    );
    expect(lines.at(-1)).toBe('1 high, 1 warning(s), 1 info: fix the high-severity findings (exit 1).');
  });

  it('never prints key material, the admin token or the key-encryption key', async () => {
    await chmod(pki('server-key.pem'), 0o644);
    await writeFile(pki('gateway-key.pem'), 'garbage that is not a key\n', { mode: 0o600 });
    const secrets = [
      TEST_ADMIN_TOKEN,
      TEST_KEK_B64,
      'PRIVATE KEY',
      (await readFile(pki('server-key.pem'), 'utf8')).split('\n')[1]!,
      'garbage',
    ];
    for (const argv of [[], ['--json']]) {
      const result = await doctor(argv);
      expect(result.code).toBe(1);
      for (const secret of secrets) expect(result.stdout + result.stderr).not.toContain(secret);
    }
  });

  it('a configuration that does not load: one high finding listing the problems, one JSON document', async () => {
    await writeFile(join(dir, 'gatehouse.yaml'), 'authServer:\n  issuer: 42\nsurprise: true\n');
    const result = await doctor(['--json']);
    expect(result.code).toBe(1);
    const r = JSON.parse(result.stdout) as ReportJson;
    expect(r.ok).toBe(false);
    expect(r.findings).toEqual([
      expect.objectContaining({
        severity: 'high',
        check: 'config.invalid',
        file: join(dir, 'gatehouse.yaml'),
      }),
    ]);
    expect(r.findings[0]!.message).toMatch(/surprise/);
  });

  it('--within-days takes a whole number of days', async () => {
    const result = await doctor(['--within-days', 'soon']);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('--within-days: a whole number of days');
  });
});

describe('gatehouse doctor: key-encryption key and signing keys', () => {
  it('keys as keys check sees them; a store without keys; the key-encryption key missing or exposed', async () => {
    const deployment = await createTestDeployment();
    try {
      // The helper's environment carries GATEHOUSE_KEK; an empty value is unset.
      const json = async (env: Record<string, string> = {}) => {
        const result = await deployment.run(['doctor', '--json'], { env });
        return { code: result.code, report: JSON.parse(result.stdout) as ReportJson, stderr: result.stderr };
      };
      // The database exists (clients list opens it) but holds no key yet: the auth server's first start makes one.
      expect((await deployment.run(['clients', 'list'])).code).toBe(0);
      let run = await json();
      expect(run.code).toBe(0);
      expect(run.report.findings).toEqual([
        expect.objectContaining({ severity: 'info', check: 'keys.none' }),
      ]);

      expect((await deployment.run(['keys', 'rotate'])).code).toBe(0);
      run = await json();
      expect(run.code).toBe(0);
      expect(run.report.findings).toEqual([]);

      // Keys sealed with GATEHOUSE_KEK, which is no longer set and no key file replaces it.
      run = await json({ GATEHOUSE_KEK: '' });
      expect(run.code).toBe(1);
      expect(run.report.findings).toEqual([
        expect.objectContaining({
          severity: 'high',
          check: 'kek.missing',
          file: join(deployment.dataDir, 'kek.key'),
        }),
      ]);

      // Another key than the one that sealed them: the auth server would refuse to start.
      run = await json({ GATEHOUSE_KEK: Buffer.alloc(32, 7).toString('base64') });
      expect(run.code).toBe(1);
      expect(run.report.findings).toEqual([
        expect.objectContaining({
          severity: 'high',
          check: 'kek.wrong',
          message: expect.stringMatching(/does not open with this key-encryption key/) as string,
        }),
      ]);

      // A key file others can read: high; production refuses any group access too.
      const kekFile = join(deployment.dataDir, 'kek.key');
      await writeFile(kekFile, `${TEST_KEK_B64}\n`, { mode: 0o640 });
      await chmod(kekFile, 0o640);
      run = await json({ GATEHOUSE_KEK: '' });
      expect(run.code).toBe(0);
      expect(run.report.findings).toEqual([
        expect.objectContaining({ severity: 'warning', check: 'kek.permissions' }),
      ]);
      run = await json({ GATEHOUSE_KEK: '', NODE_ENV: 'production' });
      expect(run.code).toBe(1);
      expect(run.report.findings).toContainEqual(
        expect.objectContaining({ severity: 'high', check: 'kek.permissions' }),
      );
      expect(JSON.stringify(run.report)).not.toContain(TEST_KEK_B64);
    } finally {
      await deployment.remove();
    }
  });

  it('a fresh data dir is left as it was: no database, no key-encryption key created', async () => {
    const deployment = await createTestDeployment();
    try {
      const result = await deployment.run(['doctor'], { env: { GATEHOUSE_ADMIN_TOKEN: TEST_ADMIN_TOKEN } });
      expect(result.code).toBe(0);
      expect(result.stdout).toMatch(/^INFO +keys\.no_store /m);
      await expect(readFile(join(deployment.dataDir, 'kek.key'))).rejects.toThrow(/ENOENT/);
      await expect(readFile(join(deployment.dataDir, 'gatehouse.db'))).rejects.toThrow(/ENOENT/);
    } finally {
      await deployment.remove();
    }
  });
});

describe('gatehouse doctor: the demo stack after gatehouse init', () => {
  let dir: string;
  let data: string;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'gatehouse-doctor-init-'));
    data = join(dir, 'data');
    const init = await runCli(['init', '--data-dir', data, '--port-base', '23200'], { cwd: ROOT });
    expect(init.code).toBe(0);
  });
  afterAll(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  it('--data-dir alone and --config STACK_FILE both check the deployment init wrote: clean', async () => {
    const byDataDir = await runCli(['doctor', '--data-dir', data, '--json'], { cwd: ROOT });
    expect(byDataDir.stderr).toBe('');
    expect(byDataDir.code).toBe(0);
    const report = JSON.parse(byDataDir.stdout) as ReportJson;
    expect(report).toMatchObject({ ok: true, config: join(data, 'gatehouse.yaml'), dataDir: data });
    expect(report.findings).toEqual([]);

    const byStack = await runCli(
      ['doctor', '--config', 'examples/demo/gatehouse.yaml', '--data-dir', data, '--json'],
      { cwd: ROOT },
    );
    expect(byStack.code).toBe(0);
    expect(JSON.parse(byStack.stdout)).toMatchObject({
      ok: true,
      config: join(data, 'gatehouse.yaml'),
      stackFile: join(ROOT, 'examples/demo/gatehouse.yaml'),
      findings: [],
    });
  });

  it("finds a demo service's certificate expiring in the pki folder, and the gateway's client certificate", async () => {
    const pkiDir = join(data, 'pki');
    const { loadDevCa } = await import('@gatehouse/core');
    const ca = await loadDevCa(
      await readFile(join(pkiDir, 'ca.pem'), 'utf8'),
      await readFile(join(pkiDir, 'ca-key.pem'), 'utf8'),
    );
    const accounts = await ca.issue({
      commonName: 'accounts',
      dns: ['localhost'],
      usage: 'server',
      notAfter: days(2.5),
    });
    await writeFile(join(pkiDir, 'accounts.pem'), accounts.certPem);
    await writeFile(join(pkiDir, 'accounts-key.pem'), accounts.keyPem, { mode: 0o600 });
    await chmod(join(pkiDir, 'gateway-key.pem'), 0o644);
    const result = await runCli(['doctor', '--data-dir', data, '--json'], { cwd: ROOT });
    expect(result.code).toBe(1);
    const report = JSON.parse(result.stdout) as ReportJson;
    expect(report.findings).toEqual([
      expect.objectContaining({
        severity: 'high',
        check: 'tls.key_permissions',
        message: expect.stringContaining(
          'gateway.upstreams.accounts.tls, gateway.upstreams.orders.tls:',
        ) as string,
      }),
      expect.objectContaining({
        severity: 'warning',
        check: 'pki.cert_expiring',
        daysLeft: 2,
        file: join(pkiDir, 'accounts.pem'),
      }),
    ]);
  });
});

describe('gatehouse doctor: the audit log and its sinks', () => {
  const SINK_CONFIG = `${MINIMAL_CONFIG}audit:
  sinks:
    - type: file
      id: siem
      path: siem/audit.jsonl
      backlogAlertEvents: 1
`;
  let deployment: TestDeployment | undefined;
  afterEach(async () => {
    await deployment?.remove();
    deployment = undefined;
  });

  const findingsOf = async (d: TestDeployment): Promise<{ code: number; report: ReportJson }> => {
    const result = await d.run(['doctor', '--json']);
    return { code: result.code, report: JSON.parse(result.stdout) as ReportJson };
  };

  it('an intact log: no audit finding', async () => {
    deployment = await createTestDeployment();
    expect((await deployment.run(['clients', 'list'])).code).toBe(0);
    const { report: r } = await findingsOf(deployment);
    expect(r.findings.filter((f) => f.check.startsWith('audit.'))).toEqual([]);
  });

  it('a record altered with raw SQL: high audit.chain_broken, exit 1', async () => {
    deployment = await createTestDeployment();
    for (let i = 0; i < 3; i++) expect((await deployment.run(['clients', 'list'])).code).toBe(0);
    const database = openSqlDatabase({ sqliteFile: join(deployment.dataDir, 'gatehouse.db') });
    try {
      await sql`update audit_log set outcome = 'failure' where seq = 2`.execute(database.db);
    } finally {
      await database.close();
    }
    const { code, report: r } = await findingsOf(deployment);
    expect(code).toBe(1);
    expect(r.findings).toContainEqual(
      expect.objectContaining({
        severity: 'high',
        check: 'audit.chain_broken',
        message: expect.stringContaining('altered at seq 2') as string,
      }),
    );
  });

  it('a sink further behind than its backlogAlertEvents: warning audit.sink_backlog', async () => {
    deployment = await createTestDeployment(SINK_CONFIG);
    for (let i = 0; i < 3; i++) expect((await deployment.run(['clients', 'list'])).code).toBe(0);
    const { report: r } = await findingsOf(deployment);
    expect(r.findings).toContainEqual(
      expect.objectContaining({
        severity: 'warning',
        check: 'audit.sink_backlog',
        message: expect.stringMatching(/^audit sink siem is \d+ records behind the store/) as string,
      }),
    );
  });
});
