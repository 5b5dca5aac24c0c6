import { createServer, type RequestListener, type Server, type ServerOptions } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { ExtAuthzConfig } from './schema.js';

export interface ExtAuthzListener {
  readonly server: Server;
  /** Binds `extAuthz.listen`; resolves to its URL. */
  listen(): Promise<string>;
  /** The bound URL, once listening. */
  url(): string | undefined;
  /** Stops accepting, lets checks in flight finish (up to `graceMs`), then closes every connection. */
  close(graceMs: number): Promise<void>;
}

/**
 * The external-authorization listener: plain HTTP with the gateway's own parser settings, apart from
 * the public one, so that the check endpoint is never reachable where clients connect.
 */
export function createExtAuthzListener(
  config: ExtAuthzConfig['listen'],
  httpOptions: ServerOptions,
  handler: RequestListener,
): ExtAuthzListener {
  const server = createServer(httpOptions, handler);
  let url: string | undefined;
  return {
    server,
    url: () => url,
    async listen() {
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen({ host: config.host, port: config.port }, () => {
          server.off('error', reject);
          resolve();
        });
      });
      const address = server.address() as AddressInfo;
      const shown = address.family === 'IPv6' ? `[${address.address}]` : address.address;
      url = `http://${shown}:${address.port}`;
      return url;
    },
    async close(graceMs) {
      if (!server.listening) return;
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeIdleConnections();
      // Data planes keep their connections open: close each one as soon as its check is answered.
      const sweeper = setInterval(() => server.closeIdleConnections(), 50);
      const timer = setTimeout(() => server.closeAllConnections(), graceMs);
      sweeper.unref();
      timer.unref();
      await closed;
      clearInterval(sweeper);
      clearTimeout(timer);
    },
  };
}
