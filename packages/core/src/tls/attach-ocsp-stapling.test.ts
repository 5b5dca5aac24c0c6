import { once } from 'node:events';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { connect, createServer, type ConnectionOptions, type Server } from 'node:tls';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTlsFixture, type TlsFixture } from '../../test/support/tls-fixture.js';
import { attachOcspStapling } from './attach-ocsp-stapling.js';
import { loadTlsServerOptions } from './load-tls-server-options.js';
import { tlsListenerSchema, type TlsListenerConfig } from './tls-listener-schema.js';

/** Well-formed OCSPResponses (RFC 6960 §4.2.1) without responseBytes: status tryLater (3), unauthorized (6). */
const TRY_LATER = Buffer.from('30030a0103', 'hex');
const UNAUTHORIZED = Buffer.from('30030a0106', 'hex');

/** Connects asking for the certificate status (or not); resolves the stapled bytes, if any. */
async function stapled(server: Server, requestOCSP = true): Promise<Buffer | undefined> {
  const { port } = server.address() as AddressInfo;
  // `requestOCSP` is a TLSSocket option that @types/node leaves out of ConnectionOptions.
  const options = {
    host: '127.0.0.1',
    port,
    servername: 'localhost',
    requestOCSP,
    rejectUnauthorized: false,
  };
  const socket = connect(options as ConnectionOptions);
  let response: Buffer | undefined;
  // Emitted with null when the client asked and nothing was stapled.
  socket.on('OCSPResponse', (der: Buffer | null) => {
    response = der ?? undefined;
  });
  await once(socket, 'secureConnect');
  socket.destroy();
  return response;
}

describe('attachOcspStapling', () => {
  let fixture: TlsFixture;
  let config: TlsListenerConfig;
  let server: Server;

  beforeAll(async () => {
    fixture = await createTlsFixture();
    fixture.write('ocsp.der', TRY_LATER);
    config = tlsListenerSchema.parse({
      certFile: 'server.pem',
      keyFile: 'server-key.pem',
      ocspResponseFile: 'ocsp.der',
    });
    server = createServer(loadTlsServerOptions(config, fixture.dir));
    attachOcspStapling(server, config, fixture.dir);
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
  });

  afterAll(() => {
    server.close();
    fixture.remove();
  });

  it('staples the DER response to a handshake that asks for it, and to no other', async () => {
    expect(await stapled(server)).toEqual(TRY_LATER);
    expect(await stapled(server, false)).toBeUndefined();
  });

  it('picks up a refreshed response file without a reload, and staples nothing once it is unusable', async () => {
    fixture.write('ocsp.der', UNAUTHORIZED);
    expect(await stapled(server)).toEqual(UNAUTHORIZED);
    fixture.write('ocsp.der', 'not DER');
    expect(await stapled(server)).toBeUndefined();
    rmSync(join(fixture.dir, 'ocsp.der'));
    expect(await stapled(server)).toBeUndefined();
    fixture.write('ocsp.der', TRY_LATER);
    expect(await stapled(server)).toEqual(TRY_LATER);
  });

  it('does nothing without ocspResponseFile', () => {
    const plain = createServer();
    attachOcspStapling(plain, { ...config, ocspResponseFile: undefined }, fixture.dir);
    expect(plain.listenerCount('OCSPRequest')).toBe(0);
  });

  it.each([
    ['a missing file', 'missing.der', /^tls\.ocspResponseFile: cannot read .*missing\.der \(ENOENT\)$/],
    ['a file that is not DER', 'server.pem', /is not a DER OCSP response$/],
  ])('refuses %s at start', (_name, file, detail) => {
    expect(() => {
      attachOcspStapling(createServer(), { ...config, ocspResponseFile: file }, fixture.dir);
    }).toThrow(
      expect.objectContaining({ code: 'ERR_CONFIG_INVALID', detail: expect.stringMatching(detail) }),
    );
  });
});
