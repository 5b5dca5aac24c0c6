import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { sendRaw } from './raw-http.js';
import { startRecordingUpstream, type RecordingUpstream } from './recording-upstream.js';

describe('sendRaw', () => {
  const cleanups: Array<() => Promise<void>> = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0)) await cleanup();
  });

  async function startUpstream(): Promise<RecordingUpstream> {
    const upstream = await startRecordingUpstream();
    cleanups.push(() => upstream.close());
    return upstream;
  }

  async function listen(onData: (socket: Socket) => void): Promise<number> {
    const sockets = new Set<Socket>();
    // allowHalfOpen: our half-close alone does not make the server close.
    const server: Server = createServer({ allowHalfOpen: true }, (socket) => {
      sockets.add(socket);
      socket.once('data', () => onData(socket));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    cleanups.push(
      () =>
        new Promise<void>((resolve) => {
          for (const socket of sockets) socket.destroy();
          server.close(() => resolve());
        }),
    );
    return (server.address() as AddressInfo).port;
  }

  it('sends a request byte for byte and reads the whole answer', async () => {
    const upstream = await startUpstream();
    const result = await sendRaw(upstream.port, 'GET /a?b=1 HTTP/1.1\r\nHost: x\r\nX-Raw: 1\r\n\r\n');
    expect(result.status).toBe(200);
    expect(result.raw).toContain('{"method":"GET","url":"/a?b=1"}');
    expect(result.closed).toBe(true);
    expect(upstream.requests).toHaveLength(1);
    expect(upstream.requests[0]?.rawHeaders).toEqual(['Host', 'x', 'X-Raw', '1']);
  });

  it('sends bytes an HTTP client would refuse to (here refused by the strict parser)', async () => {
    const upstream = await startUpstream();
    const result = await sendRaw(
      upstream.port,
      Buffer.from(
        'POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n',
      ),
    );
    expect(result.status).toBe(400);
    expect(upstream.requests).toEqual([]);
  });

  it('reports no status when the server says nothing', async () => {
    const port = await listen((socket) => socket.destroy());
    expect(await sendRaw(port, 'garbage\r\n\r\n')).toEqual({ status: undefined, raw: '', closed: true });
  });

  it('keeps the connection open and sees the server give up first', async () => {
    const port = await listen((socket) => socket.end('HTTP/1.1 408 Request Timeout\r\n\r\n'));
    const result = await sendRaw(port, 'GET / HTTP/1.1\r\nHost: x\r\n', { keepOpenMs: 10_000 });
    expect(result).toMatchObject({ status: 408, closed: true });
  });

  it('gives up after keepOpenMs when the server keeps waiting', async () => {
    const port = await listen(() => undefined);
    const result = await sendRaw(port, 'GET / HTTP/1.1\r\n', { keepOpenMs: 50, host: '127.0.0.1' });
    expect(result).toEqual({ status: undefined, raw: '', closed: false });
  });

  it('gives up after timeoutMs when the server never closes', async () => {
    const port = await listen(() => undefined);
    expect((await sendRaw(port, 'x', { timeoutMs: 50 })).closed).toBe(false);
  });

  it('rejects when nothing listens', async () => {
    const port = await listen(() => undefined);
    await cleanups.pop()?.();
    await expect(sendRaw(port, 'x')).rejects.toThrow(/ECONNREFUSED/);
  });
});
