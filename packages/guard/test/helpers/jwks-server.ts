import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/** How the server answers the next requests (until changed). */
export type JwksBehaviour =
  /** The current key set as JSON with the current Cache-Control. */
  | { readonly kind: 'jwks' }
  /** A bare status with an empty body (404, 500, 503, ...). */
  | { readonly kind: 'status'; readonly status: number }
  /** Exact body text (invalid documents). */
  | { readonly kind: 'body'; readonly body: string; readonly contentType?: string }
  /** The key set, but headers only after `ms`. */
  | { readonly kind: 'delay-headers'; readonly ms: number }
  /** Headers at once, then the key set in `chunks` slices, one every `intervalMs`. */
  | { readonly kind: 'trickle'; readonly intervalMs: number; readonly chunks: number }
  /** `bytes` of padding, with Content-Length or chunked (no Content-Length). */
  | { readonly kind: 'oversize'; readonly bytes: number; readonly chunked: boolean }
  | { readonly kind: 'redirect'; readonly status: number; readonly location: string };

export interface JwksServerOptions {
  readonly keys?: readonly unknown[];
  /** Cache-Control of the key set answers; undefined sends none. */
  readonly cacheControl?: string | undefined;
}

const PATH = '/.well-known/jwks.json';

/**
 * A real JWKS endpoint on 127.0.0.1 (port 0) whose answers a test steers: key set, Cache-Control,
 * failures, slowness, size and redirects. `down()` closes the listener (connection refused) and
 * `up()` listens again on the same port.
 */
export class JwksServer {
  /** The key set served by `{ kind: 'jwks' }`, `delay-headers` and `trickle`. */
  keys: readonly unknown[];
  cacheControl: string | undefined;
  #behaviour: JwksBehaviour = { kind: 'jwks' };
  #requests = 0;
  #server: Server | undefined;
  #port = 0;
  readonly #timers = new Set<NodeJS.Timeout>();

  private constructor(options: JwksServerOptions) {
    this.keys = options.keys ?? [];
    this.cacheControl = 'cacheControl' in options ? options.cacheControl : 'max-age=300';
  }

  static async start(options: JwksServerOptions = {}): Promise<JwksServer> {
    const server = new JwksServer(options);
    await server.up();
    return server;
  }

  /** The key set URL (plain HTTP is allowed on loopback). */
  get url(): string {
    return `http://127.0.0.1:${String(this.#port)}${PATH}`;
  }

  /** Requests received so far, any path. */
  get requests(): number {
    return this.#requests;
  }

  behave(behaviour: JwksBehaviour): void {
    this.#behaviour = behaviour;
  }

  /** Listens (again, on the same port once one was chosen). */
  async up(): Promise<void> {
    if (this.#server !== undefined) return;
    const server = createServer((req, res) => {
      this.#handle(req, res);
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.#port, '127.0.0.1', () => {
        server.off('error', reject);
        resolve();
      });
    });
    this.#port = (server.address() as AddressInfo).port;
    this.#server = server;
  }

  /** Stops listening and drops every connection: the next fetch gets ECONNREFUSED. */
  async down(): Promise<void> {
    const server = this.#server;
    if (server === undefined) return;
    this.#server = undefined;
    for (const timer of this.#timers) clearTimeout(timer);
    this.#timers.clear();
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    server.closeAllConnections();
    await closed;
  }

  close(): Promise<void> {
    return this.down();
  }

  #later(ms: number, run: () => void): NodeJS.Timeout {
    const timer = setTimeout(() => {
      this.#timers.delete(timer);
      run();
    }, ms);
    this.#timers.add(timer);
    return timer;
  }

  #jwksBody(): string {
    return JSON.stringify({ keys: this.keys });
  }

  #jwksHeaders(): Record<string, string> {
    const headers: Record<string, string> = { 'content-type': 'application/jwk-set+json' };
    if (this.cacheControl !== undefined) headers['cache-control'] = this.cacheControl;
    return headers;
  }

  #handle(req: IncomingMessage, res: ServerResponse): void {
    this.#requests++;
    req.resume();
    const behaviour = this.#behaviour;
    switch (behaviour.kind) {
      case 'jwks':
        res.writeHead(200, this.#jwksHeaders()).end(this.#jwksBody());
        return;
      case 'status':
        res.writeHead(behaviour.status, { 'content-length': '0' }).end();
        return;
      case 'body':
        res
          .writeHead(200, { 'content-type': behaviour.contentType ?? 'application/json' })
          .end(behaviour.body);
        return;
      case 'delay-headers': {
        const timer = this.#later(behaviour.ms, () => {
          res.writeHead(200, this.#jwksHeaders()).end(this.#jwksBody());
        });
        res.on('close', () => {
          clearTimeout(timer);
          this.#timers.delete(timer);
        });
        return;
      }
      case 'trickle': {
        const body = Buffer.from(this.#jwksBody());
        const size = Math.ceil(body.length / behaviour.chunks);
        // No Content-Length: the body is streamed chunked, one slice per interval.
        res.writeHead(200, this.#jwksHeaders());
        res.flushHeaders();
        let offset = 0;
        let timer: NodeJS.Timeout | undefined;
        const next = (): void => {
          if (offset >= body.length) {
            res.end();
            return;
          }
          res.write(body.subarray(offset, offset + size));
          offset += size;
          timer = this.#later(behaviour.intervalMs, next);
        };
        res.on('close', () => {
          if (timer === undefined) return;
          clearTimeout(timer);
          this.#timers.delete(timer);
        });
        next();
        return;
      }
      case 'oversize': {
        // Valid JSON all the same: only the size is wrong.
        const padding = Math.max(0, behaviour.bytes - 20);
        const body = Buffer.from(`{"keys":[],"p":"${'a'.repeat(padding)}"}`);
        if (behaviour.chunked) {
          res.writeHead(200, { 'content-type': 'application/json' });
          for (let offset = 0; offset < body.length; offset += 1024) {
            res.write(body.subarray(offset, offset + 1024));
          }
          res.end();
        } else {
          res
            .writeHead(200, { 'content-type': 'application/json', 'content-length': String(body.length) })
            .end(body);
        }
        return;
      }
      case 'redirect':
        res.writeHead(behaviour.status, { location: behaviour.location, 'content-length': '0' }).end();
        return;
    }
  }
}
