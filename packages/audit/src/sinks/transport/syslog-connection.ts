import { connect as connectTcp, type Socket } from 'node:net';
import { checkServerIdentity, connect as connectTls, type SecureVersion } from 'node:tls';
import type { SyslogFormatOptions } from '../format/format-syslog.js';
import { describeSystemError, isTlsErrorCode, type SinkErrorCode } from '../sink-error.js';

export interface SyslogTlsOptions {
  /** PEM CA certificate(s) the server certificate must chain to: only these, never the system roots. */
  readonly ca: string | Buffer;
  /** PEM client certificate and key, for a receiver that authenticates its senders (RFC 5425 §5.2). */
  readonly cert?: string | Buffer;
  readonly key?: string | Buffer;
  /** Name the server certificate must carry (SNI too); default: `host`. */
  readonly servername?: string;
  /** Default TLS 1.2 (RFC 5425 as updated by RFC 9325: 1.2 or later). */
  readonly minVersion?: Extract<SecureVersion, 'TLSv1.2' | 'TLSv1.3'>;
}

/** Where a syslog receiver listens, and how to reach it. */
export interface SyslogEndpoint {
  readonly host: string;
  readonly port: number;
  /**
   * TLS from the first byte (RFC 5425; librelp's `tls="on"` for RELP); absent: plain TCP
   * (RFC 6587), which the config admits only on loopback.
   */
  readonly tls?: SyslogTlsOptions;
}

/** The options the syslog and RELP transports share. */
export interface SyslogConnectionOptions extends SyslogEndpoint {
  readonly format?: SyslogFormatOptions;
  /** Time allowed to connect, TLS handshake (and for RELP the `open`) included (default 5000 ms). */
  readonly connectTimeoutMs?: number;
  /** Time allowed for one batch until the receiver confirmed all of it (default 30000 ms). */
  readonly timeoutMs?: number;
}

const IP_LITERAL = /^(?:\d{1,3}(?:\.\d{1,3}){3}|[0-9a-f:]*:[0-9a-f:.]*)$/i;

/** The destination as errors name it: `relp+tls://[::1]:2514`. */
export function describeSyslogEndpoint(kind: string, endpoint: SyslogEndpoint): string {
  const host = endpoint.host.includes(':') ? `[${endpoint.host}]` : endpoint.host;
  return `${kind}://${host}:${endpoint.port}`;
}

/** Opens the connection: plain TCP, or TLS verified against the configured CA only. */
export function connectSyslogSocket(endpoint: SyslogEndpoint): Socket {
  const { host, port, tls } = endpoint;
  if (tls === undefined) return connectTcp({ host, port });
  const servername = tls.servername ?? host;
  return connectTls({
    host,
    port,
    ca: tls.ca,
    ...(tls.cert === undefined ? {} : { cert: tls.cert }),
    ...(tls.key === undefined ? {} : { key: tls.key }),
    // SNI carries a DNS name only (RFC 6066 §3); the identity check still applies to an IP.
    ...(IP_LITERAL.test(servername) ? {} : { servername }),
    // RFC 5425 §5.2 / RFC 6125 §6: the certificate must name the configured server.
    checkServerIdentity: (_host, cert) => checkServerIdentity(servername, cert),
    minVersion: tls.minVersion ?? 'TLSv1.2',
    rejectUnauthorized: true,
  });
}

/** A socket error as a sink failure: TLS errors apart from the rest, the system code as the reason. */
export function classifySocketError(err: Error): { code: SinkErrorCode; reason: string } {
  const code = describeSystemError(err);
  return {
    code: isTlsErrorCode(code) ? 'ERR_AUDIT_SINK_TLS' : 'ERR_AUDIT_SINK_UNREACHABLE',
    reason: code ?? 'connection failed',
  };
}
