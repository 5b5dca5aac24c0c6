import { text } from 'node:stream/consumers';
import { createDevCa, type CertificateAndKey, type DevCa } from '@gatehouse/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createUpstream } from '../../src/upstream/create-upstream.js';
import type { UpstreamRequest, UpstreamTlsOptions } from '../../src/upstream/upstream.js';
import { startHttpsServer, upstreamOptions, type TestServer } from './servers.js';

const GET: UpstreamRequest = { method: 'GET', path: '/account', headers: {}, body: null, idempotent: true };
const SERVICE_URI = 'spiffe://gatehouse/accounts';
// The upstream sends its CA along with its certificate when it holds it (for client verification).
const UNTRUSTED =
  /^ERR_GATEWAY_UPSTREAM_UNAVAILABLE \((UNABLE_TO_VERIFY_LEAF_SIGNATURE|SELF_SIGNED_CERT_IN_CHAIN)\)$/;

interface Pki {
  readonly ca: DevCa;
  readonly rogueCa: DevCa;
  readonly gateway: CertificateAndKey;
  readonly rogueGateway: CertificateAndKey;
}

describe('upstream mTLS', () => {
  let pki: Pki;
  let server: TestServer;
  /** Serves a certificate from the rogue CA, with the right names. */
  let impostor: TestServer;
  /** Serves a certificate whose DNS SAN is crafted to look like the expected URI in Node's SAN text. */
  let injected: TestServer;

  beforeAll(async () => {
    const ca = await createDevCa({ commonName: 'Upstream Test CA' });
    const rogueCa = await createDevCa({ commonName: 'Rogue CA' });
    pki = {
      ca,
      rogueCa,
      gateway: await ca.issue({
        commonName: 'gateway',
        uri: ['spiffe://gatehouse/gateway'],
        usage: 'client',
      }),
      rogueGateway: await rogueCa.issue({ commonName: 'gateway', usage: 'client' }),
    };
    const serverNames = { dns: ['localhost', 'accounts.internal'], ip: ['127.0.0.1'], uri: [SERVICE_URI] };
    const mutual = { requestCert: true, rejectUnauthorized: true, ca: ca.certPem };
    const ok = (): ((req: unknown, res: { end(body: string): void }) => void) => (_req, res) => {
      res.end('account');
    };
    const serverCert = await ca.issue({ commonName: 'accounts', usage: 'server', ...serverNames });
    server = await startHttpsServer({ cert: serverCert.certPem, key: serverCert.keyPem, ...mutual }, ok());
    const rogueCert = await rogueCa.issue({ commonName: 'accounts', usage: 'server', ...serverNames });
    impostor = await startHttpsServer({ cert: rogueCert.certPem, key: rogueCert.keyPem, ...mutual }, ok());
    const injectedCert = await ca.issue({
      commonName: 'evil',
      usage: 'server',
      ip: ['127.0.0.1'],
      dns: [`evil.internal, URI:${SERVICE_URI}`],
    });
    injected = await startHttpsServer(
      { cert: injectedCert.certPem, key: injectedCert.keyPem, ...mutual },
      ok(),
    );
  });

  afterAll(async () => {
    await Promise.all([server.close(), impostor.close(), injected.close()]);
  });

  async function call(target: () => TestServer, tls: () => UpstreamTlsOptions): Promise<string> {
    const upstream = createUpstream(upstreamOptions([target().url], { tls: tls() }));
    try {
      const response = await upstream.request(GET);
      return await text(response.body);
    } catch (error) {
      const { code, cause } = error as { code: string; cause?: { code?: string } };
      return `${code} (${cause?.code ?? 'no code'})`;
    } finally {
      await upstream.close();
    }
  }

  const client = (): UpstreamTlsOptions => ({
    cert: pki.gateway.certPem,
    key: pki.gateway.keyPem,
    ca: pki.ca.certPem,
  });

  it('passes with the client certificate from the dev CA and the pinned CA', async () => {
    expect(await call(() => server, client)).toBe('account');
    expect(server.clientNames.at(-1)).toBe('gateway');
  });

  it.each<[string, () => TestServer, () => UpstreamTlsOptions, string]>([
    [
      'the expected URI SAN',
      () => server,
      () => ({ ...client(), identity: { uri: SERVICE_URI } }),
      'account',
    ],
    [
      'the expected DNS SAN',
      () => server,
      () => ({ ...client(), identity: { dns: 'accounts.internal' } }),
      'account',
    ],
    [
      'both expected SANs',
      () => server,
      () => ({ ...client(), identity: { uri: SERVICE_URI, dns: 'accounts.internal' } }),
      'account',
    ],
    [
      'SNI and host check on a servername',
      () => server,
      () => ({ ...client(), servername: 'localhost' }),
      'account',
    ],
  ])('passes with %s', async (_name, target, tls, expected) => {
    expect(await call(target, tls)).toBe(expected);
  });

  // Each attack case: what the gateway is configured with → the refusal it must produce.
  it.each<[string, () => TestServer, () => UpstreamTlsOptions, RegExp]>([
    [
      'no client certificate',
      () => server,
      () => ({ ca: pki.ca.certPem }),
      /^ERR_GATEWAY_UPSTREAM_UNAVAILABLE/,
    ],
    [
      'a client certificate from another CA',
      () => server,
      () => ({ cert: pki.rogueGateway.certPem, key: pki.rogueGateway.keyPem, ca: pki.ca.certPem }),
      /^ERR_GATEWAY_UPSTREAM_UNAVAILABLE/,
    ],
    ['a server certificate from another CA than the pinned one', () => impostor, client, UNTRUSTED],
    [
      'the pinned CA replaced by the rogue one',
      () => server,
      () => ({ ...client(), ca: pki.rogueCa.certPem }),
      UNTRUSTED,
    ],
    [
      'no pinned CA (the system store does not know the dev CA)',
      () => server,
      () => ({ cert: pki.gateway.certPem, key: pki.gateway.keyPem }),
      UNTRUSTED,
    ],
    [
      'a wrong expected URI SAN',
      () => server,
      () => ({ ...client(), identity: { uri: 'spiffe://gatehouse/payments' } }),
      /^ERR_GATEWAY_UPSTREAM_UNAVAILABLE \(ERR_TLS_CERT_ALTNAME_INVALID\)$/,
    ],
    [
      'a wrong expected DNS SAN',
      () => server,
      () => ({ ...client(), identity: { dns: 'payments.internal' } }),
      /^ERR_GATEWAY_UPSTREAM_UNAVAILABLE \(ERR_TLS_CERT_ALTNAME_INVALID\)$/,
    ],
    [
      'a right URI but a wrong DNS SAN',
      () => server,
      () => ({ ...client(), identity: { uri: SERVICE_URI, dns: 'payments.internal' } }),
      /^ERR_GATEWAY_UPSTREAM_UNAVAILABLE \(ERR_TLS_CERT_ALTNAME_INVALID\)$/,
    ],
    [
      'a DNS SAN crafted to read as the expected URI',
      () => injected,
      () => ({ ...client(), identity: { uri: SERVICE_URI } }),
      /^ERR_GATEWAY_UPSTREAM_UNAVAILABLE \(ERR_TLS_CERT_ALTNAME_INVALID\)$/,
    ],
    [
      'a servername the certificate does not carry',
      () => server,
      () => ({ ...client(), servername: 'payments.internal' }),
      /^ERR_GATEWAY_UPSTREAM_UNAVAILABLE \(ERR_TLS_CERT_ALTNAME_INVALID\)$/,
    ],
  ])('refuses %s', async (_name, target, tls, expected) => {
    const before = target().received.length;
    expect(await call(target, tls)).toMatch(expected);
    expect(target().received.length).toBe(before);
  });

  it('refuses a client certificate without its key at creation', () => {
    expect(() =>
      createUpstream(upstreamOptions([server.url], { tls: { cert: pki.gateway.certPem } })),
    ).toThrow(expect.objectContaining({ code: 'ERR_CONFIG_INVALID' }));
  });
});
