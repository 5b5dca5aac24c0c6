import { createSyslogFormatter } from '../format/format-syslog.js';
import { SinkError, toSinkError } from '../sink-error.js';
import type { SinkTransport } from '../types.js';
import type { RelpResponse } from './relp-frame.js';
import { openRelpSession, type RelpSession } from './relp-session.js';
import { describeSyslogEndpoint, type SyslogConnectionOptions } from './syslog-connection.js';

/** `connectTimeoutMs` covers the RELP `open`; `timeoutMs` runs until a batch's last acknowledgement. */
export interface RelpTransportOptions extends SyslogConnectionOptions {
  /** Messages sent ahead of their acknowledgement (default 128, librelp's default window). */
  readonly window?: number;
}

/** A polite `close` at the end gets this long before the connection is cut. */
const CLOSE_TIMEOUT_MS = 2000;

/**
 * Syslog over RELP, the Reliable Event Logging Protocol of rsyslog (`imrelp`, librelp doc/relp.md).
 * Each RFC 5424 message is a `syslog` command the receiver answers with `200 OK` once it has taken
 * the message; a batch is delivered only when every one of its messages got that answer. Anything
 * else — a `500`, a reset, a `serverclose`, no answer within `timeoutMs` — fails the whole batch,
 * which the delivery loop sends again (at-least-once: receivers deduplicate on `event.id`).
 * The session stays open between batches, up to `window` messages in flight.
 */
export function createRelpTransport(options: RelpTransportOptions): SinkTransport {
  const format = createSyslogFormatter(options.format);
  const kind = options.tls === undefined ? 'relp+tcp' : 'relp+tls';
  const where = describeSyslogEndpoint(kind, options);
  const sessionOptions = {
    host: options.host,
    port: options.port,
    ...(options.tls === undefined ? {} : { tls: options.tls }),
    connectTimeoutMs: options.connectTimeoutMs ?? 5000,
    window: options.window ?? 128,
    where,
  };
  const timeoutMs = options.timeoutMs ?? 30_000;
  let session: RelpSession | undefined;

  /** Resolves when every message got `200`; rejects on the first other answer or a failed session. */
  function acknowledged(answers: readonly Promise<RelpResponse>[]): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      let left = answers.length;
      if (left === 0) resolve();
      for (const answer of answers) {
        answer.then((response) => {
          if (response.status !== 200) {
            // The status only: the human text is the receiver's and stays out of our logs.
            reject(
              new SinkError('ERR_AUDIT_SINK_UNAVAILABLE', {
                detail: `${where}: receiver answered ${response.status}`,
              }),
            );
            return;
          }
          left -= 1;
          if (left === 0) resolve();
        }, reject);
      }
    });
  }

  async function sendBatch(messages: readonly Buffer[], signal: AbortSignal): Promise<void> {
    const current = session !== undefined && !session.closed ? session : openRelpSession(sessionOptions);
    session = current;
    const timer = setTimeout(() => {
      current.destroy(
        new SinkError('ERR_AUDIT_SINK_TIMEOUT', {
          detail: `${where}: receiver did not acknowledge the batch`,
        }),
      );
    }, timeoutMs);
    const onAbort = (): void => {
      current.destroy(new SinkError('ERR_AUDIT_SINK_ABORTED', { detail: `${where}: stopped` }));
    };
    signal.addEventListener('abort', onAbort, { once: true });
    current.ref();
    try {
      await current.ready;
      await acknowledged(messages.map((message) => current.send('syslog', message)));
    } catch (err) {
      // Unanswered messages leave the session out of step: start the next batch on a new one.
      const failure = toSinkError(err);
      current.destroy(failure);
      throw failure;
    } finally {
      clearTimeout(timer);
      signal.removeEventListener('abort', onAbort);
      current.unref();
    }
  }

  return {
    kind,
    deliver(records, signal) {
      if (signal.aborted) return Promise.reject(new SinkError('ERR_AUDIT_SINK_ABORTED'));
      return sendBatch(
        records.map((record) => format(record)),
        signal,
      );
    },
    async close() {
      const current = session;
      session = undefined;
      await current?.close(CLOSE_TIMEOUT_MS);
    },
  };
}
