import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startRecordingUpstream, type RecordingUpstream } from '../support/recording-upstream.js';
import { startGateway, type StartedGateway } from '../support/start-gateway.js';
import {
  expectForwarded,
  expectRefused,
  itEachCase,
  HOST,
  parseFirstResponse,
  type AttackCase,
  type AttackTarget,
  type Refusal,
} from './attack-table.js';

/**
 * Method tricks: methods outside what a route allows (TRACE echoes credentials back, RFC 9110 §9.3.8; CONNECT
 * opens a tunnel, §9.3.6; WebDAV and vendor methods reach code paths nobody reviewed), and method-override
 * headers that frameworks honour behind the gateway's back. The method the gateway checks is the request line's
 * and the one the service receives; override headers never get there.
 */

let upstream: RecordingUpstream;
let gw: StartedGateway;
let target: AttackTarget;

beforeAll(async () => {
  upstream = await startRecordingUpstream();
  gw = await startGateway({
    upstreams: { app: { targets: [upstream.url] } },
    routes: [
      { id: 'public', match: { pathPrefix: '/public' }, upstream: 'app', auth: 'none' },
      {
        id: 'readonly',
        match: { pathPrefix: '/readonly' },
        upstream: 'app',
        auth: 'none',
        methods: ['GET', 'HEAD'],
      },
      { id: 'get-only', match: { pathPrefix: '/get-only', methods: ['GET'] }, upstream: 'app', auth: 'none' },
    ],
  });
  target = { port: gw.port, upstream };
});

afterAll(async () => {
  await gw.close();
  await upstream.close();
});

const request = (method: string, path: string, extra = ''): string =>
  `${method} ${path} HTTP/1.1\r\n${HOST}${extra}\r\n`;
const NOT_ALLOWED: Refusal = { status: 405, code: 'ERR_GATEWAY_METHOD_NOT_ALLOWED' };
const BAD: Refusal = { status: 400, code: 'ERR_GATEWAY_BAD_REQUEST', closes: true };
const OVERRIDES = 'X-HTTP-Method-Override: GET\r\nX-HTTP-Method: GET\r\nX-Method-Override: GET\r\n';

const cases: AttackCase[] = [
  // Methods no route may carry, even one declaring no method list.
  {
    name: 'TRACE on a route without a method list',
    request: request('TRACE', '/public/x', 'Cookie: session=abc\r\n'),
    refused: NOT_ALLOWED,
  },
  { name: 'TRACE on a read-only route', request: request('TRACE', '/readonly/x'), refused: NOT_ALLOWED },
  {
    name: 'PROPFIND (WebDAV) on a route without a method list',
    request: request('PROPFIND', '/public/x'),
    refused: NOT_ALLOWED,
  },
  { name: 'PURGE (cache vendor method)', request: request('PURGE', '/public/x'), refused: NOT_ALLOWED },
  {
    name: 'CONNECT in authority-form',
    request: request('CONNECT', '127.0.0.1:22'),
    refused: { ...NOT_ALLOWED, closes: true },
  },
  {
    name: 'CONNECT with a path',
    request: request('CONNECT', '/public/x'),
    refused: { ...NOT_ALLOWED, closes: true },
  },
  // Not methods Node's parser knows, or not spelled as a method: refused before the pipeline.
  { name: 'unknown method FOO', request: request('FOO', '/public/x'), refused: BAD },
  { name: 'TRACK (IIS TRACE)', request: request('TRACK', '/public/x'), refused: BAD },
  { name: 'lower-case get', request: request('get', '/public/x'), refused: BAD },
  { name: 'tab between method and target', request: `GET\t/public/x HTTP/1.1\r\n${HOST}\r\n`, refused: BAD },
  // Methods the route does not allow, with or without an override header.
  { name: 'DELETE on a read-only route', request: request('DELETE', '/readonly/x'), refused: NOT_ALLOWED },
  {
    name: 'POST on a read-only route claiming GET via overrides',
    request: request('POST', '/readonly/x', `${OVERRIDES}Content-Length: 0\r\n`),
    refused: NOT_ALLOWED,
  },
  { name: 'DELETE on a GET-only match', request: request('DELETE', '/get-only/x'), refused: NOT_ALLOWED },
  {
    name: 'PUT on a GET-only match claiming GET via overrides',
    request: request('PUT', '/get-only/x', `${OVERRIDES}Content-Length: 0\r\n`),
    refused: NOT_ALLOWED,
  },
];

describe('method tricks are refused and never reach the upstream', () => {
  itEachCase(cases, (attack) => expectRefused(target, attack));

  it('a 405 names the allowed methods (RFC 9110 §15.5.6)', async () => {
    const result = await expectRefused(target, {
      name: 'DELETE',
      request: request('DELETE', '/readonly/x'),
      refused: NOT_ALLOWED,
    });
    expect(parseFirstResponse(result.raw)?.headers['allow']).toBe('GET, HEAD');
  });
});

describe('method-override headers have no effect', () => {
  // Open finding: the override headers are forwarded (request-headers.ts does not drop them).
  it.each(['/readonly/x', '/get-only/x', '/public/x'])(
    'GET %s claiming DELETE reaches the service as a GET, without the override headers',
    async (path) => {
      const { received } = await expectForwarded(
        target,
        request(
          'GET',
          path,
          'X-HTTP-Method-Override: DELETE\r\nX-HTTP-Method: DELETE\r\nX-Method-Override: DELETE\r\n',
        ),
      );
      expect(received.method).toBe('GET');
      expect(received.headers['x-http-method-override']).toBeUndefined();
      expect(received.headers['x-http-method']).toBeUndefined();
      expect(received.headers['x-method-override']).toBeUndefined();
    },
  );
});
