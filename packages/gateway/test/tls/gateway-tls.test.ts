import { X509Certificate, createHash } from 'node:crypto';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { connect as h2connect } from 'node:http2';
import { request as httpsRequest } from 'node:https';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TLSSocket } from 'node:tls';
import { createDevCa, type CertificateAndKey, type DevCa } from '@gatehouse/core';
import { Agent, request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RecordingUpstream } from '../support/recording-upstream.js';
import {
  ACCOUNTS,
  API,
  issueBoundToken,
  startBindingAuthServer,
  type TestAuthServer,
} from '../support/auth-server.js';
import { startGateway, type StartedGateway } from '../support/start-gateway.js';
import { startTlsGateway, writePem, type TlsGateway } from '../support/tls-gateway.js';

const routes = [{ id: 'api', match: { pathPrefix: '/api' }, upstream: 'app', auth: 'none' as const }];

const fingerprintOf = (pem: string): string =>
  createHash('sha256')
    .update(Buffer.from(pem.replace(/-----[A-Z ]+-----|\s/g, ''), 'base64'))
    .digest('base64url');

/** GET over a new TLS connection (a new handshake): status and the server certificate's x5t#S256. */
function getWithNewHandshake(
  url: string,
  ca: string,
  client?: CertificateAndKey,
  headers: Readonly<Record<string, string>> = {},
): Promise<{ status: number; fingerprint: string }> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest(
      url,
      {
        ca,
        agent: false,
        headers,
        ...(client === undefined ? {} : { cert: client.certPem, key: client.keyPem }),
      },
      (res) => {
        const socket = res.socket;
        const peer = socket instanceof TLSSocket ? socket.getPeerX509Certificate() : undefined;
        res.resume();
        res.on('end', () => {
          resolve({
            status: res.statusCode ?? 0,
            fingerprint: peer === undefined ? '' : createHash('sha256').update(peer.raw).digest('base64url'),
          });
        });
      },
    );
    req.on('error', reject).end();
  });
}

async function until(condition: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

describe('gateway over TLS', () => {
  let stack: TlsGateway;
  let dir: string;
  let ca: DevCa;
  let upstream: RecordingUpstream;
  let gateway: StartedGateway;
  let dispatcher: Agent;
  beforeAll(async () => {
    stack = await startTlsGateway('tls');
    ({ dir, ca, upstream, gateway } = stack);
    // What `curl --cacert ca.pem` does: trust the development CA, nothing else.
    dispatcher = new Agent({ connect: { ca: ca.certPem } });
  });

  afterAll(async () => {
    await dispatcher.close();
    await stack.close();
  });

  it('answers HTTPS with HSTS and tells the upstream the request came over https', async () => {
    expect(gateway.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    const response = await request(`${gateway.url}/api/hello`, { dispatcher });
    expect(response.statusCode).toBe(200);
    expect(response.headers['strict-transport-security']).toBe('max-age=31536000; includeSubDomains');
    expect(await response.body.json()).toEqual({ method: 'GET', url: '/api/hello' });
    expect(upstream.requests.at(-1)?.headers['x-forwarded-proto']).toBe('https');
    // Gateway errors carry it too.
    const missing = await request(`${gateway.url}/nowhere`, { dispatcher });
    await missing.body.dump();
    expect(missing.statusCode).toBe(404);
    expect(missing.headers['strict-transport-security']).toBeDefined();
  });

  it.each([
    ['plain HTTP on the TLS port', () => request(`${gateway.url.replace('https:', 'http:')}/api/x`)],
    ['a client that does not trust the gateway certificate', () => request(`${gateway.url}/api/x`)],
  ])('refuses %s', async (_name, send) => {
    const before = upstream.requests.length;
    await expect(send()).rejects.toThrow();
    expect(upstream.requests.length).toBe(before);
  });

  it('reports the certificate expiry in gatehouse_tls_certificate_expiry_seconds', () => {
    const notAfter = Date.parse(new X509Certificate(readFileSync(join(dir, 'gateway.pem'))).validTo) / 1000;
    expect(gateway.gateway.metrics.render()).toContain(
      `gatehouse_tls_certificate_expiry_seconds{listener="gateway"} ${notAfter}`,
    );
  });
});

describe('gateway certificate reload', () => {
  let stack: TlsGateway;
  let dir: string;
  let ca: DevCa;
  let gateway: StartedGateway;

  beforeAll(async () => {
    stack = await startTlsGateway('reload');
    ({ dir, ca, gateway } = stack);
  });

  afterAll(async () => {
    await stack.close();
  });

  const expiryMetric = (): string =>
    /gatehouse_tls_certificate_expiry_seconds\{listener="gateway"\} (\S+)/.exec(
      gateway.gateway.metrics.render(),
    )?.[1] ?? '';

  it('swaps the certificate on disk under load: zero failed requests, new handshakes get the new one', async () => {
    const before = fingerprintOf(readFileSync(join(dir, 'gateway.pem'), 'utf8'));
    const expiryBefore = expiryMetric();
    // Long-lived keep-alive connections (undici) and a new handshake per request, side by side.
    const keepAlive = new Agent({ connect: { ca: ca.certPem }, connections: 2 });
    let stop = false;
    let failures = 0;
    let keptAlive = 0;
    const handshakes: string[] = [];
    const reuse = async (): Promise<void> => {
      while (!stop) {
        try {
          const response = await request(`${gateway.url}/api/loop`, { dispatcher: keepAlive });
          await response.body.dump();
          if (response.statusCode === 200) keptAlive += 1;
          else failures += 1;
        } catch {
          failures += 1;
        }
      }
    };
    const handshake = async (): Promise<void> => {
      while (!stop) {
        try {
          const answer = await getWithNewHandshake(`${gateway.url}/api/loop`, ca.certPem);
          if (answer.status === 200) handshakes.push(answer.fingerprint);
          else failures += 1;
        } catch {
          failures += 1;
        }
      }
    };
    const workers = [reuse(), reuse(), handshake(), handshake()];
    let after = '';
    try {
      await until(() => handshakes.length >= 20 && keptAlive >= 20);
      const renewed = await ca.issue({
        commonName: 'gateway',
        dns: ['localhost'],
        ip: ['127.0.0.1'],
        usage: 'server',
        validityDays: 30,
      });
      after = fingerprintOf(renewed.certPem);
      writePem(dir, 'gateway-key.pem', renewed.keyPem);
      writePem(dir, 'gateway.pem', renewed.certPem);
      await until(() => handshakes.slice(-4).every((fingerprint) => fingerprint === after));
      const [count, alive] = [handshakes.length, keptAlive];
      await until(() => handshakes.length >= count + 20 && keptAlive >= alive + 20);
    } finally {
      stop = true;
      await Promise.all(workers);
      await keepAlive.close();
    }
    expect(failures).toBe(0);
    expect(handshakes).toContain(before);
    expect(handshakes.slice(handshakes.indexOf(after)).every((fingerprint) => fingerprint === after)).toBe(
      true,
    );
    const expiryAfter = expiryMetric();
    expect(expiryAfter).not.toBe(expiryBefore);
    expect(Number(expiryAfter)).toBeCloseTo(Date.now() / 1000 + 30 * 86_400, -3);
  });

  it('reloads on demand (SIGHUP) and keeps the certificate in force when the files are broken', async () => {
    expect(await gateway.gateway.reloadCertificates()).toBe(true);
    const serving = fingerprintOf(readFileSync(join(dir, 'gateway.pem'), 'utf8'));
    writePem(dir, 'gateway-key.pem', 'not a key');
    expect(await gateway.gateway.reloadCertificates()).toBe(false);
    expect(await getWithNewHandshake(`${gateway.url}/api/still`, ca.certPem)).toEqual({
      status: 200,
      fingerprint: serving,
    });
    expect(
      gateway.logs.some(
        (line) => line['msg'] === 'TLS reload refused: the previous certificate stays in force',
      ),
    ).toBe(true);
  });
});

describe('gateway with client certificates required', () => {
  let stack: TlsGateway;
  let ca: DevCa;
  let upstream: RecordingUpstream;
  let gateway: StartedGateway;

  beforeAll(async () => {
    stack = await startTlsGateway('mtls', { caFile: 'ca.pem', clientAuth: 'require' });
    ({ ca, upstream, gateway } = stack);
  });

  afterAll(async () => {
    await stack.close();
  });

  it('admits a partner with a certificate of the CA and refuses one without or from another CA', async () => {
    const partner = await ca.issue({ commonName: 'partner', usage: 'client' });
    expect((await getWithNewHandshake(`${gateway.url}/api/a`, ca.certPem, partner)).status).toBe(200);
    const before = upstream.requests.length;
    await expect(getWithNewHandshake(`${gateway.url}/api/b`, ca.certPem)).rejects.toThrow();
    const stranger = await (await createDevCa()).issue({ commonName: 'partner', usage: 'client' });
    await expect(getWithNewHandshake(`${gateway.url}/api/c`, ca.certPem, stranger)).rejects.toThrow();
    expect(upstream.requests.length).toBe(before);
  });
});

describe('gateway TLS handshake deadline', () => {
  it('cuts a connection that never completes its handshake after headersTimeoutMs', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'gatehouse-gateway-slow-'));
    const ca = await createDevCa();
    const server = await ca.issue({ commonName: 'gateway', ip: ['127.0.0.1'], usage: 'server' });
    writePem(dir, 'gateway.pem', server.certPem);
    writePem(dir, 'gateway-key.pem', server.keyPem);
    const gateway = await startGateway(
      {
        listen: { host: '127.0.0.1', port: 0, tls: { certFile: 'gateway.pem', keyFile: 'gateway-key.pem' } },
        limits: { headersTimeoutMs: 300 },
        upstreams: { app: { targets: ['http://127.0.0.1:9'] } },
        routes,
      },
      { baseDir: dir },
    );
    try {
      // A TCP connection that sends no ClientHello at all.
      const socket = connect({ host: '127.0.0.1', port: gateway.port });
      // Flowing, so that the server's FIN is read and the socket closes.
      socket.resume();
      await once(socket, 'connect');
      const opened = Date.now();
      await once(socket, 'close');
      const heldMs = Date.now() - opened;
      expect(heldMs).toBeGreaterThanOrEqual(250);
      expect(heldMs).toBeLessThan(3000);
    } finally {
      await gateway.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('gateway with unusable TLS files', () => {
  it('refuses to start with ERR_CONFIG_INVALID', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'gatehouse-gateway-badtls-'));
    const ca = await createDevCa();
    const [a, b] = [
      await ca.issue({ commonName: 'a', usage: 'server' }),
      await ca.issue({ commonName: 'b', usage: 'server' }),
    ];
    writePem(dir, 'gateway.pem', a.certPem);
    writePem(dir, 'gateway-key.pem', b.keyPem);
    await expect(
      startGateway(
        {
          listen: {
            host: '127.0.0.1',
            port: 0,
            tls: { certFile: 'gateway.pem', keyFile: 'gateway-key.pem' },
          },
          upstreams: { app: { targets: ['http://127.0.0.1:9'] } },
          routes,
        },
        { baseDir: dir },
      ),
    ).rejects.toMatchObject({ code: 'ERR_CONFIG_INVALID' });
    rmSync(dir, { recursive: true, force: true });
  });
});

describe('certificate-bound access tokens through the gateway (RFC 8705 §3)', () => {
  let as: TestAuthServer;
  let stack: TlsGateway;
  let partner: CertificateAndKey;
  let token = '';

  beforeAll(async () => {
    // The partner authenticates with its certificate (self_signed_tls_client_auth), passed by a
    // trusted proxy in the RFC 9440 header: the auth server binds the token to it.
    as = await startBindingAuthServer();
    const gatewayClient = await as.createGatewayClient();
    stack = await startTlsGateway(
      'bound',
      { caFile: 'ca.pem', clientAuth: 'optional' },
      {
        auth: {
          issuer: as.issuer,
          audience: [API],
          clientId: gatewayClient.clientId,
          clientSecret: gatewayClient.clientSecret,
        },
        routes: [
          { id: 'api', match: { pathPrefix: '/api' }, upstream: 'app', auth: 'jwt', audience: ACCOUNTS },
        ],
      },
      { state: as.state, now: as.clock.now },
    );
    partner = await stack.ca.issue({ commonName: 'partner', usage: 'client' });
    token = await issueBoundToken(as, partner.certPem);
    const der = new X509Certificate(partner.certPem).raw;
    const claims = JSON.parse(Buffer.from(token.split('.')[1] ?? '', 'base64url').toString()) as {
      cnf?: Record<string, string>;
    };
    expect(claims.cnf?.['x5t#S256']).toBe(createHash('sha256').update(der).digest('base64url'));
  });

  afterAll(async () => {
    await stack.close();
    await as.close();
  });

  const call = (client?: CertificateAndKey) =>
    getWithNewHandshake(`${stack.gateway.url}/api/accounts`, stack.ca.certPem, client, {
      authorization: `Bearer ${token}`,
    });

  it('admits the token with its certificate; the service gets an unbound internal JWT', async () => {
    const before = stack.upstream.requests.length;
    expect((await call(partner)).status).toBe(200);
    const forwarded = stack.upstream.requests.at(-1)?.headers['authorization'] ?? '';
    expect(stack.upstream.requests.length).toBe(before + 1);
    expect(forwarded).not.toBe(`Bearer ${token}`);
  });

  it.each([
    ['without a client certificate', () => Promise.resolve(undefined)],
    [
      'with another certificate of the same CA',
      () => stack.ca.issue({ commonName: 'partner', usage: 'client' }),
    ],
    [
      'with a certificate of another CA',
      async () => (await createDevCa()).issue({ commonName: 'partner', usage: 'client' }),
    ],
  ])('refuses the token %s (401), nothing reaches the service', async (_name, certificate) => {
    const before = stack.upstream.requests.length;
    expect((await call(await certificate())).status).toBe(401);
    expect(stack.upstream.requests.length).toBe(before);
  });

  it('binds the token over HTTP/2 too: admitted with its certificate, refused with another', async () => {
    const origin = stack.gateway.url.replace('127.0.0.1', 'localhost');
    const call2 = async (client?: CertificateAndKey): Promise<number> => {
      const session = h2connect(origin, {
        ca: stack.ca.certPem,
        ...(client === undefined ? {} : { cert: client.certPem, key: client.keyPem }),
      });
      session.on('error', () => {});
      try {
        const stream = session.request({ ':path': '/api/accounts', authorization: `Bearer ${token}` });
        const [headers] = (await once(stream, 'response')) as [Record<string, unknown>];
        stream.resume();
        return Number(headers[':status']);
      } finally {
        session.close();
      }
    };
    expect(await call2(partner)).toBe(200);
    const other = await stack.ca.issue({ commonName: 'partner', usage: 'client' });
    const before = stack.upstream.requests.length;
    expect(await call2(other)).toBe(401);
    expect(await call2()).toBe(401);
    expect(stack.upstream.requests.length).toBe(before);
  });
});
