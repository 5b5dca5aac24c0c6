import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createTestDeployment, type TestDeployment } from './helpers/cli.js';
import {
  buildGatewayYaml,
  pollUntil,
  publicRoute,
  startGatewayInProcess,
  startUpstream,
  statusOf,
  type TestUpstream,
} from './helpers/gateway.js';

interface BanJson {
  id: string;
  subject: string;
  reason: string;
  source: string;
  createdAt: number;
  expiresAt: number;
  createdBy?: string;
  offence: number;
}

/**
 * A running gateway resyncs its ban view from the database every second (the CLI has no shared
 * state with it here: SQLite and process memory), so a CLI change bites within one interval; the
 * polls allow that plus scheduling slack on a busy machine.
 */
const RESYNC_DEADLINE_MS = 1500;

describe('gatehouse bans', () => {
  let upstream: TestUpstream;
  let deployment: TestDeployment;

  beforeAll(async () => {
    upstream = await startUpstream();
  });
  afterAll(async () => {
    await upstream.close();
  });
  afterEach(async () => {
    await deployment.remove();
  });

  const gatewayYaml = (): string =>
    buildGatewayYaml({
      upstream: upstream.url,
      routes: [publicRoute('public', '/api')],
      // The test client reaches the gateway from loopback and names the client it stands for.
      gateway: { trustedProxies: ['127.0.0.1'] },
    });

  it('add, list and remove a ban (--json), on the durable ban table', async () => {
    deployment = await createTestDeployment(gatewayYaml());
    const before = Date.now();
    const added = await deployment.run([
      'bans',
      'add',
      '203.0.113.7',
      '--duration',
      '15m',
      '--reason',
      'x',
      '--json',
    ]);
    expect(added).toMatchObject({ code: 0, stderr: '' });
    const ban = JSON.parse(added.stdout) as BanJson;
    expect(ban).toMatchObject({ subject: '203.0.113.7', reason: 'x', source: 'cli', offence: 1 });
    expect(ban.expiresAt - ban.createdAt).toBe(15 * 60 * 1000);
    expect(ban.createdAt).toBeGreaterThanOrEqual(before);

    const listed = await deployment.run(['bans', 'list', '--json']);
    expect(listed.code).toBe(0);
    expect(JSON.parse(listed.stdout)).toEqual({ bans: [ban] });
    const table = await deployment.run(['bans', 'list']);
    expect(table.stdout).toMatch(/^SUBJECT\s+EXPIRES\s+SOURCE\s+REASON\n203\.0\.113\.7\s+\S+\s+cli\s+x\n$/);

    const removed = await deployment.run(['bans', 'remove', '203.0.113.7']);
    expect(removed).toMatchObject({ code: 0, stdout: 'removed the ban of 203.0.113.7\n' });
    expect(JSON.parse((await deployment.run(['bans', 'list', '--json'])).stdout)).toEqual({ bans: [] });
    expect((await deployment.run(['bans', 'list'])).stdout).toBe('no active bans\n');
  });

  it('stores one spelling per subject: IPv6 compressed and lower-case, IPv4-mapped as IPv4, CIDR blocks', async () => {
    deployment = await createTestDeployment(gatewayYaml());
    const cases = [
      { given: '2001:DB8:0:0:0:0:0:1', stored: '2001:db8::1' },
      { given: '::ffff:198.51.100.9', stored: '198.51.100.9' },
      { given: '198.51.100.0/24', stored: '198.51.100.0/24' },
    ];
    for (const c of cases) {
      const added = await deployment.run(['bans', 'add', c.given, '--duration', '2h', '--json']);
      expect(added.code).toBe(0);
      expect((JSON.parse(added.stdout) as BanJson).subject).toBe(c.stored);
    }
    const listed = JSON.parse((await deployment.run(['bans', 'list', '--json'])).stdout) as {
      bans: BanJson[];
    };
    expect(listed.bans.map((ban) => ban.subject).sort()).toEqual(cases.map((c) => c.stored).sort());
    // Removed by any spelling of the same address.
    expect((await deployment.run(['bans', 'remove', '2001:db8::0:1'])).code).toBe(0);
  });

  const refusals: Array<{ name: string; argv: string[]; code: number; says: RegExp }> = [
    {
      name: 'a subject that is not an IP address',
      argv: ['bans', 'add', 'example.com', '--duration', '15m'],
      code: 1,
      says: /gatehouse bans: .*example\.com/,
    },
    {
      name: 'a malformed CIDR block',
      argv: ['bans', 'add', '203.0.113.0/33', '--duration', '15m'],
      code: 1,
      says: /gatehouse bans: /,
    },
    {
      name: 'an interface zone (names this host, not a client)',
      argv: ['bans', 'add', 'fe80::1%eth0', '--duration', '15m'],
      code: 1,
      says: /not an IP address/,
    },
    {
      name: 'a duration in an unknown unit',
      argv: ['bans', 'add', '203.0.113.7', '--duration', '15x'],
      code: 2,
      says: /--duration: a number of seconds or e\.g\. 15m, 2h, 7d \(got 15x\)/,
    },
    {
      name: 'a zero duration',
      argv: ['bans', 'add', '203.0.113.7', '--duration', '0'],
      code: 2,
      says: /--duration must be positive/,
    },
    {
      name: 'a negative duration',
      argv: ['bans', 'add', '203.0.113.7', '--duration=-5m'],
      code: 2,
      says: /--duration/,
    },
    {
      name: 'no duration',
      argv: ['bans', 'add', '203.0.113.7'],
      code: 2,
      says: /--duration/,
    },
    {
      name: 'removing a subject that has no ban',
      argv: ['bans', 'remove', '203.0.113.99'],
      code: 1,
      says: /no active ban for 203\.0\.113\.99/,
    },
    { name: 'an unknown subcommand', argv: ['bans', 'purge'], code: 2, says: /unknown subcommand purge/ },
  ];

  it.each(refusals)('refuses $name (exit $code), and bans nothing', async (c) => {
    deployment = await createTestDeployment(gatewayYaml());
    const result = await deployment.run(c.argv);
    expect(result.code).toBe(c.code);
    expect(result.stderr).toMatch(c.says);
    expect(result.stdout).toBe('');
    expect(JSON.parse((await deployment.run(['bans', 'list', '--json'])).stdout)).toEqual({ bans: [] });
  });

  it('a ban written by the CLI applies to a running gateway on the same data dir within a resync, and so does lifting it', async () => {
    deployment = await createTestDeployment(gatewayYaml());
    const gateway = await startGatewayInProcess(deployment.dir, deployment.env);
    try {
      const as = (ip: string): RequestInit => ({ headers: { 'x-forwarded-for': ip } });
      expect(await statusOf(`${gateway.url}/api/before`, as('203.0.113.7'))).toBe(200);

      const added = await deployment.run([
        'bans',
        'add',
        '203.0.113.7',
        '--duration',
        '15m',
        '--reason',
        'x',
      ]);
      expect(added.code).toBe(0);
      const banned = await pollUntil(
        () => statusOf(`${gateway.url}/api/while-banned`, as('203.0.113.7')),
        (status) => status === 403,
        RESYNC_DEADLINE_MS,
      );
      expect(banned).toBe(403);
      const refusal = await fetch(`${gateway.url}/api/refused`, as('203.0.113.7'));
      expect(refusal.status).toBe(403);
      expect(refusal.headers.get('content-type')).toMatch(/^application\/problem\+json/);
      await refusal.arrayBuffer();
      // Refused before any other work: the upstream never saw a request of the banned client.
      expect(upstream.received).not.toContain('GET /api/refused');
      // Another client is served meanwhile.
      expect(await statusOf(`${gateway.url}/api/other`, as('203.0.113.8'))).toBe(200);
      const metrics = await (await fetch(`${gateway.admin}/metrics`)).text();
      expect(metrics).toMatch(/^gatehouse_bans_active 1$/m);

      expect((await deployment.run(['bans', 'remove', '203.0.113.7'])).code).toBe(0);
      const lifted = await pollUntil(
        () => statusOf(`${gateway.url}/api/after`, as('203.0.113.7')),
        (status) => status === 200,
        RESYNC_DEADLINE_MS,
      );
      expect(lifted).toBe(200);
    } finally {
      expect((await gateway.stop()).code).toBe(0);
    }
  });
});
