import { X509Certificate, createHash } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import { createDevCa } from '../pki/create-dev-ca.js';
import type { DevCa } from '../pki/dev-ca.js';
import { describeCertificate } from './describe-certificate.js';

const DAY_MS = 86_400_000;

describe('describeCertificate', () => {
  let ca: DevCa;

  beforeAll(async () => {
    ca = await createDevCa({ commonName: 'Test CA' });
  });

  it('describes names, validity, SANs and the x5t#S256 fingerprint of the leaf', async () => {
    const notBefore = new Date(Date.UTC(2030, 0, 1));
    const leaf = await ca.issue({
      commonName: 'api, gateway',
      dns: ['localhost', 'api.gatehouse.test'],
      ip: ['127.0.0.1', '::1', '2001:db8:0:0:0:0:0:1'],
      // A comma and a quote inside a name: Node writes these values as JSON strings.
      uri: ['spiffe://gatehouse/a,b', 'https://x.test/?q="y"', 'urn:gatehouse:api'],
      usage: 'server',
      notBefore,
      validityDays: 30,
    });
    // A chain file (leaf, then CA) is described by its leaf.
    const info = describeCertificate(`${leaf.certPem}${ca.certPem}`, notBefore.getTime() + 10.5 * DAY_MS);
    const der = new X509Certificate(leaf.certPem).raw;
    expect(info).toEqual({
      subject: 'CN=api\\, gateway',
      issuer: 'CN=Test CA',
      notBefore,
      notAfter: new Date(notBefore.getTime() + 30 * DAY_MS),
      daysLeft: 19,
      dns: ['localhost', 'api.gatehouse.test'],
      ip: ['127.0.0.1', '::1', '2001:db8::1'],
      uri: ['spiffe://gatehouse/a,b', 'https://x.test/?q="y"', 'urn:gatehouse:api'],
      fingerprint256: createHash('sha256').update(der).digest('base64url'),
    });
    expect(info.fingerprint256).toMatch(/^[A-Za-z0-9_-]{43}$/);
  });

  it('counts whole days left: 0 on the last day, negative once expired', async () => {
    const notAfter = new Date(Date.UTC(2031, 5, 1));
    const leaf = await ca.issue({ commonName: 'c', usage: 'client', notAfter, validityDays: 10 });
    expect(describeCertificate(leaf.certPem, notAfter.getTime() - 1000).daysLeft).toBe(0);
    expect(describeCertificate(leaf.certPem, notAfter.getTime() + 1000).daysLeft).toBe(-1);
    expect(describeCertificate(leaf.certPem, notAfter.getTime() - 2 * DAY_MS).daysLeft).toBe(2);
  });

  it('has empty SAN lists for a certificate without SANs (the CA) and uses the clock by default', () => {
    const info = describeCertificate(ca.certPem);
    expect(info).toMatchObject({ subject: 'CN=Test CA', issuer: 'CN=Test CA', dns: [], ip: [], uri: [] });
    expect(info.daysLeft).toBeGreaterThan(3640);
  });

  it('refuses text that is not a PEM certificate', () => {
    expect(() => describeCertificate('-----BEGIN PRIVATE KEY-----')).toThrow(
      expect.objectContaining({ code: 'ERR_CONFIG_INVALID' }),
    );
  });
});
