import { once } from 'node:events';
import type { Server as HttpsServer } from 'node:https';
import { createServer, type ConnectionOptions, type Server } from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDevCa } from '../pki/create-dev-ca.js';
import type { CertificateAndKey } from '../pki/dev-ca.js';
import {
  createTlsFixture,
  closeServer,
  httpsGet,
  startHttpsServer,
  tryHandshake,
  type HandshakeOutcome,
  type TlsFixture,
} from '../../test/support/tls-fixture.js';
import { loadTlsServerOptions } from './load-tls-server-options.js';
import { tlsListenerSchema, type TlsListenerInput } from './tls-listener-schema.js';

const DAY_MS = 86_400_000;

/** A raw TLS server with the listener's options that greets every accepted connection. */
async function startServer(fixture: TlsFixture, input: Partial<TlsListenerInput>): Promise<Server> {
  const config = tlsListenerSchema.parse({
    certFile: 'server.pem',
    keyFile: 'server-key.pem',
    ...input,
  });
  const server = createServer(loadTlsServerOptions(config, fixture.dir), (socket) => {
    socket.end('hello');
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return server;
}

describe('TLS listener handshakes', () => {
  let fixture: TlsFixture;
  let client: CertificateAndKey;
  let stranger: CertificateAndKey;
  let expired: CertificateAndKey;
  let requireServer: Server;
  let plainServer: Server;
  let optionalServer: Server;

  beforeAll(async () => {
    fixture = await createTlsFixture();
    client = await fixture.ca.issue({ commonName: 'partner', usage: 'client' });
    stranger = await (await createDevCa()).issue({ commonName: 'partner', usage: 'client' });
    expired = await fixture.ca.issue({
      commonName: 'partner',
      usage: 'client',
      notBefore: new Date(Date.now() - 3 * DAY_MS),
      notAfter: new Date(Date.now() - DAY_MS),
    });
    requireServer = await startServer(fixture, { caFile: 'ca.pem', clientAuth: 'require' });
    plainServer = await startServer(fixture, {});
    optionalServer = await startServer(fixture, { caFile: 'ca.pem', clientAuth: 'optional' });
  });

  afterAll(() => {
    for (const server of [requireServer, plainServer, optionalServer]) server.close();
    fixture.remove();
  });

  const trust = (): ConnectionOptions => ({ ca: fixture.ca.certPem });

  it('completes TLS 1.3 by default and TLS 1.2 with an AEAD suite', async () => {
    expect(await tryHandshake(plainServer, trust())).toMatchObject({ accepted: true });
    const tls12 = await tryHandshake(plainServer, {
      ...trust(),
      maxVersion: 'TLSv1.2',
      ciphers: 'ECDHE-ECDSA-AES256-GCM-SHA384',
    });
    expect(tls12).toMatchObject({ accepted: true, serverError: undefined });
  });

  it('admits a client certificate of the configured CA where one is required', async () => {
    const outcome = await tryHandshake(requireServer, {
      ...trust(),
      cert: client.certPem,
      key: client.keyPem,
    });
    expect(outcome).toEqual({ accepted: true, serverError: undefined, clientError: undefined });
  });

  // Attack table: each client is refused during the handshake, by the server.
  it.each<[string, () => Server, () => ConnectionOptions, Partial<HandshakeOutcome>]>([
    [
      'a client limited to TLS 1.1',
      () => plainServer,
      // SECLEVEL 0 lets OpenSSL 3 offer TLS 1.1 at all, so the refusal is the server's.
      () => ({ ...trust(), minVersion: 'TLSv1', maxVersion: 'TLSv1.1', ciphers: 'DEFAULT@SECLEVEL=0' }),
      { serverError: 'ERR_SSL_UNSUPPORTED_PROTOCOL' },
    ],
    [
      'a TLS 1.2 client offering only CBC suites',
      () => plainServer,
      () => ({
        ...trust(),
        maxVersion: 'TLSv1.2',
        ciphers: 'ECDHE-ECDSA-AES128-SHA256:ECDHE-ECDSA-AES256-SHA384:ECDHE-ECDSA-AES128-SHA:AES128-SHA256',
      }),
      { serverError: 'ERR_SSL_NO_SHARED_CIPHER' },
    ],
    [
      'no client certificate where one is required',
      () => requireServer,
      () => trust(),
      { serverError: 'ERR_SSL_PEER_DID_NOT_RETURN_A_CERTIFICATE' },
    ],
    [
      'a client certificate from another CA',
      () => requireServer,
      () => ({ ...trust(), cert: stranger.certPem, key: stranger.keyPem }),
      { serverReason: 'UNABLE_TO_VERIFY_LEAF_SIGNATURE' },
    ],
    [
      'an expired client certificate',
      () => requireServer,
      () => ({ ...trust(), cert: expired.certPem, key: expired.keyPem }),
      { serverReason: 'CERT_HAS_EXPIRED' },
    ],
  ])('refuses %s', async (_name, server, options, refusal) => {
    const outcome = await tryHandshake(server(), options());
    expect(outcome).toMatchObject({ accepted: false, ...refusal });
  });

  describe('over HTTPS', () => {
    const servers: HttpsServer[] = [];
    afterAll(async () => {
      await Promise.all(servers.map((server) => closeServer(server)));
    });
    async function https(input: Partial<TlsListenerInput>): Promise<string> {
      const config = tlsListenerSchema.parse({ certFile: 'server.pem', keyFile: 'server-key.pem', ...input });
      const started = await startHttpsServer(loadTlsServerOptions(config, fixture.dir));
      servers.push(started.server);
      return started.url;
    }

    it('prefers TLS 1.3 and, with minVersion TLSv1.3, refuses a TLS 1.2 client', async () => {
      const url = await https({ minVersion: 'TLSv1.3' });
      const answer = await httpsGet(url, trust());
      expect(JSON.parse(answer.body)).toMatchObject({ protocol: 'TLSv1.3', peer: null });
      await expect(httpsGet(url, { ...trust(), maxVersion: 'TLSv1.2' })).rejects.toMatchObject({
        code: 'EPROTO',
        message: expect.stringContaining('protocol version') as unknown,
      });
    });

    it('with clientAuth optional admits a client without a certificate and shows a given one', async () => {
      const url = await https({ caFile: 'ca.pem', clientAuth: 'optional' });
      expect(JSON.parse((await httpsGet(url, trust())).body)).toEqual({
        authorized: false,
        peer: null,
        protocol: 'TLSv1.3',
      });
      const withCert = await httpsGet(url, { ...trust(), cert: client.certPem, key: client.keyPem });
      expect(JSON.parse(withCert.body)).toMatchObject({ authorized: true, peer: 'partner' });
      // Optional means admitted, never verified: the application sees the refusal.
      const foreign = await httpsGet(url, { ...trust(), cert: stranger.certPem, key: stranger.keyPem });
      expect(JSON.parse(foreign.body)).toMatchObject({ authorized: false, peer: 'partner' });
    });

    it('without caFile trusts no CA for client certificates, not even the public roots', async () => {
      const url = await https({ clientAuth: 'optional' });
      const answer = await httpsGet(url, { ...trust(), cert: client.certPem, key: client.keyPem });
      expect(JSON.parse(answer.body)).toMatchObject({ authorized: false, peer: 'partner' });
    });
  });
});
