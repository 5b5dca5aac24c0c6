import type { X509Certificate } from 'node:crypto';
import { parseForwardedCertificate, type Logger } from '@gatehouse/core';

/** Distinct header values remembered (a proxy forwards the same few client certificates again and again). */
const MAX_CACHED = 1024;
/** Header value -> its certificate, or null when it holds none or is malformed. */
const cache = new Map<string, X509Certificate | null>();

/**
 * The client certificate a trusted TLS-terminating proxy forwarded (RFC 9440 `Client-Cert`, or a
 * URL-encoded PEM as nginx's `$ssl_client_escaped_cert`), given the values of the configured
 * header field; undefined when there is none. From a trusted proxy the header is the whole truth:
 * the proxy's own connection certificate is never the client's. A repeated field or a malformed
 * value counts as no certificate (a certificate-bound token is then refused, RFC 8705 §3) and is
 * logged once per distinct value, since only a misconfigured proxy sends one. Parsed values are
 * cached: an X.509 parse costs tens of microseconds.
 */
export function readForwardedCertificate(
  values: readonly string[] | undefined,
  logger: Logger,
): X509Certificate | undefined {
  if (values === undefined) return undefined;
  if (values.length !== 1) {
    logger.warn({ fields: values.length }, 'client certificate header repeated by a trusted proxy: ignored');
    return undefined;
  }
  const value = values[0] as string;
  const cached = cache.get(value);
  if (cached !== undefined) return cached ?? undefined;
  const read = parseForwardedCertificate(value);
  if (read.status === 'malformed') {
    logger.warn(
      { reason: read.reason },
      'client certificate header from a trusted proxy unreadable: ignored',
    );
  }
  if (cache.size >= MAX_CACHED) cache.clear();
  const certificate = read.status === 'present' ? read.certificate : null;
  cache.set(value, certificate);
  return certificate ?? undefined;
}
