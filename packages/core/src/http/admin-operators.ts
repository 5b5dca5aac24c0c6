import { createHash, type X509Certificate } from 'node:crypto';
import { parseSubjectAltName } from '../tls/describe-certificate.js';

/**
 * Operators of an admin API who authenticate with a client certificate instead of the admin token
 * (`admin.operators`): each entry names one certificate by its SHA-256 thumbprint
 * (`sha256:<base64url>`, the `x5t#S256` form of RFC 8705 §3.1, or `sha256:AB:CD:…` in hex) or every certificate carrying a SAN
 * URI (`spiffe://example.org/ops/alice`, compared exactly). The listener's TLS verifies the chain
 * against its `caFile` first; a certificate it did not verify never names an operator.
 */
export interface AdminOperators {
  readonly size: number;
  /** The operator the peer of `socket` is (the matching entry), or undefined. */
  identify(socket: unknown): string | undefined;
}

const THUMBPRINT = /^sha256:[A-Za-z0-9_-]{43}$/;
/** The hex form OpenSSL, Node (`fingerprint256`) and `gatehouse certs` print: `AB:CD:…`. */
const HEX_THUMBPRINT = /^sha256:(?:[0-9A-Fa-f]{2}:){31}[0-9A-Fa-f]{2}$/;

/**
 * The one spelling of an operator entry (a hex thumbprint becomes base64url), or undefined when
 * the entry is neither a thumbprint nor a URI. The configuration schemas use it too.
 */
export function normalizeAdminOperator(entry: string): string | undefined {
  if (THUMBPRINT.test(entry)) return entry;
  if (HEX_THUMBPRINT.test(entry)) {
    return `sha256:${Buffer.from(entry.slice(7).replaceAll(':', ''), 'hex').toString('base64url')}`;
  }
  if (entry.startsWith('sha256:') || /[\s,"\\]/.test(entry)) return undefined;
  try {
    return new URL(entry).protocol.length > 1 ? entry : undefined;
  } catch {
    return undefined;
  }
}

/** Whether `entry` is a well-formed operator entry. */
export function isAdminOperatorEntry(entry: string): boolean {
  return normalizeAdminOperator(entry) !== undefined;
}

interface PeerSocket {
  readonly authorized?: boolean;
  getPeerX509Certificate?: () => X509Certificate | undefined;
}

/** Builds the set; throws a TypeError for an entry that is neither form. */
export function buildAdminOperators(entries: readonly string[]): AdminOperators {
  const known = new Set<string>();
  for (const entry of entries) {
    const normalized = normalizeAdminOperator(entry);
    if (normalized === undefined) {
      throw new TypeError(`admin operator ${entry}: expected sha256:<certificate thumbprint> or a SAN URI`);
    }
    known.add(normalized);
  }
  return {
    size: known.size,
    identify(socket) {
      if (known.size === 0 || typeof socket !== 'object' || socket === null) return undefined;
      const peer = socket as PeerSocket;
      // Verified against the listener's CA, not merely presented (clientAuth optional admits both).
      if (peer.authorized !== true || typeof peer.getPeerX509Certificate !== 'function') return undefined;
      const certificate = peer.getPeerX509Certificate();
      if (certificate === undefined) return undefined;
      const thumbprint = `sha256:${createHash('sha256').update(certificate.raw).digest('base64url')}`;
      if (known.has(thumbprint)) return thumbprint;
      for (const uri of parseSubjectAltName(certificate.subjectAltName).get('URI') ?? []) {
        // A SAN URI spelled as a thumbprint entry (`sha256:…`) names no one: entries of the two
        // kinds never stand for each other.
        if (!uri.startsWith('sha256:') && known.has(uri)) return uri;
      }
      return undefined;
    },
  };
}
