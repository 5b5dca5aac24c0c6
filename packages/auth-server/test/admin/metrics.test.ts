import { spawnSync } from 'node:child_process';
import { X509Certificate, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { createMetricsRegistry, describeCertificate } from '@gatehouse/core';
import { promtoolPath, requireService } from '@gatehouse/testing';
import type { FastifyInstance } from 'fastify';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createAdminApp, createAdminOperationsFor, createAuthServer } from '../../src/index.js';
import { startAuthServer, type TestAuthServer } from '../helpers/harness.js';
import { createTestPki, type TestPki } from '../helpers/mtls-pki.js';

/**
 * `GET /metrics` on the admin listener: the auth server's series in the Prometheus text format,
 * without a credential (as on the gateway's admin listener), and the issue 9 certificate-expiry
 * gauge of the issuer's TLS listener, set at start and at every reload.
 */

const TOKEN = randomBytes(32).toString('base64url');
const METRIC = 'gatehouse_tls_certificate_expiry_seconds';
const promtool = await requireService('promtool', 'auth-server /metrics (promtool check metrics)');

/** notAfter of a PEM certificate in Unix seconds, read with Node's X.509 parser. */
const expiryOf = (pem: string): number => Date.parse(new X509Certificate(pem).validTo) / 1000;

async function startAdmin(as: TestAuthServer, adminToken: string | undefined): Promise<FastifyInstance> {
  const app = createAdminApp({
    logger: as.deps.logger,
    deps: as.deps,
    operations: createAdminOperationsFor(as.deps, as.server.services.keys),
    adminToken,
    metrics: as.server.metrics,
  });
  await app.listen({ host: '127.0.0.1', port: 0 });
  return app;
}

const urlOf = (app: FastifyInstance): string =>
  `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;

async function scrape(app: FastifyInstance): Promise<{ status: number; type: string | null; text: string }> {
  const response = await fetch(`${urlOf(app)}/metrics`);
  return { status: response.status, type: response.headers.get('content-type'), text: await response.text() };
}

/** The sample lines of the certificate-expiry gauge. */
const expirySamples = (text: string): string[] =>
  text.split('\n').filter((line) => line.startsWith(`${METRIC}{`));

function promtoolCheck(text: string): { status: number | null; stdout: string; stderr: string } {
  const result = spawnSync(promtoolPath(), ['check', 'metrics'], { input: text, encoding: 'utf8' });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

describe('auth server /metrics with listen.tls', () => {
  let pki: TestPki;
  let as: TestAuthServer;
  let admin: FastifyInstance;

  beforeAll(async () => {
    pki = await createTestPki();
    as = await startAuthServer({
      baseDir: pki.dir,
      config: { listen: { tls: { certFile: pki.files.cert, keyFile: pki.files.key } } },
    });
    admin = await startAdmin(as, TOKEN);
  });
  afterAll(async () => {
    await admin.close();
    await as.close();
    pki.close();
  });

  it("shows the issuer listener's notAfter, in the text format, without a credential", async () => {
    const scraped = await scrape(admin);
    expect(scraped.status).toBe(200);
    expect(scraped.type).toBe('text/plain; version=0.0.4; charset=utf-8');
    expect(scraped.text).toContain(
      `# HELP ${METRIC} Expiry time (notAfter, Unix seconds) of the certificate a TLS listener serves, by listener\n` +
        `# TYPE ${METRIC} gauge\n`,
    );
    // The certificate on disk is the one served (another test of this suite may have renewed it).
    expect(expirySamples(scraped.text)).toContain(
      `${METRIC}{listener="issuer"} ${expiryOf(readFileSync(join(pki.dir, pki.files.cert), 'utf8'))}`,
    );
  });

  it('follows a certificate swapped on disk (reload), and answers nothing else of the admin API without the token', async () => {
    const renewed = await pki.serverCa.issue({
      commonName: 'auth.test',
      ip: ['127.0.0.1'],
      usage: 'server',
      validityDays: 7,
    });
    expect(expiryOf(renewed.certPem)).not.toBe(expiryOf(readFileSync(join(pki.dir, pki.files.cert), 'utf8')));
    // Key first, then certificate, as renewal tools write them.
    pki.write(pki.files.key, renewed.keyPem);
    pki.write(pki.files.cert, renewed.certPem);
    expect(await as.server.reloadTls()).toBe(true);
    expect(expirySamples((await scrape(admin)).text)).toContain(
      `${METRIC}{listener="issuer"} ${expiryOf(renewed.certPem)}`,
    );
    // The admin API itself stays behind the token.
    expect((await fetch(`${urlOf(admin)}/admin/keys`)).status).toBe(401);
  });

  it('the listeners an entry point adds (admin) show next to issuer', async () => {
    const adminCert = await pki.serverCa.issue({ commonName: 'admin', usage: 'server', validityDays: 30 });
    as.server.recordCertificate('admin', describeCertificate(adminCert.certPem));
    expect(expirySamples((await scrape(admin)).text)).toEqual([
      expect.stringMatching(/^gatehouse_tls_certificate_expiry_seconds\{listener="issuer"\} \d+$/),
      `${METRIC}{listener="admin"} ${expiryOf(adminCert.certPem)}`,
    ]);
  });

  it.runIf(promtool.available)('passes promtool check metrics', async () => {
    expect(promtoolCheck((await scrape(admin)).text)).toEqual({ status: 0, stdout: '', stderr: '' });
  });

  it("adds its series to a registry given in deps.metrics (one shared with the process's other components)", async () => {
    const shared = createMetricsRegistry();
    const second = await createAuthServer({ ...as.deps, metrics: shared });
    try {
      expect(second.metrics).toBe(shared);
      expect(expirySamples(shared.render())).toEqual([
        expect.stringMatching(/^gatehouse_tls_certificate_expiry_seconds\{listener="issuer"\} \d+$/),
      ]);
    } finally {
      await second.close();
    }
  });
});

describe('auth server /metrics without TLS', () => {
  let as: TestAuthServer | undefined;
  let admin: FastifyInstance | undefined;
  afterEach(async () => {
    await admin?.close();
    await as?.close();
    admin = undefined;
    as = undefined;
  });

  it('has no certificate series, still passes promtool, and answers even without a configured admin token', async () => {
    as = await startAuthServer();
    admin = await startAdmin(as, undefined);
    const scraped = await scrape(admin);
    expect(scraped.status).toBe(200);
    expect(scraped.text).toContain(`# TYPE ${METRIC} gauge\n`);
    expect(expirySamples(scraped.text)).toEqual([]);
    // Without a token the admin API answers 503; the metrics stay available to Prometheus.
    expect((await fetch(`${urlOf(admin)}/admin/keys`)).status).toBe(503);
    if (promtool.available) expect(promtoolCheck(scraped.text).status).toBe(0);
  });

  it('an admin app built without a registry has no /metrics', async () => {
    as = await startAuthServer();
    admin = createAdminApp({
      logger: as.deps.logger,
      deps: as.deps,
      operations: createAdminOperationsFor(as.deps, as.server.services.keys),
      adminToken: TOKEN,
    });
    await admin.listen({ host: '127.0.0.1', port: 0 });
    expect((await fetch(`${urlOf(admin)}/metrics`)).status).toBe(404);
  });
});
