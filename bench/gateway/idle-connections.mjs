/**
 * Opens many keep-alive connections to a contender, sends one request on each (so every socket has
 * gone through the whole request path and sits idle in the server's keep-alive state), and keeps
 * them open until released: the memory a server holds per idle client connection.
 */
import net from 'node:net';

/**
 * One request on a fresh connection; resolves with the socket (still open) once the whole response
 * has arrived.
 * @param {URL} url
 * @param {string} requestText
 * @returns {Promise<net.Socket>}
 */
function requestOnNewSocket(url, requestText) {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: url.hostname, port: Number(url.port) });
    /** @type {Buffer[]} */
    const chunks = [];
    let received = 0;
    const fail = (/** @type {Error} */ err) => {
      socket.destroy();
      reject(err);
    };
    socket.setTimeout(10_000, () => fail(new Error('no response within 10 s')));
    socket.once('error', fail);
    socket.on('data', (chunk) => {
      chunks.push(chunk);
      received += chunk.length;
      const data = Buffer.concat(chunks, received);
      const end = data.indexOf('\r\n\r\n');
      if (end === -1) return;
      const head = data.subarray(0, end).toString('latin1');
      const length = /\r\ncontent-length:\s*(\d+)/i.exec(head);
      if (length === null)
        return fail(new Error(`no content-length in the response: ${head.split('\r\n')[0] ?? ''}`));
      if (data.length < end + 4 + Number(length[1])) return;
      const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(head)?.[1]);
      socket.removeAllListeners('data');
      socket.removeListener('error', fail);
      socket.setTimeout(0);
      // Later errors (the server closing an idle connection) are counted by the caller.
      socket.on('error', () => {});
      if (status !== 200) return fail(new Error(`status ${String(status)}`));
      resolve(socket);
    });
    socket.once('connect', () => socket.write(requestText));
  });
}

/**
 * @typedef {object} IdleConnections
 * @property {number} open Sockets still open now.
 * @property {number} opened Sockets that got their response.
 * @property {() => void} close Destroys every socket.
 */

/**
 * Opens `count` connections, `concurrency` at a time, each with one GET of `path`.
 * @param {{ url: string, path: string, headers: Record<string, string>, count: number, concurrency: number }} options
 * @returns {Promise<IdleConnections>}
 */
export async function openIdleConnections({ url, path, headers, count, concurrency }) {
  const target = new URL(url);
  const lines = [`GET ${path} HTTP/1.1`, `host: ${target.host}`, 'connection: keep-alive'];
  for (const [name, value] of Object.entries(headers)) lines.push(`${name}: ${value}`);
  const requestText = `${lines.join('\r\n')}\r\n\r\n`;
  /** @type {net.Socket[]} */
  const sockets = [];
  let next = 0;
  /** @type {Error | undefined} */
  let firstError;
  const worker = async () => {
    while (next < count && firstError === undefined) {
      next++;
      try {
        sockets.push(await requestOnNewSocket(target, requestText));
      } catch (err) {
        firstError ??= /** @type {Error} */ (err);
      }
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  const close = () => {
    for (const socket of sockets) socket.destroy();
  };
  if (firstError !== undefined) {
    close();
    throw firstError;
  }
  return {
    get open() {
      return sockets.filter((s) => !s.destroyed && s.readyState === 'open').length;
    },
    opened: sockets.length,
    close,
  };
}
