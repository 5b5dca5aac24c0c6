import type { CreateDevCaOptions, DevCa } from './dev-ca.js';
import {
  KEY_ALGORITHM,
  certificatePem,
  WEB_CRYPTO,
  exportKeyPem,
  generateKeys,
  randomSerial,
  resolveValidity,
  toDevCa,
} from './issue-certificate.js';
import { loadX509 } from './load-x509.js';

const CA_VALIDITY_DAYS = 3650;

/**
 * A new self-signed development CA (ECDSA P-256): for `gatehouse init`, the demo services, mTLS
 * between components and tests. Never a production trust anchor: its key lives in a PEM string.
 */
export async function createDevCa(options: CreateDevCaOptions = {}): Promise<DevCa> {
  const commonName = options.commonName ?? 'Gatehouse Development CA';
  const validity = resolveValidity(options, CA_VALIDITY_DAYS);
  const x509 = await loadX509();
  const keys = await generateKeys();
  const cert = await x509.X509CertificateGenerator.createSelfSigned(
    {
      serialNumber: randomSerial(),
      name: [{ CN: [commonName] }],
      keys,
      signingAlgorithm: KEY_ALGORITHM,
      ...validity,
      extensions: [
        // RFC 5280 §4.2.1.9: a CA that issues only end-entity certificates (pathLen 0).
        new x509.BasicConstraintsExtension(true, 0, true),
        // RFC 5280 §4.2.1.3: keyCertSign is what makes the key a CA key.
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
        await x509.SubjectKeyIdentifierExtension.create(keys.publicKey, false, WEB_CRYPTO),
      ],
    },
    WEB_CRYPTO,
  );
  return toDevCa({
    cert,
    signingKey: keys.privateKey,
    certPem: certificatePem(cert),
    keyPem: await exportKeyPem(x509, keys.privateKey),
  });
}
