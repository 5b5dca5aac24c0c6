import type { FastifyRequest } from 'fastify';
import { audit } from '../audit.js';
import type { AuthServerDeps } from '../context.js';
import { NO_CERTIFICATE, type CertificateEvidence } from './client-certificate.js';
import { parseCertificateHeader } from './parse-certificate-header.js';
import { readPeerCertificate } from './read-peer-certificate.js';
import { createTrustedProxies } from './trusted-proxies.js';

/** Reads the client certificate of a request (RFC 8705 §2), from the TLS socket or a trusted proxy. */
export type CertificateReader = (request: FastifyRequest) => CertificateEvidence;

/**
 * Behind a TLS-terminating load balancer the certificate arrives in `mtls.certificateHeader`; that
 * header is believed ONLY when the socket peer is in `mtls.trustedProxies` (anyone else could write
 * any certificate into it). From a trusted proxy the header is the whole truth: without it there is
 * no client certificate (a certificate on the proxy's own connection is the proxy's). From anyone
 * else the header is ignored, audited (`client.certificate_header_ignored`), and the TLS
 * handshake's certificate, if any, is used.
 */
export function createCertificateReader(
  deps: Pick<AuthServerDeps, 'config' | 'audit' | 'now' | 'logger'>,
): CertificateReader {
  const { certificateHeader, trustedProxies } = deps.config.mtls;
  const header = certificateHeader?.toLowerCase();
  const isTrustedProxy = createTrustedProxies(trustedProxies);
  return (request) => {
    if (header !== undefined) {
      const value = request.headers[header];
      const peer = request.socket.remoteAddress;
      if (isTrustedProxy(peer)) {
        if (value === undefined) return NO_CERTIFICATE;
        // Node joins repeated unknown headers with ", "; a set-cookie style array is refused too.
        if (typeof value !== 'string') return { status: 'malformed', reason: 'certificate header: repeated' };
        return parseCertificateHeader(value);
      }
      if (value !== undefined) {
        audit(deps, {
          action: 'client.certificate_header_ignored',
          outcome: 'failure',
          sourceIp: peer,
          requestId: request.id,
          reason: 'certificate header from a peer that is not a trusted proxy',
          details: { header },
        });
      }
    }
    return readPeerCertificate(request.raw.socket);
  };
}
