import { X509Certificate, createHash } from 'node:crypto';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { request as httpsRequest } from 'node:https';
import { connect } from 'node:net';
import { join } from 'node:path';
import { TLSSocket } from 'node:tls';
import { createDevCa, type CertificateAndKey } from '@gatehouse/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ACCOUNTS,
  API,
  issueBoundToken,
  startBindingAuthServer,
  verifyHandedOver,
  type TestAuthServer,
  type TestClient,
} from '../support/auth-server.js';
import type { StartedGateway } from '../support/start-gateway.js';
import { writePem } from '../support/tls-gateway.js';
import { createExtAuthzPki, type ExtAuthzPki } from './pki.js';
import { buildCheck, check, problemCode, startExtAuthzGateway, type CheckTls } from './support.js';

/**
 * The external-authorization listener over TLS (`extAuthz.listen.tls`), mutual TLS required: the
 * data plane's side is played by node:https with the CA it trusts and its own certificate. Envoy
 * style, whose refusals are the gateway's own answers (nginx's travel in a 403: see
 * nginx-tls-e2e.test.ts). Nothing is ever proxied: the gateway's upstream is a closed port.
 */

const STYLE = 'envoy';
const APP = 'http://127.0.0.1:9';
/** Short, so that a peer that never finishes its handshake is cut within the test. */
const HEADERS_TIMEOUT_MS = 500;
const HANDSHAKE_FAILED = 'external-authorization TLS handshake failed';

let as: TestAuthServer;
let gatewayClient: TestClient;
let opaqueClient: TestClient;

beforeAll(async () => {
  // Certificate-bound tokens are issued to a client proving its certificate through a trusted
  // proxy's header (RFC 9440), as in test/tls/gateway-tls.test.ts.
  as = await startBindingAuthServer();
  gatewayClient = await as.createGatewayClient();
  opaqueClient = await as.createClient({ scopes: ['accounts:read'], resources: [API, ACCOUNTS] });
});

afterAll(async () => {
  await as.close();
});

function startTlsExtAuthz(pki: ExtAuthzPki): Promise<StartedGateway> {
  return startExtAuthzGateway(as, gatewayClient, {
    style: STYLE,
    appUrl: APP,
    tls: pki.tls,
    baseDir: pki.dir,
    config: { limits: { headersTimeoutMs: HEADERS_TIMEOUT_MS } },
  });
}

const accessLines = (gw: StartedGateway): number => gw.logs.filter((line) => line['log'] === 'access').length;
const handshakeFailures = (gw: StartedGateway): number =>
  gw.logs.filter((line) => line['msg'] === HANDSHAKE_FAILED).length;

/** A check of a public route on a new handshake: its status and the certificate the listener served. */
function checkServed(url: string, tls: CheckTls): Promise<{ status: number; fingerprint: string }> {
  const built = buildCheck(STYLE, { target: '/public/status' });
  return new Promise((resolve, reject) => {
    const req = httpsRequest(
      `${url}${built.path}`,
      {
        method: built.method,
        headers: built.headers,
        ca: tls.ca,
        ...(tls.client === undefined ? {} : { cert: tls.client.certPem, key: tls.client.keyPem }),
        // Checked against the listener's address, not the client's Host the check carries.
        servername: '',
        agent: false,
      },
      (res) => {
        const served = res.socket instanceof TLSSocket ? res.socket.getPeerX509Certificate() : undefined;
        res.resume();
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, fingerprint: served?.fingerprint256 ?? '' }),
        );
      },
    );
    req.on('error', reject).end();
  });
}

const fingerprintOf = (pem: string): string => new X509Certificate(pem).fingerprint256;

describe('external authorization over mutual TLS', () => {
  let pki: ExtAuthzPki;
  let gw: StartedGateway;
  let url: string;
  let tls: CheckTls;

  beforeAll(async () => {
    pki = await createExtAuthzPki('mtls', { dns: ['localhost'], ip: ['127.0.0.1'] });
    gw = await startTlsExtAuthz(pki);
    url = gw.gateway.extAuthzUrl() as string;
    tls = { ca: pki.ca.certPem, client: pki.dataPlane };
  });

  afterAll(async () => {
    await gw.close();
    pki.remove();
  });

  it('answers checks over HTTPS: a valid token is admitted with the internal JWT, none refused 401', async () => {
    expect(url).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    const token = await as.tokenFor(opaqueClient, { scope: 'accounts:read' });
    const admitted = await check(
      url,
      STYLE,
      { target: '/api/accounts/7', headers: { authorization: `Bearer ${token}` } },
      tls,
    );
    expect(admitted.status).toBe(200);
    expect(admitted.headers['x-gatehouse-upstream-path']).toBe('/accounts/7');
    const forwarded = admitted.headers['authorization'] ?? '';
    expect(forwarded).toMatch(/^Bearer [\w-]+\.[\w-]+\.[\w-]+$/);
    expect(JSON.stringify(admitted.headers)).not.toContain(token);
    expect((await verifyHandedOver(as, ACCOUNTS, forwarded)).clientId).toBe(opaqueClient.clientId);

    const refused = await check(url, STYLE, { target: '/api/accounts/7' }, tls);
    expect(refused.status).toBe(401);
    expect(refused.headers['www-authenticate']).toMatch(/^Bearer/);
    expect(refused.headers['authorization']).toBeUndefined();
  });

  it.each([
    {
      name: 'no certificate',
      client: () => Promise.resolve(undefined),
      logged: { peer: '127.0.0.1', code: 'ERR_SSL_PEER_DID_NOT_RETURN_A_CERTIFICATE' },
    },
    {
      name: 'a certificate of another CA',
      client: async () => (await createDevCa()).issue({ commonName: 'data plane', usage: 'client' }),
      logged: { certificate: 'UNABLE_TO_VERIFY_LEAF_SIGNATURE' },
    },
    {
      name: 'an expired certificate of the CA',
      client: () =>
        pki.ca.issue({ commonName: 'data plane', usage: 'client', notAfter: new Date(Date.now() - 60_000) }),
      logged: { certificate: 'CERT_HAS_EXPIRED' },
    },
  ])('refuses the handshake of a data plane with $name: no check runs', async ({ client, logged }) => {
    const certificate: CertificateAndKey | undefined = await client();
    const [lines, failures] = [accessLines(gw), handshakeFailures(gw)];
    const dataPlane: CheckTls =
      certificate === undefined ? { ca: pki.ca.certPem } : { ca: pki.ca.certPem, client: certificate };
    await expect(check(url, STYLE, { target: '/public/status' }, dataPlane)).rejects.toThrow();
    // The operator learns why the data plane was turned away; the pipeline never saw a request.
    await expect.poll(() => handshakeFailures(gw)).toBeGreaterThan(failures);
    const failure = gw.logs.filter((line) => line['msg'] === HANDSHAKE_FAILED).at(-1);
    expect(failure).toMatchObject({ listener: 'ext-authz', level: 40, ...logged });
    expect(accessLines(gw)).toBe(lines);
  });

  it('gives plain HTTP on the TLS port no HTTP answer, and closes the connection', async () => {
    const lines = accessLines(gw);
    const socket = connect({ host: '127.0.0.1', port: Number(new URL(url).port) });
    const chunks: Buffer[] = [];
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('error', () => {});
    socket.write(
      'GET /_gatehouse/ext-authz/public/status HTTP/1.1\r\nHost: api.example.test\r\nX-Forwarded-For: 192.0.2.1\r\n\r\n',
    );
    await once(socket, 'close');
    expect(Buffer.concat(chunks).toString('latin1')).not.toMatch(/HTTP\/1/);
    expect(accessLines(gw)).toBe(lines);
  });

  it('cuts a peer that never finishes its handshake after headersTimeoutMs', async () => {
    const socket = connect({ host: '127.0.0.1', port: Number(new URL(url).port) });
    // Flowing, so that the server's FIN is read and the socket closes.
    socket.resume();
    socket.on('error', () => {});
    await once(socket, 'connect');
    const opened = Date.now();
    await once(socket, 'close');
    const heldMs = Date.now() - opened;
    expect(heldMs).toBeGreaterThanOrEqual(HEADERS_TIMEOUT_MS - 100);
    expect(heldMs).toBeLessThan(5000);
  });

  it('still answers only trusted proxies: a valid certificate from another address gets 403', async () => {
    const answer = await check(
      url,
      STYLE,
      { target: '/public/status' },
      { ...tls, localAddress: '127.0.0.2' },
    );
    expect([answer.status, problemCode(answer)]).toEqual([403, 'ERR_GATEWAY_IP_DENIED']);
    // From the trusted address, the same certificate is answered.
    expect((await check(url, STYLE, { target: '/public/status' }, tls)).status).toBe(200);
  });

  it('refuses a certificate-bound token even when bound to the data plane certificate (RFC 8705 §3)', async () => {
    // The only certificate the listener sees is the data plane's, presented for every client behind
    // it: a token bound to it must not pass for all of them.
    const token = await issueBoundToken(as, pki.dataPlane.certPem);
    const der = new X509Certificate(pki.dataPlane.certPem).raw;
    const claims = JSON.parse(Buffer.from(token.split('.')[1] ?? '', 'base64url').toString()) as {
      cnf?: Record<string, string>;
    };
    expect(claims.cnf?.['x5t#S256']).toBe(createHash('sha256').update(der).digest('base64url'));
    const answer = await check(
      url,
      STYLE,
      { target: '/api/accounts', headers: { authorization: `Bearer ${token}` } },
      tls,
    );
    expect(answer.status).toBe(401);
    expect(answer.headers['www-authenticate']).toContain('error="invalid_token"');
    expect(answer.headers['authorization']).toBeUndefined();
  });

  it('reports the certificate expiry in gatehouse_tls_certificate_expiry_seconds{listener="ext-authz"}', () => {
    const notAfter =
      Date.parse(new X509Certificate(readFileSync(join(pki.dir, 'ext-authz.pem'))).validTo) / 1000;
    const metrics = gw.gateway.metrics.render();
    expect(metrics).toContain(`gatehouse_tls_certificate_expiry_seconds{listener="ext-authz"} ${notAfter}`);
    // The gateway's own listener is plain HTTP here: it reports no certificate.
    expect(metrics).not.toContain('gatehouse_tls_certificate_expiry_seconds{listener="gateway"}');
  });
});

describe('external-authorization certificate rotation', () => {
  let pki: ExtAuthzPki;
  let gw: StartedGateway;
  let url: string;
  let tls: CheckTls;

  beforeAll(async () => {
    pki = await createExtAuthzPki('rotation', { ip: ['127.0.0.1'] });
    gw = await startTlsExtAuthz(pki);
    url = gw.gateway.extAuthzUrl() as string;
    tls = { ca: pki.ca.certPem, client: pki.dataPlane };
  });

  afterAll(async () => {
    await gw.close();
    pki.remove();
  });

  const expiryMetric = (): string =>
    /gatehouse_tls_certificate_expiry_seconds\{listener="ext-authz"\} (\S+)/.exec(
      gw.gateway.metrics.render(),
    )?.[1] ?? '';

  it('serves a certificate replaced on disk to new handshakes, without a restart', async () => {
    const before = fingerprintOf(readFileSync(join(pki.dir, 'ext-authz.pem'), 'utf8'));
    expect(await checkServed(url, tls)).toEqual({ status: 200, fingerprint: before });
    const expiryBefore = expiryMetric();
    const renewed = await pki.ca.issue({
      commonName: 'gatehouse ext-authz',
      ip: ['127.0.0.1'],
      usage: 'server',
      validityDays: 30,
    });
    // As renewal tools do: the key, then the certificate, each written and renamed over the old one.
    writePem(pki.dir, 'ext-authz-key.pem', renewed.keyPem);
    writePem(pki.dir, 'ext-authz.pem', renewed.certPem);
    await expect
      .poll(async () => (await checkServed(url, tls)).fingerprint, { timeout: 5000 })
      .toBe(fingerprintOf(renewed.certPem));
    expect(await checkServed(url, tls)).toEqual({ status: 200, fingerprint: fingerprintOf(renewed.certPem) });
    expect(expiryMetric()).not.toBe(expiryBefore);
    expect(Number(expiryMetric())).toBeCloseTo(Date.now() / 1000 + 30 * 86_400, -3);
  });

  it('reloads with the gateway’s reloadCertificates (SIGHUP), and keeps the certificate when the files are broken', async () => {
    expect(await gw.gateway.reloadCertificates()).toBe(true);
    const serving = fingerprintOf(readFileSync(join(pki.dir, 'ext-authz.pem'), 'utf8'));
    writePem(pki.dir, 'ext-authz-key.pem', 'not a key');
    expect(await gw.gateway.reloadCertificates()).toBe(false);
    expect(await checkServed(url, tls)).toEqual({ status: 200, fingerprint: serving });
    expect(
      gw.logs.some(
        (line) =>
          line['listener'] === 'ext-authz' &&
          line['msg'] === 'TLS reload refused: the previous certificate stays in force',
      ),
    ).toBe(true);
  });
});

describe('external authorization with unusable TLS files', () => {
  it('refuses to start with ERR_CONFIG_INVALID (a key that is not the certificate’s)', async () => {
    const pki = await createExtAuthzPki('badkey', { ip: ['127.0.0.1'] });
    try {
      writePem(pki.dir, 'ext-authz-key.pem', pki.dataPlane.keyPem);
      await expect(startTlsExtAuthz(pki)).rejects.toMatchObject({ code: 'ERR_CONFIG_INVALID' });
    } finally {
      pki.remove();
    }
  });
});
