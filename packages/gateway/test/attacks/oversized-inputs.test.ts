import { afterAll, beforeAll, describe, expect, it } from 'vitest';
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
 * Oversized inputs: header count and bytes (431, RFC 6585 §5), target length (414, RFC 9110 §15.5.15), body
 * size per route by declared length and by chunked stream (413, RFC 9110 §15.5.14), and JSON nesting and width
 * (400: a parser or a schema validator recursing on them is a stack and CPU hazard). Refused before proxying.
 */

const LIMITS = {
  maxHeaderCount: 30,
  maxHeaderBytes: 4096,
  maxUrlLength: 1024,
  maxJsonDepth: 8,
  maxJsonMembers: 16,
};
const MAX_BODY = 64;

let upstream: RecordingUpstream;
let gw: StartedGateway;
let target: AttackTarget;

beforeAll(async () => {
  upstream = await startRecordingUpstream();
  gw = await startGateway({
    limits: LIMITS,
    upstreams: { app: { targets: [upstream.url] } },
    routes: [
      {
        id: 'upload',
        match: { pathPrefix: '/upload' },
        upstream: 'app',
        auth: 'none',
        contentTypes: ['text/plain'],
        maxBodyBytes: MAX_BODY,
      },
      { id: 'json', match: { pathPrefix: '/json' }, upstream: 'app', auth: 'none', maxBodyBytes: 65_536 },
    ],
  });
  target = { port: gw.port, upstream };
});

afterAll(async () => {
  await gw.close();
  await upstream.close();
});

const fields = (count: number, valueBytes = 1): string =>
  Array.from({ length: count }, (_, i) => `X-F${i}: ${'v'.repeat(valueBytes)}\r\n`).join('');
const get = (requestTarget: string, extra = ''): string =>
  `GET ${requestTarget} HTTP/1.1\r\n${HOST}${extra}\r\n`;
const upload = (framing: string, body: string): string =>
  `POST /upload/x HTTP/1.1\r\n${HOST}Content-Type: text/plain\r\n${framing}\r\n${body}`;
const chunked = (body: string, size: number): string => {
  let out = '';
  for (let at = 0; at < body.length; at += size) {
    const chunk = body.slice(at, at + size);
    out += `${chunk.length.toString(16)}\r\n${chunk}\r\n`;
  }
  return `${out}0\r\n\r\n`;
};
const json = (body: string, framing = `Content-Length: ${body.length}\r\n`): string =>
  `POST /json/x HTTP/1.1\r\n${HOST}Content-Type: application/json\r\n${framing}\r\n${body}`;

const HEADERS: Refusal = { status: 431, code: 'ERR_GATEWAY_HEADERS_TOO_LARGE' };
const TOO_LARGE: Refusal = { status: 413, code: 'ERR_GATEWAY_PAYLOAD_TOO_LARGE' };
const JSON_LIMIT: Refusal = { status: 400, code: 'ERR_GATEWAY_JSON_LIMIT' };
const deep = (depth: number): string => `${'['.repeat(depth)}${']'.repeat(depth)}`;
const members = (count: number): string =>
  `{${Array.from({ length: count }, (_, i) => `"m${i}":${i}`).join(',')}}`;

const cases: AttackCase[] = [
  // Header count: Node keeps only maxHeadersCount fields silently; the gateway must see and refuse the excess.
  {
    name: 'one field more than maxHeaderCount',
    request: get('/upload/x', fields(LIMITS.maxHeaderCount)),
    refused: HEADERS,
  },
  {
    name: '600 tiny fields',
    request: get('/upload/x', Array.from({ length: 600 }, () => 'A:\r\n').join('')),
    refused: HEADERS,
  },
  // Header bytes: refused by the parser as the bytes arrive (no buffering of the excess).
  {
    name: 'one field larger than maxHeaderBytes',
    request: get('/upload/x', `X-Big: ${'v'.repeat(5000)}\r\n`),
    refused: { ...HEADERS, closes: true },
  },
  {
    name: 'fields adding up past maxHeaderBytes',
    request: get('/upload/x', fields(20, 250)),
    refused: { ...HEADERS, closes: true },
  },
  {
    name: 'request line larger than maxHeaderBytes',
    request: get(`/upload/${'a'.repeat(5000)}`),
    refused: { ...HEADERS, closes: true },
  },
  // Target length.
  {
    name: 'path longer than maxUrlLength',
    request: get(`/upload/${'a'.repeat(LIMITS.maxUrlLength)}`),
    refused: { status: 414, code: 'ERR_GATEWAY_URL_TOO_LONG' },
  },
  {
    name: 'query longer than maxUrlLength',
    request: get(`/upload/x?${'q=1&'.repeat(LIMITS.maxUrlLength / 4)}`),
    refused: { status: 414, code: 'ERR_GATEWAY_URL_TOO_LONG' },
  },
  // Body size per route: a declared length is refused before a byte of the body is read.
  {
    name: 'Content-Length one over the route limit, body not sent',
    request: upload(`Content-Length: ${MAX_BODY + 1}\r\n`, ''),
    refused: TOO_LARGE,
  },
  {
    name: 'Content-Length over the route limit, body sent',
    request: upload(`Content-Length: ${MAX_BODY + 1}\r\n`, 'b'.repeat(MAX_BODY + 1)),
    refused: TOO_LARGE,
  },
  {
    name: 'Content-Length of a terabyte',
    request: upload('Content-Length: 1000000000000\r\n', 'b'.repeat(100)),
    refused: TOO_LARGE,
  },
  {
    name: 'chunked body over the limit in one chunk',
    request: upload('Transfer-Encoding: chunked\r\n', chunked('b'.repeat(MAX_BODY + 1), 1024)),
    refused: TOO_LARGE,
  },
  {
    name: 'chunked body over the limit in 1-byte chunks',
    request: upload('Transfer-Encoding: chunked\r\n', chunked('b'.repeat(MAX_BODY * 2), 1)),
    refused: TOO_LARGE,
  },
  // JSON: nesting and width limits, checked before JSON.parse builds anything.
  {
    name: `JSON nested ${LIMITS.maxJsonDepth + 1} deep`,
    request: json(deep(LIMITS.maxJsonDepth + 1)),
    refused: JSON_LIMIT,
  },
  { name: 'JSON nested 20,000 deep', request: json(deep(20_000)), refused: JSON_LIMIT },
  {
    name: 'JSON objects nested past the limit',
    request: json(`${'{"a":'.repeat(LIMITS.maxJsonDepth + 1)}1${'}'.repeat(LIMITS.maxJsonDepth + 1)}`),
    refused: JSON_LIMIT,
  },
  {
    name: `JSON object with ${LIMITS.maxJsonMembers + 1} members`,
    request: json(members(LIMITS.maxJsonMembers + 1)),
    refused: JSON_LIMIT,
  },
  {
    name: 'JSON array with 10,000 elements',
    request: json(`[${Array<string>(10_000).fill('0').join(',')}]`),
    refused: JSON_LIMIT,
  },
  {
    name: 'JSON too wide below the top level',
    request: json(`{"a":{"b":${members(LIMITS.maxJsonMembers + 1)}}}`),
    refused: JSON_LIMIT,
  },
  {
    name: 'JSON too deep in a chunked body',
    request: json(chunked(deep(LIMITS.maxJsonDepth + 1), 3), 'Transfer-Encoding: chunked\r\n'),
    refused: JSON_LIMIT,
  },
];

describe('oversized inputs are refused and never reach the upstream', () => {
  itEachCase(cases, (attack) => expectRefused(target, attack));
});

describe('inputs at the limits pass', () => {
  it('a body of exactly maxBodyBytes, chunked', async () => {
    const { received } = await expectForwarded(
      target,
      upload('Transfer-Encoding: chunked\r\n', chunked('b'.repeat(MAX_BODY), 7)),
    );
    expect(received.body.toString()).toBe('b'.repeat(MAX_BODY));
  });

  it('JSON at maxJsonDepth and maxJsonMembers, with brackets inside strings not counted', async () => {
    const body = `[${deep(LIMITS.maxJsonDepth - 1)},${members(LIMITS.maxJsonMembers).replace('"m0"', '"[[[[[[[[[[[[{{{{{{{{{"')}]`;
    const { received } = await expectForwarded(target, json(body));
    expect(received.body.toString()).toBe(body);
  });
});
