import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { connect, type AddressInfo, type Socket } from 'node:net';
import { isGatehouseError } from '@gatehouse/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readBody } from './read-body.js';

interface Outcome {
  readonly body?: Buffer;
  readonly error?: unknown;
  /** Listeners left on the request after readBody settled (none of ours may remain). */
  readonly leftover: number;
}

const LIMIT = 16;
const EVENTS = ['data', 'end', 'error', 'close'] as const;

let server: Server;
let port: number;
const outcomes: ((outcome: Outcome) => void)[] = [];
const starts: (() => void)[] = [];

function listeners(req: IncomingMessage): number {
  return EVENTS.reduce((sum, event) => sum + req.listenerCount(event), 0);
}

/** Each request reads its body with LIMIT (or `?limit=n`) and reports what happened. */
function handle(req: IncomingMessage, res: ServerResponse): void {
  const limit = Number(new URL(req.url ?? '/', 'http://x').searchParams.get('limit') ?? LIMIT);
  const before = listeners(req);
  const report = outcomes.shift();
  const body = readBody(req, limit);
  starts.shift()?.();
  body.then(
    (body) => {
      report?.({ body, leftover: listeners(req) - before });
      res.end(`read ${body.length}`);
    },
    (error: unknown) => {
      report?.({ error, leftover: listeners(req) - before });
      if (res.destroyed) return;
      // RFC 9110 §15.5.14: answer and close, so the rest of the body is never read.
      res.writeHead(isGatehouseError(error) ? error.status : 500, { connection: 'close' });
      res.end(isGatehouseError(error) ? error.code : 'error');
    },
  );
}

function nextOutcome(): Promise<Outcome> {
  return new Promise((resolve) => outcomes.push(resolve));
}

/** Resolves once the next request is inside readBody. */
function nextStart(): Promise<void> {
  return new Promise((resolve) => starts.push(resolve));
}

/** Sends raw bytes on a fresh connection and collects everything the server answers until it closes. */
async function exchange(
  parts: readonly string[],
  { end = true } = {},
): Promise<{ socket: Socket; answer: Promise<string> }> {
  const socket = connect(port, '127.0.0.1');
  await once(socket, 'connect');
  let text = '';
  socket.setEncoding('utf8');
  socket.on('data', (chunk: string) => (text += chunk));
  const answer = new Promise<string>((resolve) => {
    socket.on('close', () => {
      resolve(text);
    });
  });
  socket.on('error', () => undefined);
  for (const part of parts) socket.write(part);
  if (end) socket.end();
  return { socket, answer };
}

function codeOf(error: unknown): string | undefined {
  return isGatehouseError(error) ? error.code : undefined;
}

beforeAll(async () => {
  server = createServer(handle);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  port = (server.address() as AddressInfo).port;
});

afterAll(async () => {
  server.closeAllConnections();
  server.close();
  await once(server, 'close');
});

const head = (headers: string, path = '/'): string =>
  `POST ${path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n${headers}\r\n`;

describe('readBody', () => {
  it.each([
    ['a Content-Length body', [head('Content-Length: 5\r\n'), 'hello'], 'hello'],
    ['a body of exactly the limit', [head('Content-Length: 16\r\n'), '0123456789abcdef'], '0123456789abcdef'],
    ['a body sent in pieces', [head('Content-Length: 11\r\n'), 'hel', 'lo ', 'world'], 'hello world'],
    [
      'a chunked body',
      [head('Transfer-Encoding: chunked\r\n'), '5\r\nhello\r\n', '6\r\n world\r\n', '0\r\n\r\n'],
      'hello world',
    ],
    ['no body', [head('')], ''],
    ['an empty chunked body', [head('Transfer-Encoding: chunked\r\n'), '0\r\n\r\n'], ''],
    ['multibyte UTF-8', [head('Content-Length: 6\r\n'), 'café!'], 'café!'],
  ])('reads %s', async (_name, parts, expected) => {
    const outcome = nextOutcome();
    const { answer } = await exchange(parts);
    const { body, error, leftover } = await outcome;
    expect(error).toBeUndefined();
    expect(body?.toString('utf8')).toBe(expected);
    expect(leftover).toBe(0);
    expect(await answer).toContain(`read ${Buffer.byteLength(expected)}`);
  });

  it.each([
    ['a declared length above the limit', [head('Content-Length: 17\r\n'), '0123456789abcdefg']],
    ['a declared huge length, body never sent', [head('Content-Length: 1000000000\r\n')]],
    [
      'a chunked body that grows past the limit',
      [head('Transfer-Encoding: chunked\r\n'), '10\r\n0123456789abcdef\r\n', '1\r\nX\r\n'],
    ],
    [
      'one chunk above the limit',
      [head('Transfer-Encoding: chunked\r\n'), '20\r\n0123456789abcdef0123456789abcdef\r\n'],
    ],
  ])('refuses %s with 413 while the client is still sending', async (_name, parts) => {
    const outcome = nextOutcome();
    // The client never finishes its body: the refusal cannot have waited for the end.
    const { answer } = await exchange(parts, { end: false });
    const { body, error, leftover } = await outcome;
    expect(body).toBeUndefined();
    expect(codeOf(error)).toBe('ERR_GATEWAY_PAYLOAD_TOO_LARGE');
    expect(leftover).toBe(0);
    const text = await answer;
    expect(text).toMatch(/^HTTP\/1\.1 413 /);
    expect(text).toContain('ERR_GATEWAY_PAYLOAD_TOO_LARGE');
  });

  it('a zero limit accepts an empty body only', async () => {
    const empty = nextOutcome();
    await exchange([head('Content-Length: 0\r\n', '/?limit=0')]);
    expect((await empty).body?.length).toBe(0);
    const one = nextOutcome();
    await exchange([head('Transfer-Encoding: chunked\r\n', '/?limit=0'), '1\r\nX\r\n'], { end: false });
    expect(codeOf((await one).error)).toBe('ERR_GATEWAY_PAYLOAD_TOO_LARGE');
  });

  it.each([
    ['a Content-Length body cut short', [head('Content-Length: 10\r\n'), 'abc']],
    ['a chunked body cut short', [head('Transfer-Encoding: chunked\r\n'), '5\r\nhel']],
  ])('refuses %s with ERR_GATEWAY_BAD_REQUEST', async (_name, parts) => {
    const outcome = nextOutcome();
    const started = nextStart();
    const { socket } = await exchange(parts, { end: false });
    // Once the server is reading the body, the client vanishes mid-body.
    await started;
    socket.destroy();
    const { body, error, leftover } = await outcome;
    expect(body).toBeUndefined();
    expect(codeOf(error)).toBe('ERR_GATEWAY_BAD_REQUEST');
    expect(leftover).toBe(0);
  });
});

describe('readBody misuse', () => {
  let misuse: Server;
  let misusePort: number;
  const results: ((value: unknown) => void)[] = [];

  beforeAll(async () => {
    misuse = createServer((req, res) => {
      const report = results.shift();
      void (async () => {
        try {
          if (req.url === '/twice') await readBody(req, 100);
          await (req.url === '/nan' ? readBody(req, Number.NaN) : readBody(req, 100));
          report?.('resolved');
        } catch (error: unknown) {
          report?.(error);
        }
        res.end();
      })();
    });
    misuse.listen(0, '127.0.0.1');
    await once(misuse, 'listening');
    misusePort = (misuse.address() as AddressInfo).port;
  });

  afterAll(async () => {
    misuse.closeAllConnections();
    misuse.close();
    await once(misuse, 'close');
  });

  async function call(path: string): Promise<unknown> {
    const result = new Promise((resolve) => results.push(resolve));
    await fetch(`http://127.0.0.1:${misusePort}${path}`, { method: 'POST', body: 'abc' });
    return result;
  }

  it('refuses an invalid limit', async () => {
    expect(await call('/nan')).toBeInstanceOf(TypeError);
  });

  it('refuses a body that was already read', async () => {
    const error = await call('/twice');
    expect(codeOf(error)).toBe('ERR_GATEWAY_BAD_REQUEST');
  });
});
