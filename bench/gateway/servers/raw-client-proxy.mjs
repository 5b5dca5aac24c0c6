/**
 * Informative contender, an experiment: the bare proxy of minimal-proxy.mjs with undici replaced by a
 * hand-written HTTP/1.1 keep-alive client on `node:net` (one request per connection at a time, the
 * request head written at once, the answer read by `Content-Length`). It makes the checks a strict
 * client makes on the way up (field names are tokens, values hold no CR, LF or NUL, RFC 9110 §5.5) and on
 * the answer's head (RFC 9112: the status line, field names and values, no obs-fold, one valid
 * `Content-Length`, limits on the head's size and field count); an answer it does not read (no
 * `Content-Length`, `Transfer-Encoding`, anything malformed) is a 502 and closes the connection. It has no
 * timeouts, retries or TLS: not a usable client, a measure of what undici's layer costs a Node.js proxy.
 * Started by ../run.mjs in its own process with `UPSTREAM_URL`; sends `{ type: 'ready', url }` once it
 * listens.
 */
import { createServer } from 'node:http';
import net from 'node:net';

const upstreamUrl = process.env['UPSTREAM_URL'];
if (upstreamUrl === undefined) throw new Error('UPSTREAM_URL is required');
const upstream = new URL(upstreamUrl);

/** RFC 9110 §7.6.1: never forwarded (the upstream's own framing and connection management). */
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'transfer-encoding', 'te', 'trailer', 'upgrade']);
const HEAD_END = Buffer.from('\r\n\r\n');
const MAX_HEAD_BYTES = 16 * 1024;
const MAX_FIELDS = 100;

/** RFC 9110 §5.6.2 tchar: 1 at the char codes a field name may hold. */
const TOKEN = new Uint8Array(256);
for (const c of "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")
  TOKEN[c.charCodeAt(0)] = 1;
/** RFC 9110 §5.5 field-vchar, SP and HTAB (obs-text included): 1 where a field value may hold the code. */
const VALUE = new Uint8Array(256);
VALUE[9] = 1;
for (let c = 0x20; c <= 0xff; c++) if (c !== 0x7f) VALUE[c] = 1;

/** @param {string} text @param {Uint8Array} table @param {number} [from] @param {number} [to] */
function allIn(text, table, from = 0, to = text.length) {
  for (let i = from; i < to; i++) if (table[text.charCodeAt(i)] !== 1) return false;
  return true;
}

/**
 * The answer's head (RFC 9112 §4, §5): `HTTP/1.1 NNN reason`, then `name: value` lines; undefined when
 * anything is malformed.
 * @param {string} head The head without its final CRLF CRLF.
 * @returns {{ status: number, headers: string[], length: number } | undefined}
 */
function parseHead(head) {
  const lines = head.split('\r\n');
  const statusLine = lines[0] ?? '';
  if (
    !statusLine.startsWith('HTTP/1.1 ') ||
    statusLine.length < 12 ||
    (statusLine.length > 12 && statusLine[12] !== ' ')
  )
    return undefined;
  const code = statusLine.slice(9, 12);
  if (!/^[1-9]\d\d$/.test(code) || lines.length - 1 > MAX_FIELDS) return undefined;
  const status = Number(code);
  /** @type {string[]} */
  const headers = [];
  let length = -1;
  for (let i = 1; i < lines.length; i++) {
    const line = /** @type {string} */ (lines[i]);
    const colon = line.indexOf(':');
    // A name is a token right before the colon: no obs-fold (a line starting with SP or HTAB), no
    // whitespace before the colon, no bare CR or LF anywhere (RFC 9112 §5.1, §5.2).
    if (colon <= 0 || !allIn(line, TOKEN, 0, colon) || !allIn(line, VALUE, colon + 1)) return undefined;
    const name = line.slice(0, colon).toLowerCase();
    const value = line.slice(colon + 1).trim();
    if (name === 'transfer-encoding') return undefined;
    if (name === 'content-length') {
      if (length !== -1 || !/^\d{1,15}$/.test(value)) return undefined;
      length = Number(value);
    }
    if (!HOP_BY_HOP.has(name)) headers.push(name, value);
  }
  return { status, headers, length };
}

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
  const res = conn.res;
  if (end === -1 && buffer.length <= MAX_HEAD_BYTES) {
    conn.pending = buffer;
    return;
  }
  const parsed = end === -1 || end > MAX_HEAD_BYTES ? undefined : parseHead(buffer.latin1Slice(0, end));
  if (parsed === undefined || parsed.length < 0 || res === undefined) {
    refuse(conn);
    return;
  }
  const total = end + HEAD_END.length + parsed.length;
  if (buffer.length < total) {
    conn.pending = buffer;
    return;
  }
  // Bytes past the answer: the upstream sent what was not asked for (a desync): not reused.
  if (buffer.length > total) {
    refuse(conn);
    return;
  }
  conn.pending = undefined;
  conn.res = undefined;
  res.writeHead(parsed.status, parsed.headers);
  res.end(buffer.subarray(end + HEAD_END.length, total));
  idle.push(conn);
}

/** An answer this client does not read: 502, and the connection is closed. @param {Connection} conn */
function refuse(conn) {
  const res = conn.res;
  conn.res = undefined;
  conn.pending = undefined;
  conn.socket.destroy();
  if (res !== undefined && !res.headersSent) {
    res.statusCode = 502;
    res.end();
  }
}

const server = createServer((req, res) => {
  let head = `${req.method ?? 'GET'} ${req.url ?? '/'} HTTP/1.1\r\n`;
  const raw = req.rawHeaders;
  for (let i = 0; i < raw.length; i += 2) {
    const name = /** @type {string} */ (raw[i]);
    const value = /** @type {string} */ (raw[i + 1]);
    // What goes up is checked as undici checks it (RFC 9110 §5.1, §5.5): a token name, a value without
    // CR, LF or NUL.
    if (name === '' || !allIn(name, TOKEN) || !allIn(value, VALUE)) {
      res.statusCode = 400;
      res.end();
      return;
    }
    if (!HOP_BY_HOP.has(name.toLowerCase())) head += `${name}: ${value}\r\n`;
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
