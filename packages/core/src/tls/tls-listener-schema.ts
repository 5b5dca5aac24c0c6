import { z } from 'zod';

/**
 * The `tls` block of a listener (gateway, admin, BFF, auth server). Paths are relative to the
 * configuration file's folder. Protocol versions and cipher suites are not configurable beyond
 * `minVersion`: the secure defaults of `loadTlsServerOptions` (RFC 9325, BCP 195) always apply.
 */
export const tlsListenerSchema = z
  .strictObject({
    certFile: z
      .string()
      .min(1)
      .describe('PEM certificate chain (leaf first), relative to the config file; reloaded on change'),
    keyFile: z.string().min(1).describe('PEM private key of the certificate; reloaded on change'),
    caFile: z
      .string()
      .min(1)
      .optional()
      .describe('PEM CA certificate(s) trusted for client certificates; only these (never the system roots)'),
    clientAuth: z
      .enum(['none', 'optional', 'require'])
      .default('none')
      .describe(
        'Client certificates: not asked (none), asked and admitted without (optional), or required (require, needs caFile)',
      ),
    minVersion: z
      .enum(['TLSv1.2', 'TLSv1.3'])
      .default('TLSv1.2')
      .describe('Lowest protocol version (RFC 9325 §3.1.1: TLS 1.2 or later; TLS 1.3 is preferred)'),
    ocspResponseFile: z
      .string()
      .min(1)
      .optional()
      .describe('DER OCSP response stapled to handshakes that ask for it (RFC 6066 §8); re-read per use'),
  })
  // A required client certificate verified against the system roots would admit anyone holding
  // a certificate from any public CA: the trusted CA must be named.
  .refine((config) => config.clientAuth !== 'require' || config.caFile !== undefined, {
    error: 'caFile is required when clientAuth is require',
    path: ['caFile'],
  })
  .describe('TLS for this listener (HTTPS); absent: plain HTTP');

export type TlsListenerConfig = z.output<typeof tlsListenerSchema>;
export type TlsListenerInput = z.input<typeof tlsListenerSchema>;
