import type { Socket } from 'node:net';
import { createSyslogFormatter, frameOctetCounting } from '../format/format-syslog.js';
import { SinkError, type SinkErrorCode } from '../sink-error.js';
import type { SinkTransport } from '../types.js';
import {
  classifySocketError,
  connectSyslogSocket,
  describeSyslogEndpoint,
  type SyslogConnectionOptions,
} from './syslog-connection.js';

export type { SyslogTlsOptions } from './syslog-connection.js';

/** `timeoutMs` runs from connect to the receiver's close. */
export type SyslogTransportOptions = SyslogConnectionOptions;

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
  const where = describeSyslogEndpoint(kind, options);
  const open = new Set<Socket>();

  function sendBatch(payload: Buffer, signal: AbortSignal): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const socket = connectSyslogSocket(options);
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
        const { code, reason } = classifySocketError(err);
        fail(code, reason, err);
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
