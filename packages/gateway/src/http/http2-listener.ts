import type { IncomingMessage, ServerResponse } from 'node:http';
import {
  constants,
  createSecureServer,
  type Http2SecureServer,
  type Http2ServerRequest,
  type Http2ServerResponse,
  type SecureServerOptions,
  type ServerHttp2Session,
  type ServerHttp2Stream,
} from 'node:http2';
import type { Logger } from '@gatehouse/core';

/** The HTTP/1.1 settings of the gateway's node:http listener, applied to the HTTP/1.1 fallback too. */
export interface Http1Settings {
  readonly insecureHTTPParser: boolean;
  readonly maxHeaderSize: number;
  readonly headersTimeout: number;
  readonly requestTimeout: number;
  readonly keepAliveTimeout: number;
  readonly requireHostHeader: boolean;
  readonly connectionsCheckingInterval: number;
  readonly joinDuplicateHeaders: boolean;
}

export interface Http2Limits {
  readonly maxHeaderBytes: number;
  readonly maxHeaderCount: number;
  readonly maxConcurrentStreams: number;
  readonly requestTimeoutMs: number;
  readonly keepAliveTimeoutMs: number;
}

export interface Http2Listener {
  readonly server: Http2SecureServer;
  /** Sends GOAWAY on every HTTP/2 connection: streams in flight finish, no new one starts (RFC 9113 §6.8). */
  drain(): void;
  /** Closes every HTTP/2 connection at once (the end of a drain's grace period). */
  destroyAll(): void;
}

/** The pseudo-header fields and the field-line overhead HPACK counts per field (RFC 9113 §6.5.2). */
const PSEUDO_HEADERS = 5;
const FIELD_OVERHEAD = 32;

/**
 * An HTTPS listener that speaks HTTP/2 to clients that offer `h2` by ALPN (RFC 9113 §3.2) and HTTP/1.1 to
 * the rest, both handled by the same request listener under the same rules:
 * - the HTTP/1.1 fallback gets the settings of the plain listener (strict parser, header limits,
 *   slowloris timeouts, Host required);
 * - HTTP/2 header lists are capped by nghttp2 just above what the pipeline allows (so the pipeline
 *   answers 431 at the same limits as HTTP/1.1, and anything far beyond never gets decoded), concurrent
 *   streams are limited (REFUSED_STREAM beyond), server push is off;
 * - a client that resets the streams it opens faster than it could use them (Rapid Reset,
 *   CVE-2023-44487) loses its connection with ENHANCE_YOUR_CALM;
 * - a request still arriving after `requestTimeoutMs` is cancelled, and an idle connection is closed
 *   with GOAWAY after `keepAliveTimeoutMs`.
 * Malformed requests (unknown or misplaced pseudo-headers, connection-specific fields, uppercase names,
 * a Content-Length the DATA frames do not match) and CONTINUATION floods are refused by nghttp2 before
 * they reach the listener (RFC 9113 §8.1.1, §8.2.2).
 */
export function createHttp2Listener(
  tls: SecureServerOptions,
  http1: Http1Settings,
  limits: Http2Limits,
  onRequest: (req: IncomingMessage, res: ServerResponse) => void,
  logger: Logger,
): Http2Listener {
  const server = createSecureServer({
    ...tls,
    allowHTTP1: true,
    settings: {
      enablePush: false,
      maxConcurrentStreams: limits.maxConcurrentStreams,
      // RFC 9113 §6.5.2 counts 32 octets per field on top of name and value.
      maxHeaderListSize:
        limits.maxHeaderBytes + FIELD_OVERHEAD * (limits.maxHeaderCount + PSEUDO_HEADERS + 1),
    },
    // One more than the pipeline allows, so that it sees an excess and answers 431 as over HTTP/1.1.
    maxHeaderListPairs: limits.maxHeaderCount + PSEUDO_HEADERS + 1,
    // Frames nghttp2 refuses and streams it rejects, before the session is torn down.
    maxSessionInvalidFrames: 100,
    maxSessionRejectedStreams: 100,
  });
  // The HTTP/1.1 fallback reads these from the server object (as node:http's server does).
  Object.assign(server, http1);

  const sessions = new Set<ServerHttp2Session>();
  server.on('session', (session: ServerHttp2Session) => {
    sessions.add(session);
    session.once('close', () => sessions.delete(session));
    // A session error is the peer's protocol violation (nghttp2 already sent GOAWAY): nothing to answer.
    session.on('error', (err: NodeJS.ErrnoException) => {
      logger.debug({ code: err.code }, 'HTTP/2 session failed');
    });
    session.setTimeout(limits.keepAliveTimeoutMs, () => session.close());
    guardRapidReset(session, limits.maxConcurrentStreams, logger);
  });

  server.on('request', (req: Http2ServerRequest, res: Http2ServerResponse) => {
    if (req.httpVersionMajor === 2) cancelSlowRequest(req.stream, limits.requestTimeoutMs);
    // The pipeline reads what both request and response classes share (see the h2 notes in handle-request).
    onRequest(req as unknown as IncomingMessage, res as unknown as ServerResponse);
  });

  return {
    server,
    drain() {
      for (const session of sessions) if (!session.closed) session.close();
    },
    destroyAll() {
      for (const session of sessions) session.destroy();
    },
  };
}

/**
 * Rapid Reset (CVE-2023-44487): streams reset by the client before their answer started cost the server
 * a request each but never count against the concurrency limit. A connection gets a burst of
 * `maxConcurrentStreams` such resets, refilled at that many per 10 seconds; beyond it, GOAWAY with
 * ENHANCE_YOUR_CALM (RFC 9113 §7) and the connection is closed.
 */
function guardRapidReset(session: ServerHttp2Session, burst: number, logger: Logger): void {
  let tokens = burst;
  let refilled = performance.now();
  session.on('stream', (stream: ServerHttp2Stream) => {
    stream.once('close', () => {
      if (stream.rstCode === constants.NGHTTP2_NO_ERROR || stream.headersSent) return;
      const now = performance.now();
      tokens = Math.min(burst, tokens + ((now - refilled) / 10_000) * burst);
      refilled = now;
      tokens -= 1;
      if (tokens >= 0 || session.destroyed) return;
      logger.warn(
        { remoteAddress: session.socket.remoteAddress },
        'HTTP/2 connection closed: too many streams reset by the client',
      );
      session.goaway(constants.NGHTTP2_ENHANCE_YOUR_CALM);
      session.destroy();
    });
  });
}

/**
 * HTTP/1.1's `requestTimeout` for one stream: a request whose last DATA frame has not arrived in time is
 * cancelled (RST_STREAM CANCEL), and its slot freed; the answer, if one is on its way, is not waited for.
 */
function cancelSlowRequest(stream: ServerHttp2Stream, timeoutMs: number): void {
  if (stream.endAfterHeaders) return;
  const timer = setTimeout(() => {
    if (!stream.destroyed && stream.state.remoteClose !== 1) stream.close(constants.NGHTTP2_CANCEL);
  }, timeoutMs);
  timer.unref();
  stream.once('close', () => clearTimeout(timer));
}
