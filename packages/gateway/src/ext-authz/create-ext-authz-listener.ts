import { createServer, type RequestListener, type Server, type ServerOptions } from 'node:http';
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { TLSSocket } from 'node:tls';
import {
  attachOcspStapling,
  loadTlsServerOptions,
  watchTlsFiles,
  type CertificateInfo,
  type Logger,
  type TlsReloader,
} from '@gatehouse/core';
import { normalizeIp } from '../net/ip-set.js';
import type { ExtAuthzConfig } from './schema.js';

export interface ExtAuthzListener {
  /** node:http, or node:https with `listen.tls`. */
  readonly server: Server | HttpsServer;
  /** Binds `extAuthz.listen`; resolves to its URL (https:// with `listen.tls`). */
  listen(): Promise<string>;
  /** The bound URL, once listening. */
  url(): string | undefined;
  /**
   * Re-reads the files of `listen.tls` (SIGHUP; they are also watched). Resolves false when they
   * were refused (the previous certificate stays), true otherwise or without TLS.
   */
  reloadCertificates(): Promise<boolean>;
  /** Stops accepting, lets checks in flight finish (up to `graceMs`), then closes every connection. */
  close(graceMs: number): Promise<void>;
}

/** Why node refused the peer's certificate (`CERT_HAS_EXPIRED`…), if it did. */
function certificateRefusal(socket: TLSSocket): { certificate?: string } {
  // Node sets OpenSSL's verification code, a string, despite the declared type.
  const refusal = socket.authorizationError as unknown;
  if (typeof refusal === 'string') return { certificate: refusal };
  if (refusal instanceof Error)
    return { certificate: (refusal as NodeJS.ErrnoException).code ?? refusal.message };
  return {};
}

export interface ExtAuthzListenerOptions {
  /** Folder the paths of `listen.tls` are relative to (the configuration file's). */
  readonly baseDir: string;
  /** How long a peer may take to finish its TLS handshake (the gateway's `headersTimeoutMs`). */
  readonly handshakeTimeoutMs: number;
  readonly logger: Logger;
  /** Called with each certificate put in force, the first one included (the expiry metric). */
  readonly onCertificate?: (info: CertificateInfo) => void;
}

/**
 * The external-authorization listener, apart from the public one so that the check endpoint is
 * never reachable where clients connect: plain HTTP with the gateway's own parser settings, or
 * HTTPS with `listen.tls` — with `clientAuth: require`, mutual TLS, so that only data planes holding
 * a certificate of `caFile` can even send a check. Throws `ERR_CONFIG_INVALID` for unusable files.
 */
export function createExtAuthzListener(
  config: ExtAuthzConfig['listen'],
  httpOptions: ServerOptions,
  handler: RequestListener,
  options: ExtAuthzListenerOptions,
): ExtAuthzListener {
  const tls = config.tls;
  const logger = options.logger.child({ listener: 'ext-authz' });
  let server: Server | HttpsServer;
  let certificates: TlsReloader | undefined;
  if (tls === undefined) {
    server = createServer(httpOptions, handler);
  } else {
    const https = createHttpsServer(
      {
        ...httpOptions,
        ...loadTlsServerOptions(tls, options.baseDir),
        // A peer that connects and never finishes its handshake is cut as one that never finishes
        // its headers, not after Node's default 120 s.
        handshakeTimeout: options.handshakeTimeoutMs,
      },
      handler,
    );
    attachOcspStapling(https, tls, options.baseDir);
    // node:https forwards a failed handshake to `clientError`, and destroys the socket when nothing
    // listens there: no HTTP can be answered before the handshake. This listener makes that
    // explicit, and says why a data plane was turned away: no certificate, a timeout, or — node
    // closes those itself, then reports ECONNRESET — a certificate that did not verify.
    https.on('tlsClientError', (err: NodeJS.ErrnoException, socket: TLSSocket) => {
      const address = socket.remoteAddress;
      logger.warn(
        {
          ...(address === undefined ? {} : { peer: normalizeIp(address) }),
          code: err.code,
          ...certificateRefusal(socket),
        },
        'external-authorization TLS handshake failed',
      );
      socket.destroy();
    });
    certificates = watchTlsFiles(https, tls, options.baseDir, {
      logger,
      ...(options.onCertificate === undefined ? {} : { onReload: options.onCertificate }),
    });
    server = https;
  }
  let url: string | undefined;
  return {
    server,
    url: () => url,
    reloadCertificates: () => certificates?.reload() ?? Promise.resolve(true),
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
      url = `${tls === undefined ? 'http' : 'https'}://${shown}:${address.port}`;
      return url;
    },
    async close(graceMs) {
      certificates?.close();
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
