import { once } from 'node:events';
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https';
import type { AddressInfo, Server as NetServer } from 'node:net';
import { Server as TlsServer } from 'node:tls';
import {
  attachOcspStapling,
  loadTlsServerOptions,
  watchTlsFiles,
  type TlsListenerConfig,
  type TlsReloader,
  type WatchTlsFilesOptions,
} from '@gatehouse/core';
import type { FastifyInstance } from 'fastify';

/** `http://host:port` or `https://…` for a bound listener (IPv6 in brackets). */
export function listenerUrl(server: NetServer): string {
  const address = server.address() as AddressInfo;
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  return `${server instanceof TlsServer ? 'https' : 'http'}://${host}:${address.port}`;
}

/**
 * Keeps the certificate of a Fastify app created with `https` options current (file watching,
 * SIGHUP through the returned reloader) and staples its OCSP response when configured.
 */
export function secureFastifyServer(
  app: FastifyInstance,
  config: TlsListenerConfig,
  baseDir: string,
  options: WatchTlsFilesOptions,
): TlsReloader {
  const server = app.server as unknown as HttpsServer;
  attachOcspStapling(server, config, baseDir);
  return watchTlsFiles(server, config, baseDir, options);
}

/** A Fastify app served by a node:https server of ours. */
export interface TlsAppListener {
  readonly url: string;
  readonly certificates: TlsReloader;
  /** Stops accepting, lets requests in flight finish, and resolves once every connection is closed. */
  close(): Promise<void>;
}

/**
 * Serves over TLS a Fastify app that was built without `https` options (the auth server's admin
 * app, whose factory takes none): a node:https server of ours hands each request to the app's
 * router (`app.routing`, Fastify's documented entry for a server it did not create), so hooks,
 * routes and `return503OnClosing` behave as on the app's own listener.
 */
export async function listenOverTls(
  app: FastifyInstance,
  listen: { readonly host: string; readonly port: number },
  config: TlsListenerConfig,
  baseDir: string,
  options: WatchTlsFilesOptions,
): Promise<TlsAppListener> {
  await app.ready();
  const server = createHttpsServer(loadTlsServerOptions(config, baseDir), (req, res) => {
    app.routing(req, res);
  });
  attachOcspStapling(server, config, baseDir);
  const certificates = watchTlsFiles(server, config, baseDir, options);
  try {
    server.listen({ host: listen.host, port: listen.port });
    await once(server, 'listening');
  } catch (err) {
    certificates.close();
    throw err;
  }
  return {
    url: listenerUrl(server),
    certificates,
    async close() {
      certificates.close();
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      // A request in flight leaves its keep-alive connection idle once answered: keep closing idle
      // connections until the last one is gone, as the gateway does when it drains.
      server.closeIdleConnections();
      const sweeper = setInterval(() => server.closeIdleConnections(), 50);
      sweeper.unref();
      await closed;
      clearInterval(sweeper);
    },
  };
}
