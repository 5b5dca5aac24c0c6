import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, request as httpsRequest, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TLSSocket, connect, type ConnectionOptions, type Server as TlsServer } from 'node:tls';
import type { CertificateAndKey, DevCa } from '../../src/pki/dev-ca.js';
import { createDevCa } from '../../src/pki/create-dev-ca.js';
import type { TlsServerOptions } from '../../src/tls/load-tls-server-options.js';

/** A temporary folder with a dev CA and a `localhost` server certificate written as PEM files. */
export interface TlsFixture {
  readonly dir: string;
  readonly ca: DevCa;
  readonly server: CertificateAndKey;
  /** Writes `content` to `name` in the folder (atomically: temp file then rename); returns the path. */
  write(name: string, content: string | Buffer): string;
  remove(): void;
}

/** The socket as a TLSSocket (what an HTTPS request or response runs on). */
export function tlsSocketOf(socket: unknown): TLSSocket {
  if (!(socket instanceof TLSSocket)) throw new TypeError('not a TLS socket');
  return socket;
}

export async function createTlsFixture(ca?: DevCa): Promise<TlsFixture> {
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-tls-'));
  const authority = ca ?? (await createDevCa());
  const server = await authority.issue({
    commonName: 'localhost',
    dns: ['localhost'],
    ip: ['127.0.0.1'],
    usage: 'server',
  });
  const write = (name: string, content: string | Buffer): string => {
    const path = join(dir, name);
    writeFileSync(`${path}.tmp`, content);
    renameSync(`${path}.tmp`, path);
    return path;
  };
  write('ca.pem', authority.certPem);
  write('server.pem', server.certPem);
  write('server-key.pem', server.keyPem);
  return { dir, ca: authority, server, write, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

/**
 * An HTTPS server on a free loopback port answering what the TLS layer saw: whether the client
 * certificate was verified, its CN, and the protocol.
 */
export async function startHttpsServer(options: TlsServerOptions): Promise<{ server: Server; url: string }> {
  const server = createServer(options, (req, res) => {
    const socket = tlsSocketOf(req.socket);
    const peer = socket.getPeerCertificate() as { subject?: { CN?: string } };
    res.setHeader('content-type', 'application/json');
    res.end(
      JSON.stringify({
        authorized: socket.authorized,
        peer: peer.subject?.CN ?? null,
        protocol: socket.getProtocol(),
      }),
    );
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return { server, url: `https://127.0.0.1:${(server.address() as AddressInfo).port}` };
}

export async function closeServer(server: Server): Promise<void> {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
}

export interface HandshakeOutcome {
  /** The server completed the handshake and its first bytes reached the client. */
  readonly accepted: boolean;
  /** `tlsClientError` code on the server side, if any. */
  readonly serverError: string | undefined;
  /**
   * Why the server refused the client certificate (`authorizationError`, e.g. CERT_HAS_EXPIRED).
   * Node closes such a connection without an alert, so only the server knows the reason.
   */
  readonly serverReason: string | undefined;
  /** Error code on the client side, if any. */
  readonly clientError: string | undefined;
}

/**
 * One TLS connection to a raw `tls`-style server that writes `hello` after its handshake. In TLS
 * 1.3 the client finishes first and learns of a refused certificate only from a later alert, so
 * acceptance is judged by the server's first bytes arriving, not by `secureConnect`.
 */
export async function tryHandshake(server: TlsServer, options: ConnectionOptions): Promise<HandshakeOutcome> {
  const { port } = server.address() as AddressInfo;
  let serverError: string | undefined;
  let serverReason: string | undefined;
  const onServerError = (err: NodeJS.ErrnoException, tlsSocket: TLSSocket): void => {
    serverError ??= err.code;
    // Typed Error, but a string code (or null) at run time.
    serverReason ??= (tlsSocket.authorizationError as unknown as string | null) ?? undefined;
  };
  server.on('tlsClientError', onServerError);
  const socket = connect({ host: '127.0.0.1', port, servername: 'localhost', ...options });
  const outcome = await new Promise<{ accepted: boolean; clientError: string | undefined }>((resolve) => {
    socket.once('data', () => resolve({ accepted: true, clientError: undefined }));
    socket.once('error', (err: NodeJS.ErrnoException) => resolve({ accepted: false, clientError: err.code }));
    socket.once('close', () => resolve({ accepted: false, clientError: undefined }));
  });
  socket.destroy();
  // The server's tlsClientError can trail the client's view by a tick.
  await new Promise((resolve) => setTimeout(resolve, 20));
  server.off('tlsClientError', onServerError);
  return { ...outcome, serverError, serverReason };
}

/** GET over HTTPS with its own connection (a new handshake each time); resolves status and body. */
export function httpsGet(
  url: string,
  options: ConnectionOptions = {},
): Promise<{ status: number; body: string; fingerprint256: string }> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest(url, { ...options, servername: 'localhost', agent: false }, (res) => {
      const chunks: Buffer[] = [];
      const socket = tlsSocketOf(res.socket);
      const peer = socket.getPeerX509Certificate();
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => {
        resolve({
          status: res.statusCode ?? 0,
          body: Buffer.concat(chunks).toString('utf8'),
          fingerprint256: peer === undefined ? '' : createHash('sha256').update(peer.raw).digest('base64url'),
        });
      });
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}
