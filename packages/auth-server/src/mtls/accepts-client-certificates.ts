import type { AuthServerConfig } from '../config/schema.js';

/**
 * Whether requests can carry a client certificate at all (RFC 8705): the TLS listener asks for one
 * (`clientAuth` optional or require), or a trusted proxy forwards it in a header. Discovery
 * advertises the mutual-TLS methods and certificate-bound tokens only then.
 */
export function acceptsClientCertificates(config: AuthServerConfig): boolean {
  const tls = config.listen.tls;
  return (tls !== undefined && tls.clientAuth !== 'none') || config.mtls.certificateHeader !== undefined;
}
