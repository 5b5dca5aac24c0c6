import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RecordedRequest } from '../support/recording-upstream.js';
import { startRecordingUpstream, type RecordingUpstream } from '../support/recording-upstream.js';
import { startGateway, type StartedGateway } from '../support/start-gateway.js';
import { expectForwarded, HOST, type AttackTarget } from './attack-table.js';

/**
 * Hop-by-hop tricks (RFC 9110 §7.6.1): a proxy removes every field named in `Connection`. A client abuses that to
 * have a proxy strip what it added (`X-Forwarded-For`, the request id) or what frames the message
 * (`Content-Length`), so that the service sees a request the proxy never meant to send. The gateway removes the
 * client's hop-by-hop fields, and what it sets itself is set after that removal.
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
        id: 'public',
        match: { pathPrefix: '/public' },
        upstream: 'app',
        auth: 'none',
        contentTypes: ['text/plain'],
      },
      { id: 'session', match: { pathPrefix: '/session' }, upstream: 'app', auth: 'none', allowCookies: true },
    ],
  });
  target = { port: gw.port, upstream };
});

afterAll(async () => {
  await gw.close();
  await upstream.close();
});

async function forward(fields: string, path = '/public/x'): Promise<RecordedRequest> {
  const { received } = await expectForwarded(target, `GET ${path} HTTP/1.1\r\n${HOST}${fields}\r\n`);
  return received;
}

const names = (request: RecordedRequest): string[] =>
  request.rawHeaders.filter((_, index) => index % 2 === 0).map((name) => name.toLowerCase());

describe('fields named in Connection cannot remove what the gateway sets', () => {
  it('Connection: x-forwarded-for keeps the gateway’s X-Forwarded-For', async () => {
    const received = await forward('Connection: close, x-forwarded-for\r\n');
    expect(received.headers['x-forwarded-for']).toBe('127.0.0.1');
  });

  it('Connection: forwarded, x-forwarded-proto, x-forwarded-host keeps them all', async () => {
    const received = await forward('Connection: forwarded, x-forwarded-proto, x-forwarded-host\r\n');
    expect(received.headers['forwarded']).toBe('for=127.0.0.1;host=gateway.test;proto=http');
    expect(received.headers['x-forwarded-proto']).toBe('http');
    expect(received.headers['x-forwarded-host']).toBe('gateway.test');
  });

  it('Connection: x-request-id, traceparent keeps the request id and trace context', async () => {
    const received = await forward('Connection: X-Request-Id, Traceparent\r\n');
    expect(received.headers['x-request-id']).toMatch(/.+/);
    expect(received.headers['traceparent']).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-0[01]$/);
  });

  it('Connection: host keeps the Host', async () => {
    const received = await forward('Connection: host\r\n');
    expect(received.headers['host']).toBe(`127.0.0.1:${upstream.port}`);
  });

  it('Connection: content-length cannot unframe a body', async () => {
    const { received } = await expectForwarded(
      target,
      `POST /public/x HTTP/1.1\r\n${HOST}Connection: content-length\r\nContent-Type: text/plain\r\nContent-Length: 4\r\n\r\nabcd`,
    );
    expect(received.headers['content-length']).toBe('4');
    expect(received.body.toString()).toBe('abcd');
  });

  it('Connection: transfer-encoding cannot unframe a chunked body', async () => {
    const { received } = await expectForwarded(
      target,
      `POST /public/x HTTP/1.1\r\n${HOST}Connection: transfer-encoding\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nabcd\r\n0\r\n\r\n`,
    );
    expect(received.headers['content-length']).toBe('4');
    expect(received.body.toString()).toBe('abcd');
  });
});

describe('the client’s hop-by-hop fields are removed', () => {
  it('fields named in Connection, across several Connection lines and any case', async () => {
    const received = await forward(
      'Connection: keep-alive, X-Secret-Hop\r\nconnection: x-other-hop\r\nX-Secret-Hop: 1\r\nX-Other-Hop: 2\r\nX-Kept: 3\r\n',
    );
    expect(received.headers['x-secret-hop']).toBeUndefined();
    expect(received.headers['x-other-hop']).toBeUndefined();
    expect(received.headers['x-kept']).toBe('3');
  });

  it('Connection: authorization, and Authorization itself, never forward the client’s credentials', async () => {
    const received = await forward('Connection: authorization\r\nAuthorization: Bearer external\r\n');
    expect(received.headers['authorization']).toBeUndefined();
  });

  it('Connection: cookie removes the cookie even on a route that forwards cookies', async () => {
    const kept = await forward('Cookie: session=abc\r\n', '/session/x');
    expect(kept.headers['cookie']).toBe('session=abc');
    const removed = await forward('Connection: cookie\r\nCookie: session=abc\r\n', '/session/x');
    expect(removed.headers['cookie']).toBeUndefined();
  });

  it('the standard hop-by-hop fields (Keep-Alive, TE, Trailer, Proxy-*, Upgrade) are removed', async () => {
    const received = await forward(
      'Keep-Alive: timeout=600\r\nTE: trailers\r\nTrailer: X-Late\r\nProxy-Connection: keep-alive\r\n' +
        'Proxy-Authorization: Basic eDp5\r\nUpgrade: websocket\r\n',
    );
    const hopByHop = ['keep-alive', 'te', 'trailer', 'proxy-connection', 'proxy-authorization', 'upgrade'];
    expect(names(received).filter((name) => hopByHop.includes(name))).toEqual([]);
  });
});
