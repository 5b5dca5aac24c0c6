/**
 * Informative contender, an experiment: the bare proxy of minimal-proxy.mjs with undici replaced by a
 * hand-written HTTP/1.1 keep-alive client on `node:net` (one request per connection at a time, the
 * request head written at once, the answer read by `Content-Length`). It validates nothing it forwards
 * or receives, refuses any answer without `Content-Length` (502) and has no timeouts, retries or TLS:
 * not a usable client, a measure of what undici's layer costs a Node.js proxy. Started by ../run.mjs
 * in its own process with `UPSTREAM_URL`; sends `{ type: 'ready', url }` once it listens.
 */
import { createServer } from 'node:http';
import net from 'node:net';

const upstreamUrl = process.env['UPSTREAM_URL'];
if (upstreamUrl === undefined) throw new Error('UPSTREAM_URL is required');
const upstream = new URL(upstreamUrl);

/** RFC 9110 §7.6.1: never forwarded (the upstream's own framing and connection management). */
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'transfer-encoding', 'te', 'trailer', 'upgrade']);
const HEAD_END = Buffer.from('\r\n\r\n');

/**
 * @typedef {object} Connection
 * @property {net.Socket} socket
 * @property {Buffer | undefined} pending Bytes of an answer not complete yet.
 * @property {import('node:http').ServerResponse | undefined} res The response waiting for the answer.
 */

/** @type {Connection[]} */
const idle = [];

/** @returns {Connection} */
function connection() {
  const reused = idle.pop();
  if (reused !== undefined) return reused;
  const socket = net.connect(Number(upstream.port), upstream.hostname);
  socket.setNoDelay(true);
  /** @type {Connection} */
  const conn = { socket, pending: undefined, res: undefined };
  socket.on('data', (data) => {
    read(conn, data);
  });
  const fail = () => {
    const index = idle.indexOf(conn);
    if (index !== -1) idle.splice(index, 1);
    const res = conn.res;
    conn.res = undefined;
    if (res !== undefined && !res.headersSent) {
      res.statusCode = 502;
      res.end();
    }
  };
  socket.on('error', fail);
  socket.on('close', fail);
  return conn;
}

/**
 * @param {Connection} conn
 * @param {Buffer} data
 */
function read(conn, data) {
  const buffer = conn.pending === undefined ? data : Buffer.concat([conn.pending, data]);
  const end = buffer.indexOf(HEAD_END);
  if (end === -1) {
    conn.pending = buffer;
    return;
  }
  const lines = buffer.latin1Slice(0, end).split('\r\n');
  const status = Number((lines[0] ?? '').slice(9, 12));
  /** @type {string[]} */
  const headers = [];
  let length = -1;
  for (let i = 1; i < lines.length; i++) {
    const line = /** @type {string} */ (lines[i]);
    const colon = line.indexOf(':');
    const name = line.slice(0, colon).toLowerCase();
    const value = line.slice(colon + 1).trim();
    if (name === 'content-length') length = Number(value);
    if (!HOP_BY_HOP.has(name)) headers.push(name, value);
  }
  const res = conn.res;
  if (res === undefined) return;
  if (length < 0) {
    conn.res = undefined;
    conn.socket.destroy();
    res.statusCode = 502;
    res.end();
    return;
  }
  const total = end + HEAD_END.length + length;
  if (buffer.length < total) {
    conn.pending = buffer;
    return;
  }
  conn.pending = undefined;
  conn.res = undefined;
  res.writeHead(status, headers);
  res.end(buffer.subarray(end + HEAD_END.length, total));
  idle.push(conn);
}

const server = createServer((req, res) => {
  let head = `${req.method ?? 'GET'} ${req.url ?? '/'} HTTP/1.1\r\n`;
  const raw = req.rawHeaders;
  for (let i = 0; i < raw.length; i += 2) {
    const name = /** @type {string} */ (raw[i]);
    if (!HOP_BY_HOP.has(name.toLowerCase())) head += `${name}: ${String(raw[i + 1])}\r\n`;
  }
  head += `x-forwarded-for: ${req.socket.remoteAddress ?? ''}\r\n\r\n`;
  const conn = connection();
  conn.res = res;
  conn.socket.write(head, 'latin1');
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
    for (const conn of idle) conn.socket.destroy();
    process.exit(0);
  }
});
process.on('disconnect', () => process.exit(0));
