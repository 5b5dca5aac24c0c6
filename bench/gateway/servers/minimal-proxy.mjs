/**
 * Informative contender: the least a Node.js reverse proxy can do, as a ceiling for the gateway
 * (same runtime, same HTTP client): `node:http` in front of an undici 7 `Pool` (the gateway's
 * version), each request dispatched with a handler that writes the upstream's answer straight into
 * the client response (no body stream, no promise, no abort signal), hop-by-hop headers dropped,
 * `X-Forwarded-For` set. No routing, no validation, no auth, no logging: not a usable proxy, a
 * yardstick. Started by ../run.mjs in its own process with `UPSTREAM_URL`; sends
 * `{ type: 'ready', url }` once it listens.
 */
import { createServer } from 'node:http';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const upstream = process.env['UPSTREAM_URL'];
if (upstream === undefined) throw new Error('UPSTREAM_URL is required');

// The undici the gateway runs on (a dependency of packages/gateway, not of the benchmark).
const gatewayPackage = path.resolve(
  path.dirname(fileURLToPath(import.meta.url)),
  '../../../packages/gateway/package.json',
);
const { Pool } = /** @type {typeof import('undici')} */ (createRequire(gatewayPackage)('undici'));
const pool = new Pool(upstream, { connections: 128 });

/** RFC 9110 §7.6.1: never forwarded (the upstream's own framing and connection management). */
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'transfer-encoding', 'te', 'trailer', 'upgrade']);

const server = createServer((req, res) => {
  /** @type {string[]} */
  const headers = [];
  const raw = req.rawHeaders;
  for (let i = 0; i < raw.length; i += 2) {
    const name = /** @type {string} */ (raw[i]);
    if (!HOP_BY_HOP.has(name.toLowerCase())) headers.push(name, /** @type {string} */ (raw[i + 1]));
  }
  headers.push('x-forwarded-for', req.socket.remoteAddress ?? '');
  pool.dispatch(
    {
      method: /** @type {import('undici').Dispatcher.HttpMethod} */ (req.method),
      path: req.url ?? '/',
      headers,
    },
    {
      onConnect() {},
      onError() {
        if (!res.headersSent) res.statusCode = 502;
        res.end();
      },
      onHeaders(statusCode, rawHeaders) {
        /** @type {string[]} */
        const out = [];
        for (let i = 0; i < rawHeaders.length; i += 2) {
          const name = String(rawHeaders[i]);
          if (!HOP_BY_HOP.has(name.toLowerCase())) out.push(name, String(rawHeaders[i + 1]));
        }
        res.writeHead(statusCode, out);
        return true;
      },
      onData(chunk) {
        return res.write(chunk);
      },
      onComplete() {
        res.end();
      },
    },
  );
});
server.keepAliveTimeout = 120_000;

server.listen(0, '127.0.0.1', () => {
  const address = /** @type {import('node:net').AddressInfo} */ (server.address());
  process.send?.({ type: 'ready', url: `http://127.0.0.1:${String(address.port)}` });
});
process.on('message', (/** @type {{ type: string }} */ message) => {
  if (message.type === 'stop') {
    server.closeAllConnections();
    server.close();
    // destroy, not close: close waits on the pool's idle keep-alive sockets, past the 20 s in which
    // a stopped process must exit (and write its --cpu-prof profile) before it is killed.
    void pool.destroy().finally(() => process.exit(0));
  }
});
process.on('disconnect', () => process.exit(0));
