import { connect as connectTcp, type Socket } from 'node:net';
import { checkServerIdentity, connect as connectTls, type SecureVersion } from 'node:tls';
import {
  createSyslogFormatter,
  frameOctetCounting,
  type SyslogFormatOptions,
} from '../format/format-syslog.js';
import { describeSystemError, isTlsErrorCode, SinkError, type SinkErrorCode } from '../sink-error.js';
import type { SinkTransport } from '../types.js';

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

export interface SyslogTransportOptions {
  readonly host: string;
  readonly port: number;
  /** TLS (RFC 5425); absent: plain TCP (RFC 6587), which the config admits only on loopback. */
  readonly tls?: SyslogTlsOptions;
  readonly format?: SyslogFormatOptions;
  /** Time allowed to connect, handshake included (default 5000 ms). */
  readonly connectTimeoutMs?: number;
  /** Time allowed for one batch, from connect to the receiver's close (default 30000 ms). */
  readonly timeoutMs?: number;
}

const IP_LITERAL = /^(?:\d{1,3}(?:\.\d{1,3}){3}|[0-9a-f:]*:[0-9a-f:.]*)$/i;

/**
 * Syslog over TCP or TLS with octet-counting framing (RFC 6587 §3.4.1, RFC 5425 §4.3).
 *
 * Syslog has no acknowledgement: a write the kernel accepted can still be lost when the receiver
 * goes away. So each batch uses its own connection: write the frames, close our side, and count the
 * batch as delivered only when the receiver closes its side cleanly in turn — it does that after
 * reading up to our end of stream, so it has read every frame. A reset, an error or no close within
 * `timeoutMs` fails the batch, which is then sent again (at-least-once). What the receiver does with
 * frames it has read is beyond the protocol: one stopped mid-batch may drop them (README, SIEM sinks).
 */
export function createSyslogTransport(options: SyslogTransportOptions): SinkTransport {
  const format = createSyslogFormatter(options.format);
  const connectTimeoutMs = options.connectTimeoutMs ?? 5000;
  const timeoutMs = options.timeoutMs ?? 30_000;
  const kind = options.tls === undefined ? 'syslog+tcp' : 'syslog+tls';
  const where = `${kind}://${options.host.includes(':') ? `[${options.host}]` : options.host}:${options.port}`;
  const open = new Set<Socket>();

  function connect(): Socket {
    const { tls } = options;
    if (tls === undefined) return connectTcp({ host: options.host, port: options.port });
    const servername = tls.servername ?? options.host;
    return connectTls({
      host: options.host,
      port: options.port,
      ca: tls.ca,
      ...(tls.cert === undefined ? {} : { cert: tls.cert }),
      ...(tls.key === undefined ? {} : { key: tls.key }),
      // SNI carries a DNS name only (RFC 6066 §3); the identity check still applies to an IP.
      ...(IP_LITERAL.test(servername) ? {} : { servername }),
      // RFC 5425 §5.2 / RFC 6125: the certificate must name the configured server.
      checkServerIdentity: (_host, cert) => checkServerIdentity(servername, cert),
      minVersion: tls.minVersion ?? 'TLSv1.2',
      rejectUnauthorized: true,
    });
  }

  function sendBatch(payload: Buffer, signal: AbortSignal): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const socket = connect();
      open.add(socket);
      let connected = false;
      let receiverClosed = false;
      let failure: SinkError | undefined;
      const fail = (code: SinkErrorCode, reason: string, cause?: unknown): void => {
        failure ??= new SinkError(code, { detail: `${where}: ${reason}`, cause });
        socket.destroy();
      };
      const connectTimer = setTimeout(() => {
        fail('ERR_AUDIT_SINK_TIMEOUT', 'no connection');
      }, connectTimeoutMs);
      const batchTimer = setTimeout(() => {
        fail('ERR_AUDIT_SINK_TIMEOUT', connected ? 'receiver did not confirm the batch' : 'no connection');
      }, timeoutMs);
      const onAbort = (): void => {
        fail('ERR_AUDIT_SINK_ABORTED', 'stopped');
      };
      signal.addEventListener('abort', onAbort, { once: true });

      socket.once(options.tls === undefined ? 'connect' : 'secureConnect', () => {
        connected = true;
        clearTimeout(connectTimer);
        socket.end(payload);
      });
      // Nothing is expected from the receiver; reading keeps the stream flowing up to its end.
      socket.on('data', () => undefined);
      socket.once('end', () => {
        receiverClosed = true;
      });
      socket.once('error', (err: Error) => {
        const code = describeSystemError(err);
        fail(
          isTlsErrorCode(code) ? 'ERR_AUDIT_SINK_TLS' : 'ERR_AUDIT_SINK_UNREACHABLE',
          code ?? 'connection failed',
          err,
        );
      });
      socket.once('close', () => {
        open.delete(socket);
        clearTimeout(connectTimer);
        clearTimeout(batchTimer);
        signal.removeEventListener('abort', onAbort);
        if (failure === undefined && !receiverClosed) {
          failure = new SinkError('ERR_AUDIT_SINK_UNREACHABLE', {
            detail: `${where}: connection closed before the receiver confirmed`,
          });
        }
        if (failure === undefined) resolve();
        else reject(failure);
      });
    });
  }

  return {
    kind,
    deliver(records, signal) {
      if (signal.aborted) return Promise.reject(new SinkError('ERR_AUDIT_SINK_ABORTED'));
      const payload = Buffer.concat(records.map((record) => frameOctetCounting(format(record))));
      return sendBatch(payload, signal);
    },
    close() {
      for (const socket of open) socket.destroy();
      return Promise.resolve();
    },
  };
}
