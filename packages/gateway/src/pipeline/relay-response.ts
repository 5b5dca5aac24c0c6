import type { ServerResponse } from 'node:http';
import { buildProblemResponse, GatehouseError } from '@gatehouse/core';
import { buildClientResponseHeaders, type ResponsePolicy } from '../http/response-headers.js';
import type { RouteRuntime } from '../runtime/build-runtime.js';
import { rewriteLocation } from '../upstream/index.js';
import type { ResponseSink, UpstreamCall, UpstreamResponseHead } from '../upstream/upstream.js';

/** What the access log and metrics record of one request. */
export interface Outcome {
  route: string;
  status: number;
  upstreamMs: number | undefined;
  clientId: string | undefined;
  sub: string | undefined;
  /** Every stage let the request through (proxied, or admitted by external authorization). */
  admitted: boolean;
  /** The error code of the gateway's own refusal, for the audit record. */
  refusal: string | undefined;
}

export interface RelayContext {
  readonly res: ServerResponse;
  readonly route: RouteRuntime;
  readonly requestId: string;
  readonly head: boolean;
  readonly policy: ResponsePolicy;
  /** Upstream 5xx bodies are replaced by a generic problem (`responses.replaceUpstreamErrors`). */
  readonly replaceUpstreamErrors: boolean;
  readonly publicOrigin: string;
  readonly outcome: Outcome;
  /**
   * The gateway's own headers on the answer (the rate limiter's), lower-case names; an upstream
   * field of the same name wins.
   */
  readonly extraHeaders: Readonly<Record<string, string>> | undefined;
  /** Answers a failure that came before any response (timeouts, unavailable, open circuit). */
  readonly fail: (error: unknown) => void;
}

/**
 * Writes the upstream's answer straight into the client response as undici delivers it: internal
 * headers and paths removed, upstream 5xx bodies replaced, the body relayed chunk by chunk with
 * backpressure (a slow client pauses the upstream connection, never buffers the body in memory).
 */
export class ResponseRelay implements ResponseSink {
  /** Set once the call started; its `resume()` continues the body after the client drained. */
  call: UpstreamCall | undefined;
  /** The upstream body is read and dropped (a replaced 5xx, or a response that could not be relayed). */
  private discard = false;
  private readonly onDrain = (): void => this.call?.resume();

  constructor(private readonly ctx: RelayContext) {}

  onResponse(head: UpstreamResponseHead): void {
    const { res, outcome, requestId } = this.ctx;
    outcome.upstreamMs = head.upstreamMs;
    if (head.statusCode >= 500 && this.ctx.replaceUpstreamErrors) {
      this.discard = true;
      outcome.status = writeGenericUpstreamError(
        res,
        head.statusCode,
        requestId,
        this.ctx.policy.hsts,
        this.ctx.extraHeaders,
      );
      return;
    }
    const route = this.ctx.route;
    const headers = buildClientResponseHeaders(
      head.headers,
      this.ctx.policy,
      (location) =>
        rewriteLocation(location, {
          upstreamBases: route.upstreamBases,
          upstreamPrefix: route.upstreamPrefix,
          publicPrefix: route.publicPrefix,
          publicOrigin: this.ctx.publicOrigin,
        }),
      { requestId, extra: this.ctx.extraHeaders },
    );
    try {
      res.writeHead(head.statusCode, headers);
    } catch {
      // A header value node refuses to write (undici's parser let it through): nothing is relayed.
      this.discard = true;
      this.ctx.fail(
        new GatehouseError('ERR_GATEWAY_UPSTREAM_UNAVAILABLE', { detail: 'invalid response header' }),
      );
      return;
    }
    outcome.status = head.statusCode;
  }

  onData(chunk: Buffer): boolean {
    if (this.discard || this.ctx.head) return true;
    const res = this.ctx.res;
    if (res.write(chunk)) return true;
    res.once('drain', this.onDrain);
    return false;
  }

  onEnd(): void {
    if (!this.discard) this.ctx.res.end();
  }

  onError(error: Error, afterResponse: boolean): void {
    if (!afterResponse) {
      this.ctx.fail(error);
      return;
    }
    // The body broke after the status line went out: the client must see a truncated answer,
    // not a complete-looking one.
    if (!this.discard) this.ctx.res.destroy();
  }
}

/** RFC 9457 body for an upstream 5xx: same status, nothing of the upstream's own body. */
function writeGenericUpstreamError(
  res: ServerResponse,
  status: number,
  requestId: string,
  hsts: string | undefined,
  extraHeaders: Readonly<Record<string, string>> | undefined,
): number {
  const response = buildProblemResponse({
    status,
    instance: `urn:gatehouse:request:${requestId}`,
    extensions: { code: 'ERR_GATEWAY_UPSTREAM_ERROR' },
  });
  const headers: Record<string, string | readonly string[]> = {
    ...response.headers,
    'x-content-type-options': 'nosniff',
    'x-request-id': requestId,
  };
  if (hsts !== undefined) headers['strict-transport-security'] = hsts;
  addMissing(headers, extraHeaders);
  res.writeHead(status, headers as Record<string, string>);
  res.end(response.body);
  return status;
}

/** Adds `extra` (lower-case names) to lower-case `headers`, keeping the fields already there. */
function addMissing(
  headers: Record<string, string | readonly string[]>,
  extra: Readonly<Record<string, string>> | undefined,
): void {
  if (extra === undefined) return;
  for (const name in extra) {
    if (headers[name] === undefined) headers[name] = extra[name] as string;
  }
}
