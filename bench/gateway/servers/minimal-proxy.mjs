/**
 * Informative contender: the least a Node.js reverse proxy on undici does, as a yardstick for the
 * gateway (same runtime): `node:http` in front of an undici 7 `Pool` (the version in
 * packages/gateway), each request dispatched with a handler that writes the upstream's answer straight into
 * the client response (no body stream, no promise, no abort signal), hop-by-hop headers dropped,
 * `X-Forwarded-For` set. No routing, no validation, no auth, no logging: not a usable proxy, a
 * yardstick. Started by ../run.mjs in its own process with `UPSTREAM_URL`; sends
 * `{ type: 'ready', url }` once it listens.
 *
 * With `MINIMAL_GATEWAY_HEADERS=1` it also sets the fields the gateway must set (issue 4), with
 * values of the same shape: upstream `Forwarded`, `X-Forwarded-Proto`, `X-Forwarded-Host`,
 * `X-Request-Id` and a new W3C `traceparent` (random ids from a pooled buffer, as the gateway's);
 * on the answer `X-Request-Id`, `X-Content-Type-Options` and `Strict-Transport-Security`. The
 * difference between the two rows is what those fields cost a Node.js proxy.
 */
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const upstream = process.env['UPSTREAM_URL'];
if (upstream === undefined) throw new Error('UPSTREAM_URL is required');

// The undici of packages/gateway (its auth-server calls; not a dependency of the benchmark).
const gatewayPackage = path.resolve(
  path.dirname(fileURLToPath(import.meta.url)),
  '../../../packages/gateway/package.json',
);
const { Pool } = /** @type {typeof import('undici')} */ (createRequire(gatewayPackage)('undici'));
const pool = new Pool(upstream, { connections: 128 });

/** RFC 9110 §7.6.1: never forwarded (the upstream's own framing and connection management). */
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'transfer-encoding', 'te', 'trailer', 'upgrade']);

const GATEWAY_HEADERS = process.env['MINIMAL_GATEWAY_HEADERS'] === '1';
const HSTS = 'max-age=31536000; includeSubDomains';
const idPrefix = randomBytes(6).toString('base64url');
let requests = 0;
/** Random bytes drawn in 32 KiB blocks, as hex. */
const random = { pool: randomBytes(32 * 1024), offset: 0 };
/** @param {number} bytes */
function randomHex(bytes) {
  if (random.offset + bytes > random.pool.length) {
    random.pool = randomBytes(random.pool.length);
    random.offset = 0;
  }
  const hex = random.pool.toString('hex', random.offset, random.offset + bytes);
  random.offset += bytes;
  return hex;
}

const server = createServer((req, res) => {
  /** @type {string[]} */
  const headers = [];
  const raw = req.rawHeaders;
  for (let i = 0; i < raw.length; i += 2) {
    const name = /** @type {string} */ (raw[i]);
    if (!HOP_BY_HOP.has(name.toLowerCase())) headers.push(name, /** @type {string} */ (raw[i + 1]));
  }
  const peer = req.socket.remoteAddress ?? '';
  headers.push('x-forwarded-for', peer);
  const requestId = GATEWAY_HEADERS ? `${idPrefix}-${String((requests += 1))}` : '';
  if (GATEWAY_HEADERS) {
    const host = req.headers.host ?? '';
    headers.push(
      'forwarded',
      `for=${peer};host="${host}";proto=http`,
      'x-forwarded-proto',
      'http',
      'x-forwarded-host',
      host,
      'x-request-id',
      requestId,
      'traceparent',
      `00-${randomHex(16)}-${randomHex(8)}-01`,
    );
  }
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
        if (GATEWAY_HEADERS) {
          out.push('x-request-id', requestId, 'x-content-type-options', 'nosniff');
          out.push('strict-transport-security', HSTS);
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
