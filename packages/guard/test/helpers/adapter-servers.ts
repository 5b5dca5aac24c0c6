import { once } from 'node:events';
import http, { type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { serve } from '@hono/node-server';
import type { AuditEvent } from '@gatehouse/core';
import express from 'express';
import Fastify from 'fastify';
import { Hono } from 'hono';
import { guard as expressGuard } from '../../src/adapters/express/index.js';
import { guardPlugin } from '../../src/adapters/fastify/index.js';
import { guard as honoGuard, type GuardVariables } from '../../src/adapters/hono/index.js';
import { createNodeGuard } from '../../src/adapters/node/index.js';
import type { GuardLogger, GuardOptions, Principal } from '../../src/index.js';

export type AdapterName = 'node' | 'fastify' | 'express' | 'hono';

export const ADAPTERS: readonly AdapterName[] = ['node', 'fastify', 'express', 'hono'];

/** Every server guards the `/api` prefix (mounted per framework idiom) and echoes the principal. */
export const RESOURCE_PATH = '/api/resource';

/** Server side of TLS: a client certificate is asked for but not required (RFC 8705 §2). */
export interface ServerTls {
  readonly key: string;
  readonly cert: string;
  /** CAs trusted for client certificates. */
  readonly ca: string;
}

export interface RunningServer {
  readonly adapter: AdapterName;
  /** `http(s)://127.0.0.1:port` */
  readonly origin: string;
  close(): Promise<void>;
}

/** What the protected handler answers: the principal as the application sees it. */
export function echo(principal: Principal): Record<string, unknown> {
  return {
    sub: principal.sub,
    clientId: principal.clientId ?? null,
    scopes: principal.scopes,
    cnf: principal.cnf ?? null,
  };
}

function tlsServerOptions(tls: ServerTls): https.ServerOptions {
  return { key: tls.key, cert: tls.cert, ca: tls.ca, requestCert: true, rejectUnauthorized: false };
}

function originOf(server: http.Server | https.Server, tls: ServerTls | undefined): string {
  const { port } = server.address() as AddressInfo;
  return `${tls === undefined ? 'http' : 'https'}://127.0.0.1:${port}`;
}

async function listenAndWrap(
  adapter: AdapterName,
  server: http.Server | https.Server,
  tls: ServerTls | undefined,
): Promise<RunningServer> {
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return { adapter, origin: originOf(server, tls), close: () => closeServer(server) };
}

/** Closes a server and any connection still open, so the test run exits promptly. */
export async function closeServer(server: http.Server | https.Server): Promise<void> {
  const closed = new Promise<void>((resolve, reject) => {
    server.close((err) => {
      if (err) reject(err);
      else resolve();
    });
  });
  server.closeAllConnections();
  await closed;
}

function createHttpServer(
  tls: ServerTls | undefined,
  listener: (req: IncomingMessage, res: ServerResponse) => void,
): http.Server | https.Server {
  return tls === undefined
    ? http.createServer(listener)
    : https.createServer(tlsServerOptions(tls), listener);
}

async function startNode(options: GuardOptions, tls?: ServerTls): Promise<RunningServer> {
  const authenticate = createNodeGuard(options);
  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const principal = await authenticate(req, res);
    if (principal === undefined) return;
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify(echo(principal)));
  };
  const server = createHttpServer(tls, (req, res) => {
    handle(req, res).catch(() => {
      res.writeHead(500).end();
    });
  });
  return listenAndWrap('node', server, tls);
}

async function startFastify(options: GuardOptions, tls?: ServerTls): Promise<RunningServer> {
  let raw: http.Server | https.Server | undefined;
  const app = Fastify({
    logger: false,
    // Same request id source as the other adapters (Fastify otherwise numbers requests itself).
    requestIdHeader: 'x-request-id',
    serverFactory: (handler) => {
      raw = createHttpServer(tls, handler);
      return raw;
    },
  });
  await app.register(
    async (scope) => {
      await scope.register(guardPlugin, options);
      scope.all('/*', (request, reply) => reply.send(echo(request.principal as Principal)));
    },
    { prefix: '/api' },
  );
  await app.listen({ port: 0, host: '127.0.0.1' });
  const server = raw as http.Server | https.Server;
  return { adapter: 'fastify', origin: originOf(server, tls), close: () => app.close() };
}

async function startExpress(options: GuardOptions, tls?: ServerTls): Promise<RunningServer> {
  const app = express();
  // Mounted under a prefix, so Express strips `/api` from `req.url` inside the middleware.
  app.use('/api', expressGuard(options), (req, res) => {
    res.json(echo(req.principal as Principal));
  });
  const server = createHttpServer(tls, app);
  return listenAndWrap('express', server, tls);
}

async function startHono(options: GuardOptions, tls?: ServerTls): Promise<RunningServer> {
  const app = new Hono<{ Variables: GuardVariables }>();
  app.use('/api/*', honoGuard(options));
  app.all('/api/*', (c) => c.json(echo(c.get('principal'))));
  const server = serve({
    fetch: app.fetch,
    port: 0,
    hostname: '127.0.0.1',
    ...(tls === undefined ? {} : { createServer: https.createServer, serverOptions: tlsServerOptions(tls) }),
  }) as http.Server | https.Server;
  if (!server.listening) await once(server, 'listening');
  return { adapter: 'hono', origin: originOf(server, tls), close: () => closeServer(server) };
}

/** Starts a real server on 127.0.0.1, port 0, with `adapter` guarding `/api`. */
export function startGuardedServer(
  adapter: AdapterName,
  options: GuardOptions,
  tls?: ServerTls,
): Promise<RunningServer> {
  switch (adapter) {
    case 'node':
      return startNode(options, tls);
    case 'fastify':
      return startFastify(options, tls);
    case 'express':
      return startExpress(options, tls);
    case 'hono':
      return startHono(options, tls);
  }
}

export interface SendOptions {
  readonly method?: string;
  /** Request target (default RESOURCE_PATH). */
  readonly path?: string;
  /** Header fields in order; repeated names are sent as separate fields. `Host` is added. */
  readonly headers?: ReadonlyArray<readonly [string, string]>;
  /** For https origins: the CA to trust and an optional client certificate. */
  readonly tls?: { readonly ca: string; readonly cert?: string; readonly key?: string };
}

export interface Reply {
  readonly status: number;
  /** As Node's client joins repeated fields (RFC 9110 §5.3: same meaning as separate lines). */
  readonly headers: IncomingHttpHeaders;
  readonly body: string;
}

/**
 * One request on a fresh connection, with raw header fields: fetch cannot send two
 * `Authorization` fields, nor present a client certificate.
 */
export function send(origin: string, options: SendOptions = {}): Promise<Reply> {
  const url = new URL(origin);
  const fields = [['Host', url.host], ...(options.headers ?? [])].flat();
  const common = {
    host: url.hostname,
    port: url.port,
    method: options.method ?? 'GET',
    path: options.path ?? RESOURCE_PATH,
    headers: fields,
    agent: false,
  } as const;
  return new Promise<Reply>((resolve, reject) => {
    const onResponse = (res: IncomingMessage): void => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => {
        resolve({
          status: res.statusCode ?? 0,
          headers: res.headers,
          body: Buffer.concat(chunks).toString('utf8'),
        });
      });
      res.on('error', reject);
    };
    const req =
      url.protocol === 'https:'
        ? https.request({ ...common, ...options.tls }, onResponse)
        : http.request(common, onResponse);
    req.on('error', reject);
    req.end();
  });
}

export interface LogEntry {
  readonly level: 'info' | 'warn' | 'error';
  readonly object: Record<string, unknown>;
  readonly message: string;
}

/** A `GuardLogger` that keeps what it is given. */
export function captureLogger(): { logger: GuardLogger; entries: LogEntry[] } {
  const entries: LogEntry[] = [];
  const record =
    (level: LogEntry['level']) =>
    (object: object, message: string): void => {
      entries.push({ level, object: object as Record<string, unknown>, message });
    };
  return { logger: { info: record('info'), warn: record('warn'), error: record('error') }, entries };
}

/** An audit sink that keeps the events. */
export function captureAudit(): { sink: (event: AuditEvent) => void; events: AuditEvent[] } {
  const events: AuditEvent[] = [];
  return { sink: (event) => events.push(event), events };
}
