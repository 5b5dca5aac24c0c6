import net from 'node:net';
import { Readable } from 'node:stream';
import tls from 'node:tls';
import {
  DEFAULT_RESPONSE_LIMITS,
  ResponseParseError,
  ResponseParser,
  type ParsedHead,
  type ResponseLimits,
} from './response-parser.js';

/**
 * The gateway's HTTP/1.1 client for one upstream origin: keep-alive connections, one request at a
 * time on each (no pipelining), the answer read by the strict `ResponseParser`. What goes up is
 * checked as any conforming client checks it (RFC 9110 §5.1, §5.5, RFC 9112 §3.2): a token method,
 * a request target of visible ASCII, token field names, values without CR, LF, NUL or other controls.
 * Errors carry a `code` (below, or the socket's own: ECONNREFUSED, ECONNRESET…).
 */

/** Codes of the errors this client raises. */
export const UPSTREAM_ERROR = {
  /** TCP connect and TLS handshake did not complete in time. */
  connectTimeout: 'ERR_UPSTREAM_CONNECT_TIMEOUT',
  /** The head of the answer did not arrive in time after the request was sent. */
  headersTimeout: 'ERR_UPSTREAM_HEADERS_TIMEOUT',
  /** The body stalled longer than allowed between two reads. */
  bodyTimeout: 'ERR_UPSTREAM_BODY_TIMEOUT',
  /** The connection closed before the answer was complete. */
  socket: 'ERR_UPSTREAM_SOCKET',
  /** The request itself was refused here (a field or target a conforming client must not send). */
  requestInvalid: 'ERR_UPSTREAM_REQUEST_INVALID',
  /** The pool is closed. */
  closed: 'ERR_UPSTREAM_CLOSED',
} as const;

export class UpstreamClientError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'UpstreamClientError';
  }
}

/** What a request hears back, in this order: connect (once), headers, data…, then complete or error. */
export interface Http1Handler {
  /** `abort` fails the request (and closes its connection if it was sent). */
  onConnect(abort: (reason: Error) => void): void;
  /** The final answer's status and fields (a flat list, lower-case names); false pauses the body. */
  onHeaders(statusCode: number, headers: string[], resume: () => void): boolean;
  /** A part of the body; false pauses the connection until `resume` is called. */
  onData(chunk: Buffer): boolean;
  onComplete(): void;
  onError(error: Error): void;
}

export interface Http1Request {
  readonly method: string;
  /** Path and query (origin-form, RFC 9112 §3.2.1). */
  readonly path: string;
  /** A flat list `[name, value, …]` or a dictionary; `host` and `content-length` are set here if absent. */
  readonly headers: readonly string[] | Readonly<Record<string, string>>;
  readonly body: Buffer | Readable | null;
}

export interface Http1PoolOptions {
  /** `http:` or `https:` origin. */
  readonly origin: URL;
  /** Connections at most (null: no limit); requests past it wait in order. */
  readonly maxConnections: number | null;
  readonly connectTimeoutMs: number;
  readonly headersTimeoutMs: number;
  readonly bodyTimeoutMs: number;
  /** An idle connection is closed after this long (or before the upstream's own `Keep-Alive` timeout). */
  readonly keepAliveMs: number;
  /** TLS options of an `https:` origin (CA, client certificate, servername, identity check). */
  readonly tls?: tls.ConnectionOptions;
  readonly limits?: ResponseLimits;
}

/** RFC 9110 §5.6.2 tchar. */
const TCHAR = new Uint8Array(256);
for (const c of "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")
  TCHAR[c.charCodeAt(0)] = 1;
/**
 * A character a field value may not carry: anything but HTAB, SP, VCHAR and obs-text (RFC 9110 §5.5).
 * A regular expression: on long values (a bearer token) it scans about twice as fast as a loop.
 */
const INVALID_VALUE = /[^\t\x20-\x7e\x80-\xff]/;
/** A request-target character that is not visible ASCII (RFC 9112 §3.2, RFC 3986). */
const INVALID_TARGET = /[^\x21-\x7e]/;

function allIn(text: string, table: Uint8Array): boolean {
  for (let i = 0; i < text.length; i++) if (table[text.charCodeAt(i)] !== 1) return false;
  return true;
}

/** Fields this client frames itself or that a request must not carry (RFC 9112 §6.1, §9.6, RFC 9110 §7.6.1). */
const REFUSED_FIELDS = new Set(['transfer-encoding', 'connection', 'keep-alive', 'upgrade', 'te', 'trailer']);
const BODY_METHODS = new Set(['POST', 'PUT', 'PATCH']);

function invalid(detail: string): UpstreamClientError {
  return new UpstreamClientError(UPSTREAM_ERROR.requestInvalid, `invalid upstream request: ${detail}`);
}

/** The request head, checked; throws `ERR_UPSTREAM_REQUEST_INVALID`. */
function buildHead(
  request: Http1Request,
  host: string,
): { head: string; chunked: boolean; length: number | undefined } {
  const { method, path, body } = request;
  if (method === '' || !allIn(method, TCHAR)) throw invalid('method');
  if (path === '' || path.charCodeAt(0) !== 0x2f || INVALID_TARGET.test(path))
    throw invalid('request target');
  let head = `${method} ${path} HTTP/1.1\r\n`;
  const seen: { host: boolean; length: string | undefined } = { host: false, length: undefined };
  const add = (name: string, value: string): void => {
    if (name === '' || !allIn(name, TCHAR)) throw invalid('field name');
    if (INVALID_VALUE.test(value)) throw invalid(`value of ${name.toLowerCase()}`);
    const lower = name.toLowerCase();
    if (REFUSED_FIELDS.has(lower)) throw invalid(`field ${lower}`);
    if (lower === 'host') {
      if (seen.host) throw invalid('two host fields');
      seen.host = true;
    } else if (lower === 'content-length') {
      if (seen.length !== undefined) throw invalid('two content-length fields');
      // RFC 9110 §8.6: digits only, so that the upstream frames the body where this client does.
      if (!/^\d{1,15}$/.test(value)) throw invalid('content-length');
      seen.length = value;
      return;
    }
    head += `${name}: ${value}\r\n`;
  };
  const headers = request.headers;
  if (Array.isArray(headers)) {
    const list = headers as readonly string[];
    for (let i = 0; i + 1 < list.length; i += 2) add(list[i] as string, list[i + 1] as string);
  } else {
    const record = headers as Readonly<Record<string, string>>;
    for (const name of Object.keys(record)) add(name, record[name] as string);
  }
  if (!seen.host) head += `host: ${host}\r\n`;
  const length = seen.length;
  let chunked = false;
  if (body instanceof Readable) {
    // A stream of unknown length is sent chunked unless its length was given (RFC 9112 §6.1).
    if (length === undefined) chunked = true;
    head += chunked ? 'transfer-encoding: chunked\r\n' : `content-length: ${length as string}\r\n`;
  } else {
    const size = body === null ? 0 : body.length;
    if (length !== undefined && length !== String(size)) throw invalid('content-length and body differ');
    if (body !== null || length !== undefined || BODY_METHODS.has(method))
      head += `content-length: ${String(size)}\r\n`;
  }
  return {
    head: `${head}\r\n`,
    chunked,
    length: body instanceof Readable && length !== undefined ? Number(length) : undefined,
  };
}

interface Pending {
  readonly request: Http1Request;
  readonly handler: Http1Handler;
  readonly head: string;
  readonly chunked: boolean;
  /** The declared length of a streamed body. */
  readonly length: number | undefined;
  done: boolean;
  connection: Connection | undefined;
}

type Phase = 'connect' | 'headers' | 'body' | 'idle' | 'none';

class Connection {
  readonly socket: net.Socket;
  readonly parser: ResponseParser;
  current: Pending | undefined;
  phase: Phase = 'connect';
  /** When the current phase's timer runs out (performance.now() ms). */
  deadline: number;
  connected = false;
  reusable = false;
  keepAliveMs: number;
  paused = false;
  /** The answer in flight completed during the current read. */
  private answered = false;
  private socketError: Error | undefined;

  constructor(
    private readonly pool: Http1Pool,
    socket: net.Socket,
    now: number,
    limits: ResponseLimits,
  ) {
    this.socket = socket;
    this.deadline = now + pool.options.connectTimeoutMs;
    this.keepAliveMs = pool.options.keepAliveMs;
    this.parser = new ResponseParser(
      {
        onHead: (head) => {
          this.onHead(head);
        },
        onBody: (chunk) => {
          this.onBody(chunk);
        },
        onComplete: () => {
          this.onComplete();
        },
      },
      limits,
    );
    socket.setNoDelay(true);
    socket.setKeepAlive(true, 60_000);
    socket.on(pool.options.origin.protocol === 'https:' ? 'secureConnect' : 'connect', () => {
      this.connected = true;
      const pending = this.current;
      if (pending !== undefined) this.send(pending);
    });
    socket.on('data', (data: Buffer) => {
      this.onSocketData(data);
    });
    socket.on('error', (error: Error) => {
      this.socketError ??= error;
    });
    socket.on('close', () => {
      this.onClose();
    });
  }

  /** Sends `pending` on this connection (now, or once connected). */
  assign(pending: Pending): void {
    this.current = pending;
    pending.connection = this;
    this.reusable = false;
    if (this.connected) this.send(pending);
  }

  private send(pending: Pending): void {
    const body = pending.request.body;
    this.parser.begin(pending.request.method);
    this.phase = 'headers';
    this.deadline = performance.now() + this.pool.options.headersTimeoutMs;
    if (body instanceof Readable) {
      this.socket.write(pending.head, 'latin1');
      this.streamBody(pending, body);
      return;
    }
    if (body === null || body.length === 0) {
      this.socket.write(pending.head, 'latin1');
      return;
    }
    this.socket.cork();
    this.socket.write(pending.head, 'latin1');
    this.socket.write(body);
    this.socket.uncork();
  }

  private streamBody(pending: Pending, body: Readable): void {
    const socket = this.socket;
    // With a declared length, the stream must fill it exactly: more or less would desynchronise the
    // connection (the upstream would read the rest as the next request).
    const declared = pending.length;
    let sent = 0;
    const mismatch = (): void => {
      this.fail(invalid('the body stream does not match its content-length'));
      body.destroy();
    };
    body.on('data', (chunk: Buffer | string) => {
      if (pending.done) return;
      const bytes = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
      if (bytes.length === 0) return;
      sent += bytes.length;
      if (declared !== undefined && sent > declared) {
        mismatch();
        return;
      }
      const ok = pending.chunked
        ? socket.write(`${bytes.length.toString(16)}\r\n`, 'latin1') &&
          socket.write(bytes) &&
          socket.write('\r\n')
        : socket.write(bytes);
      if (!ok) {
        body.pause();
        socket.once('drain', () => body.resume());
      }
    });
    body.once('end', () => {
      if (pending.done) return;
      if (pending.chunked) socket.write('0\r\n\r\n', 'latin1');
      else if (declared !== undefined && sent !== declared) mismatch();
    });
    body.once('error', (error: Error) => {
      this.fail(error);
    });
  }

  private onSocketData(data: Buffer): void {
    try {
      this.parser.execute(data);
    } catch (err) {
      this.fail(err instanceof ResponseParseError ? err : (err as Error));
      return;
    }
    // Recycled only once every byte read was parsed: a byte past the answer is refused above, never
    // taken as the answer to the next request.
    if (this.takeAnswered()) this.recycle();
  }

  /** Whether the answer in flight completed since the last call. */
  private takeAnswered(): boolean {
    const answered = this.answered;
    this.answered = false;
    return answered;
  }

  private onHead(head: ParsedHead): void {
    const pending = this.current;
    if (pending === undefined) return;
    this.reusable = head.keepAlive;
    if (head.keepAliveTimeoutMs !== undefined) {
      // Close it before the upstream does, so that a request never races the upstream's close.
      this.keepAliveMs = Math.min(this.pool.options.keepAliveMs, Math.max(0, head.keepAliveTimeoutMs - 1000));
    }
    this.phase = 'body';
    this.deadline = performance.now() + this.pool.options.bodyTimeoutMs;
    const proceed = pending.handler.onHeaders(head.statusCode, head.headers, this.resume);
    if (!proceed) this.pause();
  }

  private onBody(chunk: Buffer): void {
    const pending = this.current;
    if (pending === undefined || pending.done) return;
    this.deadline = performance.now() + this.pool.options.bodyTimeoutMs;
    if (!pending.handler.onData(chunk)) this.pause();
  }

  private pause(): void {
    this.paused = true;
    this.socket.pause();
  }

  private readonly resume = (): void => {
    if (!this.paused) return;
    this.paused = false;
    this.deadline = performance.now() + this.pool.options.bodyTimeoutMs;
    this.socket.resume();
  };

  private onComplete(): void {
    const pending = this.current;
    this.current = undefined;
    this.answered = true;
    if (this.paused) this.resume();
    if (pending !== undefined && !pending.done) {
      pending.done = true;
      pending.handler.onComplete();
    }
  }

  private recycle(): void {
    if (this.reusable && this.keepAliveMs > 0 && !this.socket.destroyed) {
      this.phase = 'idle';
      this.deadline = performance.now() + this.keepAliveMs;
      this.pool.release(this);
    } else {
      this.phase = 'none';
      this.socket.destroy();
    }
  }

  /** Fails the request in flight (if any) and closes the connection. */
  fail(error: Error): void {
    const pending = this.current;
    this.current = undefined;
    this.phase = 'none';
    this.socket.destroy();
    if (pending !== undefined && !pending.done) {
      pending.done = true;
      pending.handler.onError(error);
    }
  }

  /** The phase's timer ran out. */
  expire(): void {
    if (this.phase === 'idle') {
      this.phase = 'none';
      this.socket.destroy();
      return;
    }
    const code =
      this.phase === 'connect'
        ? UPSTREAM_ERROR.connectTimeout
        : this.phase === 'headers'
          ? UPSTREAM_ERROR.headersTimeout
          : UPSTREAM_ERROR.bodyTimeout;
    this.fail(new UpstreamClientError(code, `upstream ${this.phase} timeout`));
  }

  private onClose(): void {
    const pending = this.current;
    this.current = undefined;
    this.phase = 'none';
    this.pool.forget(this);
    if (pending === undefined || pending.done) return;
    // A body that runs to the close ends here; anything else was cut short.
    this.takeAnswered();
    try {
      this.current = pending;
      this.parser.finish();
      if (this.takeAnswered()) return;
    } catch {
      // Reported below, with the socket's own error when there is one.
    }
    this.current = undefined;
    pending.done = true;
    pending.handler.onError(
      this.socketError ??
        new UpstreamClientError(
          UPSTREAM_ERROR.socket,
          'upstream connection closed before the answer was complete',
        ),
    );
  }
}

/** A pool of keep-alive HTTP/1.1 connections to one origin. */
export class Http1Pool {
  private readonly connections = new Set<Connection>();
  private readonly idle: Connection[] = [];
  private readonly queue: Pending[] = [];
  private readonly host: string;
  private readonly port: number;
  private readonly timer: NodeJS.Timeout;
  private closing: { promise: Promise<void>; resolve: () => void } | undefined;

  constructor(readonly options: Http1PoolOptions) {
    const { origin } = options;
    this.port = Number(origin.port === '' ? (origin.protocol === 'https:' ? 443 : 80) : origin.port);
    this.host = origin.host;
    const shortest = Math.min(
      options.connectTimeoutMs,
      options.headersTimeoutMs,
      options.bodyTimeoutMs,
      options.keepAliveMs,
    );
    // Deadlines are checked on a tick (a number per connection, no timer per request).
    const tick = Math.max(5, Math.min(500, Math.floor(shortest / 4)));
    this.timer = setInterval(() => {
      this.expireDue();
    }, tick);
    this.timer.unref();
  }

  dispatch(request: Http1Request, handler: Http1Handler): void {
    let built: ReturnType<typeof buildHead>;
    try {
      if (this.closing !== undefined)
        throw new UpstreamClientError(UPSTREAM_ERROR.closed, 'upstream pool closed');
      built = buildHead(request, this.host);
    } catch (err) {
      handler.onError(err as Error);
      return;
    }
    const pending: Pending = { request, handler, ...built, done: false, connection: undefined };
    handler.onConnect((reason) => {
      this.abort(pending, reason);
    });
    if (pending.done) return;
    const connection = this.takeIdle() ?? this.open();
    if (connection === undefined) this.queue.push(pending);
    else connection.assign(pending);
  }

  /** The most recently used idle connection still open (one closed by its idle deadline is skipped). */
  private takeIdle(): Connection | undefined {
    for (;;) {
      const connection = this.idle.pop();
      if (connection === undefined || (connection.phase === 'idle' && !connection.socket.destroyed))
        return connection;
    }
  }

  private abort(pending: Pending, reason: Error): void {
    if (pending.done) return;
    const connection = pending.connection;
    if (connection === undefined) {
      pending.done = true;
      const index = this.queue.indexOf(pending);
      if (index !== -1) this.queue.splice(index, 1);
      pending.handler.onError(reason);
      return;
    }
    connection.fail(reason);
  }

  private open(): Connection | undefined {
    const max = this.options.maxConnections;
    if (max !== null && this.connections.size >= max) return undefined;
    const { origin } = this.options;
    const hostname = origin.hostname.startsWith('[') ? origin.hostname.slice(1, -1) : origin.hostname;
    const socket =
      origin.protocol === 'https:'
        ? tls.connect({
            host: hostname,
            port: this.port,
            ALPNProtocols: ['http/1.1'],
            ...(net.isIP(hostname) === 0 ? { servername: hostname } : {}),
            ...this.options.tls,
          })
        : net.connect({ host: hostname, port: this.port });
    const connection = new Connection(
      this,
      socket,
      performance.now(),
      this.options.limits ?? DEFAULT_RESPONSE_LIMITS,
    );
    this.connections.add(connection);
    return connection;
  }

  /** A connection finished its request and may take the next. */
  release(connection: Connection): void {
    const next = this.queue.shift();
    if (next !== undefined) {
      connection.assign(next);
      return;
    }
    if (this.closing !== undefined) {
      connection.socket.destroy();
      return;
    }
    this.idle.push(connection);
  }

  /** A connection closed. */
  forget(connection: Connection): void {
    this.connections.delete(connection);
    const index = this.idle.indexOf(connection);
    if (index !== -1) this.idle.splice(index, 1);
    // A request waiting for a free connection gets a new one.
    if (this.queue.length > 0) {
      const fresh = this.open();
      const next = fresh === undefined ? undefined : this.queue.shift();
      if (fresh !== undefined && next !== undefined) fresh.assign(next);
    }
    if (this.closing !== undefined && this.connections.size === 0) this.closing.resolve();
  }

  private expireDue(): void {
    const now = performance.now();
    for (const connection of this.connections) {
      if (connection.phase !== 'none' && !connection.paused && connection.deadline <= now)
        connection.expire();
    }
  }

  /** Waits for the requests in flight and queued, then closes every connection. */
  close(): Promise<void> {
    if (this.closing === undefined) {
      let resolve!: () => void;
      const promise = new Promise<void>((done) => {
        resolve = done;
      }).then(() => {
        clearInterval(this.timer);
      });
      this.closing = { promise, resolve };
      for (const connection of this.idle.splice(0)) connection.socket.destroy();
      if (this.connections.size === 0) resolve();
    }
    return this.closing.promise;
  }

  /** Closes every connection now, failing what is in flight. */
  destroy(): Promise<void> {
    const reason = new UpstreamClientError(UPSTREAM_ERROR.closed, 'upstream pool destroyed');
    for (const pending of this.queue.splice(0)) {
      pending.done = true;
      pending.handler.onError(reason);
    }
    for (const connection of [...this.connections]) connection.fail(reason);
    return this.close();
  }
}
