import { once } from 'node:events';
import {
  createServer as createHttpServer,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from 'node:http';
import { createServer as createHttpsServer, type ServerOptions } from 'node:https';
import { createServer as createNetServer, type AddressInfo, type Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import type { UpstreamOptions } from '../../src/upstream/upstream.js';

export type Handler = (req: IncomingMessage, res: ServerResponse) => void;

/** A real upstream on 127.0.0.1, port 0, recording what it received. */
export interface TestServer {
  readonly url: string;
  readonly port: number;
  /** `METHOD path` of every request received, in order. */
  readonly received: string[];
  /** Subject CN of the client certificate of each request (https servers). */
  readonly clientNames: (string | undefined)[];
  close(): Promise<void>;
}

async function listen(
  server: Server,
  scheme: 'http' | 'https',
  received: string[],
  clientNames: (string | undefined)[],
): Promise<TestServer> {
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  return {
    url: `${scheme}://127.0.0.1:${port}`,
    port,
    received,
    clientNames,
    async close() {
      server.closeAllConnections();
      server.close();
      await once(server, 'close');
    },
  };
}

function recording(handler: Handler, received: string[], clientNames: (string | undefined)[]): Handler {
  return (req, res) => {
    received.push(`${req.method ?? ''} ${req.url ?? ''}`);
    const socket = req.socket as Partial<TLSSocket>;
    if (typeof socket.getPeerCertificate === 'function') {
      const cn: unknown = (socket.getPeerCertificate() as { subject?: { CN?: unknown } }).subject?.CN;
      clientNames.push(typeof cn === 'string' ? cn : undefined);
    }
    handler(req, res);
  };
}

export function startHttpServer(handler: Handler): Promise<TestServer> {
  const received: string[] = [];
  return listen(createHttpServer(recording(handler, received, [])), 'http', received, []);
}

export function startHttpsServer(tls: ServerOptions, handler: Handler): Promise<TestServer> {
  const received: string[] = [];
  const clientNames: (string | undefined)[] = [];
  return listen(
    createHttpsServer(tls, recording(handler, received, clientNames)),
    'https',
    received,
    clientNames,
  );
}

/** Answers 200 with `name` as the body. */
export function named(name: string): Handler {
  return (_req, res) => {
    res.end(name);
  };
}

/** A port nothing listens on: connecting is refused. */
export async function refusedUrl(): Promise<string> {
  const server = createNetServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  server.close();
  await once(server, 'close');
  return `http://127.0.0.1:${port}`;
}

/** Accepts TCP connections and never says a word: a TLS handshake to it never completes. */
export async function startSilentServer(): Promise<TestServer> {
  const sockets = new Set<Socket>();
  const server = createNetServer((socket) => {
    sockets.add(socket);
    socket.on('error', () => undefined);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  return {
    url: `https://127.0.0.1:${port}`,
    port,
    received: [],
    clientNames: [],
    async close() {
      for (const socket of sockets) socket.destroy();
      server.close();
      await once(server, 'close');
    },
  };
}

/** Options with generous timeouts and a circuit that does not trip unless a test says so. */
export function upstreamOptions(
  targets: readonly string[],
  overrides: Partial<UpstreamOptions> = {},
): UpstreamOptions {
  return {
    id: 'test',
    targets,
    timeouts: { connectMs: 5_000, headersMs: 5_000, bodyMs: 5_000 },
    retries: 0,
    circuitBreaker: { failureThreshold: 1_000, openMs: 10_000, halfOpenProbes: 1 },
    ...overrides,
  };
}
