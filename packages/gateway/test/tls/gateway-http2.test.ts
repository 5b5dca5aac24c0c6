import type { IncomingMessage, ServerResponse } from 'node:http';
import {
  connect as h2connect,
  constants,
  type ClientHttp2Session,
  type OutgoingHttpHeaders,
} from 'node:http2';
import { request as httpsRequest } from 'node:https';
import { connect as tlsConnect } from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PATH_CASES, PATH_MAX_URL, PATH_REFUSALS } from '../attacks/path-cases.js';
import {
  connectRawH2,
  frame,
  FRAME,
  FLAG,
  H2_ERROR,
  headerBlock,
  headerFrames,
  resetFrame,
  type RawH2Connection,
} from '../support/raw-h2.js';
import type { RecordingUpstream } from '../support/recording-upstream.js';
import { startTlsGateway, type TlsGateway } from '../support/tls-gateway.js';

/**
 * HTTP/2 at the gateway (issue 9): h2 by ALPN with HTTP/1.1 fallback, the same canonical-path, header and
 * limit rules as HTTP/1.1, and the HTTP/2-specific attacks refused — each over a real TLS connection, with the
 * recording upstream checked to have received nothing of a refused request.
 */

const LIMITS = {
  maxUrlLength: PATH_MAX_URL,
  maxHeaderCount: 20,
  maxHeaderBytes: 4096,
  maxConcurrentStreams: 8,
  requestTimeoutMs: 1500,
  headersTimeoutMs: 1000,
  keepAliveTimeoutMs: 1000,
};
const SLOW_MS = 400;

const routes = [
  {
    id: 'public',
    match: { pathPrefix: '/public' },
    upstream: 'app',
    auth: 'none' as const,
    deny: { path: ['^/public/internal(/|$)'] },
    allowCookies: true,
    maxBodyBytes: 1024,
  },
  {
    id: 'accounts',
    match: { pathPrefix: '/api/accounts' },
    upstream: 'app',
    auth: 'none' as const,
    stripPrefix: '/api/accounts',
    addPrefix: '/accounts',
  },
  { id: 'slow', match: { pathPrefix: '/slow' }, upstream: 'app', auth: 'none' as const },
];

/** The upstream echoes; under `/slow` it answers after SLOW_MS. */
const upstreamOptions = {
  handler: (req: IncomingMessage, res: ServerResponse) => {
    const answer = (): void => {
      if (res.destroyed) return;
      const body = JSON.stringify({ method: req.method, url: req.url });
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
      res.end(body);
    };
    if (req.url?.startsWith('/slow') === true) setTimeout(answer, SLOW_MS);
    else answer();
  },
};

interface H2Answer {
  readonly status: number;
  readonly headers: Readonly<Record<string, string | string[] | number | undefined>>;
  readonly body: string;
}

/** One request on `session`; a stream reset or session error rejects with the error. */
function h2request(
  session: ClientHttp2Session,
  headers: OutgoingHttpHeaders,
  body?: string | Buffer,
): Promise<H2Answer> {
  return new Promise((resolve, reject) => {
    const stream = session.request(headers, { endStream: body === undefined });
    let status = 0;
    let responseHeaders: H2Answer['headers'] = {};
    const chunks: Buffer[] = [];
    stream.on('response', (received) => {
      status = Number(received[':status']);
      responseHeaders = received;
    });
    stream.on('data', (chunk: Buffer) => chunks.push(chunk));
    stream.on('end', () =>
      resolve({ status, headers: responseHeaders, body: Buffer.concat(chunks).toString() }),
    );
    stream.on('error', reject);
    if (body !== undefined) stream.end(body);
  });
}

function problemCode(answer: H2Answer): string | undefined {
  return (JSON.parse(answer.body) as { code?: string }).code;
}

let stack: TlsGateway;
let upstream: RecordingUpstream;
let origin = '';
let port = 0;
let current: ClientHttp2Session | undefined;

/** The suite's shared connection, opened again when the gateway closed the previous one (idle GOAWAY). */
function session(): ClientHttp2Session {
  if (current === undefined || current.closed || current.destroyed) {
    current = h2connect(origin, { ca: stack.ca.certPem });
    current.on('error', () => {});
  }
  return current;
}

beforeAll(async () => {
  stack = await startTlsGateway('h2', {}, { limits: LIMITS, routes }, { upstream: upstreamOptions });
  upstream = stack.upstream;
  origin = stack.gateway.url.replace('127.0.0.1', 'localhost');
  port = Number(new URL(origin).port);
});

afterAll(async () => {
  current?.close();
  await stack.close();
});

async function until(condition: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** Runs `send`, then checks the upstream received nothing meanwhile. */
async function expectNothingForwarded<T>(send: () => Promise<T>): Promise<T> {
  const before = upstream.requests.length;
  const result = await send();
  // Anything forwarded would have arrived by the time the refusal did; give a straggler a moment anyway.
  await new Promise((resolve) => setTimeout(resolve, 20));
  expect(upstream.requests.length).toBe(before);
  return result;
}

/** Writes `request` on a TLS connection that asked for HTTP/1.1 by ALPN; resolves to all it received. */
function exchangeHttp1(request: string): Promise<string> {
  return new Promise<string>((resolve, reject) => {
    const socket = tlsConnect(
      { port, host: '127.0.0.1', servername: 'localhost', ca: stack.ca.certPem, ALPNProtocols: ['http/1.1'] },
      () => socket.write(request),
    );
    let received = '';
    socket.on('data', (chunk: Buffer) => (received += chunk.toString('latin1')));
    socket.on('close', () => resolve(received));
    socket.on('error', reject);
  });
}

function alpnOf(protocols: string[] | undefined): Promise<string | false | null> {
  return new Promise((resolve, reject) => {
    const socket = tlsConnect(
      {
        port,
        host: '127.0.0.1',
        servername: 'localhost',
        ca: stack.ca.certPem,
        ...(protocols === undefined ? {} : { ALPNProtocols: protocols }),
      },
      () => {
        resolve(socket.alpnProtocol);
        socket.destroy();
      },
    );
    socket.on('error', reject);
  });
}

describe('HTTP/2 by ALPN, HTTP/1.1 for the rest', () => {
  it.each([
    { offered: ['h2', 'http/1.1'], chosen: 'h2' },
    { offered: ['http/1.1', 'h2'], chosen: 'h2' },
    { offered: ['http/1.1'], chosen: 'http/1.1' },
    { offered: undefined, chosen: false },
  ])('a client offering $offered gets $chosen', async ({ offered, chosen }) => {
    expect(await alpnOf(offered)).toBe(chosen);
  });

  it('serves a client without ALPN over HTTP/1.1 (the fallback keeps the HTTP/1.1 rules)', async () => {
    const status = await new Promise<number>((resolve, reject) => {
      httpsRequest(`${origin}/public/one`, { ca: stack.ca.certPem, agent: false }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      })
        .on('error', reject)
        .end();
    });
    expect(status).toBe(200);
    expect(upstream.requests.at(-1)?.url).toBe('/public/one');
  });

  it('refuses an h2c upgrade on the HTTP/1.1 fallback (RFC 9113 §3.1: h2c is gone)', async () => {
    const raw = await exchangeHttp1(
      'GET /public/x HTTP/1.1\r\nHost: localhost\r\nConnection: Upgrade, HTTP2-Settings\r\n' +
        'Upgrade: h2c\r\nHTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA\r\n\r\n',
    );
    expect(raw).toMatch(/^HTTP\/1\.1 400 /);
    expect(raw).not.toContain('101 Switching Protocols');
  });
});

describe('proxying over HTTP/2', () => {
  it('answers from the upstream; the upstream gets HTTP/1.1 with the client host, no pseudo-headers', async () => {
    const answer = await h2request(session(), {
      ':path': '/public/hello?x=1',
      cookie: ['a=1', 'b=2'],
      'x-custom': 'kept',
    });
    expect(answer.status).toBe(200);
    expect(JSON.parse(answer.body)).toEqual({ method: 'GET', url: '/public/hello?x=1' });
    expect(answer.headers['strict-transport-security']).toBe('max-age=31536000; includeSubDomains');
    expect(answer.headers['x-request-id']).toMatch(/./);
    const received = upstream.requests.at(-1);
    expect(received?.rawHeaders.filter((_, i) => i % 2 === 0).some((name) => name.startsWith(':'))).toBe(
      false,
    );
    expect(received?.headers['x-forwarded-proto']).toBe('https');
    expect(received?.headers['x-forwarded-host']).toBe(`localhost:${port}`);
    expect(received?.headers.forwarded).toContain('proto=https');
    expect(received?.headers.host).toBe(new URL(upstream.url).host);
    // RFC 9113 §8.2.3: cookie crumbs become one Cookie field.
    expect(received?.headers.cookie).toBe('a=1; b=2');
    expect(received?.headers['x-custom']).toBe('kept');
  });

  it('forwards a body sent in DATA frames without Content-Length, with its length', async () => {
    const body = JSON.stringify({ hello: 'world' });
    const answer = await h2request(
      session(),
      { ':method': 'POST', ':path': '/public/echo', 'content-type': 'application/json' },
      body,
    );
    expect(answer.status).toBe(200);
    const received = upstream.requests.at(-1);
    expect(received?.body.toString()).toBe(body);
    expect(received?.headers['content-length']).toBe(String(Buffer.byteLength(body)));
  });

  it('runs requests side by side on one connection', async () => {
    const answers = await Promise.all(
      Array.from({ length: 6 }, (_, i) => h2request(session(), { ':path': `/slow/${i}` })),
    );
    expect(answers.map((a) => a.status)).toEqual([200, 200, 200, 200, 200, 200]);
  });
});

describe('the HTTP/1.1 path table, over HTTP/2', () => {
  // RFC 9113 §8.3.1: :path is origin-form (or `*` for OPTIONS); nghttp2 resets the stream of any other form.
  const absoluteForm = (target: string): boolean => /^[a-z]+:/i.test(target);
  it.each(PATH_CASES.filter((c) => c.verdict !== 'malformed' && !absoluteForm(c.target)))(
    '$name',
    async ({ target, method, verdict }) => {
      const answer = await expectNothingForwarded(() =>
        h2request(session(), { ':method': method, ':path': target }),
      );
      expect(answer.status).toBe(PATH_REFUSALS[verdict].status);
      expect(problemCode(answer)).toBe(PATH_REFUSALS[verdict].code);
    },
  );
  it.each(PATH_CASES.filter((c) => absoluteForm(c.target)))('$name: stream reset', async ({ target }) => {
    await expectNothingForwarded(() =>
      expect(h2request(session(), { ':path': target })).rejects.toThrow(/NGHTTP2_PROTOCOL_ERROR/),
    );
  });

  // Bytes no request line may carry (refused by Node's HTTP/1.1 parser): over HTTP/2, nghttp2 resets the
  // stream of a :path it finds malformed (RFC 9113 §8.3.1); what it lets through, the canonicalizer refuses.
  it.each(PATH_CASES.filter((c) => c.verdict === 'malformed'))('$name: refused', async ({ target }) => {
    const connection = await connectRawH2(port, stack.ca.certPem);
    try {
      await expectNothingForwarded(async () => {
        connection.send(
          frame(FRAME.HEADERS, FLAG.END_HEADERS | FLAG.END_STREAM, 1, headerBlock(pseudo('GET', target))),
        );
        await connection.until(() => connection.resetCode(1) !== undefined || connection.answered(1));
      });
      if (connection.answered(1)) expect(connection.status(1)).toBe(400);
      else expect(connection.resetCode(1)).toBe(H2_ERROR.PROTOCOL_ERROR);
    } finally {
      connection.close();
    }
  });
});

describe('HTTP/1.1 limits and rules, over HTTP/2', () => {
  const many = (count: number, size: number): Record<string, string> =>
    Object.fromEntries(Array.from({ length: count }, (_, i) => [`x-field-${i}`, 'v'.repeat(size)]));
  it.each([
    {
      name: 'one field more than maxHeaderCount',
      headers: { ':path': '/public/x', ...many(LIMITS.maxHeaderCount + 1, 1) },
      status: 431,
      code: 'ERR_GATEWAY_HEADERS_TOO_LARGE',
    },
    {
      name: 'fields adding up past maxHeaderBytes',
      headers: { ':path': '/public/x', ...many(4, 1100) },
      status: 431,
      code: 'ERR_GATEWAY_HEADERS_TOO_LARGE',
    },
    {
      name: 'TRACE',
      headers: { ':method': 'TRACE', ':path': '/public/x' },
      status: 405,
      code: 'ERR_GATEWAY_METHOD_NOT_ALLOWED',
    },
    {
      name: 'CONNECT (RFC 9113 §8.5: a tunnel is never proxied)',
      headers: { ':method': 'CONNECT', ':authority': `localhost:${port}` },
      status: 405,
      code: 'ERR_GATEWAY_METHOD_NOT_ALLOWED',
    },
    {
      name: ':authority and Host naming different hosts (RFC 9113 §8.3.1)',
      headers: { ':path': '/public/x', ':authority': 'localhost', host: 'internal.example' },
      status: 400,
      code: 'ERR_GATEWAY_BAD_REQUEST',
    },
    {
      name: ':scheme http on the TLS listener',
      headers: { ':path': '/public/x', ':scheme': 'http' },
      status: 400,
      code: 'ERR_GATEWAY_BAD_REQUEST',
    },
    {
      name: 'Host that is not host[:port]',
      headers: { ':path': '/public/x', host: 'user@internal.example' },
      status: 400,
      code: 'ERR_GATEWAY_BAD_REQUEST',
    },
    {
      name: 'Content-Length over the route limit',
      headers: { ':method': 'POST', ':path': '/public/x', 'content-length': '2048' },
      body: 'x'.repeat(2048),
      status: 413,
      code: 'ERR_GATEWAY_PAYLOAD_TOO_LARGE',
    },
    {
      name: 'DATA frames over the route limit, no Content-Length',
      headers: { ':method': 'POST', ':path': '/public/x', 'content-type': 'application/json' },
      body: `"${'x'.repeat(2048)}"`,
      status: 413,
      code: 'ERR_GATEWAY_PAYLOAD_TOO_LARGE',
    },
    {
      name: 'JSON nested too deep',
      headers: { ':method': 'POST', ':path': '/public/x', 'content-type': 'application/json' },
      body: `${'['.repeat(40)}${']'.repeat(40)}`,
      status: 400,
      code: 'ERR_GATEWAY_JSON_LIMIT',
    },
  ])('$name: $status', async ({ headers, body, status, code }) => {
    // Each case on its own connection: a refusal mid-body must not disturb the shared one.
    const own = h2connect(origin, { ca: stack.ca.certPem });
    own.on('error', () => {});
    try {
      const answer = await expectNothingForwarded(() => h2request(own, headers, body));
      expect(answer.status).toBe(status);
      expect(problemCode(answer)).toBe(code);
    } finally {
      own.close();
    }
  });
});

/** The pseudo-header fields of a well-formed request (RFC 9113 §8.3.1), in order. */
function pseudo(method: string, path: string): [string, string][] {
  return [
    [':method', method],
    [':scheme', 'https'],
    [':authority', 'localhost'],
    [':path', path],
  ];
}

describe('malformed HTTP/2 requests never reach the pipeline (RFC 9113 §8.1.1)', () => {
  const request = pseudo('GET', '/public/x');
  it.each([
    {
      name: 'pseudo-header after a regular field',
      fields: [...request.slice(0, 3), ['x-a', '1'], request[3]],
    },
    { name: 'unknown pseudo-header', fields: [...request, [':evil', '1']] },
    { name: 'response pseudo-header in a request', fields: [...request, [':status', '200']] },
    { name: 'upper-case field name', fields: [...request, ['X-Upper', '1']] },
    { name: 'Connection (connection-specific, §8.2.2)', fields: [...request, ['connection', 'close']] },
    { name: 'Transfer-Encoding', fields: [...request, ['transfer-encoding', 'chunked']] },
    { name: 'Upgrade', fields: [...request, ['upgrade', 'h2c']] },
    { name: 'Keep-Alive', fields: [...request, ['keep-alive', 'timeout=5']] },
    { name: 'TE other than trailers', fields: [...request, ['te', 'gzip']] },
    { name: ':path repeated', fields: [...request, [':path', '/admin']] },
    {
      name: 'Host repeated',
      fields: [...request.slice(0, 2), request[3], ['host', 'localhost'], ['host', 'internal.example']],
    },
    { name: ':authority repeated', fields: [...request, [':authority', 'internal.example']] },
    { name: ':path missing', fields: request.slice(0, 3) },
    { name: ':method missing', fields: request.slice(1) },
    { name: ':path empty', fields: [...request.slice(0, 3), [':path', '']] },
    { name: ':protocol (extended CONNECT is not enabled)', fields: [...request, [':protocol', 'websocket']] },
  ] as { name: string; fields: [string, string][] }[])('$name: stream reset', async ({ fields }) => {
    const connection = await connectRawH2(port, stack.ca.certPem);
    try {
      await expectNothingForwarded(async () => {
        connection.send(frame(FRAME.HEADERS, FLAG.END_HEADERS | FLAG.END_STREAM, 1, headerBlock(fields)));
        await connection.until(() => connection.resetCode(1) !== undefined || connection.answered(1));
      });
      expect(connection.answered(1)).toBe(false);
      expect(connection.resetCode(1)).toBe(H2_ERROR.PROTOCOL_ERROR);
    } finally {
      connection.close();
    }
  });

  // nghttp2 drops such a field instead of refusing the request (RFC 9113 §8.2.1 calls the request malformed):
  // either way the field never reaches the pipeline nor the upstream.
  it('field values with CR LF, NUL or edge whitespace are dropped before the pipeline', async () => {
    const connection = await connectRawH2(port, stack.ca.certPem);
    try {
      connection.send(
        frame(
          FRAME.HEADERS,
          FLAG.END_HEADERS | FLAG.END_STREAM,
          1,
          headerBlock([
            ...pseudo('GET', '/public/dropped'),
            ['x-crlf', 'b\r\nx-injected: 1'],
            ['x-nul', 'a\u0000b'],
            ['x-space', ' padded '],
          ]),
        ),
      );
      await connection.until(() => connection.answered(1));
      await until(() => upstream.requests.at(-1)?.url === '/public/dropped');
      const names = upstream.requests.at(-1)?.rawHeaders.filter((_, i) => i % 2 === 0) ?? [];
      expect(names).not.toContain('x-crlf');
      expect(names).not.toContain('x-injected');
      expect(names).not.toContain('x-nul');
      expect(names).not.toContain('x-space');
    } finally {
      connection.close();
    }
  });

  it('a body longer than its Content-Length: stream reset, nothing forwarded', async () => {
    const connection = await connectRawH2(port, stack.ca.certPem);
    try {
      await expectNothingForwarded(async () => {
        connection.send([
          frame(
            FRAME.HEADERS,
            FLAG.END_HEADERS,
            1,
            headerBlock([...pseudo('POST', '/public/x'), ['content-length', '3']]),
          ),
          frame(FRAME.DATA, FLAG.END_STREAM, 1, Buffer.from('"abcdef"')),
        ]);
        await connection.until(() => connection.resetCode(1) !== undefined || connection.answered(1));
      });
      expect(connection.resetCode(1)).toBe(H2_ERROR.PROTOCOL_ERROR);
    } finally {
      connection.close();
    }
  });
});

describe('HTTP/2 resource attacks', () => {
  async function withRaw(run: (connection: RawH2Connection) => Promise<void>): Promise<void> {
    const connection = await connectRawH2(port, stack.ca.certPem);
    try {
      await run(connection);
    } finally {
      connection.close();
    }
  }

  const bigFields = (count: number): [string, string][] =>
    Array.from({ length: count }, (_, i): [string, string] => [`x-big-${i}`, 'a'.repeat(8000)]);

  it('a header list past the advertised SETTINGS_MAX_HEADER_LIST_SIZE is refused before the pipeline', async () => {
    await withRaw(async (connection) => {
      await connection.settled();
      const block = headerBlock([...pseudo('GET', '/public/x'), ...bigFields(2)]);
      await expectNothingForwarded(async () => {
        connection.send(headerFrames(1, block, true, 16_000));
        await connection.until(() => connection.resetCode(1) !== undefined || connection.answered(1));
      });
      expect(connection.answered(1)).toBe(false);
      expect(connection.resetCode(1)).toBe(H2_ERROR.ENHANCE_YOUR_CALM);
    });
  });

  // Until the client acknowledges the SETTINGS, nghttp2 cannot hold it to them (RFC 9113 §6.5.3); Node still
  // refuses to decode a header list past its own ceiling (about 128 KiB) and ends the connection.
  it('a header list far past the limit, sent before the SETTINGS took effect: connection ended', async () => {
    await withRaw(async (connection) => {
      const block = headerBlock([...pseudo('GET', '/public/x'), ...bigFields(32)]);
      await expectNothingForwarded(async () => {
        connection.send(headerFrames(1, block, true, 16_000));
        await connection.until(() => connection.goaway() !== undefined || connection.answered(1));
      });
      expect(connection.answered(1)).toBe(false);
      expect(connection.goaway()).toBeDefined();
    });
  });

  it('more header fields than the list may hold: refused before the pipeline', async () => {
    await withRaw(async (connection) => {
      const fields = Array.from({ length: 200 }, (_, i): [string, string] => [`x-f-${i}`, 'v']);
      await expectNothingForwarded(async () => {
        connection.send(
          frame(
            FRAME.HEADERS,
            FLAG.END_HEADERS | FLAG.END_STREAM,
            1,
            headerBlock([...pseudo('GET', '/public/x'), ...fields]),
          ),
        );
        await connection.until(() => connection.resetCode(1) !== undefined || connection.answered(1));
      });
      expect(connection.answered(1)).toBe(false);
      expect(connection.resetCode(1)).toBe(H2_ERROR.ENHANCE_YOUR_CALM);
    });
  });

  it.each([
    {
      name: 'CONTINUATION flood (CVE-2024-27983 class)',
      field: (i: number) => headerBlock([[`x-c${i}`, 'v']]),
    },
    { name: 'empty CONTINUATION flood', field: () => Buffer.alloc(0) },
  ])('$name: the connection is closed, nothing forwarded', async ({ field }) => {
    await withRaw(async (connection) => {
      await expectNothingForwarded(async () => {
        connection.send(frame(FRAME.HEADERS, 0, 1, headerBlock(pseudo('GET', '/public/x'))));
        let sent = 0;
        // Stops once the server has had enough: a well-behaved server ends the connection long before.
        for (; sent < 20_000 && !connection.closed && connection.goaway() === undefined; sent++) {
          connection.send(frame(FRAME.CONTINUATION, 0, 1, field(sent)));
          if (sent % 500 === 499) await new Promise((resolve) => setImmediate(resolve));
        }
        await connection.until(() => connection.closed, 5000);
      });
      expect(connection.closed).toBe(true);
      expect(connection.answered(1)).toBe(false);
    });
    // The gateway itself is unharmed.
    expect((await h2request(session(), { ':path': '/public/after-flood' })).status).toBe(200);
  });

  it('Rapid Reset (CVE-2023-44487): GOAWAY ENHANCE_YOUR_CALM, the upstream spared', async () => {
    const before = upstream.requests.length;
    await withRaw(async (connection) => {
      let stream = 1;
      for (let i = 0; i < 2000 && !connection.closed && connection.goaway() === undefined; i++, stream += 2) {
        connection.send([
          frame(
            FRAME.HEADERS,
            FLAG.END_HEADERS | FLAG.END_STREAM,
            stream,
            headerBlock(pseudo('GET', '/slow/r')),
          ),
          resetFrame(stream, H2_ERROR.CANCEL),
        ]);
        if (i % 50 === 49) await new Promise((resolve) => setImmediate(resolve));
      }
      await connection.until(() => connection.goaway() !== undefined, 5000);
      // nghttp2 answers GOAWAY ENHANCE_YOUR_CALM, then node destroys the socket. With the flood's
      // frames still unread on the gateway's side, its kernel closes with a TCP reset, and a reset
      // discards what this side received but had not read yet: sometimes the GOAWAY itself.
      const goaway = connection.goaway();
      if (goaway === undefined) expect([connection.closed, connection.error]).toEqual([true, 'ECONNRESET']);
      else expect(goaway.code).toBe(H2_ERROR.ENHANCE_YOUR_CALM);
    });
    await new Promise((resolve) => setTimeout(resolve, SLOW_MS + 100));
    // Each reset stream cancels its upstream call; at most a burst's worth got that far.
    expect(upstream.requests.length - before).toBeLessThanOrEqual(4 * LIMITS.maxConcurrentStreams);
    expect((await h2request(session(), { ':path': '/public/after-reset' })).status).toBe(200);
  });

  it('streams beyond maxConcurrentStreams are refused (REFUSED_STREAM), the others answered', async () => {
    await withRaw(async (connection) => {
      const streams = Array.from({ length: LIMITS.maxConcurrentStreams + 4 }, (_, i) => 2 * i + 1);
      connection.send(
        streams.map((id) =>
          frame(
            FRAME.HEADERS,
            FLAG.END_HEADERS | FLAG.END_STREAM,
            id,
            headerBlock(pseudo('GET', `/slow/${id}`)),
          ),
        ),
      );
      await connection.until(() =>
        streams.every((id) => connection.answered(id) || connection.resetCode(id) !== undefined),
      );
      const refused = streams.filter((id) => connection.resetCode(id) === H2_ERROR.REFUSED_STREAM);
      expect(refused).toHaveLength(4);
      expect(streams.filter((id) => connection.answered(id))).toHaveLength(LIMITS.maxConcurrentStreams);
    });
  });

  it('an idle connection gets GOAWAY after keepAliveTimeoutMs', async () => {
    await withRaw(async (connection) => {
      await connection.until(() => connection.goaway() !== undefined, LIMITS.keepAliveTimeoutMs + 3000);
      expect(connection.goaway()?.code).toBe(H2_ERROR.NO_ERROR);
    });
  });

  it('the HTTP/1.1 fallback keeps the slowloris deadline (headersTimeoutMs)', async () => {
    const raw = await exchangeHttp1('GET /public/slowloris HTTP/1.1\r\nHost: localhost\r\nX-Slow: 1\r\n');
    expect(raw).toMatch(/^HTTP\/1\.1 408 /);
    expect(upstream.requests.some((r) => r.url === '/public/slowloris')).toBe(false);
  });

  it('a request whose body never comes is cancelled after requestTimeoutMs', async () => {
    await withRaw(async (connection) => {
      await expectNothingForwarded(async () => {
        connection.send(
          frame(
            FRAME.HEADERS,
            FLAG.END_HEADERS,
            1,
            headerBlock([...pseudo('POST', '/public/x'), ['content-type', 'application/json']]),
          ),
        );
        await connection.until(() => connection.resetCode(1) !== undefined, LIMITS.requestTimeoutMs + 3000);
      });
      expect(connection.resetCode(1)).toBe(H2_ERROR.CANCEL);
    });
  });
});

describe('HTTP/2 drain and opt-out', () => {
  it('close(): GOAWAY to HTTP/2 clients, the request in flight still answered', async () => {
    const own = await startTlsGateway('h2-drain', {}, { routes }, { upstream: upstreamOptions });
    const client = h2connect(own.gateway.url.replace('127.0.0.1', 'localhost'), { ca: own.ca.certPem });
    client.on('error', () => {});
    let goaway = -1;
    client.on('goaway', (code: number) => (goaway = code));
    try {
      const inFlight = h2request(client, { ':path': '/slow/draining' });
      await new Promise((resolve) => setTimeout(resolve, 50));
      const closed = own.gateway.gateway.close(5000);
      expect((await inFlight).status).toBe(200);
      await closed;
      expect(goaway).toBe(constants.NGHTTP2_NO_ERROR);
    } finally {
      client.destroy();
      await own.close();
    }
  });

  it('listen.http2: false offers HTTP/1.1 only', async () => {
    const own = await startTlsGateway('h1-only', {}, { listen: { http2: false } });
    try {
      const chosen = await new Promise<string | false | null>((resolve, reject) => {
        const socket = tlsConnect(
          {
            port: Number(new URL(own.gateway.url).port),
            host: '127.0.0.1',
            servername: 'localhost',
            ca: own.ca.certPem,
            ALPNProtocols: ['h2', 'http/1.1'],
          },
          () => {
            resolve(socket.alpnProtocol);
            socket.destroy();
          },
        );
        socket.on('error', reject);
      });
      expect(chosen).toBe('http/1.1');
    } finally {
      await own.close();
    }
  });
});
