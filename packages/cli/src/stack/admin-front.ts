import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { TlsServerOptions } from '@gatehouse/core';
import { Agent, request } from 'undici';

/** Where each admin path of the stack is served (the components' own admin listeners). */
export interface AdminTargets {
  /** `/admin/gateway/*`, `/admin/console[/*]` (the admin console), `/metrics`: the gateway's admin listener. */
  readonly gateway: string;
  /** `/admin/bff/*`: the BFF (its admin routes are token-guarded on its own listener). */
  readonly bff: string;
  /** Every other `/admin/*`, and `/metrics/auth-server` (its `/metrics`): the auth server's admin listener. */
  readonly authServer: string;
}

export interface AdminFront {
  readonly url: string;
  close(): Promise<void>;
}

const MAX_BODY_BYTES = 1_048_576;
/** Request headers passed on: credentials and content negotiation only (no cookies, no hop-by-hop). */
const FORWARDED_REQUEST = ['authorization', 'content-type', 'accept'];
/** Response headers passed on, the admin console's security headers included (CSP, no framing). */
const FORWARDED_RESPONSE = [
  'content-type',
  'cache-control',
  'www-authenticate',
  'retry-after',
  'location',
  'content-security-policy',
  'x-frame-options',
  'referrer-policy',
  'x-content-type-options',
];

function problem(res: ServerResponse, status: number, title: string): void {
  res.writeHead(status, { 'content-type': 'application/problem+json', 'cache-control': 'no-store' });
  res.end(JSON.stringify({ type: 'about:blank', title, status }));
}

/**
 * The component URL a path of the entry goes to. Each component serves its metrics at its own
 * `/metrics`: the entry's `/metrics` is the gateway's, `/metrics/auth-server` the auth server's.
 */
function targetOf(targets: AdminTargets, path: string): string | undefined {
  if (path === '/metrics/auth-server') return `${targets.authServer}/metrics`;
  if (
    path === '/metrics' ||
    path === '/admin/gateway' ||
    path.startsWith('/admin/gateway/') ||
    path === '/admin/console' ||
    path.startsWith('/admin/console/')
  )
    return `${targets.gateway}${path}`;
  if (path === '/admin/bff' || path.startsWith('/admin/bff/')) return `${targets.bff}${path}`;
  if (path === '/admin' || path.startsWith('/admin/')) return `${targets.authServer}${path}`;
  return undefined;
}

async function readBody(req: IncomingMessage): Promise<Buffer | undefined> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY_BYTES) return undefined;
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}

/**
 * The one admin and metrics address of the demo stack (`http://127.0.0.1:9090` in the contract):
 * each component keeps its own admin listener, as it would on its own machine, and this entry
 * passes each path to the right one (`/metrics` the gateway's, `/metrics/auth-server` the auth
 * server's). Authentication stays with the components (one admin token).
 * `/healthz` answers for the entry itself, `/readyz` for the whole stack.
 */
export interface AdminFrontOptions {
  readonly host: string;
  readonly port: number;
  readonly targets: AdminTargets;
  readonly stackReady: () => Promise<boolean>;
  /** The CA the components' certificates chain to (their admin listeners are https with --tls). */
  readonly ca: string;
  /** Serve the entry itself over HTTPS (`--tls`), with core's TLS defaults. */
  readonly tls?: TlsServerOptions;
}

export async function startAdminFront(options: AdminFrontOptions): Promise<AdminFront> {
  const { host, port, targets, stackReady } = options;
  const dispatcher = new Agent({ connections: 16, connect: { ca: options.ca } });
  const handler = (req: IncomingMessage, res: ServerResponse): void => {
    const url = new URL(req.url ?? '/', 'http://admin.invalid');
    if (url.pathname === '/healthz') {
      res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'no-store' });
      res.end('{"status":"ok"}');
      return;
    }
    if (url.pathname === '/readyz') {
      void stackReady().then(
        (ready) => {
          res.writeHead(ready ? 200 : 503, {
            'content-type': 'application/json',
            'cache-control': 'no-store',
          });
          res.end(JSON.stringify({ status: ready ? 'ready' : 'not ready' }));
        },
        () => problem(res, 503, 'Service Unavailable'),
      );
      return;
    }
    const target = targetOf(targets, url.pathname);
    if (target === undefined) {
      problem(res, 404, 'Not Found');
      return;
    }
    void relay(req, res, `${target}${url.search}`);
  };
  const server: Server =
    options.tls === undefined ? createServer(handler) : createHttpsServer(options.tls, handler);

  async function relay(req: IncomingMessage, res: ServerResponse, to: string): Promise<void> {
    try {
      const body = await readBody(req);
      if (body === undefined) {
        problem(res, 413, 'Content Too Large');
        return;
      }
      const headers: Record<string, string> = {};
      for (const name of FORWARDED_REQUEST) {
        const value = req.headers[name];
        if (typeof value === 'string') headers[name] = value;
      }
      const answer = await request(to, {
        dispatcher,
        method: (req.method ?? 'GET') as 'GET',
        headers,
        body: body.length > 0 ? body : null,
        headersTimeout: 10_000,
        bodyTimeout: 10_000,
      });
      const out: Record<string, string> = {};
      for (const name of FORWARDED_RESPONSE) {
        const value = answer.headers[name];
        if (typeof value === 'string') out[name] = value;
      }
      const text = Buffer.from(await answer.body.arrayBuffer());
      res.writeHead(answer.statusCode, out);
      res.end(text);
    } catch {
      if (!res.headersSent) problem(res, 502, 'Bad Gateway');
      else res.destroy();
    }
  }

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address() as AddressInfo;
  return {
    url: `${options.tls === undefined ? 'http' : 'https'}://${host}:${address.port}`,
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await dispatcher.close();
    },
  };
}
