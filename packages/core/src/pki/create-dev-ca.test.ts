import { X509Certificate, createPrivateKey } from 'node:crypto';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { connect, createServer, type PeerCertificate, type TLSSocket } from 'node:tls';
import { beforeAll, describe, expect, it } from 'vitest';
import { createDevCa } from './create-dev-ca.js';
import type { CertificateAndKey, DevCa } from './dev-ca.js';

const SERVER_AUTH = '1.3.6.1.5.5.7.3.1';
const CLIENT_AUTH = '1.3.6.1.5.5.7.3.2';
const DAY_MS = 86_400_000;

interface HandshakeResult {
  readonly serverAuthorized: boolean;
  readonly serverError: string | undefined;
  readonly clientAuthorized: boolean;
  readonly clientError: string | undefined;
  readonly peerCn: unknown;
}

/** `authorizationError` is null once authorized, whatever its typing says. */
function describeError(error: Error | null): string | undefined {
  return error === null ? undefined : String(error);
}

/**
 * One mutual-TLS handshake over loopback: the server trusts `trust` for client certificates, the
 * client trusts `trust` for the server's. Errors are reported, not thrown.
 */
async function handshake(
  server: CertificateAndKey,
  client: CertificateAndKey | undefined,
  trust: string,
): Promise<HandshakeResult> {
  const tlsServer = createServer({
    cert: server.certPem,
    key: server.keyPem,
    ca: trust,
    requestCert: true,
    rejectUnauthorized: false,
  });
  const accepted = once(tlsServer, 'secureConnection') as Promise<[TLSSocket]>;
  tlsServer.listen(0, '127.0.0.1');
  await once(tlsServer, 'listening');
  const { port } = tlsServer.address() as AddressInfo;
  const socket = connect({
    host: '127.0.0.1',
    port,
    servername: 'localhost',
    ca: trust,
    rejectUnauthorized: false,
    ...(client === undefined ? {} : { cert: client.certPem, key: client.keyPem }),
  });
  await once(socket, 'secureConnect');
  const [serverSide] = await accepted;
  const result: HandshakeResult = {
    serverAuthorized: serverSide.authorized,
    serverError: describeError(serverSide.authorizationError),
    clientAuthorized: socket.authorized,
    clientError: describeError(socket.authorizationError),
    // Without a client certificate Node returns `{}` despite its typing.
    peerCn: (serverSide.getPeerCertificate() as Partial<PeerCertificate>).subject?.CN,
  };
  socket.destroy();
  serverSide.destroy();
  tlsServer.close();
  await once(tlsServer, 'close');
  return result;
}

describe('createDevCa', () => {
  let ca: DevCa;
  let caCert: X509Certificate;

  beforeAll(async () => {
    ca = await createDevCa();
    caCert = new X509Certificate(ca.certPem);
  });

  it('creates a self-signed P-256 CA certificate with a default name', () => {
    expect(caCert.ca).toBe(true);
    expect(caCert.subject).toBe('CN=Gatehouse Development CA');
    expect(caCert.issuer).toBe(caCert.subject);
    expect(caCert.verify(caCert.publicKey)).toBe(true);
    expect(caCert.publicKey.asymmetricKeyDetails?.namedCurve).toBe('prime256v1');
    expect(ca.keyPem).toMatch(/^-----BEGIN PRIVATE KEY-----/);
    expect(caCert.checkPrivateKey(createPrivateKey(ca.keyPem))).toBe(true);
  });

  it('honours commonName and validityDays, backdated for clock skew', async () => {
    const before = Date.now();
    const custom = await createDevCa({ commonName: 'Test Root, Inc.', validityDays: 10 });
    const cert = new X509Certificate(custom.certPem);
    expect(cert.subject).toBe('CN=Test Root\\, Inc.');
    const notBefore = Date.parse(cert.validFrom);
    const notAfter = Date.parse(cert.validTo);
    expect(notBefore).toBeLessThan(before);
    expect(notAfter - notBefore).toBe(10 * DAY_MS);
  });

  it('uses a fresh random positive serial per certificate', async () => {
    const other = await createDevCa();
    const leafA = new X509Certificate((await ca.issue({ commonName: 'a', usage: 'server' })).certPem);
    const leafB = new X509Certificate((await ca.issue({ commonName: 'a', usage: 'server' })).certPem);
    const serials = [caCert, new X509Certificate(other.certPem), leafA, leafB].map((c) => c.serialNumber);
    expect(new Set(serials).size).toBe(4);
    for (const serial of serials) {
      expect(serial).toMatch(/^[0-9A-F]{32}$/);
      expect(Number.parseInt(serial.slice(0, 1), 16)).toBeLessThan(8);
    }
  });

  it('issues a server certificate with DNS, IP and URI SANs and the serverAuth EKU', async () => {
    const leaf = await ca.issue({
      commonName: 'api',
      dns: ['localhost', 'api.gatehouse.test'],
      ip: ['127.0.0.1', '::1'],
      uri: ['spiffe://gatehouse/api'],
      usage: 'server',
    });
    const cert = new X509Certificate(leaf.certPem);
    expect(cert.subject).toBe('CN=api');
    expect(cert.issuer).toBe(caCert.subject);
    expect(cert.ca).toBe(false);
    expect(cert.verify(caCert.publicKey)).toBe(true);
    expect(cert.checkIssued(caCert)).toBe(true);
    expect(cert.subjectAltName).toBe(
      'DNS:localhost, DNS:api.gatehouse.test, IP Address:127.0.0.1, IP Address:0:0:0:0:0:0:0:1, URI:spiffe://gatehouse/api',
    );
    expect(cert.checkHost('api.gatehouse.test')).toBe('api.gatehouse.test');
    expect(cert.checkIP('127.0.0.1')).toBe('127.0.0.1');
    expect(cert.keyUsage).toEqual([SERVER_AUTH]);
    expect(cert.checkPrivateKey(createPrivateKey(leaf.keyPem))).toBe(true);
  });

  it('sets clientAuth for client certificates and both EKUs for usage both', async () => {
    const client = new X509Certificate((await ca.issue({ commonName: 'c', usage: 'client' })).certPem);
    const both = new X509Certificate((await ca.issue({ commonName: 'b', usage: 'both' })).certPem);
    expect(client.keyUsage).toEqual([CLIENT_AUTH]);
    expect(both.keyUsage).toEqual([SERVER_AUTH, CLIENT_AUTH]);
    // RFC 5280 §4.2.1.6: no names, no (empty) SAN extension.
    expect(client.subjectAltName).toBeUndefined();
  });

  it('keeps a common name with RFC 4514 special characters as one value', async () => {
    const leaf = new X509Certificate(
      (await ca.issue({ commonName: 'svc, O=Evil+CN=x', usage: 'client' })).certPem,
    );
    // Node escapes per RFC 4514: one CN attribute, no O attribute was smuggled in.
    expect(leaf.subject).toBe('CN=svc\\, O=Evil\\+CN=x');
  });

  it('honours validityDays, notBefore and notAfter', async () => {
    const notBefore = new Date(Date.UTC(2030, 0, 1));
    const byDays = new X509Certificate(
      (await ca.issue({ commonName: 'd', usage: 'server', notBefore, validityDays: 2 })).certPem,
    );
    expect(Date.parse(byDays.validFrom)).toBe(notBefore.getTime());
    expect(Date.parse(byDays.validTo)).toBe(notBefore.getTime() + 2 * DAY_MS);
    const notAfter = new Date(Date.UTC(2031, 0, 1));
    const byEnd = new X509Certificate(
      (await ca.issue({ commonName: 'e', usage: 'server', notAfter, validityDays: 1 })).certPem,
    );
    expect(Date.parse(byEnd.validFrom)).toBe(notAfter.getTime() - DAY_MS);
    expect(Date.parse(byEnd.validTo)).toBe(notAfter.getTime());
  });

  it('completes a mutual-TLS handshake between a server and a client certificate it issued', async () => {
    const server = await ca.issue({ commonName: 'localhost', dns: ['localhost'], usage: 'server' });
    const client = await ca.issue({
      commonName: 'gateway',
      uri: ['spiffe://gatehouse/gateway'],
      usage: 'client',
    });
    const result = await handshake(server, client, ca.certPem);
    expect(result).toEqual({
      serverAuthorized: true,
      serverError: undefined,
      clientAuthorized: true,
      clientError: undefined,
      peerCn: 'gateway',
    });
  });

  it('is refused by TLS peers when expired, issued by another CA, or used for the wrong purpose', async () => {
    const server = await ca.issue({ commonName: 'localhost', dns: ['localhost'], usage: 'server' });
    const expired = await ca.issue({
      commonName: 'old',
      usage: 'client',
      notAfter: new Date(Date.now() - DAY_MS),
    });
    expect(Date.parse(new X509Certificate(expired.certPem).validTo)).toBeLessThan(Date.now());
    expect((await handshake(server, expired, ca.certPem)).serverError).toBe('CERT_HAS_EXPIRED');

    const stranger = await (await createDevCa()).issue({ commonName: 'x', usage: 'client' });
    expect((await handshake(server, stranger, ca.certPem)).serverAuthorized).toBe(false);

    const serverOnly = await ca.issue({ commonName: 'srv', usage: 'server' });
    expect((await handshake(server, serverOnly, ca.certPem)).serverError).toBe('INVALID_PURPOSE');

    const expiredServer = await ca.issue({
      commonName: 'localhost',
      dns: ['localhost'],
      usage: 'server',
      notBefore: new Date(Date.now() - 3 * DAY_MS),
      notAfter: new Date(Date.now() - DAY_MS),
    });
    const client = await ca.issue({ commonName: 'c', usage: 'both' });
    expect((await handshake(expiredServer, client, ca.certPem)).clientError).toBe('CERT_HAS_EXPIRED');
  });

  it.each([
    ['an empty common name', { commonName: '' }],
    ['an invalid IP', { ip: ['300.1.1.1'] }],
    ['an invalid URI', { uri: ['not a uri'] }],
    ['an empty DNS name', { dns: [''] }],
    ['a zero validity', { validityDays: 0 }],
    ['a non-finite validity', { validityDays: Number.NaN }],
    ['notAfter before notBefore', { notBefore: new Date(2030, 0, 2), notAfter: new Date(2030, 0, 1) }],
  ])('refuses to issue with %s', async (_name, override) => {
    await expect(ca.issue({ commonName: 'x', usage: 'server', ...override })).rejects.toMatchObject({
      code: 'ERR_CONFIG_INVALID',
    });
  });

  it('refuses to create a CA with a non-positive validity', async () => {
    await expect(createDevCa({ validityDays: -1 })).rejects.toMatchObject({ code: 'ERR_CONFIG_INVALID' });
  });
});
