/**
 * The upstream service behind every contender: a minimal node:http server in its own process
 * answering a small JSON body, so what differs between the rows is the proxy alone. Started by
 * ../run.mjs with an IPC channel; sends `{ type: 'ready', url }` once it listens.
 *
 * `GET /check` (used once per contender before the load, never timed) answers what arrived: the
 * names of the request headers and, for a Bearer JWT, its header `typ` and claims `aud` and `scope`
 * (never the token), so the benchmark can check that the gateway forwarded an internal JWT and no
 * external credential.
 */
import { createServer } from 'node:http';

export const BODY = Buffer.from('{"ok":true,"items":[{"id":1,"name":"alpha"},{"id":2,"name":"beta"}]}');

/** @param {string | undefined} authorization */
function describeAuthorization(authorization) {
  if (authorization === undefined) return { kind: 'none' };
  const match = /^Bearer ([\w-]+)\.([\w-]+)\.[\w-]+$/.exec(authorization);
  if (match === null) return { kind: authorization.startsWith('Bearer ') ? 'opaque' : 'other' };
  try {
    const header = JSON.parse(Buffer.from(match[1] ?? '', 'base64url').toString('utf8'));
    const claims = JSON.parse(Buffer.from(match[2] ?? '', 'base64url').toString('utf8'));
    return { kind: 'jwt', typ: header.typ, aud: claims.aud, scope: claims.scope, exp: claims.exp };
  } catch {
    return { kind: 'malformed' };
  }
}

const server = createServer((req, res) => {
  if (req.url === '/check' || req.url?.endsWith('/check') === true) {
    const body = JSON.stringify({
      ok: true,
      path: req.url,
      headers: Object.keys(req.headers).sort(),
      authorization: describeAuthorization(req.headers.authorization),
    });
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
    res.end(body);
    return;
  }
  res.writeHead(200, { 'content-type': 'application/json', 'content-length': BODY.length });
  res.end(BODY);
});
// Idle upstream connections must outlive every proxy's own idle timeout (nginx keeps them 60 s,
// undici 4 s), or a proxy may reuse a connection the upstream is closing.
server.keepAliveTimeout = 120_000;
server.headersTimeout = 125_000;

server.listen(0, '127.0.0.1', () => {
  const address = /** @type {import('node:net').AddressInfo} */ (server.address());
  process.send?.({ type: 'ready', url: `http://127.0.0.1:${String(address.port)}` });
});
process.on('message', (/** @type {{ type: string }} */ message) => {
  if (message.type === 'stop') {
    server.closeAllConnections();
    server.close(() => process.exit(0));
  }
});
process.on('disconnect', () => process.exit(0));
