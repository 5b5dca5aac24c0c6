import { z } from 'zod';

/**
 * The setting naming the header in which a TLS-terminating proxy forwards the client certificate
 * (read by `parseForwardedCertificate`); `trust` ends the description with who is believed.
 */
export function forwardedCertificateHeaderSchema(trust: string) {
  return z
    .string()
    .regex(/^[A-Za-z0-9-]+$/, 'a header name')
    .optional()
    .describe(
      'Header in which a TLS-terminating proxy forwards the client certificate (RFC 9440 ' +
        '`Client-Cert`, a URL-encoded PEM as nginx `$ssl_client_escaped_cert`, or the `Cert` of ' +
        `one Envoy \`x-forwarded-client-cert\` element); ${trust}`,
    );
}
