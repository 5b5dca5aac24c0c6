import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startRecordingUpstream, type RecordingUpstream } from '../support/recording-upstream.js';
import { startGateway, type StartedGateway } from '../support/start-gateway.js';
import { dribble, expectForwarded, expectRefusal, HOST } from './attack-table.js';

/**
 * Slowloris: a client holds a connection (and a request slot) open by sending its request slower than any real
 * client would. `headersTimeout` bounds the time to the end of the field section, `requestTimeout` the time to
 * the end of the body; past either the gateway answers 408 and closes (RFC 9110 §15.5.9), and a request whose
 * body never completed is never proxied. Each client below would need seconds; the gateway gives up long before.
 */

const HEADERS_TIMEOUT_MS = 300;
const REQUEST_TIMEOUT_MS = 600;
/** How long a case waits for the gateway to close on it: far above both timeouts. */
const DEADLINE_MS = 2000;
const INTERVAL_MS = 100;

let upstream: RecordingUpstream;
let gw: StartedGateway;

beforeAll(async () => {
  upstream = await startRecordingUpstream();
  gw = await startGateway({
    limits: { headersTimeoutMs: HEADERS_TIMEOUT_MS, requestTimeoutMs: REQUEST_TIMEOUT_MS },
    upstreams: { app: { targets: [upstream.url] } },
    routes: [
      {
        id: 'public',
        match: { pathPrefix: '/public' },
        upstream: 'app',
        auth: 'none',
        contentTypes: ['text/plain'],
      },
    ],
  });
});

afterAll(async () => {
  await gw.close();
  await upstream.close();
});

const REQUEST_LINE = 'GET /public/slow HTTP/1.1\r\n';
const POST_HEAD = `POST /public/slow HTTP/1.1\r\n${HOST}Content-Type: text/plain\r\n`;

/** One part per byte (the requests are ASCII). */
const bytesOf = (text: string): string[] => Array.from({ length: text.length }, (_, i) => text.charAt(i));

const cases: { name: string; parts: readonly string[] }[] = [
  {
    name: 'header lines dribbled one by one, never ending',
    parts: [REQUEST_LINE, HOST, ...Array.from({ length: 60 }, (_, i) => `X-Pad-${i}: ${i}\r\n`), '\r\n'],
  },
  { name: 'the request sent one byte at a time', parts: bytesOf(`${REQUEST_LINE}${HOST}X-Pad: 1\r\n\r\n`) },
  { name: 'a request line, then silence', parts: [REQUEST_LINE] },
  { name: 'a connection that never sends a byte', parts: [] },
  {
    name: 'headers complete, the announced body never sent',
    parts: [`${POST_HEAD}Content-Length: 10\r\n\r\n`],
  },
  {
    name: 'a Content-Length body dribbled byte by byte',
    parts: [`${POST_HEAD}Content-Length: 60\r\n\r\n`, ...Array<string>(60).fill('b')],
  },
  {
    name: 'a chunked body dribbled chunk by chunk',
    parts: [
      `${POST_HEAD}Transfer-Encoding: chunked\r\n\r\n`,
      ...Array<string>(60).fill('1\r\nb\r\n'),
      '0\r\n\r\n',
    ],
  },
];

describe.concurrent('slow clients are cut off with 408 and never proxied', () => {
  it.each(cases)('$name', async ({ parts }) => {
    const result = await dribble(gw.port, parts, INTERVAL_MS, DEADLINE_MS);
    expect(result.closed, 'the gateway closed the connection').toBe(true);
    // A client that meant to send more was cut off before it was done.
    if (parts.length > 1) expect(result.written).toBeLessThan(parts.length);
    expectRefusal(result, { status: 408, code: 'ERR_GATEWAY_REQUEST_TIMEOUT' });
    expect(upstream.requests).toEqual([]);
  });
});

describe('after the slow clients', () => {
  it('still proxies a request sent at normal speed (control)', async () => {
    const { received } = await expectForwarded(
      { port: gw.port, upstream },
      `${POST_HEAD}Content-Length: 4\r\n\r\nabcd`,
    );
    expect(received.body.toString()).toBe('abcd');
  });
});
