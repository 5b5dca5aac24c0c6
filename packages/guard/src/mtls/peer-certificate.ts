import { hash } from 'node:crypto';
import { TLSSocket } from 'node:tls';

/** The client certificate of a TLS connection, reduced to what authorization needs. */
export interface PeerCertificate {
  /** DER bytes. */
  readonly raw: Buffer;
  /** RFC 8705 §3.1 `x5t#S256`: base64url SHA-256 of the DER certificate. */
  readonly thumbprint: string;
  /** Whether the chain was verified against the server's trusted CAs. */
  readonly authorized: boolean;
  readonly commonName: string | undefined;
  readonly uris: readonly string[];
  readonly dnsNames: readonly string[];
  readonly ipAddresses: readonly string[];
}

export interface SubjectAltNames {
  readonly uris: string[];
  readonly dnsNames: string[];
  readonly ipAddresses: string[];
}

// Node renders SANs as `TYPE:value, TYPE:value`; values with special characters are JSON strings.
const SAN_ENTRY = /(DNS|URI|IP Address|[A-Za-z ]+):("(?:[^"\\]|\\.)*"|[^,]*)(?:, |$)/g;

export function parseSubjectAltName(value: string | undefined): SubjectAltNames {
  const names: SubjectAltNames = { uris: [], dnsNames: [], ipAddresses: [] };
  if (value === undefined) return names;
  for (const [, type, raw = ''] of value.matchAll(SAN_ENTRY)) {
    const text = raw.startsWith('"') ? (JSON.parse(raw) as string) : raw;
    if (type === 'URI') names.uris.push(text);
    else if (type === 'DNS') names.dnsNames.push(text);
    else if (type === 'IP Address') names.ipAddresses.push(text);
  }
  return names;
}

export function certificateThumbprint(raw: Uint8Array): string {
  return hash('sha256', raw, 'base64url');
}

/**
 * Reads the client certificate of a TLS socket. Returns undefined on plain HTTP or when the client
 * sent none. A certificate that failed chain verification is still returned (with
 * `authorized: false`): binding checks need only the thumbprint, identity checks need the chain.
 */
export function getPeerCertificate(socket: unknown): PeerCertificate | undefined {
  if (!(socket instanceof TLSSocket)) return undefined;
  const cert = socket.getPeerCertificate(false);
  if (!Object.hasOwn(cert, 'raw')) return undefined;
  const cn: string | string[] | undefined = cert.subject.CN;
  return {
    raw: cert.raw,
    thumbprint: certificateThumbprint(cert.raw),
    authorized: socket.authorized,
    commonName: Array.isArray(cn) ? cn[0] : cn,
    ...parseSubjectAltName(cert.subjectaltname),
  };
}
