import { constants, createPrivateKey } from 'node:crypto';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTlsFixture, type TlsFixture } from '../../test/support/tls-fixture.js';
import { loadTlsServerOptions } from './load-tls-server-options.js';
import { tlsListenerSchema, type TlsListenerInput } from './tls-listener-schema.js';

describe('loadTlsServerOptions', () => {
  let fixture: TlsFixture;

  beforeAll(async () => {
    fixture = await createTlsFixture();
    const other = await fixture.ca.issue({ commonName: 'other', usage: 'server' });
    fixture.write('other-key.pem', other.keyPem);
    fixture.write(
      'encrypted-key.pem',
      createPrivateKey(fixture.server.keyPem)
        .export({ format: 'pem', type: 'pkcs8', cipher: 'aes-256-cbc', passphrase: 'secret' })
        .toString(),
    );
    fixture.write('empty.pem', '');
    fixture.write('garbage.pem', 'not pem at all');
    fixture.write('broken-ca.pem', '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n');
  });

  afterAll(() => fixture.remove());

  const load = (input: Partial<TlsListenerInput>) =>
    loadTlsServerOptions(
      tlsListenerSchema.parse({ certFile: 'server.pem', keyFile: 'server-key.pem', ...input }),
      fixture.dir,
    );

  it('applies the secure defaults: TLS 1.2+, ECDHE AEAD suites, server order, no renegotiation', () => {
    const options = load({});
    expect(options).toMatchObject({
      requestCert: false,
      rejectUnauthorized: false,
      minVersion: 'TLSv1.2',
      honorCipherOrder: true,
      handshakeTimeout: 10_000,
    });
    expect(options.ca).toBeUndefined();
    expect((options.cert as Buffer).toString()).toBe(fixture.server.certPem);
    expect((options.key as Buffer).toString()).toBe(fixture.server.keyPem);
    expect((options.secureOptions ?? 0) & constants.SSL_OP_NO_RENEGOTIATION).toBe(
      constants.SSL_OP_NO_RENEGOTIATION,
    );
    const suites = String(options.ciphers).split(':');
    expect(suites.slice(0, 3)).toEqual([
      'TLS_AES_128_GCM_SHA256',
      'TLS_AES_256_GCM_SHA384',
      'TLS_CHACHA20_POLY1305_SHA256',
    ]);
    // TLS 1.2: ephemeral ECDH and an AEAD cipher, nothing else (no CBC, no static RSA).
    expect(suites.slice(3)).toHaveLength(6);
    for (const suite of suites.slice(3)) {
      expect(suite).toMatch(/^ECDHE-(ECDSA|RSA)-(AES128-GCM-SHA256|AES256-GCM-SHA384|CHACHA20-POLY1305)$/);
    }
  });

  it('maps clientAuth to requestCert / rejectUnauthorized and reads the CA', () => {
    expect(load({ caFile: 'ca.pem', clientAuth: 'require' })).toMatchObject({
      requestCert: true,
      rejectUnauthorized: true,
    });
    const optional = load({ caFile: 'ca.pem', clientAuth: 'optional', minVersion: 'TLSv1.3' });
    expect(optional).toMatchObject({ requestCert: true, rejectUnauthorized: false, minVersion: 'TLSv1.3' });
    expect((optional.ca as Buffer).toString()).toBe(fixture.ca.certPem);
    // Optional without a CA: an empty trust list, never Node's public roots.
    expect(load({ clientAuth: 'optional' }).ca).toEqual([]);
  });

  it('resolves relative paths against baseDir and takes absolute ones as they are', () => {
    const options = loadTlsServerOptions(
      tlsListenerSchema.parse({ certFile: join(fixture.dir, 'server.pem'), keyFile: 'server-key.pem' }),
      fixture.dir,
    );
    expect((options.cert as Buffer).toString()).toBe(fixture.server.certPem);
  });

  it.each<[string, Partial<TlsListenerInput>, RegExp]>([
    [
      'a missing certificate file',
      { certFile: 'missing.pem' },
      /^tls\.certFile: cannot read .*missing\.pem \(ENOENT\)$/,
    ],
    ['a missing key file', { keyFile: 'missing.pem' }, /^tls\.keyFile: cannot read .*\(ENOENT\)$/],
    ['a missing CA file', { caFile: 'missing.pem' }, /^tls\.caFile: cannot read .*\(ENOENT\)$/],
    ['a folder as the certificate', { certFile: '.' }, /^tls\.certFile: cannot read .* \(EISDIR\)$/],
    [
      'an empty certificate file',
      { certFile: 'empty.pem' },
      /^tls\.certFile: empty\.pem is not a PEM certificate$/,
    ],
    ['a certificate that is not PEM', { certFile: 'garbage.pem' }, /is not a PEM certificate$/],
    [
      'an empty key file',
      { keyFile: 'empty.pem' },
      /^tls\.keyFile: empty\.pem is not an unencrypted PEM private key$/,
    ],
    ['an encrypted key', { keyFile: 'encrypted-key.pem' }, /is not an unencrypted PEM private key$/],
    [
      'a key of another certificate',
      { keyFile: 'other-key.pem' },
      /^tls: server\.pem and other-key\.pem cannot be used together \(.*key values mismatch\)$/,
    ],
    [
      'a CA file without certificates',
      { caFile: 'garbage.pem' },
      /^tls\.caFile: garbage\.pem holds no PEM certificate$/,
    ],
    ['a CA certificate that does not parse', { caFile: 'broken-ca.pem' }, /does not parse$/],
  ])('refuses %s with ERR_CONFIG_INVALID', (_name, input, detail) => {
    let caught: unknown;
    try {
      load(input);
    } catch (err) {
      caught = err;
    }
    expect(caught).toMatchObject({
      code: 'ERR_CONFIG_INVALID',
      detail: expect.stringMatching(detail) as unknown,
    });
    // Never key material in what gets logged.
    expect(JSON.stringify(caught)).not.toContain('PRIVATE KEY');
  });
});
