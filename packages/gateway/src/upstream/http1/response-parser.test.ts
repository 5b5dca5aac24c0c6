import { describe, expect, it } from 'vitest';
import { ResponseParseError, ResponseParser, type ParsedHead } from './response-parser.js';

interface Answer {
  head: ParsedHead | undefined;
  body: string;
  complete: number;
}

function reader(limits?: { maxHeadBytes: number; maxFields: number }): {
  parser: ResponseParser;
  answers: Answer[];
} {
  const answers: Answer[] = [];
  let current: Answer = { head: undefined, body: '', complete: 0 };
  const parser = new ResponseParser(
    {
      onHead(head) {
        current.head = head;
      },
      onBody(chunk) {
        current.body += chunk.toString('latin1');
      },
      onComplete() {
        current.complete += 1;
        answers.push(current);
        current = { head: undefined, body: '', complete: 0 };
      },
    },
    limits,
  );
  return { parser, answers };
}

/** Feeds `wire` to a parser expecting the answer to `method`, in pieces of `step` bytes. */
function read(wire: string, options: { method?: string; step?: number; close?: boolean } = {}): Answer[] {
  const { parser, answers } = reader();
  parser.begin(options.method ?? 'GET');
  const bytes = Buffer.from(wire, 'latin1');
  const step = options.step ?? bytes.length;
  for (let i = 0; i < bytes.length; i += step) parser.execute(bytes.subarray(i, i + step));
  if (options.close === true) parser.finish();
  return answers;
}

function refusal(wire: string, options: { method?: string; close?: boolean } = {}): string {
  try {
    read(wire, options);
  } catch (err) {
    expect(err).toBeInstanceOf(ResponseParseError);
    return (err as ResponseParseError).reason;
  }
  throw new Error('the answer was accepted');
}

const OK = 'HTTP/1.1 200 OK\r\n';

describe('ResponseParser: answers it reads', () => {
  const CASES: readonly {
    name: string;
    wire: string;
    method?: string;
    close?: boolean;
    status: number;
    body: string;
    keepAlive: boolean;
    headers?: string[];
  }[] = [
    {
      name: 'Content-Length body',
      wire: `${OK}Content-Type: application/json\r\nContent-Length: 11\r\n\r\n{"ok":true}`,
      status: 200,
      body: '{"ok":true}',
      keepAlive: true,
      headers: ['content-type', 'application/json', 'content-length', '11'],
    },
    {
      name: 'chunked body with an extension and trailers (trailers dropped)',
      wire: `${OK}Transfer-Encoding: chunked\r\n\r\n5;name=value\r\nhello\r\n6\r\n world\r\n0\r\nX-Trailer: t\r\n\r\n`,
      status: 200,
      body: 'hello world',
      keepAlive: true,
    },
    {
      name: 'chunked, upper-case coding and hex digits',
      wire: `${OK}Transfer-Encoding: Chunked\r\n\r\nA\r\n0123456789\r\n0\r\n\r\n`,
      status: 200,
      body: '0123456789',
      keepAlive: true,
    },
    {
      name: 'HEAD: no body despite Content-Length',
      wire: `${OK}Content-Length: 99\r\n\r\n`,
      method: 'HEAD',
      status: 200,
      body: '',
      keepAlive: true,
    },
    { name: '204: no body', wire: 'HTTP/1.1 204 No Content\r\n\r\n', status: 204, body: '', keepAlive: true },
    {
      name: '304 with the representation length: no body',
      wire: 'HTTP/1.1 304 Not Modified\r\nContent-Length: 50\r\n\r\n',
      status: 304,
      body: '',
      keepAlive: true,
    },
    {
      name: 'interim 100 and 103 skipped before the final answer',
      wire: `HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a>; rel=preload\r\n\r\n${OK}Content-Length: 2\r\n\r\nok`,
      status: 200,
      body: 'ok',
      keepAlive: true,
      headers: ['content-length', '2'],
    },
    {
      name: 'no framing: the body runs to the close, the connection is not reused',
      wire: `${OK}Content-Type: text/plain\r\n\r\nuntil close`,
      close: true,
      status: 200,
      body: 'until close',
      keepAlive: false,
    },
    {
      name: 'Connection: close',
      wire: `${OK}Connection: keep-alive, Close\r\nContent-Length: 0\r\n\r\n`,
      status: 200,
      body: '',
      keepAlive: false,
    },
    {
      name: 'HTTP/1.0 answer: not reused',
      wire: 'HTTP/1.0 200 OK\r\nContent-Length: 1\r\n\r\nx',
      status: 200,
      body: 'x',
      keepAlive: false,
    },
    {
      name: 'OWS around values trimmed, obs-text kept, empty value, no reason phrase',
      wire: 'HTTP/1.1 200\r\nX-A:  \tvalue \t\r\nX-B: caf\xe9\r\nX-C:\r\nContent-Length: 0\r\n\r\n',
      status: 200,
      body: '',
      keepAlive: true,
      headers: ['x-a', 'value', 'x-b', 'caf\xe9', 'x-c', '', 'content-length', '0'],
    },
    {
      name: 'Content-Length with leading zeros',
      wire: `${OK}Content-Length: 002\r\n\r\nhi`,
      status: 200,
      body: 'hi',
      keepAlive: true,
    },
  ];

  it.each(CASES)('$name', ({ wire, method, close, status, body, keepAlive, headers }) => {
    // Whole, then byte by byte: where the pieces break must not matter.
    for (const step of [undefined, 1, 7]) {
      const answers = read(wire, {
        ...(method === undefined ? {} : { method }),
        ...(step === undefined ? {} : { step }),
        ...(close === undefined ? {} : { close }),
      });
      expect(answers).toHaveLength(1);
      const [answer] = answers as [Answer];
      expect(answer.head?.statusCode).toBe(status);
      expect(answer.body).toBe(body);
      expect(answer.complete).toBe(1);
      expect(answer.head?.keepAlive).toBe(keepAlive);
      if (headers !== undefined) expect(answer.head?.headers).toEqual(headers);
    }
  });

  it("reads the upstream's Keep-Alive timeout", () => {
    const [answer] = read(`${OK}Keep-Alive: timeout=5, max=100\r\nContent-Length: 0\r\n\r\n`);
    expect(answer?.head?.keepAliveTimeoutMs).toBe(5000);
    const [without] = read(`${OK}Content-Length: 0\r\n\r\n`);
    expect(without?.head?.keepAliveTimeoutMs).toBeUndefined();
  });

  it('reads one answer per request on a kept connection, and refuses a second one unasked', () => {
    const { parser, answers } = reader();
    parser.begin('GET');
    parser.execute(Buffer.from(`${OK}Content-Length: 1\r\n\r\na`));
    expect(parser.idle).toBe(true);
    parser.begin('GET');
    parser.execute(Buffer.from(`${OK}Content-Length: 1\r\n\r\nb`));
    expect(answers.map((a) => a.body)).toEqual(['a', 'b']);
    expect(() => parser.execute(Buffer.from(`${OK}Content-Length: 0\r\n\r\n`))).toThrow(
      'data after the response',
    );
  });

  it('says whether any byte of the answer arrived', () => {
    const { parser } = reader();
    parser.begin('GET');
    expect(parser.receivedAny).toBe(false);
    parser.execute(Buffer.from('HTTP/1.1 2'));
    expect(parser.receivedAny).toBe(true);
  });

  it('refuses a second begin while an answer is expected', () => {
    const { parser } = reader();
    parser.begin('GET');
    expect(() => {
      parser.begin('GET');
    }).toThrow('an answer is still expected');
  });

  it('a close with nothing expected is no error', () => {
    const { parser } = reader();
    expect(() => {
      parser.finish();
    }).not.toThrow();
  });
});

describe('ResponseParser: answers it refuses (the connection is then closed)', () => {
  const CASES: readonly { name: string; wire: string; reason: string; method?: string; close?: boolean }[] = [
    // Framing: response splitting and desync.
    {
      name: 'Transfer-Encoding and Content-Length together',
      wire: `${OK}Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n`,
      reason: 'both Transfer-Encoding and Content-Length',
    },
    {
      name: 'two Content-Length fields, different',
      wire: `${OK}Content-Length: 5\r\nContent-Length: 6\r\n\r\nhello`,
      reason: 'Content-Length',
    },
    {
      name: 'two Content-Length fields, equal',
      wire: `${OK}Content-Length: 5\r\nContent-Length: 5\r\n\r\nhello`,
      reason: 'Content-Length',
    },
    { name: 'Content-Length list', wire: `${OK}Content-Length: 5, 5\r\n\r\nhello`, reason: 'Content-Length' },
    {
      name: 'Content-Length with a sign',
      wire: `${OK}Content-Length: +5\r\n\r\nhello`,
      reason: 'Content-Length',
    },
    {
      name: 'Content-Length in hex',
      wire: `${OK}Content-Length: 0x5\r\n\r\nhello`,
      reason: 'Content-Length',
    },
    { name: 'Content-Length empty', wire: `${OK}Content-Length:\r\n\r\n`, reason: 'Content-Length' },
    {
      name: 'Content-Length past 15 digits',
      wire: `${OK}Content-Length: 1234567890123456\r\n\r\n`,
      reason: 'Content-Length',
    },
    {
      name: 'Transfer-Encoding gzip',
      wire: `${OK}Transfer-Encoding: gzip\r\n\r\n`,
      reason: 'transfer coding other than chunked',
    },
    {
      name: 'Transfer-Encoding chunked then gzip',
      wire: `${OK}Transfer-Encoding: chunked, gzip\r\n\r\n`,
      reason: 'transfer coding other than chunked',
    },
    {
      name: 'Transfer-Encoding chunked twice',
      wire: `${OK}Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n`,
      reason: 'transfer coding other than chunked',
    },
    {
      name: 'Transfer-Encoding obfuscated (xchunked)',
      wire: `${OK}Transfer-Encoding: xchunked\r\n\r\n`,
      reason: 'transfer coding other than chunked',
    },
    {
      name: 'a second answer smuggled after the body',
      wire: `${OK}Content-Length: 2\r\n\r\nokHTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n`,
      reason: 'data after the response',
    },
    {
      name: 'bytes after a HEAD answer',
      wire: `${OK}Content-Length: 5\r\n\r\nhello`,
      method: 'HEAD',
      reason: 'data after the response',
    },
    {
      name: 'bytes after a 204',
      wire: 'HTTP/1.1 204 No Content\r\n\r\nhello',
      reason: 'data after the response',
    },
    // Field syntax.
    {
      name: 'obs-fold',
      wire: `${OK}X-A: one\r\n two\r\nContent-Length: 0\r\n\r\n`,
      reason: 'field name',
    },
    {
      name: 'whitespace before the colon',
      wire: `${OK}Content-Length : 5\r\n\r\nhello`,
      reason: 'field name',
    },
    { name: 'empty field name', wire: `${OK}: value\r\nContent-Length: 0\r\n\r\n`, reason: 'field name' },
    { name: 'line without a colon', wire: `${OK}garbage\r\nContent-Length: 0\r\n\r\n`, reason: 'field name' },
    {
      name: 'separator in a field name',
      wire: `${OK}X(A): v\r\nContent-Length: 0\r\n\r\n`,
      reason: 'field name',
    },
    { name: 'NUL in a value', wire: `${OK}X-A: a\0b\r\nContent-Length: 0\r\n\r\n`, reason: 'field value' },
    { name: 'DEL in a value', wire: `${OK}X-A: a\x7fb\r\nContent-Length: 0\r\n\r\n`, reason: 'field value' },
    {
      name: 'bare LF ending a field line',
      wire: `${OK}X-A: a\nContent-Length: 0\r\n\r\n`,
      reason: 'bare CR or LF',
    },
    {
      name: 'bare CR in a value',
      wire: `${OK}X-A: a\rb\r\nContent-Length: 0\r\n\r\n`,
      reason: 'bare CR or LF',
    },
    {
      name: 'bare LF ending the status line',
      wire: 'HTTP/1.1 200 OK\nContent-Length: 0\r\n\r\n',
      reason: 'bare CR or LF',
    },
    // Status line.
    { name: 'HTTP/1.2', wire: 'HTTP/1.2 200 OK\r\nContent-Length: 0\r\n\r\n', reason: 'status line' },
    { name: 'HTTP/2', wire: 'HTTP/2 200 OK\r\nContent-Length: 0\r\n\r\n', reason: 'status line' },
    {
      name: 'lower-case version',
      wire: 'http/1.1 200 OK\r\nContent-Length: 0\r\n\r\n',
      reason: 'status line',
    },
    { name: 'two-digit status', wire: 'HTTP/1.1 20 OK\r\nContent-Length: 0\r\n\r\n', reason: 'status line' },
    { name: 'status 600', wire: 'HTTP/1.1 600 X\r\nContent-Length: 0\r\n\r\n', reason: 'status line' },
    { name: 'status 099', wire: 'HTTP/1.1 099 X\r\nContent-Length: 0\r\n\r\n', reason: 'status line' },
    { name: 'two spaces', wire: 'HTTP/1.1  200 OK\r\nContent-Length: 0\r\n\r\n', reason: 'status line' },
    { name: 'not HTTP', wire: 'ICY 200 OK\r\nContent-Length: 0\r\n\r\n', reason: 'status line' },
    {
      name: 'control character in the reason phrase',
      wire: 'HTTP/1.1 200 O\x01K\r\nContent-Length: 0\r\n\r\n',
      reason: 'status line',
    },
    {
      name: '101 Switching Protocols (never asked for)',
      wire: 'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n',
      reason: 'switching protocols',
    },
    // Chunked bodies.
    {
      name: 'chunk size not hex',
      wire: `${OK}Transfer-Encoding: chunked\r\n\r\nzz\r\n`,
      reason: 'chunk size',
    },
    {
      name: 'chunk size 0x5',
      wire: `${OK}Transfer-Encoding: chunked\r\n\r\n0x5\r\nhello\r\n`,
      reason: 'chunk extension',
    },
    {
      name: 'chunk size negative',
      wire: `${OK}Transfer-Encoding: chunked\r\n\r\n-5\r\n`,
      reason: 'chunk size',
    },
    { name: 'chunk size empty', wire: `${OK}Transfer-Encoding: chunked\r\n\r\n\r\n`, reason: 'chunk size' },
    {
      name: 'chunk size past 13 hex digits',
      wire: `${OK}Transfer-Encoding: chunked\r\n\r\n${'f'.repeat(14)}\r\n`,
      reason: 'chunk size',
    },
    {
      name: 'space after the chunk size',
      wire: `${OK}Transfer-Encoding: chunked\r\n\r\n5 \r\nhello\r\n0\r\n\r\n`,
      reason: 'chunk extension',
    },
    {
      name: 'control character in a chunk extension',
      wire: `${OK}Transfer-Encoding: chunked\r\n\r\n5;a=\x01\r\nhello\r\n0\r\n\r\n`,
      reason: 'chunk extension',
    },
    {
      name: 'chunk data longer than its size',
      wire: `${OK}Transfer-Encoding: chunked\r\n\r\n5\r\nhello!\r\n0\r\n\r\n`,
      reason: 'chunk not followed by CRLF',
    },
    {
      name: 'chunk data ended by LF alone',
      wire: `${OK}Transfer-Encoding: chunked\r\n\r\n5\r\nhello\n0\r\n\r\n`,
      reason: 'chunk not followed by CRLF',
    },
    {
      name: 'chunk-size line without end',
      wire: `${OK}Transfer-Encoding: chunked\r\n\r\n5;${'a'.repeat(2000)}`,
      reason: 'chunk-size line too long',
    },
    {
      name: 'a bad trailer field',
      wire: `${OK}Transfer-Encoding: chunked\r\n\r\n0\r\nX A: b\r\n\r\n`,
      reason: 'field name',
    },
    // Cut short.
    {
      name: 'closed in the middle of a Content-Length body',
      wire: `${OK}Content-Length: 10\r\n\r\nhello`,
      close: true,
      reason: 'connection closed before the response was complete',
    },
    {
      name: 'closed in the middle of the head',
      wire: 'HTTP/1.1 200 OK\r\nContent-Le',
      close: true,
      reason: 'connection closed before the response was complete',
    },
    {
      name: 'closed before the last chunk',
      wire: `${OK}Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n`,
      close: true,
      reason: 'connection closed before the response was complete',
    },
  ];

  it.each(CASES)('$name', ({ wire, reason, method, close }) => {
    expect(
      refusal(wire, {
        ...(method === undefined ? {} : { method }),
        ...(close === undefined ? {} : { close }),
      }),
    ).toBe(reason);
  });

  it('refuses a head past the size limit, ended or not', () => {
    const { parser } = reader({ maxHeadBytes: 64, maxFields: 10 });
    parser.begin('GET');
    expect(() => {
      parser.execute(Buffer.from(`${OK}X-A: ${'a'.repeat(80)}`));
    }).toThrow('head too large');
    const ended = reader({ maxHeadBytes: 64, maxFields: 10 });
    ended.parser.begin('GET');
    expect(() => {
      ended.parser.execute(Buffer.from(`${OK}X-A: ${'a'.repeat(40)}\r\nContent-Length: 0\r\n\r\n`));
    }).toThrow('head too large');
  });

  it('refuses more fields than the limit, in the head and in trailers', () => {
    const fields = Array.from({ length: 11 }, (_, i) => `X-${String(i)}: v\r\n`).join('');
    const { parser } = reader({ maxHeadBytes: 4096, maxFields: 10 });
    parser.begin('GET');
    expect(() => {
      parser.execute(Buffer.from(`${OK}${fields}\r\n`));
    }).toThrow('too many fields');
    const trailers = reader({ maxHeadBytes: 4096, maxFields: 10 });
    trailers.parser.begin('GET');
    expect(() => {
      trailers.parser.execute(Buffer.from(`${OK}Transfer-Encoding: chunked\r\n\r\n0\r\n${fields}\r\n`));
    }).toThrow('too many fields');
  });

  it('refuses trailers past the size limit', () => {
    const { parser } = reader({ maxHeadBytes: 64, maxFields: 10 });
    parser.begin('GET');
    expect(() => {
      parser.execute(Buffer.from(`${OK}Transfer-Encoding: chunked\r\n\r\n0\r\nX: ${'t'.repeat(80)}`));
    }).toThrow('trailers too large');
  });

  it('never puts a value of the answer in its error', () => {
    const secret = 'sk-upstream-secret-0123456789';
    const reason = refusal(`${OK}X-Token: ${secret}\x00\r\n\r\n`);
    expect(reason).not.toContain(secret);
    try {
      read(`${OK}X-Token: ${secret}\x00\r\n\r\n`);
    } catch (err) {
      expect((err as Error).message).not.toContain(secret);
    }
  });
});
