import { createPrivateKey, type KeyObject } from 'node:crypto';
import { GatehouseError } from '../errors/gatehouse-error.js';
import type { DevCa } from './dev-ca.js';
import {
  KEY_ALGORITHM,
  WEB_CRYPTO,
  certificatePem,
  invalid,
  parseCertificate,
  toDevCa,
} from './issue-certificate.js';
import { loadX509 } from './load-x509.js';

function parsePrivateKey(pem: string): KeyObject {
  try {
    return createPrivateKey(pem);
  } catch (error) {
    throw new GatehouseError('ERR_CONFIG_INVALID', {
      detail: 'CA key is not a PEM private key',
      cause: error,
    });
  }
}

/**
 * A dev CA from files written earlier (`gatehouse init`, `gatehouse certs`). Refuses a certificate
 * that is not a CA, a key that does not match it, and any key other than ECDSA P-256.
 */
export async function loadDevCa(certPem: string, keyPem: string): Promise<DevCa> {
  const parsed = parseCertificate(certPem);
  // RFC 5280 §4.2.1.9: without cA=TRUE, peers would reject every certificate it issued.
  if (!parsed.ca) throw invalid('certificate is not a CA certificate');
  const key = parsePrivateKey(keyPem);
  const details = key.asymmetricKeyDetails;
  if (key.asymmetricKeyType !== 'ec' || details?.namedCurve !== 'prime256v1') {
    throw invalid('CA key must be ECDSA P-256');
  }
  if (!parsed.checkPrivateKey(key)) throw invalid('CA key does not match the CA certificate');
  const x509 = await loadX509();
  const pkcs8 = key.export({ format: 'der', type: 'pkcs8' });
  const signingKey = await WEB_CRYPTO.subtle.importKey('pkcs8', pkcs8, KEY_ALGORITHM, false, ['sign']);
  const cert = new x509.X509Certificate(parsed.raw);
  // Keys are handed back as PKCS#8 whatever form they came in (SEC1 `EC PRIVATE KEY` is accepted).
  return toDevCa({
    cert,
    signingKey,
    certPem: certificatePem(cert),
    keyPem: key.export({ format: 'pem', type: 'pkcs8' }).toString(),
  });
}
