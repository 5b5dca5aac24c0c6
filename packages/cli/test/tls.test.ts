import { X509Certificate, createHash } from 'node:crypto';
import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { request as httpsRequest } from 'node:https';
import { join } from 'node:path';
import { TLSSocket } from 'node:tls';
import { createDevCa, type CertificateAndKey, type DevCa } from '@gatehouse/core';
import { Agent, request } from 'undici';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createTestDeployment, TEST_ADMIN_TOKEN, type TestDeployment } from './helpers/cli.js';
import { startCommand } from './helpers/in-process.js';
import {
  ADMIN_AUTH,
  buildGatewayYaml,
  pollUntil,
  publicRoute,
  startGatewayInProcess,
  startUpstream,
  type InProcessGateway,
  type TestUpstream,
} from './helpers/gateway.js';

/** Writes a PEM the way renewal tools do (temp file, then rename) into `<dir>/pki/`. */
function writePki(dir: string, name: string, pem: string): void {
  mkdirSync(join(dir, 'pki'), { recursive: true });
  writeFileSync(join(dir, 'pki', `${name}.tmp`), pem);
  renameSync(join(dir, 'pki', `${name}.tmp`), join(dir, 'pki', name));
}

async function issueServer(ca: DevCa): Promise<CertificateAndKey> {
  return ca.issue({ commonName: 'localhost', dns: ['localhost'], ip: ['127.0.0.1'], usage: 'server' });
}

/** notAfter in Unix seconds, as `gatehouse_tls_certificate_expiry_seconds` shows it. */
const expiryOf = (pem: string): number => Date.parse(new X509Certificate(pem).validTo) / 1000;

const x5t = (pem: string): string =>
  createHash('sha256').update(new X509Certificate(pem).raw).digest('base64url');

/** The x5t#S256 of the certificate a new handshake with `url` gets. */
function servedFingerprint(url: string, ca: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest(url, { ca, agent: false, method: 'HEAD' }, (res) => {
      const socket = res.socket;
      const peer = socket instanceof TLSSocket ? socket.getPeerX509Certificate() : undefined;
      res.resume();
      resolve(peer === undefined ? '' : createHash('sha256').update(peer.raw).digest('base64url'));
    });
    req.on('error', reject).end();
  });
}

describe('gatehouse gateway over TLS', () => {
  let ca: DevCa;
  let dispatcher: Agent;
  let upstream: TestUpstream;
  let deployment: TestDeployment | undefined;
  let gateway: InProcessGateway | undefined;

  beforeAll(async () => {
    ca = await createDevCa();
    dispatcher = new Agent({ connect: { ca: ca.certPem } });
    upstream = await startUpstream();
  });
  afterAll(async () => {
    await dispatcher.close();
    await upstream.close();
  });
  afterEach(async () => {
    await gateway?.stop();
    gateway = undefined;
    await deployment?.remove();
    deployment = undefined;
  });

  it('serves the gateway and its admin API over HTTPS, reports both certificates, reloads on SIGHUP', async () => {
    deployment = await createTestDeployment(
      buildGatewayYaml({
        upstream: upstream.url,
        routes: [publicRoute('public', '/api')],
        // Relative to the configuration file's folder.
        tls: {
          listen: { certFile: 'pki/gateway.pem', keyFile: 'pki/gateway-key.pem' },
          admin: { certFile: 'pki/admin.pem', keyFile: 'pki/admin-key.pem' },
        },
      }),
    );
    const [gatewayCert, adminCert] = [await issueServer(ca), await issueServer(ca)];
    writePki(deployment.dir, 'gateway.pem', gatewayCert.certPem);
    writePki(deployment.dir, 'gateway-key.pem', gatewayCert.keyPem);
    writePki(deployment.dir, 'admin.pem', adminCert.certPem);
    writePki(deployment.dir, 'admin-key.pem', adminCert.keyPem);
    gateway = await startGatewayInProcess(deployment.dir, deployment.env);
    expect(gateway.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    expect(gateway.admin).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);

    const answer = await request(`${gateway.url}/api/hello`, { dispatcher });
    expect(answer.statusCode).toBe(200);
    expect(answer.headers['strict-transport-security']).toBeDefined();
    await answer.body.dump();
    const health = await request(`${gateway.admin}/healthz`, { dispatcher });
    expect(await health.body.json()).toEqual({ status: 'ok' });
    expect(health.headers['strict-transport-security']).toBe('max-age=31536000');
    const bans = await request(`${gateway.admin}/admin/gateway/bans`, { dispatcher, headers: ADMIN_AUTH });
    await bans.body.dump();
    expect(bans.statusCode).toBe(200);
    await expect(request(`${gateway.admin.replace('https:', 'http:')}/healthz`)).rejects.toThrow();

    const metrics = async (): Promise<string> =>
      (await request(`${gateway!.admin}/metrics`, { dispatcher })).body.text();
    const expiry = (pem: string): number => Date.parse(new X509Certificate(pem).validTo) / 1000;
    const before = await metrics();
    expect(before).toContain(
      `gatehouse_tls_certificate_expiry_seconds{listener="gateway"} ${expiry(gatewayCert.certPem)}`,
    );
    expect(before).toContain(
      `gatehouse_tls_certificate_expiry_seconds{listener="admin"} ${expiry(adminCert.certPem)}`,
    );

    // Renewed certificates with another lifetime; SIGHUP makes both listeners take them.
    const renew = (name: string) =>
      ca.issue({ commonName: name, dns: ['localhost'], ip: ['127.0.0.1'], usage: 'server', validityDays: 7 });
    const [nextGateway, nextAdmin] = [await renew('gateway'), await renew('admin')];
    writePki(deployment.dir, 'gateway-key.pem', nextGateway.keyPem);
    writePki(deployment.dir, 'gateway.pem', nextGateway.certPem);
    writePki(deployment.dir, 'admin-key.pem', nextAdmin.keyPem);
    writePki(deployment.dir, 'admin.pem', nextAdmin.certPem);
    gateway.reload();
    const url = gateway.url;
    const admin = gateway.admin;
    expect(
      await pollUntil(
        () => servedFingerprint(url, ca.certPem),
        (f) => f === x5t(nextGateway.certPem),
        5000,
      ),
    ).toBe(x5t(nextGateway.certPem));
    expect(
      await pollUntil(
        () => servedFingerprint(admin, ca.certPem),
        (f) => f === x5t(nextAdmin.certPem),
        5000,
      ),
    ).toBe(x5t(nextAdmin.certPem));
    const after = await metrics();
    expect(after).toContain(
      `gatehouse_tls_certificate_expiry_seconds{listener="gateway"} ${expiry(nextGateway.certPem)}`,
    );
    expect(after).toContain(
      `gatehouse_tls_certificate_expiry_seconds{listener="admin"} ${expiry(nextAdmin.certPem)}`,
    );
  });

  it('refuses to start when a certificate and its key do not match (exit 1, the reason on stderr)', async () => {
    deployment = await createTestDeployment(
      buildGatewayYaml({
        upstream: upstream.url,
        routes: [publicRoute('public', '/api')],
        tls: { admin: { certFile: 'pki/admin.pem', keyFile: 'pki/admin-key.pem' } },
      }),
    );
    const [a, b] = [await issueServer(ca), await issueServer(ca)];
    writePki(deployment.dir, 'admin.pem', a.certPem);
    writePki(deployment.dir, 'admin-key.pem', b.keyPem);
    const result = await deployment.run(['gateway']);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(
      /invalid configuration: tls: pki\/admin\.pem and pki\/admin-key\.pem cannot be used together/,
    );
    expect(result.stderr).not.toContain('listening on');
  });
});

describe('gatehouse auth-server with admin.listen.tls', () => {
  let deployment: TestDeployment | undefined;
  afterEach(async () => {
    await deployment?.remove();
    deployment = undefined;
  });

  it('serves the admin API over HTTPS, requiring an operator certificate with clientAuth require', async () => {
    const ca = await createDevCa();
    deployment = await createTestDeployment(
      [
        'authServer:',
        '  issuer: http://127.0.0.1:4000',
        '  listen:',
        '    port: 0',
        'admin:',
        '  token: ${GATEHOUSE_ADMIN_TOKEN}',
        '  listen:',
        '    port: 0',
        '    tls: { certFile: pki/admin.pem, keyFile: pki/admin-key.pem, caFile: pki/ca.pem, clientAuth: require }',
        '',
      ].join('\n'),
    );
    const server = await issueServer(ca);
    const operator = await ca.issue({ commonName: 'operator', usage: 'client' });
    writePki(deployment.dir, 'ca.pem', ca.certPem);
    writePki(deployment.dir, 'admin.pem', server.certPem);
    writePki(deployment.dir, 'admin-key.pem', server.keyPem);
    const command = await startCommand(['auth-server'], deployment, /admin API on \S+\/admin/);
    try {
      const admin = /admin API on (\S+)\/admin/.exec(command.stderr())![1]!;
      expect(admin).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
      const withCertificate = new Agent({
        connect: { ca: ca.certPem, cert: operator.certPem, key: operator.keyPem },
      });
      const keys = await request(`${admin}/admin/keys`, {
        dispatcher: withCertificate,
        headers: { authorization: `Bearer ${TEST_ADMIN_TOKEN}` },
      });
      expect(keys.statusCode).toBe(200);
      expect(keys.headers['cache-control']).toBe('no-store');
      await keys.body.dump();
      // The admin listener's certificate in the auth server's own metrics (no admin token needed).
      const metrics = async (): Promise<string> =>
        (await request(`${admin}/metrics`, { dispatcher: withCertificate })).body.text();
      expect(await metrics()).toContain(
        `gatehouse_tls_certificate_expiry_seconds{listener="admin"} ${expiryOf(server.certPem)}`,
      );
      // Without an operator certificate the handshake fails: the token alone is not enough.
      const without = new Agent({ connect: { ca: ca.certPem } });
      await expect(
        request(`${admin}/admin/keys`, {
          dispatcher: without,
          headers: { authorization: `Bearer ${TEST_ADMIN_TOKEN}` },
        }),
      ).rejects.toThrow();
      await without.close();
      // SIGHUP re-reads the admin certificate (renewed with another lifetime: a new notAfter).
      const renewed = await ca.issue({
        commonName: 'localhost',
        dns: ['localhost'],
        ip: ['127.0.0.1'],
        usage: 'server',
        validityDays: 7,
      });
      writePki(deployment.dir, 'admin-key.pem', renewed.keyPem);
      writePki(deployment.dir, 'admin.pem', renewed.certPem);
      command.reload();
      const served = await pollUntil(
        () => servedFingerprintWith(admin, ca.certPem, operator),
        (f) => f === x5t(renewed.certPem),
        5000,
      );
      expect(served).toBe(x5t(renewed.certPem));
      // The gauge is set as the new certificate is installed, before any handshake gets it.
      expect(await metrics()).toContain(
        `gatehouse_tls_certificate_expiry_seconds{listener="admin"} ${expiryOf(renewed.certPem)}`,
      );
      await withCertificate.close();
    } finally {
      expect(await command.stop()).toBe(0);
    }
    expect(command.stderr()).toContain('gatehouse auth-server: stopped');
  });
});

describe('gatehouse bff with listen.tls', () => {
  let deployment: TestDeployment | undefined;
  afterEach(async () => {
    await deployment?.remove();
    deployment = undefined;
  });

  it('listens over HTTPS with HSTS and reloads its certificate on SIGHUP', async () => {
    const ca = await createDevCa();
    deployment = await createTestDeployment(
      [
        'authServer:',
        '  issuer: http://127.0.0.1:4000',
        'bff:',
        '  publicUrl: https://localhost:8443',
        '  listen:',
        '    port: 0',
        '    tls: { certFile: pki/bff.pem, keyFile: pki/bff-key.pem }',
        '  oidc: { issuer: "http://127.0.0.1:4000", clientId: bff, clientSecret: s3cret }',
        '  gateway: { url: "http://127.0.0.1:8080" }',
        '',
      ].join('\n'),
    );
    const server = await issueServer(ca);
    writePki(deployment.dir, 'bff.pem', server.certPem);
    writePki(deployment.dir, 'bff-key.pem', server.keyPem);
    const command = await startCommand(['bff'], deployment, /listening on \S+ \(public URL/);
    try {
      const url = /listening on (\S+) /.exec(command.stderr())![1]!;
      expect(url).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
      const dispatcher = new Agent({ connect: { ca: ca.certPem } });
      const session = await request(`${url}/auth/session`, { dispatcher });
      expect(await session.body.json()).toEqual({ authenticated: false });
      expect(session.headers['strict-transport-security']).toBe('max-age=31536000; includeSubDomains');
      await dispatcher.close();
      const renewed = await issueServer(ca);
      writePki(deployment.dir, 'bff-key.pem', renewed.keyPem);
      writePki(deployment.dir, 'bff.pem', renewed.certPem);
      command.reload();
      expect(
        await pollUntil(
          () => servedFingerprint(url, ca.certPem),
          (f) => f === x5t(renewed.certPem),
          5000,
        ),
      ).toBe(x5t(renewed.certPem));
    } finally {
      expect(await command.stop()).toBe(0);
    }
  });
});

/** As servedFingerprint, presenting a client certificate. */
function servedFingerprintWith(url: string, ca: string, client: CertificateAndKey): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest(
      `${url}/healthz`,
      { ca, cert: client.certPem, key: client.keyPem, agent: false },
      (res) => {
        const socket = res.socket;
        const peer = socket instanceof TLSSocket ? socket.getPeerX509Certificate() : undefined;
        res.resume();
        resolve(peer === undefined ? '' : createHash('sha256').update(peer.raw).digest('base64url'));
      },
    );
    req.on('error', reject).end();
  });
}
