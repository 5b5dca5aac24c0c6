import { GatehouseError } from '@gatehouse/core';
import { isMtlsMethod, type Client } from '../clients/client.js';
import { thumbprintOf, type CertificateEvidence } from './client-certificate.js';

/**
 * RFC 8705 §3: the certificate (its `x5t#S256`) the tokens of a token request are bound to, or
 * undefined for unbound tokens. A client that authenticated with its certificate always gets
 * bound tokens; any other client only when it registered
 * `tls_client_certificate_bound_access_tokens` (RFC 8705 §3.4), and then a request without a
 * certificate is refused rather than answered with a token that would work without one.
 */
export function certificateBindingOf(
  client: Client,
  evidence: CertificateEvidence | undefined,
): string | undefined {
  const thumbprint = thumbprintOf(evidence);
  if (isMtlsMethod(client.authMethod)) return thumbprint;
  if (!client.tlsClientCertificateBoundAccessTokens) return undefined;
  if (thumbprint === undefined) {
    throw new GatehouseError('ERR_OAUTH_INVALID_REQUEST', {
      detail: 'client registered for certificate-bound tokens sent no client certificate',
    });
  }
  return thumbprint;
}
