import { X509Certificate, createPrivateKey, createPublicKey } from 'node:crypto';
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { connect, createServer } from 'node:tls';
import { createDevCa, loadDevCa, type IssueCertificateOptions } from '@gatehouse/core';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { runCli, type CliResult } from './helpers/cli.js';

const SERVER_AUTH = '1.3.6.1.5.5.7.3.1';
const CLIENT_AUTH = '1.3.6.1.5.5.7.3.2';
const DAY_MS = 86_400_000;

interface CertJson {
  name: string;
  subject: string;
  usage: string;
  sans: { dns: string[]; ip: string[]; uri: string[] };
  notBefore: string;
  notAfter: string;
  daysLeft: number;
  serialNumber: string;
  fingerprint256: string;
  cert: string;
  key: string;
}

interface ListedJson {
  name: string;
  status: string;
  daysLeft?: number;
  usage?: string;
  problem?: string;
}

const mode = async (path: string): Promise<number> => (await stat(path)).mode & 0o777;

describe('gatehouse certs', () => {
  let dir: string;
  let pki: string;
  const certs = (argv: readonly string[], env: Record<string, string> = {}): Promise<CliResult> =>
    runCli(['certs', ...argv, '--data-dir', 'data'], { cwd: dir, env });
  const file = (name: string): string => join(pki, name);
  const x509 = async (name: string): Promise<X509Certificate> =>
    new X509Certificate(await readFile(file(`${name}.pem`), 'utf8'));
  const issueJson = async (argv: readonly string[]): Promise<CertJson> => {
    const result = await certs(['issue', ...argv, '--json']);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    return JSON.parse(result.stdout) as CertJson;
  };
  const listJson = async (argv: readonly string[] = []): Promise<{ code: number; entries: ListedJson[] }> => {
    const result = await certs(['list', '--json', ...argv]);
    return {
      code: result.code,
      entries: (JSON.parse(result.stdout) as { certificates: ListedJson[] }).certificates,
    };
  };
  /** Writes NAME.pem / NAME-key.pem issued directly by the data dir's CA (dates the CLI refuses). */
  const plant = async (name: string, options: IssueCertificateOptions): Promise<void> => {
    const ca = await loadDevCa(
      await readFile(file('ca.pem'), 'utf8'),
      await readFile(file('ca-key.pem'), 'utf8'),
    );
    const pair = await ca.issue(options);
    await writeFile(file(`${name}.pem`), pair.certPem);
    await writeFile(file(`${name}-key.pem`), pair.keyPem, { mode: 0o600 });
  };

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'gatehouse-certs-'));
    pki = join(dir, 'data', 'pki');
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  describe('issue', () => {
    it('creates the CA, then a certificate with every SAN kind that chains to it (node:crypto)', async () => {
      const issued = await issueJson([
        'api',
        ...['--dns', 'API.Gatehouse.test', '--dns', 'localhost', '--dns', '*.api.gatehouse.test'],
        ...['--ip', '127.0.0.1', '--ip', '::1'],
        ...['--uri', 'spiffe://gatehouse.local/api'],
        ...['--usage', 'both', '--days', '10'],
      ]);
      const ca = await x509('ca');
      expect(ca.ca).toBe(true);
      const cert = await x509('api');
      expect(cert.subject).toBe('CN=api');
      expect(cert.ca).toBe(false);
      expect(cert.checkIssued(ca)).toBe(true);
      expect(cert.verify(ca.publicKey)).toBe(true);
      expect(cert.subjectAltName).toBe(
        'DNS:api.gatehouse.test, DNS:localhost, DNS:*.api.gatehouse.test, IP Address:127.0.0.1, ' +
          'IP Address:0:0:0:0:0:0:0:1, URI:spiffe://gatehouse.local/api',
      );
      expect(cert.checkHost('api.gatehouse.test')).toBe('api.gatehouse.test');
      // RFC 6125 §6.4.3: the wildcard covers exactly one label.
      expect(cert.checkHost('v2.api.gatehouse.test')).toBe('*.api.gatehouse.test');
      expect(cert.checkHost('a.v2.api.gatehouse.test')).toBeUndefined();
      expect(cert.checkIP('::1')).toBe('::1');
      expect(cert.keyUsage).toEqual([SERVER_AUTH, CLIENT_AUTH]);
      expect(Date.parse(cert.validTo) - Date.parse(cert.validFrom)).toBe(10 * DAY_MS);
      expect(cert.checkPrivateKey(createPrivateKey(await readFile(file('api-key.pem'), 'utf8')))).toBe(true);

      expect(issued).toMatchObject({
        name: 'api',
        subject: 'CN=api',
        usage: 'both',
        sans: {
          dns: ['api.gatehouse.test', 'localhost', '*.api.gatehouse.test'],
          ip: ['127.0.0.1', '::1'],
          uri: ['spiffe://gatehouse.local/api'],
        },
        serialNumber: cert.serialNumber,
        fingerprint256: cert.fingerprint256,
        daysLeft: 9,
        cert: file('api.pem'),
        key: file('api-key.pem'),
        ca: { cert: file('ca.pem'), created: true },
      });
      expect(Date.parse(issued.notAfter)).toBe(Date.parse(cert.validTo));
    });

    it.each([
      ['server', [SERVER_AUTH]],
      ['client', [CLIENT_AUTH]],
    ])('--usage %s sets the extended key usage', async (usage, eku) => {
      await issueJson(['svc', '--uri', 'spiffe://gatehouse.local/svc', '--usage', usage]);
      const cert = await x509('svc');
      expect(cert.keyUsage).toEqual(eku);
      // Default lifetime: 30 days.
      expect(Date.parse(cert.validTo) - Date.parse(cert.validFrom)).toBe(30 * DAY_MS);
    });

    it('prints subject, SANs, notAfter and the SHA-256 fingerprint, never the key; modes are owner-only', async () => {
      const result = await certs(['issue', 'web', '--dns', 'web.test', '--ip', '10.0.0.1']);
      expect(result.code).toBe(0);
      const cert = await x509('web');
      expect(result.stdout).toContain(`Created the development CA ${file('ca.pem')}`);
      expect(result.stdout).toMatch(/^ {2}subject +CN=web$/m);
      expect(result.stdout).toMatch(/^ {2}usage +server$/m);
      expect(result.stdout).toMatch(/^ {2}SANs +DNS:web\.test, IP:10\.0\.0\.1$/m);
      expect(result.stdout).toContain(new Date(cert.validTo).toISOString().replace('.000Z', 'Z'));
      expect(result.stdout).toContain(cert.fingerprint256);
      const key = await readFile(file('web-key.pem'), 'utf8');
      expect(result.stdout).not.toContain('PRIVATE KEY');
      expect(result.stdout).not.toContain(key.split('\n')[1]);

      expect(await mode(pki)).toBe(0o700);
      expect(await mode(file('web-key.pem'))).toBe(0o600);
      expect(await mode(file('ca-key.pem'))).toBe(0o600);
      expect(await mode(file('web.pem'))).toBe(0o644);
      expect((await readdir(pki)).sort()).toEqual(['ca-key.pem', 'ca.pem', 'web-key.pem', 'web.pem']);

      // A second certificate reuses the CA.
      const ca = await readFile(file('ca.pem'), 'utf8');
      const second = await issueJson(['other', '--dns', 'other.test']);
      expect(await readFile(file('ca.pem'), 'utf8')).toBe(ca);
      expect((second as unknown as { ca: { created: boolean } }).ca.created).toBe(false);
      expect((await x509('other')).verify(new X509Certificate(ca).publicKey)).toBe(true);
    });

    it('the files serve a TLS handshake that verifies against ca.pem', async () => {
      await issueJson(['local', '--dns', 'localhost', '--ip', '127.0.0.1']);
      const server = createServer({
        cert: await readFile(file('local.pem')),
        key: await readFile(file('local-key.pem')),
      });
      server.on('secureConnection', (socket) => socket.end());
      server.listen(0, '127.0.0.1');
      await once(server, 'listening');
      try {
        const socket = connect({
          host: '127.0.0.1',
          port: (server.address() as AddressInfo).port,
          servername: 'localhost',
          ca: await readFile(file('ca.pem')),
        });
        await once(socket, 'secureConnect');
        expect(socket.authorized).toBe(true);
        socket.destroy();
      } finally {
        server.close();
      }
    });

    it('tightens an existing pki folder to owner-only', async () => {
      await mkdir(pki, { recursive: true, mode: 0o755 });
      await issueJson(['web', '--dns', 'web.test']);
      expect(await mode(pki)).toBe(0o700);
    });

    const refusals: { name: string; argv: string[]; code: number; says: RegExp }[] = [
      { name: 'no NAME', argv: ['--dns', 'a.test'], code: 2, says: /NAME is required/ },
      {
        name: 'an upper-case NAME',
        argv: ['Web', '--dns', 'a.test'],
        code: 2,
        says: /certificate name "Web"/,
      },
      { name: 'path traversal ../x', argv: ['../x', '--dns', 'a.test'], code: 2, says: /certificate name/ },
      { name: 'a path a/b', argv: ['a/b', '--dns', 'a.test'], code: 2, says: /certificate name/ },
      { name: 'a hidden name', argv: ['.x', '--dns', 'a.test'], code: 2, says: /certificate name/ },
      {
        name: 'an absolute path',
        argv: ['/etc/passwd', '--dns', 'a.test'],
        code: 2,
        says: /certificate name/,
      },
      {
        name: 'a leading hyphen',
        argv: ['-x', '--dns', 'a.test'],
        code: 2,
        says: /Unknown option|certificate name/,
      },
      {
        name: 'a 64-character NAME',
        argv: ['a'.repeat(64), '--dns', 'a.test'],
        code: 2,
        says: /certificate name/,
      },
      { name: "the CA's name", argv: ['ca', '--dns', 'a.test'], code: 2, says: /the development CA itself/ },
      { name: 'a name clashing with key files', argv: ['web-key', '--dns', 'a.test'], code: 2, says: /-key/ },
      { name: 'two names', argv: ['a', 'b', '--dns', 'a.test'], code: 2, says: /unexpected argument/ },
      { name: 'no SAN', argv: ['web'], code: 2, says: /at least one subject alternative name/ },
      { name: 'a bad IPv4', argv: ['web', '--ip', '300.1.1.1'], code: 2, says: /--ip "300\.1\.1\.1"/ },
      { name: 'a CIDR as IP', argv: ['web', '--ip', '10.0.0.0/8'], code: 2, says: /--ip/ },
      { name: 'an IPv6 zone', argv: ['web', '--ip', 'fe80::1%eth0'], code: 2, says: /--ip/ },
      { name: 'a host name as IP', argv: ['web', '--ip', 'localhost'], code: 2, says: /--ip/ },
      { name: 'an underscore in DNS', argv: ['web', '--dns', 'bad_name.test'], code: 2, says: /--dns/ },
      { name: 'a leading hyphen label', argv: ['web', '--dns', 'x.-a.test'], code: 2, says: /--dns/ },
      { name: 'an empty label', argv: ['web', '--dns', 'a..test'], code: 2, says: /--dns/ },
      { name: 'a trailing dot', argv: ['web', '--dns', 'a.test.'], code: 2, says: /--dns/ },
      { name: 'a space in DNS', argv: ['web', '--dns', 'a test'], code: 2, says: /--dns/ },
      { name: 'a Unicode DNS name', argv: ['web', '--dns', 'bücher.test'], code: 2, says: /xn--/ },
      { name: 'a wildcard over a TLD', argv: ['web', '--dns', '*.test'], code: 2, says: /--dns/ },
      { name: 'an inner wildcard', argv: ['web', '--dns', 'a.*.test'], code: 2, says: /--dns/ },
      { name: 'an IP as DNS', argv: ['web', '--dns', '127.0.0.1'], code: 2, says: /use --ip/ },
      { name: 'a 64-octet label', argv: ['web', '--dns', `${'a'.repeat(64)}.test`], code: 2, says: /--dns/ },
      { name: 'an empty DNS name', argv: ['web', '--dns', ''], code: 2, says: /--dns/ },
      { name: 'a relative URI', argv: ['web', '--uri', '/relative/path'], code: 2, says: /--uri/ },
      { name: 'a URI with spaces', argv: ['web', '--uri', 'spiffe://a/b c'], code: 2, says: /--uri/ },
      { name: 'a URI without its host', argv: ['web', '--uri', 'spiffe:///x'], code: 2, says: /--uri/ },
      { name: 'a non-URI', argv: ['web', '--uri', 'not a uri'], code: 2, says: /--uri/ },
      {
        name: '--days 0',
        argv: ['web', '--dns', 'a.test', '--days', '0'],
        code: 2,
        says: /--days: .* 1 to 397/,
      },
      { name: '--days 1000', argv: ['web', '--dns', 'a.test', '--days', '1000'], code: 2, says: /--days/ },
      { name: '--days 398', argv: ['web', '--dns', 'a.test', '--days', '398'], code: 2, says: /--days/ },
      { name: '--days 1.5', argv: ['web', '--dns', 'a.test', '--days', '1.5'], code: 2, says: /--days/ },
      { name: '--days abc', argv: ['web', '--dns', 'a.test', '--days', 'abc'], code: 2, says: /--days/ },
      {
        name: 'an unknown usage',
        argv: ['web', '--dns', 'a.test', '--usage', 'ca'],
        code: 2,
        says: /--usage/,
      },
      {
        name: 'an unknown flag',
        argv: ['web', '--dns', 'a.test', '--cn', 'x'],
        code: 2,
        says: /Unknown option/,
      },
    ];

    it.each(refusals)('refuses $name (exit $code) and writes nothing', async ({ argv, code, says }) => {
      const result = await certs(['issue', ...argv]);
      expect(result.code).toBe(code);
      expect(result.stdout).toBe('');
      expect(result.stderr).toMatch(says);
      expect(existsSync(join(dir, 'data'))).toBe(false);
      expect(existsSync(join(dir, 'x.pem'))).toBe(false);
    });

    it('refuses with NODE_ENV=production (exit 1), before creating anything', async () => {
      const result = await certs(['issue', 'web', '--dns', 'a.test'], { NODE_ENV: 'production' });
      expect(result.code).toBe(1);
      expect(result.stderr).toMatch(/NODE_ENV=production/);
      expect(existsSync(join(dir, 'data'))).toBe(false);
    });

    it('refuses to overwrite an existing NAME without --force (exit 1); --force replaces it', async () => {
      const first = await issueJson(['web', '--dns', 'web.test']);
      const key = await readFile(file('web-key.pem'), 'utf8');
      const again = await certs(['issue', 'web', '--dns', 'other.test']);
      expect(again.code).toBe(1);
      expect(again.stderr).toMatch(/web\.pem exists: --force replaces it/);
      expect((await x509('web')).fingerprint256).toBe(first.fingerprint256);
      expect(await readFile(file('web-key.pem'), 'utf8')).toBe(key);

      // A stray key alone also counts as taken.
      await writeFile(file('lone-key.pem'), 'x', { mode: 0o600 });
      expect((await certs(['issue', 'lone', '--dns', 'lone.test'])).code).toBe(1);

      const forced = await issueJson(['web', '--dns', 'other.test', '--force']);
      expect(forced.fingerprint256).not.toBe(first.fingerprint256);
      expect(forced.sans.dns).toEqual(['other.test']);
      expect(await readFile(file('web-key.pem'), 'utf8')).not.toBe(key);
    });

    it('refuses half a CA (certificate without key) instead of replacing it', async () => {
      await issueJson(['web', '--dns', 'web.test']);
      await rm(file('ca-key.pem'));
      const ca = await readFile(file('ca.pem'), 'utf8');
      const result = await certs(['issue', 'api', '--dns', 'api.test']);
      expect(result.code).toBe(1);
      expect(result.stderr).toMatch(/ca\.pem but no ca-key\.pem/);
      expect(await readFile(file('ca.pem'), 'utf8')).toBe(ca);
      expect(existsSync(file('api.pem'))).toBe(false);
    });

    it('uses the data dir of the stack file when --data-dir is not given', async () => {
      const services = {
        accounts: { main: 'a.js', audience: 'https://a.internal', scopes: ['a:read'], paths: ['/api/a'] },
        orders: { main: 'o.js', audience: 'https://o.internal', scopes: ['o:read'], paths: ['/api/o'] },
      };
      await mkdir(join(dir, 'stack'));
      // JSON is YAML; dataDir is relative to the stack file.
      await writeFile(
        join(dir, 'stack', 'gatehouse.yaml'),
        JSON.stringify({ dataDir: '../state', services }),
      );
      const run = (argv: string[]) =>
        runCli(['certs', ...argv, '--config', 'stack/gatehouse.yaml'], { cwd: dir, env: {} });
      expect((await run(['issue', 'web', '--dns', 'web.test'])).code).toBe(0);
      expect(existsSync(join(dir, 'state', 'pki', 'web.pem'))).toBe(true);
      const listed = await run(['list']);
      expect(listed.code).toBe(0);
      expect(listed.stdout).toMatch(/^web +server /m);
    });
  });

  describe('list', () => {
    it('a data dir without certificates: exit 0', async () => {
      const result = await certs(['list']);
      expect(result.code).toBe(0);
      expect(result.stdout).toContain('No certificates in');
      expect(await listJson()).toEqual({ code: 0, entries: [] });
    });

    it('fresh certificates, the CA included: exit 0', async () => {
      await issueJson(['web', '--dns', 'web.test']);
      await issueJson(['gw', '--uri', 'spiffe://gatehouse.local/gateway', '--usage', 'client']);
      const table = await certs(['list']);
      expect(table.code).toBe(0);
      expect(table.stdout).toMatch(/^NAME +USAGE +NOT AFTER +DAYS LEFT +STATUS +SANS$/m);
      expect(table.stdout).toMatch(/^ca +ca +\S+ +36\d\d +ok +-$/m);
      expect(table.stdout).toMatch(/^gw +client +\S+ +29 +ok +URI:spiffe:\/\/gatehouse\.local\/gateway$/m);
      expect(table.stdout).toMatch(/^web +server +\S+ +29 +ok +DNS:web\.test$/m);
      const json = await listJson();
      expect(json.code).toBe(0);
      expect(json.entries.map((entry) => [entry.name, entry.usage, entry.status])).toEqual([
        ['ca', 'ca', 'ok'],
        ['gw', 'client', 'ok'],
        ['web', 'server', 'ok'],
      ]);
      // A window wider than their lifetime makes them expiring.
      expect((await listJson(['--within', '31'])).code).toBe(1);
    });

    it('a 1-day certificate is expiring with --within 14 (exit 1) but not with --within 0', async () => {
      await issueJson(['web', '--dns', 'web.test']);
      await issueJson(['short', '--dns', 'short.test', '--days', '1']);
      const result = await certs(['list', '--within', '14']);
      expect(result.code).toBe(1);
      expect(result.stdout).toMatch(/^short +server +\S+ +0 +expiring +DNS:short\.test$/m);
      expect(result.stdout).toContain('1 certificate(s) expired, unreadable or expiring within 14 day(s)');
      const json = await listJson(['--within', '14']);
      expect(json.entries.find((entry) => entry.name === 'short')?.status).toBe('expiring');
      expect(json.entries.find((entry) => entry.name === 'web')?.status).toBe('ok');
      expect((await certs(['list', '--within', '0'])).code).toBe(0);
      // The default window is 14 days.
      expect((await certs(['list'])).code).toBe(1);
    });

    it('an expired certificate: exit 1 whatever the window', async () => {
      await issueJson(['web', '--dns', 'web.test']);
      await plant('old', {
        commonName: 'old',
        dns: ['old.test'],
        usage: 'server',
        notAfter: new Date(Date.now() - DAY_MS),
      });
      const json = await listJson(['--within', '0']);
      expect(json.code).toBe(1);
      expect(json.entries.find((entry) => entry.name === 'old')).toMatchObject({
        status: 'expired',
        daysLeft: -1,
      });
      const table = await certs(['list', '--within', '0']);
      expect(table.code).toBe(1);
      expect(table.stdout).toMatch(/^old +server +\S+ +-1 +expired +DNS:old\.test$/m);
    });

    it('an unreadable certificate file: exit 1, named; keys and temporary files are not listed', async () => {
      await issueJson(['web', '--dns', 'web.test']);
      await writeFile(file('broken.pem'), 'not a certificate');
      await writeFile(file('.web.pem.0123456789ab.tmp'), 'half');
      const json = await listJson();
      expect(json.code).toBe(1);
      expect(json.entries.map((entry) => [entry.name, entry.status])).toEqual([
        ['broken', 'unreadable'],
        ['ca', 'ok'],
        ['web', 'ok'],
      ]);
      expect(json.entries[0]?.problem).toMatch(/broken\.pem: not a PEM certificate/);
    });

    it.each([['-1'], ['x'], ['3651']])('--within %s is a usage error', async (within) => {
      expect((await certs(['list', '--within', within])).code).toBe(2);
    });

    it('works with NODE_ENV=production (read-only, for monitoring)', async () => {
      await issueJson(['web', '--dns', 'web.test']);
      expect((await certs(['list'], { NODE_ENV: 'production' })).code).toBe(0);
    });
  });

  describe('renew', () => {
    interface RenewJson {
      ok: boolean;
      renewed: CertJson[];
      skipped: { name: string; reason: string }[];
      failed: { name: string; reason: string }[];
    }
    const renewJson = async (argv: readonly string[]): Promise<{ code: number; body: RenewJson }> => {
      const result = await certs(['renew', ...argv, '--json']);
      return { code: result.code, body: JSON.parse(result.stdout) as RenewJson };
    };
    const publicKey = async (name: string): Promise<string> =>
      createPublicKey(await readFile(file(`${name}-key.pem`), 'utf8'))
        .export({ format: 'der', type: 'spki' })
        .toString('base64');

    it('keeps subject, SANs, usage and lifetime; changes key and serial; modes and chain stay right', async () => {
      await issueJson([
        'api',
        ...['--dns', 'api.test', '--ip', '127.0.0.1', '--ip', '::1', '--uri', 'spiffe://gatehouse.local/api'],
        ...['--usage', 'both', '--days', '10'],
      ]);
      const before = await x509('api');
      const keyBefore = await publicKey('api');
      const ca = await readFile(file('ca.pem'), 'utf8');

      const { code, body } = await renewJson(['api']);
      expect(code).toBe(0);
      expect(body.ok).toBe(true);
      expect(body.renewed.map((cert) => cert.name)).toEqual(['api']);

      const after = await x509('api');
      expect(after.subject).toBe(before.subject);
      expect(after.subjectAltName).toBe(before.subjectAltName);
      expect(after.keyUsage).toEqual(before.keyUsage);
      expect(after.serialNumber).not.toBe(before.serialNumber);
      expect(await publicKey('api')).not.toBe(keyBefore);
      expect(after.publicKey.export({ format: 'der', type: 'spki' }).toString('base64')).toBe(
        await publicKey('api'),
      );
      expect(Date.parse(after.validTo) - Date.parse(after.validFrom)).toBe(10 * DAY_MS);
      expect(after.verify(new X509Certificate(ca).publicKey)).toBe(true);
      expect(await readFile(file('ca.pem'), 'utf8')).toBe(ca);
      expect(await mode(file('api-key.pem'))).toBe(0o600);
      expect(await mode(file('api.pem'))).toBe(0o644);
      // Atomic writes leave no temporary file behind.
      expect((await readdir(pki)).sort()).toEqual(['api-key.pem', 'api.pem', 'ca-key.pem', 'ca.pem']);

      const human = await certs(['renew', 'api', '--days', '5']);
      expect(human.code).toBe(0);
      expect(human.stdout).toContain('Renewed api with a new key:');
      expect(human.stdout).toContain((await x509('api')).fingerprint256);
      expect(human.stdout).not.toContain('PRIVATE KEY');
      expect(human.stdout).toContain('1 renewed, 0 skipped, 0 failed.');
      const renewed = await x509('api');
      expect(Date.parse(renewed.validTo) - Date.parse(renewed.validFrom)).toBe(5 * DAY_MS);
    });

    it('keeps a subject with RFC 4514 special characters and a SAN with a comma', async () => {
      await issueJson(['web', '--dns', 'web.test']);
      await plant('odd', {
        commonName: 'svc, O=Evil+CN=x',
        uri: ['spiffe://gatehouse.local/a,b'],
        usage: 'client',
        validityDays: 3,
      });
      const before = await x509('odd');
      const { code } = await renewJson(['odd']);
      expect(code).toBe(0);
      const after = await x509('odd');
      expect(after.subject).toBe('CN=svc\\, O=Evil\\+CN=x');
      expect(after.subjectAltName).toBe(before.subjectAltName);
      expect(after.keyUsage).toEqual([CLIENT_AUTH]);
      expect(after.serialNumber).not.toBe(before.serialNumber);
    });

    it('--all --within 14 renews only the expiring and expired leaves, never the CA', async () => {
      await issueJson(['long', '--dns', 'long.test']);
      await issueJson(['short', '--dns', 'short.test', '--days', '1']);
      await plant('old', {
        commonName: 'old',
        dns: ['old.test'],
        usage: 'server',
        notAfter: new Date(Date.now() - DAY_MS),
      });
      const ca = await readFile(file('ca.pem'), 'utf8');
      const long = (await x509('long')).serialNumber;

      const { code, body } = await renewJson(['--all', '--within', '14', '--days', '20']);
      expect(code).toBe(0);
      expect(body.renewed.map((cert) => cert.name)).toEqual(['old', 'short']);
      expect(body.skipped).toEqual([{ name: 'long', reason: '29 day(s) left, not within 14' }]);
      expect(body.failed).toEqual([]);
      expect(await readFile(file('ca.pem'), 'utf8')).toBe(ca);
      expect((await x509('long')).serialNumber).toBe(long);
      expect((await listJson()).code).toBe(0);
      expect((await x509('old')).subjectAltName).toBe('DNS:old.test');
    });

    it('a certificate of another CA: named, it fails (exit 1); with --all, it is passed over', async () => {
      await issueJson(['web', '--dns', 'web.test']);
      const stranger = await (
        await createDevCa()
      ).issue({ commonName: 'partner', dns: ['p.test'], usage: 'client' });
      await writeFile(file('partner.pem'), stranger.certPem);
      const named = await renewJson(['partner']);
      expect(named.code).toBe(1);
      expect(named.body.failed).toEqual([
        {
          name: 'partner',
          reason: 'cannot renew partner: it was not issued by the development CA of this data dir',
        },
      ]);
      expect((await x509('partner')).fingerprint256).toBe(
        new X509Certificate(stranger.certPem).fingerprint256,
      );
      const all = await renewJson(['--all']);
      expect(all.code).toBe(0);
      expect(all.body.renewed.map((cert) => cert.name)).toEqual(['web']);
      expect(all.body.skipped).toEqual([{ name: 'partner', reason: 'not issued by the development CA' }]);
    });

    it("renews what gatehouse init wrote (the gateway's client certificate keeps its SPIFFE ID)", async () => {
      const services = {
        accounts: { main: 'a.js', audience: 'https://a.internal', scopes: ['a:read'], paths: ['/api/a'] },
        orders: { main: 'o.js', audience: 'https://o.internal', scopes: ['o:read'], paths: ['/api/o'] },
      };
      await writeFile(join(dir, 'stack.yaml'), JSON.stringify({ services }));
      const init = await runCli(['init', '--config', 'stack.yaml', '--data-dir', 'data'], {
        cwd: dir,
        env: {},
      });
      expect(init.code).toBe(0);
      const listed = await listJson();
      expect(listed.code).toBe(0);
      expect(listed.entries.map((entry) => [entry.name, entry.usage])).toEqual([
        ['accounts', 'server'],
        ['ca', 'ca'],
        ['gateway', 'client'],
        ['orders', 'server'],
        // The listeners' certificate of `gatehouse up --tls`.
        ['server', 'server'],
      ]);
      const before = await x509('gateway');
      const { code } = await renewJson(['gateway']);
      expect(code).toBe(0);
      const after = await x509('gateway');
      expect(after.subject).toBe('CN=gateway');
      expect(after.subjectAltName).toBe(before.subjectAltName);
      expect(after.subjectAltName).toMatch(/^URI:spiffe:\/\//);
      expect(Date.parse(after.validTo) - Date.parse(after.validFrom)).toBe(90 * DAY_MS);
    }, 60_000);

    const refusals: { name: string; argv: string[]; code: number; says: RegExp }[] = [
      { name: 'neither NAME nor --all', argv: [], code: 2, says: /NAME … or --all/ },
      { name: 'both NAME and --all', argv: ['web', '--all'], code: 2, says: /not both/ },
      { name: 'the CA', argv: ['ca'], code: 2, says: /the development CA itself/ },
      { name: 'path traversal', argv: ['../web'], code: 2, says: /certificate name/ },
      { name: '--days 0', argv: ['web', '--days', '0'], code: 2, says: /--days/ },
      { name: '--days 1000', argv: ['web', '--days', '1000'], code: 2, says: /--days/ },
      { name: 'an unknown NAME', argv: ['nope'], code: 1, says: /no certificate nope in/ },
    ];

    it.each(refusals)('refuses $name (exit $code) and changes nothing', async ({ argv, code, says }) => {
      await issueJson(['web', '--dns', 'web.test']);
      const before = await readFile(file('web.pem'), 'utf8');
      const result = await certs(['renew', ...argv]);
      expect(result.code).toBe(code);
      expect(result.stderr).toMatch(says);
      expect(await readFile(file('web.pem'), 'utf8')).toBe(before);
    });

    it('refuses without a CA, and with NODE_ENV=production', async () => {
      const none = await certs(['renew', '--all']);
      expect(none.code).toBe(1);
      expect(none.stderr).toMatch(/no development CA in/);
      expect(existsSync(pki)).toBe(false);
      await issueJson(['web', '--dns', 'web.test']);
      const production = await certs(['renew', 'web'], { NODE_ENV: 'production' });
      expect(production.code).toBe(1);
      expect(production.stderr).toMatch(/NODE_ENV=production/);
    });
  });
});
