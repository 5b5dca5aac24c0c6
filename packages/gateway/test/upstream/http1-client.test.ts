import { once } from 'node:events';
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { Readable } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { Http1Pool, type Http1PoolOptions, type Http1Request } from '../../src/upstream/http1/http1-pool.js';

/**
 * The gateway's HTTP/1.1 upstream client against raw TCP upstreams that answer byte for byte what a
 * test scripts: connection reuse, framing attacks (a smuggled second answer must never become the
 * answer to the next request), requests a conforming client must not send, limits, aborts, closing.
 */

interface RawUpstream {
  readonly url: URL;
  /** Every request head received, per connection, in order. */
  readonly connections: string[][];
  close(): Promise<void>;
}

/** A TCP server answering each request head with `answer(head, index)` (index over all requests). */
async function rawUpstream(
  answer: (head: string, index: number) => string | undefined,
): Promise<RawUpstream> {
  const connections: string[][] = [];
  const sockets = new Set<Socket>();
  let count = 0;
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    const heads: string[] = [];
    connections.push(heads);
    let buffered = '';
    socket.on('data', (data: Buffer) => {
      buffered += data.toString('latin1');
      for (;;) {
        const end = buffered.indexOf('\r\n\r\n');
        if (end === -1) return;
        let head = buffered.slice(0, end);
        let rest = buffered.slice(end + 4);
        const length = /\r\ncontent-length: (\d+)/i.exec(head);
        if (length !== null) {
          const size = Number(length[1]);
          if (rest.length < size) return;
          head += `\r\n\r\n${rest.slice(0, size)}`;
          rest = rest.slice(size);
        } else if (/\r\ntransfer-encoding: chunked/i.test(head)) {
          const last = rest.indexOf('0\r\n\r\n');
          if (last === -1) return;
          head += `\r\n\r\n${rest.slice(0, last + 5)}`;
          rest = rest.slice(last + 5);
        }
        buffered = rest;
        heads.push(head);
        const reply = answer(head, count++);
        if (reply !== undefined) socket.write(reply, 'latin1');
      }
    });
    socket.on('error', () => undefined);
    socket.on('close', () => sockets.delete(socket));
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  return {
    url: new URL(`http://127.0.0.1:${String(port)}`),
    connections,
    async close() {
      for (const socket of sockets) socket.destroy();
      server.close();
      await once(server, 'close');
    },
  };
}

const OK = (body: string): string =>
  `HTTP/1.1 200 OK\r\nContent-Length: ${String(body.length)}\r\n\r\n${body}`;

function poolFor(upstream: RawUpstream, options: Partial<Http1PoolOptions> = {}): Http1Pool {
  const pool = new Http1Pool({
    origin: upstream.url,
    maxConnections: null,
    connectTimeoutMs: 2_000,
    headersTimeoutMs: 2_000,
    bodyTimeoutMs: 2_000,
    keepAliveMs: 4_000,
    ...options,
  });
  pools.push(pool);
  return pool;
}

interface Answer {
  status: number;
  headers: string[];
  body: string;
}

function send(
  pool: Http1Pool,
  request: Partial<Http1Request> = {},
  onConnect?: (abort: (reason: Error) => void) => void,
): Promise<Answer> {
  return new Promise((resolve, reject) => {
    let answer: Answer | undefined;
    pool.dispatch(
      { method: 'GET', path: '/', headers: [], body: null, ...request },
      {
        onConnect(abort) {
          onConnect?.(abort);
        },
        onHeaders(status, headers) {
          answer = { status, headers, body: '' };
          return true;
        },
        onData(chunk) {
          (answer as Answer).body += chunk.toString('latin1');
          return true;
        },
        onComplete() {
          resolve(answer as Answer);
        },
        onError: reject,
      },
    );
  });
}

const pools: Http1Pool[] = [];
const upstreams: RawUpstream[] = [];
afterEach(async () => {
  await Promise.all(pools.splice(0).map((pool) => pool.destroy()));
  await Promise.all(upstreams.splice(0).map((upstream) => upstream.close()));
});

async function start(answer: (head: string, index: number) => string | undefined): Promise<RawUpstream> {
  const upstream = await rawUpstream(answer);
  upstreams.push(upstream);
  return upstream;
}

describe('HTTP/1.1 upstream client: connections', () => {
  it('sends Host and reuses one keep-alive connection for requests in turn', async () => {
    const upstream = await start((_head, i) => OK(`answer ${String(i)}`));
    const pool = poolFor(upstream);
    expect((await send(pool, { path: '/a?x=1' })).body).toBe('answer 0');
    expect((await send(pool, { path: '/b' })).body).toBe('answer 1');
    expect(upstream.connections).toHaveLength(1);
    const [first, second] = upstream.connections[0] as [string, string];
    expect(first).toMatch(/^GET \/a\?x=1 HTTP\/1\.1\r\n/);
    expect(first).toContain(`\r\nhost: ${upstream.url.host}`);
    expect(second).toMatch(/^GET \/b HTTP\/1\.1\r\n/);
  });

  it.each([
    ['Connection: close', 'HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok'],
    ['an HTTP/1.0 answer', 'HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok'],
    [
      'a Keep-Alive timeout of 1 s',
      'HTTP/1.1 200 OK\r\nKeep-Alive: timeout=1\r\nContent-Length: 2\r\n\r\nok',
    ],
  ])('does not reuse a connection after %s', async (_name, reply) => {
    const upstream = await start(() => reply);
    const pool = poolFor(upstream);
    expect((await send(pool)).body).toBe('ok');
    expect((await send(pool)).body).toBe('ok');
    expect(upstream.connections).toHaveLength(2);
  });

  it('closes a connection idle past keepAliveMs and sends the next request on a new one', async () => {
    const upstream = await start(() => OK('ok'));
    const pool = poolFor(upstream, { keepAliveMs: 100 });
    expect((await send(pool)).body).toBe('ok');
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect((await send(pool)).body).toBe('ok');
    expect(upstream.connections).toHaveLength(2);
  });

  it('reads a body that runs to the close, then opens a new connection', async () => {
    const upstream = await start(() => 'HTTP/1.1 200 OK\r\n\r\nto the end');
    const pool = poolFor(upstream);
    // The upstream keeps the connection open: the client waits for the close, which the test makes.
    const pending = send(pool);
    await expect.poll(() => upstream.connections.length).toBe(1);
    await new Promise((resolve) => setTimeout(resolve, 50));
    await upstream.close();
    upstreams.splice(upstreams.indexOf(upstream), 1);
    expect((await pending).body).toBe('to the end');
  });

  it('with maxConnections 1, queues requests and serves them in order on one connection', async () => {
    const upstream = await start((head) => OK(head.split(' ')[1] ?? ''));
    const pool = poolFor(upstream, { maxConnections: 1 });
    const answers = await Promise.all(['/1', '/2', '/3'].map((path) => send(pool, { path })));
    expect(answers.map((a) => a.body)).toEqual(['/1', '/2', '/3']);
    expect(upstream.connections).toHaveLength(1);
  });

  it('sends a buffered body with its length, a POST without one with length 0', async () => {
    const upstream = await start(() => OK('ok'));
    const pool = poolFor(upstream);
    await send(pool, {
      method: 'POST',
      body: Buffer.from('{"a":1}'),
      headers: ['content-type', 'application/json'],
    });
    await send(pool, { method: 'POST' });
    const [withBody, empty] = upstream.connections[0] as [string, string];
    expect(withBody).toContain('\r\ncontent-length: 7\r\n\r\n{"a":1}');
    expect(empty).toContain('\r\ncontent-length: 0');
  });

  it('sends a streamed body chunked', async () => {
    const upstream = await start(() => OK('ok'));
    const pool = poolFor(upstream);
    await send(pool, { method: 'POST', body: Readable.from([Buffer.from('hello '), Buffer.from('world')]) });
    const [head] = upstream.connections[0] as [string];
    expect(head).toContain('\r\ntransfer-encoding: chunked\r\n\r\n6\r\nhello \r\n5\r\nworld\r\n0\r\n\r\n');
  });
});

describe('HTTP/1.1 upstream client: answers that try to desynchronise the connection', () => {
  it('never takes a second answer smuggled after a body as the answer to the next request', async () => {
    const upstream = await start((_head, i) =>
      i === 0
        ? `${OK('first')}HTTP/1.1 200 OK\r\nContent-Length: 8\r\n\r\nsmuggled`
        : OK(`real ${String(i)}`),
    );
    const pool = poolFor(upstream);
    expect((await send(pool)).body).toBe('first');
    const second = await send(pool);
    expect(second.body).toBe('real 1');
    // The poisoned connection was closed; the second request went on a new one.
    expect(upstream.connections).toHaveLength(2);
  });

  it.each([
    [
      'Transfer-Encoding with Content-Length',
      'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n0\r\n\r\n',
    ],
    ['two Content-Length values', 'HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab'],
    ['obs-fold', 'HTTP/1.1 200 OK\r\nX-A: a\r\n b\r\nContent-Length: 0\r\n\r\n'],
    ['a bare LF', 'HTTP/1.1 200 OK\nContent-Length: 0\r\n\r\n'],
    ['a malformed chunk', 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n'],
  ])('refuses an answer with %s and closes the connection', async (_name, reply) => {
    const upstream = await start((_head, i) => (i === 0 ? reply : OK('clean')));
    const pool = poolFor(upstream);
    await expect(send(pool)).rejects.toMatchObject({ code: 'ERR_UPSTREAM_RESPONSE_INVALID' });
    expect((await send(pool)).body).toBe('clean');
    expect(upstream.connections).toHaveLength(2);
  });

  it('fails a body cut short by the close with ERR_UPSTREAM_SOCKET, after the head', async () => {
    const upstream = await start(() => 'HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nhalf');
    const pool = poolFor(upstream, { bodyTimeoutMs: 5_000 });
    const pending = send(pool);
    await expect.poll(() => upstream.connections.length).toBe(1);
    await new Promise((resolve) => setTimeout(resolve, 50));
    await upstream.close();
    upstreams.splice(upstreams.indexOf(upstream), 1);
    await expect(pending).rejects.toMatchObject({ code: 'ERR_UPSTREAM_SOCKET' });
  });
});

describe('HTTP/1.1 upstream client: requests a conforming client must not send', () => {
  const CASES: readonly [string, Partial<Http1Request>][] = [
    ['CR LF in a field value (header injection)', { headers: ['x-a', 'b\r\nx-injected: 1'] }],
    ['LF in a field value', { headers: ['x-a', 'b\nc'] }],
    ['NUL in a field value', { headers: ['x-a', 'b\0c'] }],
    ['a space in a field name', { headers: ['x a', 'b'] }],
    ['a colon in a field name', { headers: ['x:a', 'b'] }],
    ['an empty field name', { headers: ['', 'b'] }],
    ['Transfer-Encoding', { headers: ['transfer-encoding', 'chunked'] }],
    ['Connection', { headers: ['connection', 'upgrade'] }],
    ['Upgrade', { headers: ['upgrade', 'websocket'] }],
    ['two Host fields', { headers: ['host', 'a', 'host', 'b'] }],
    [
      'a Content-Length that is not the body length',
      { method: 'POST', headers: ['content-length', '5'], body: Buffer.from('ab') },
    ],
    [
      'a Content-Length that is not digits (request smuggling)',
      { method: 'POST', headers: ['content-length', '2, 2'], body: Buffer.from('ab') },
    ],
    ['a space in the target', { path: '/a b' }],
    ['CR LF in the target (request splitting)', { path: '/a\r\nGET /admin' }],
    ['a target not starting with /', { path: 'http://evil.example/' }],
    ['non-ASCII in the target', { path: '/caf\u00e9' }],
    ['a space in the method', { method: 'GET /x' }],
  ];

  it.each(CASES)('refuses %s, and sends nothing', async (_name, request) => {
    const upstream = await start(() => OK('ok'));
    const pool = poolFor(upstream);
    await expect(send(pool, request)).rejects.toMatchObject({ code: 'ERR_UPSTREAM_REQUEST_INVALID' });
    expect(upstream.connections).toEqual([]);
  });

  it('fails a streamed body longer than its Content-Length and closes the connection', async () => {
    const upstream = await start(() => OK('ok'));
    const pool = poolFor(upstream);
    await expect(
      send(pool, {
        method: 'PUT',
        headers: ['content-length', '3'],
        body: Readable.from([Buffer.from('abc'), Buffer.from('GET /smuggled HTTP/1.1\r\n\r\n')]),
      }),
    ).rejects.toMatchObject({ code: 'ERR_UPSTREAM_REQUEST_INVALID' });
    expect((await send(pool)).body).toBe('ok');
    expect(upstream.connections.flat().some((head) => head.includes('/smuggled'))).toBe(false);
  });

  it('names the refused field, never its value', async () => {
    const upstream = await start(() => OK('ok'));
    const pool = poolFor(upstream);
    const error = (await send(pool, { headers: ['authorization', 'Bearer secret-token\r\n'] }).catch(
      (err: unknown) => err,
    )) as Error;
    expect(error.message).toContain('authorization');
    expect(error.message).not.toContain('secret-token');
  });
});

describe('HTTP/1.1 upstream client: timeouts, aborts, closing', () => {
  it('times out a head that never comes (ERR_UPSTREAM_HEADERS_TIMEOUT) and a stalled body (ERR_UPSTREAM_BODY_TIMEOUT)', async () => {
    const silent = await start(() => undefined);
    await expect(send(poolFor(silent, { headersTimeoutMs: 100 }))).rejects.toMatchObject({
      code: 'ERR_UPSTREAM_HEADERS_TIMEOUT',
    });
    const stalled = await start(() => 'HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nhalf');
    await expect(send(poolFor(stalled, { bodyTimeoutMs: 100 }))).rejects.toMatchObject({
      code: 'ERR_UPSTREAM_BODY_TIMEOUT',
    });
  });

  it('aborts a queued request without sending it, and an in-flight one by closing its connection', async () => {
    const upstream = await start(() => undefined);
    const pool = poolFor(upstream, { maxConnections: 1 });
    let abortFirst: ((reason: Error) => void) | undefined;
    let abortSecond: ((reason: Error) => void) | undefined;
    const first = send(pool, { path: '/first' }, (abort) => (abortFirst = abort));
    const second = send(pool, { path: '/second' }, (abort) => (abortSecond = abort));
    await expect.poll(() => upstream.connections[0]?.length ?? 0).toBe(1);
    abortSecond?.(new Error('queued request aborted'));
    await expect(second).rejects.toThrow('queued request aborted');
    abortFirst?.(new Error('in-flight request aborted'));
    await expect(first).rejects.toThrow('in-flight request aborted');
    expect(upstream.connections.flat().map((head) => head.split(' ')[1])).toEqual(['/first']);
  });

  it('a closing pool refuses new requests; destroy() fails the one in flight', async () => {
    const upstream = await start(() => undefined);
    const pool = poolFor(upstream);
    const pending = send(pool);
    await expect.poll(() => upstream.connections.length).toBe(1);
    const closed = pool.close();
    await expect(send(pool)).rejects.toMatchObject({ code: 'ERR_UPSTREAM_CLOSED' });
    const failed = expect(pending).rejects.toMatchObject({ code: 'ERR_UPSTREAM_CLOSED' });
    await pool.destroy();
    await failed;
    await closed;
  });
});
