import { X509Certificate, createPrivateKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import { createDevCa } from './create-dev-ca.js';
import type { DevCa } from './dev-ca.js';
import { loadDevCa } from './load-dev-ca.js';

function pkcs8Pem(key: KeyObject): string {
  return key.export({ format: 'pem', type: 'pkcs8' }).toString();
}

describe('loadDevCa', () => {
  let ca: DevCa;

  beforeAll(async () => {
    ca = await createDevCa({ commonName: 'Stored CA' });
  });

  it('issues certificates that chain to the stored CA', async () => {
    const loaded = await loadDevCa(ca.certPem, ca.keyPem);
    expect(loaded.certPem).toBe(ca.certPem);
    expect(loaded.keyPem).toBe(ca.keyPem);
    const leaf = new X509Certificate(
      (await loaded.issue({ commonName: 'svc', dns: ['svc.local'], usage: 'server' })).certPem,
    );
    const root = new X509Certificate(ca.certPem);
    expect(leaf.checkIssued(root)).toBe(true);
    expect(leaf.verify(root.publicKey)).toBe(true);
    expect(leaf.issuer).toBe('CN=Stored CA');
  });

  it('accepts a SEC1 EC PRIVATE KEY and hands it back as PKCS#8', async () => {
    const sec1 = createPrivateKey(ca.keyPem).export({ format: 'pem', type: 'sec1' }).toString();
    expect(sec1).toMatch(/^-----BEGIN EC PRIVATE KEY-----/);
    const loaded = await loadDevCa(ca.certPem, sec1);
    expect(loaded.keyPem).toBe(ca.keyPem);
    const leaf = new X509Certificate((await loaded.issue({ commonName: 'c', usage: 'client' })).certPem);
    expect(leaf.checkIssued(new X509Certificate(ca.certPem))).toBe(true);
  });

  it.each([
    ['a certificate that is not PEM', () => 'not a certificate', () => ca.keyPem],
    ['a key that is not PEM', () => ca.certPem, () => 'not a key'],
    [
      'a key of another CA',
      () => ca.certPem,
      () => pkcs8Pem(generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey),
    ],
    [
      'an RSA key',
      () => ca.certPem,
      () => pkcs8Pem(generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey),
    ],
    [
      'a P-384 key',
      () => ca.certPem,
      () => pkcs8Pem(generateKeyPairSync('ec', { namedCurve: 'P-384' }).privateKey),
    ],
  ])('refuses %s', async (_name, cert, key) => {
    await expect(loadDevCa(cert(), key())).rejects.toMatchObject({ code: 'ERR_CONFIG_INVALID' });
  });

  it('refuses a leaf certificate as the CA', async () => {
    const leaf = await ca.issue({ commonName: 'leaf', usage: 'both' });
    await expect(loadDevCa(leaf.certPem, leaf.keyPem)).rejects.toMatchObject({
      code: 'ERR_CONFIG_INVALID',
      detail: 'certificate is not a CA certificate',
    });
  });
});
