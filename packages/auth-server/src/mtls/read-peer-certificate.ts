import { TLSSocket } from 'node:tls';
import {
  NO_CERTIFICATE,
  parseDerCertificate,
  toClientCertificate,
  type CertificateEvidence,
} from './client-certificate.js';

/**
 * The certificate the client presented in the TLS handshake of this connection: none on plain HTTP
 * or when it sent none. With `clientAuth: optional` a certificate that failed chain verification is
 * still returned, with `tlsAuthorized: false`: self-signed clients (RFC 8705 §2.2) need it.
 */
export function readPeerCertificate(socket: unknown): CertificateEvidence {
  if (!(socket instanceof TLSSocket)) return NO_CERTIFICATE;
  const peer = socket.getPeerCertificate(false);
  if (!Object.hasOwn(peer, 'raw')) return NO_CERTIFICATE;
  const x509 = parseDerCertificate(peer.raw);
  if (x509 === undefined) return { status: 'malformed', reason: 'TLS peer certificate unreadable' };
  return { status: 'present', certificate: toClientCertificate(x509, 'tls', socket.authorized) };
}
