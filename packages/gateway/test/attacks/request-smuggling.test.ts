import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sendRaw } from '../support/raw-http.js';
import { startRecordingUpstream, type RecordingUpstream } from '../support/recording-upstream.js';
import { startGateway, type StartedGateway } from '../support/start-gateway.js';
import {
  expectForwarded,
  expectRefused,
  itEachCase,
  HOST,
  type AttackCase,
  type AttackTarget,
  type Refusal,
} from './attack-table.js';

/**
 * Request smuggling: ambiguous message framing (RFC 9112 §6, §7, §11.2). Each request below carries a second
 * request (`GET /admin`) that a parser disagreeing with the gateway's would see. The gateway either refuses the
 * framing outright (and closes, so no later byte on the connection is parsed), or re-frames the body it read with
 * its own Content-Length; the upstream never receives `/admin`, nor a request the gateway refused.
 */

let upstream: RecordingUpstream;
let gw: StartedGateway;
let target: AttackTarget;

beforeAll(async () => {
  upstream = await startRecordingUpstream();
  gw = await startGateway({
    upstreams: { app: { targets: [upstream.url] } },
    routes: [
      {
        id: 'form',
        match: { pathPrefix: '/public' },
        upstream: 'app',
        auth: 'none',
        contentTypes: ['text/plain'],
        maxBodyBytes: 65_536,
      },
    ],
  });
  target = { port: gw.port, upstream };
});

afterAll(async () => {
  await gw.close();
  await upstream.close();
});

const SMUGGLED = `GET /admin HTTP/1.1\r\n${HOST}\r\n`;
const HEAD = `POST /public/form HTTP/1.1\r\n${HOST}Content-Type: text/plain\r\n`;
/** A POST to a route that accepts it, with `fields` (CRLF-terminated lines) and `body` as given. */
const post = (fields: string, body: string): string => `${HEAD}${fields}\r\n${body}`;
/** Refused by the strict parser: 400 problem, then the connection is closed. */
const BAD: Refusal = { status: 400, code: 'ERR_GATEWAY_BAD_REQUEST', closes: true };
const refused = (name: string, request: string): AttackCase => ({ name, request, refused: BAD });

const cases: AttackCase[] = [
  // RFC 9112 §6.3: Content-Length with Transfer-Encoding is an attempt at smuggling; a server may refuse it.
  refused('CL.TE', post('Content-Length: 6\r\nTransfer-Encoding: chunked\r\n', `0\r\n\r\n${SMUGGLED}`)),
  refused(
    'TE.CL',
    post('Transfer-Encoding: chunked\r\nContent-Length: 4\r\n', `5c\r\n${SMUGGLED}\r\n0\r\n\r\n`),
  ),
  refused(
    'CL with TE identity',
    post('Content-Length: 4\r\nTransfer-Encoding: identity\r\n', `abcd${SMUGGLED}`),
  ),
  // RFC 9110 §8.6: duplicate or invalid lengths are unrecoverable framing errors.
  refused(
    'duplicate Content-Length, same value',
    post('Content-Length: 4\r\nContent-Length: 4\r\n', `abcd${SMUGGLED}`),
  ),
  refused(
    'duplicate Content-Length, different values',
    post('Content-Length: 4\r\nContent-Length: 40\r\n', `abcd${SMUGGLED}`),
  ),
  refused('Content-Length list', post('Content-Length: 4, 40\r\n', `abcd${SMUGGLED}`)),
  refused('Content-Length with a sign', post('Content-Length: +4\r\n', `abcd${SMUGGLED}`)),
  refused('negative Content-Length', post('Content-Length: -1\r\n', `abcd${SMUGGLED}`)),
  refused('hexadecimal Content-Length', post('Content-Length: 0x4\r\n', `abcd${SMUGGLED}`)),
  refused('Content-Length with inner space', post('Content-Length: 4 0\r\n', `abcd${SMUGGLED}`)),
  refused(
    'Content-Length overflowing 64 bits',
    post('Content-Length: 18446744073709551620\r\n', `abcd${SMUGGLED}`),
  ),
  // RFC 9112 §6.1: chunked must be the final coding; anything else is not this gateway's to guess.
  refused('TE chunked, identity', post('Transfer-Encoding: chunked, identity\r\n', `0\r\n\r\n${SMUGGLED}`)),
  refused('TE identity alone', post('Transfer-Encoding: identity\r\n', `0\r\n\r\n${SMUGGLED}`)),
  refused('TE xchunked', post('Transfer-Encoding: xchunked\r\n', `0\r\n\r\n${SMUGGLED}`)),
  refused(
    'TE with a space before the colon',
    post('Transfer-Encoding : chunked\r\n', `0\r\n\r\n${SMUGGLED}`),
  ),
  refused('TE with a tab before the colon', post('Transfer-Encoding\t: chunked\r\n', `0\r\n\r\n${SMUGGLED}`)),
  refused(
    'TE with a vertical tab before the value',
    post('Transfer-Encoding: \x0bchunked\r\n', `0\r\n\r\n${SMUGGLED}`),
  ),
  refused(
    'TE with a tab before the value, and CL',
    post('Transfer-Encoding:\tchunked\r\nContent-Length: 4\r\n', `0\r\n\r\n${SMUGGLED}`),
  ),
  refused(
    'TE twice',
    post('Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n', `0\r\n\r\n${SMUGGLED}`),
  ),
  refused(
    'TE chunked then identity on two lines',
    post('Transfer-Encoding: chunked\r\nTransfer-Encoding: identity\r\n', `0\r\n\r\n${SMUGGLED}`),
  ),
  {
    // RFC 9112 §6.1: unknown codings get 501; gzip would reach the upstream still compressed, unannounced.
    name: 'TE gzip, chunked (a coding the gateway does not decode)',
    request: post('Transfer-Encoding: gzip, chunked\r\n', `0\r\n\r\n${SMUGGLED}`),
    refused: { status: [400, 501] },
  },
  {
    name: 'TE identity, chunked (identity is no transfer coding since RFC 7230)',
    request: post('Transfer-Encoding: identity, chunked\r\n', `0\r\n\r\n${SMUGGLED}`),
    refused: { status: [400, 501] },
  },
  // RFC 9112 §5.2: obs-fold is refused in requests; §2.2: bare CR is invalid, bare LF is not a line end here.
  refused(
    'obs-fold of Transfer-Encoding',
    post('Transfer-Encoding:\r\n chunked\r\n', `0\r\n\r\n${SMUGGLED}`),
  ),
  refused('obs-fold of another field', post('X-Note: a\r\n\tfolded\r\nContent-Length: 0\r\n', SMUGGLED)),
  refused(
    'whitespace before the first field',
    `POST /public/form HTTP/1.1\r\n Transfer-Encoding: chunked\r\n${HOST}\r\n0\r\n\r\n${SMUGGLED}`,
  ),
  refused('bare LF ending every line', `GET /public/x HTTP/1.1\n${HOST.replace('\r', '')}\n${SMUGGLED}`),
  refused(
    'bare LF inside the field section',
    `GET /public/x HTTP/1.1\r\nHost: gateway.test\nTransfer-Encoding: chunked\r\n\r\n${SMUGGLED}`,
  ),
  refused(
    'bare CR inside the field section',
    `GET /public/x HTTP/1.1\r\nHost: gateway.test\rTransfer-Encoding: chunked\r\n\r\n${SMUGGLED}`,
  ),
  // RFC 9112 §7.1: chunk-size is 1*HEXDIG, the chunk data exactly that long, then CRLF.
  refused(
    'chunk size not hexadecimal',
    post('Transfer-Encoding: chunked\r\n', `zz\r\nabcd\r\n0\r\n\r\n${SMUGGLED}`),
  ),
  refused(
    'negative chunk size',
    post('Transfer-Encoding: chunked\r\n', `-4\r\nabcd\r\n0\r\n\r\n${SMUGGLED}`),
  ),
  refused(
    'chunk size overflowing 64 bits',
    post('Transfer-Encoding: chunked\r\n', `1000000000000000c\r\nabcd\r\n0\r\n\r\n${SMUGGLED}`),
  ),
  refused(
    'chunk size with trailing space',
    post('Transfer-Encoding: chunked\r\n', `4 \r\nabcd\r\n0\r\n\r\n${SMUGGLED}`),
  ),
  refused(
    'chunk data longer than its size',
    post('Transfer-Encoding: chunked\r\n', `3\r\nabcd\r\n0\r\n\r\n${SMUGGLED}`),
  ),
  refused(
    'chunk data without its CRLF',
    post('Transfer-Encoding: chunked\r\n', `4\r\nabcdX0\r\n\r\n${SMUGGLED}`),
  ),
  refused(
    'chunk size line ended by bare LF',
    post('Transfer-Encoding: chunked\r\n', `4\nabcd\r\n0\r\n\r\n${SMUGGLED}`),
  ),
  // Chunk extensions (RFC 9112 §7.1.1): a parser that skips to LF, or reads a quoted CRLF, desyncs.
  refused(
    'chunk extension ended by bare LF',
    post('Transfer-Encoding: chunked\r\n', `4;ext\nabcd\r\n0\r\n\r\n${SMUGGLED}`),
  ),
  refused(
    'chunk extension with a quote hiding CRLF',
    post('Transfer-Encoding: chunked\r\n', `4;a="\r\n0\r\n"\r\nabcd\r\n0\r\n\r\n${SMUGGLED}`),
  ),
  refused(
    'chunk extension of 20 KiB (CVE-2024-22019)',
    post('Transfer-Encoding: chunked\r\n', `4;${'x'.repeat(20_480)}\r\nabcd\r\n0\r\n\r\n${SMUGGLED}`),
  ),
  refused(
    'Content-Length in the trailer section',
    post('Transfer-Encoding: chunked\r\n', `4\r\nabcd\r\n0\r\nContent-Length: 50\r\n\r\n${SMUGGLED}`),
  ),
  // RFC 9112 §6.1: Transfer-Encoding in HTTP/1.0 means the framing is faulty, with or without Content-Length.
  refused(
    'HTTP/1.0 with TE and CL',
    `POST /public/form HTTP/1.0\r\n${HOST}Content-Type: text/plain\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n${SMUGGLED}`,
  ),
  {
    ...refused(
      'HTTP/1.0 with TE chunked',
      `POST /public/form HTTP/1.0\r\n${HOST}Content-Type: text/plain\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nabcd\r\n0\r\n\r\n`,
    ),
  },
  // Request-line framing (RFC 9112 §3): one SP, an HTTP/1.x version in upper case.
  refused('lower-case protocol name', `GET /public/x http/1.1\r\n${HOST}\r\n`),
  refused('space inside the target', `GET /public/x /admin HTTP/1.1\r\n${HOST}\r\n`),
  refused('unknown minor version HTTP/1.2', `GET /public/x HTTP/1.2\r\n${HOST}\r\n`),
  {
    // RFC 9112 §2.3 (HTTP/0.9 has no fields, no Host, no framing): a 1.1 gateway refuses it.
    name: 'HTTP/0.9 simple request',
    request: 'GET /public/x\r\n\r\n',
    refused: { status: [400, 505] },
  },
];

describe('ambiguous framing is refused and nothing reaches the upstream', () => {
  itEachCase(cases, (attack) => expectRefused(target, attack));
});

describe('a body the gateway accepts is re-framed, never passed through', () => {
  it('a request hidden in a Content-Length body stays body', async () => {
    const { received } = await expectForwarded(
      target,
      post(`Content-Length: ${SMUGGLED.length}\r\n`, SMUGGLED),
    );
    expect(received).toMatchObject({ method: 'POST', url: '/public/form' });
    expect(received.body.toString('latin1')).toBe(SMUGGLED);
    expect(received.headers['content-length']).toBe(String(SMUGGLED.length));
  });

  it('a request pipelined after a chunked body is the gateway’s to route (404), not the upstream’s', async () => {
    const before = upstream.requests.length;
    // The hidden request asks to close: the gateway closes once it has answered both, no half-close needed.
    const result = await sendRaw(
      gw.port,
      post(
        'Transfer-Encoding: chunked\r\n',
        `4\r\nabcd\r\n0\r\n\r\nGET /admin HTTP/1.1\r\n${HOST}Connection: close\r\n\r\n`,
      ),
      { keepOpenMs: 5000 },
    );
    expect(result.closed).toBe(true);
    expect(result.status).toBe(200);
    expect(result.raw).toMatch(/\r\n\r\n[^]*HTTP\/1\.1 404 /);
    expect(result.raw).toContain('ERR_GATEWAY_ROUTE_NOT_FOUND');
    const received = upstream.requests.slice(before);
    expect(received.map((request) => request.url)).toEqual(['/public/form']);
    expect(received[0]?.body.toString()).toBe('abcd');
  });

  it.each([
    { name: 'TE with a tab before the value (valid OWS)', field: 'Transfer-Encoding:\tchunked' },
    { name: 'TE in upper case', field: 'Transfer-Encoding: CHUNKED' },
  ])('$name: the upstream gets Content-Length, never Transfer-Encoding', async ({ field }) => {
    const { received } = await expectForwarded(target, post(`${field}\r\n`, '4\r\nabcd\r\n0\r\n\r\n'));
    expect(received.body.toString()).toBe('abcd');
    expect(received.headers['content-length']).toBe('4');
    expect(received.headers['transfer-encoding']).toBeUndefined();
  });

  it('chunk extensions and trailer fields are not forwarded', async () => {
    const { received } = await expectForwarded(
      target,
      post(
        'Transfer-Encoding: chunked\r\nTrailer: Authorization\r\n',
        '4;name="GET /admin"\r\nabcd\r\n0\r\nAuthorization: Bearer smuggled\r\nX-Trailer: 1\r\n\r\n',
      ),
    );
    expect(received.body.toString()).toBe('abcd');
    expect(received.headers['authorization']).toBeUndefined();
    expect(received.headers['x-trailer']).toBeUndefined();
    expect(received.headers['trailer']).toBeUndefined();
  });

  it('still proxies a well-formed request (control)', async () => {
    const { response } = await expectForwarded(target, `GET /public/x HTTP/1.1\r\n${HOST}\r\n`);
    expect(response.body).toContain('/public/x');
  });
});
