import { X509Certificate } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import { createDevCa } from '../pki/create-dev-ca.js';
import { parseForwardedCertificate } from './parse-forwarded-certificate.js';

/**
 * A proxy's certificate header (RFC 9440 `Client-Cert`, or nginx's `$ssl_client_escaped_cert`):
 * exactly one certificate, an explicit "none", or malformed with a reason. A table of the ways a
 * header can be wrong.
 */
describe('parseForwardedCertificate', () => {
  let pem: string;
  let other: string;
  let der: Buffer;

  beforeAll(async () => {
    const ca = await createDevCa({ commonName: 'Forwarding CA' });
    pem = (await ca.issue({ commonName: 'client', usage: 'client' })).certPem;
    other = (await ca.issue({ commonName: 'other', usage: 'client' })).certPem;
    der = new X509Certificate(pem).raw;
  });

  it('reads an RFC 9440 byte sequence (the DER in base64 between colons)', () => {
    const read = parseForwardedCertificate(`:${der.toString('base64')}:`);
    expect(read.status).toBe('present');
    expect(read.status === 'present' && read.certificate.raw.equals(der)).toBe(true);
  });

  it('reads a URL-encoded PEM as nginx $ssl_client_escaped_cert writes it, spaces around ignored', () => {
    const read = parseForwardedCertificate(`  ${encodeURIComponent(pem)} `);
    expect(read.status === 'present' && read.certificate.raw.equals(der)).toBe(true);
  });

  it('reads the Cert of one Envoy x-forwarded-client-cert element, quoted or not, among other keys', () => {
    const cert = encodeURIComponent(pem);
    for (const value of [
      `By=spiffe://gatehouse/gw;Hash=abc;Cert="${cert}";Subject="CN=client,O=x";URI=`,
      `Cert=${cert}`,
      `cert="${cert}";DNS=a.example`,
      `By="spiffe://a;b";Subject="say \\"hi\\", then go";Cert="${cert}"`,
    ]) {
      const read = parseForwardedCertificate(value);
      expect(read.status === 'present' && read.certificate.raw.equals(der), value.slice(0, 40)).toBe(true);
    }
  });

  it.each(['', '   '])('an empty value (%j) means the proxy saw no certificate', (value) => {
    expect(parseForwardedCertificate(value)).toEqual({ status: 'none' });
  });

  const malformed: ReadonlyArray<{ name: string; value: () => string; reason: RegExp }> = [
    { name: 'longer than 16 KiB', value: () => `:${'A'.repeat(16 * 1024)}:`, reason: /too long/ },
    {
      name: 'a byte sequence of unpadded base64',
      value: () => ':QUJD:'.replace('QUJD', 'QUJ'),
      reason: /padded/,
    },
    {
      name: 'a byte sequence of bytes that are not a certificate',
      value: () => ':QUJD:',
      reason: /not one DER/,
    },
    {
      name: 'a certificate with bytes after it',
      value: () => `:${Buffer.concat([der, Buffer.from([0])]).toString('base64')}:`,
      reason: /not one DER/,
    },
    { name: 'broken percent-encoding', value: () => '%E0%A4%A', reason: /not URL-encoded/ },
    { name: 'neither form', value: () => 'MIIBjustbase64', reason: /neither/ },
    { name: 'a byte sequence without its colons', value: () => der.toString('base64'), reason: /neither/ },
    {
      name: 'two PEM certificates (a chain)',
      value: () => encodeURIComponent(`${pem}${other}`),
      reason: /neither/,
    },
    {
      name: 'a PEM whose body is not base64',
      value: () => encodeURIComponent('-----BEGIN CERTIFICATE-----\nABC\n-----END CERTIFICATE-----'),
      reason: /PEM is not base64/,
    },
    {
      name: 'two XFCC elements (several hops: whose certificate is it?)',
      value: () => `Cert="${encodeURIComponent(other)}",Cert="${encodeURIComponent(pem)}"`,
      reason: /more than one XFCC element/,
    },
    {
      name: 'an XFCC element without Cert (Envoy sends only the Hash by default)',
      value: () => 'By=x;Hash=abc',
      reason: /without exactly one Cert/,
    },
    {
      name: 'an XFCC element with two Certs',
      value: () => `Cert="${encodeURIComponent(pem)}";Cert="${encodeURIComponent(other)}"`,
      reason: /without exactly one Cert/,
    },
    {
      name: 'an XFCC element with an unterminated quote',
      value: () => `Cert="${encodeURIComponent(pem)}`,
      reason: /unterminated/,
    },
    { name: 'an XFCC Cert that is not a certificate', value: () => 'Cert="abc"', reason: /neither/ },
    {
      name: 'a PEM of another type',
      value: () => encodeURIComponent(pem.replaceAll('CERTIFICATE', 'PUBLIC KEY')),
      reason: /neither/,
    },
  ];

  it.each(malformed)('refuses $name', ({ value, reason }) => {
    const read = parseForwardedCertificate(value());
    expect(read.status).toBe('malformed');
    expect(read.status === 'malformed' && read.reason).toMatch(reason);
  });
});
