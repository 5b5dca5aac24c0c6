import { Agent as HttpAgent, request as httpRequest, type IncomingMessage } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import { buildEcsDocument } from '../format/format-ecs.js';
import { describeSystemError, isTlsErrorCode, SinkError, type SinkErrorCode } from '../sink-error.js';
import type { SinkTransport } from '../types.js';

export interface WebhookTlsOptions {
  /** PEM CA certificate(s) trusted for the receiver, instead of the system roots. */
  readonly ca?: string | Buffer;
  /** PEM client certificate and key, for a receiver that wants mTLS. */
  readonly cert?: string | Buffer;
  readonly key?: string | Buffer;
}

export interface WebhookTransportOptions {
  /** The receiver (https; http only on loopback, which the config schema enforces). */
  readonly url: string | URL;
  /** Extra request headers (e.g. a tenant or an API key). Values are never logged. */
  readonly headers?: Readonly<Record<string, string>>;
  /** Sent as `Authorization: Bearer …`; never logged, never in an error. */
  readonly bearerToken?: string;
  readonly tls?: WebhookTlsOptions;
  /** Time allowed for one POST, from connect to the end of the response (default 10000 ms). */
  readonly timeoutMs?: number;
}

/** 408 and 429 ask to come back later; other 4xx (and 3xx, never followed) need a fix somewhere. */
function classify(status: number): SinkErrorCode | undefined {
  if (status >= 200 && status < 300) return undefined;
  if (status === 408 || status === 429 || status >= 500) return 'ERR_AUDIT_SINK_UNAVAILABLE';
  return 'ERR_AUDIT_SINK_REJECTED';
}

/**
 * POSTs each batch as a JSON array of ECS documents. A 2xx answer means delivered; anything else
 * fails the batch, which the delivery loop sends again (a refusal after a long delay, since it
 * will not heal by itself). The receiver may see a batch twice when an answer is lost: it
 * deduplicates on `event.id`.
 */
export function createWebhookTransport(options: WebhookTransportOptions): SinkTransport {
  const url = new URL(options.url);
  const secure = url.protocol === 'https:';
  const timeoutMs = options.timeoutMs ?? 10_000;
  const { tls } = options;
  const agent = secure
    ? new HttpsAgent({
        keepAlive: true,
        maxSockets: 1,
        minVersion: 'TLSv1.2',
        ...(tls?.ca === undefined ? {} : { ca: tls.ca }),
        ...(tls?.cert === undefined ? {} : { cert: tls.cert }),
        ...(tls?.key === undefined ? {} : { key: tls.key }),
      })
    : new HttpAgent({ keepAlive: true, maxSockets: 1 });
  const fixedHeaders: Record<string, string> = {};
  for (const [name, value] of Object.entries(options.headers ?? {})) fixedHeaders[name.toLowerCase()] = value;
  if (options.bearerToken !== undefined) fixedHeaders['authorization'] = `Bearer ${options.bearerToken}`;
  // The origin only: a path or query may carry a key.
  const where = `webhook ${url.origin}`;
  const send = secure ? httpsRequest : httpRequest;

  function post(body: Buffer, signal: AbortSignal): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      let settled = false;
      const finish = (error?: SinkError): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        signal.removeEventListener('abort', onAbort);
        if (error === undefined) resolve();
        else reject(error);
      };
      const request = send(url, {
        method: 'POST',
        agent,
        headers: {
          ...fixedHeaders,
          'content-type': 'application/json',
          'content-length': String(body.length),
        },
      });
      const abandon = (code: SinkErrorCode, reason: string): void => {
        finish(new SinkError(code, { detail: `${where}: ${reason}` }));
        request.destroy();
      };
      const timer = setTimeout(() => {
        abandon('ERR_AUDIT_SINK_TIMEOUT', `no answer within ${timeoutMs} ms`);
      }, timeoutMs);
      const onAbort = (): void => {
        abandon('ERR_AUDIT_SINK_ABORTED', 'stopped');
      };
      signal.addEventListener('abort', onAbort, { once: true });
      request.once('error', (err: Error) => {
        const code = describeSystemError(err);
        finish(
          new SinkError(isTlsErrorCode(code) ? 'ERR_AUDIT_SINK_TLS' : 'ERR_AUDIT_SINK_UNREACHABLE', {
            detail: `${where}: ${code ?? 'request failed'}`,
            cause: err,
          }),
        );
      });
      request.once('response', (response: IncomingMessage) => {
        const status = response.statusCode ?? 0;
        // The body is not used (and not logged: it could echo anything); draining it frees the socket.
        response.resume();
        response.once('end', () => {
          const code = classify(status);
          finish(
            code === undefined ? undefined : new SinkError(code, { detail: `${where}: HTTP ${status}` }),
          );
        });
        response.once('error', (err: Error) => {
          finish(
            new SinkError('ERR_AUDIT_SINK_UNREACHABLE', {
              detail: `${where}: ${describeSystemError(err) ?? 'response failed'}`,
              cause: err,
            }),
          );
        });
      });
      request.end(body);
    });
  }

  return {
    kind: 'webhook',
    deliver(records, signal) {
      if (signal.aborted) return Promise.reject(new SinkError('ERR_AUDIT_SINK_ABORTED'));
      const body = Buffer.from(JSON.stringify(records.map(buildEcsDocument)), 'utf8');
      return post(body, signal);
    },
    close() {
      agent.destroy();
      return Promise.resolve();
    },
  };
}
