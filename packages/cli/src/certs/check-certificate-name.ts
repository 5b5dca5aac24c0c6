import { UsageError } from '../io.js';

/** A file-safe id: it becomes `NAME.pem` and `NAME-key.pem`, so no separator, dot or upper case. */
const CERTIFICATE_NAME = /^[a-z0-9][a-z0-9-]{0,62}$/;

/**
 * NAME of `certs issue|renew`. Refuses anything that could leave the pki folder (`../x`, `a/b`) and
 * the names whose files collide with others: `ca` is the CA itself, and `x-key.pem` is the key of `x`.
 */
export function checkCertificateName(name: string): string {
  if (!CERTIFICATE_NAME.test(name)) {
    throw new UsageError(
      `certificate name ${JSON.stringify(name)}: 1 to 63 characters a-z, 0-9 and "-", starting with a letter or digit`,
    );
  }
  if (name === 'ca') throw new UsageError('certificate name "ca" is the development CA itself');
  if (name.endsWith('-key')) {
    throw new UsageError(
      `certificate name ${JSON.stringify(name)}: a name ending in -key would clash with key files`,
    );
  }
  return name;
}
