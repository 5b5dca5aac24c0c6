import { IncomingMessage } from 'node:http';
import { Socket } from 'node:net';
import { TLSSocket } from 'node:tls';
import { describe, expect, it } from 'vitest';
import { buildOriginalRequestView, readOriginalRequest } from './read-original-request.js';
import { extAuthzSchema, type ExtAuthzConfig } from './schema.js';

function configFor(style: ExtAuthzConfig['style']): ExtAuthzConfig {
  return extAuthzSchema.parse({ style }) as ExtAuthzConfig;
}

/**
 * A real IncomingMessage for `requestLine` (`GET /path`) and `fields` (`Name: value`, in order,
 * repeats kept), added the way node's HTTP parser adds them.
 */
function checkRequest(requestLine: string, fields: readonly string[]): IncomingMessage {
  const req = new IncomingMessage(new Socket());
  [req.method, req.url] = requestLine.split(' ');
  const rawHeaders = fields.flatMap((field) => {
    const colon = field.indexOf(':');
    return [field.slice(0, colon), field.slice(colon + 1).trim()];
  });
  (req as unknown as { _addHeaderLines(fields: string[], count: number): void })._addHeaderLines(
    rawHeaders,
    rawHeaders.length,
  );
  return req;
}

const TRAEFIK_FIELDS = ['x-forwarded-method', 'x-forwarded-uri', 'x-forwarded-host', 'x-forwarded-proto'];

describe('readOriginalRequest', () => {
  it.each([
    {
      style: 'nginx' as const,
      check: 'GET /_gatehouse/ext-authz',
      fields: ['Host: api.example', 'X-Original-URI: /api/x/../y?z=1', 'X-Original-Method: DELETE'],
      original: { method: 'DELETE', target: '/api/x/../y?z=1', host: 'api.example' },
      consumed: ['x-original-uri', 'x-original-method'],
    },
    {
      style: 'envoy' as const,
      check: 'PATCH /_gatehouse/ext-authz/api/x?z=1',
      fields: ['Host: api.example'],
      original: { method: 'PATCH', target: '/api/x?z=1', host: 'api.example' },
      consumed: [],
    },
    {
      style: 'envoy' as const,
      check: 'GET /_gatehouse/ext-authz',
      fields: ['Host: api.example'],
      original: { method: 'GET', target: '/', host: 'api.example' },
      consumed: [],
    },
    {
      style: 'envoy' as const,
      check: 'GET /_gatehouse/ext-authz?q',
      fields: ['Host: api.example'],
      original: { method: 'GET', target: '/?q', host: 'api.example' },
      consumed: [],
    },
    {
      style: 'traefik' as const,
      check: 'GET /_gatehouse/ext-authz?from=traefik',
      fields: [
        'Host: gatehouse.internal',
        'X-Forwarded-Method: POST',
        'X-Forwarded-Uri: /api/x',
        'X-Forwarded-Host: api.example',
        'X-Forwarded-Proto: https',
      ],
      original: { method: 'POST', target: '/api/x', host: 'api.example' },
      consumed: TRAEFIK_FIELDS,
    },
    {
      style: 'traefik' as const,
      check: 'GET /_gatehouse/ext-authz',
      fields: ['Host: gatehouse.internal', 'X-Forwarded-Method: GET', 'X-Forwarded-Uri: /api/x'],
      original: { method: 'GET', target: '/api/x', host: 'gatehouse.internal' },
      consumed: TRAEFIK_FIELDS,
    },
  ])('$style: $original.method $original.target', ({ style, check, fields, original, consumed }) => {
    expect(readOriginalRequest(checkRequest(check, fields), configFor(style))).toEqual({
      ok: true,
      original,
      consumed,
    });
  });

  it.each([
    { style: 'nginx' as const, url: '/_gatehouse/ext-authz/x', fields: [], refusal: 'not-found' },
    { style: 'nginx' as const, url: '/other', fields: [], refusal: 'not-found' },
    { style: 'envoy' as const, url: '/_gatehouse/ext-authzx/api', fields: [], refusal: 'not-found' },
    { style: 'envoy' as const, url: '/api/x', fields: [], refusal: 'not-found' },
    { style: 'traefik' as const, url: '/', fields: [], refusal: 'not-found' },
    {
      style: 'nginx' as const,
      url: '/_gatehouse/ext-authz',
      fields: ['X-Original-Method: GET'],
      refusal: 'bad-request',
      detail: 'missing x-original-uri',
    },
    {
      style: 'nginx' as const,
      url: '/_gatehouse/ext-authz',
      fields: ['X-Original-URI: /a', 'X-Original-URI: /b', 'X-Original-Method: GET'],
      refusal: 'bad-request',
      detail: 'repeated or empty x-original-uri',
    },
    {
      style: 'nginx' as const,
      url: '/_gatehouse/ext-authz',
      fields: ['X-Original-URI: /a', 'X-Original-Method:'],
      refusal: 'bad-request',
      detail: 'repeated or empty x-original-method',
    },
    {
      style: 'traefik' as const,
      url: '/_gatehouse/ext-authz',
      fields: ['X-Forwarded-Uri: /a'],
      refusal: 'bad-request',
      detail: 'missing x-forwarded-method',
    },
    {
      style: 'traefik' as const,
      url: '/_gatehouse/ext-authz',
      fields: [
        'X-Forwarded-Uri: /a',
        'X-Forwarded-Method: GET',
        'X-Forwarded-Host: a',
        'X-Forwarded-Host: b',
      ],
      refusal: 'bad-request',
      detail: 'repeated x-forwarded-host',
    },
  ])('$style refuses $url $detail ($refusal)', ({ style, url, fields, refusal, detail }) => {
    expect(readOriginalRequest(checkRequest(`GET ${url}`, fields), configFor(style))).toMatchObject({
      ok: false,
      refusal,
      ...(detail === undefined ? {} : { detail }),
    });
  });
});

describe('buildOriginalRequestView', () => {
  it('is the check request with the original method, target and Host, and no body framing', () => {
    const req = checkRequest('GET /_gatehouse/ext-authz', [
      'Host: gatehouse.internal',
      'Authorization: Bearer a',
      'Authorization: Bearer b',
      'X-Original-URI: /api/x',
      'X-Original-Method: POST',
      'Content-Length: 12',
      'Transfer-Encoding: chunked',
      'X-Forwarded-For: 192.0.2.1',
    ]);
    const view = buildOriginalRequestView(req, { method: 'POST', target: '/api/x', host: 'api.example' }, [
      'x-original-uri',
      'x-original-method',
    ]);
    expect([view.method, view.url]).toEqual(['POST', '/api/x']);
    expect(view.rawHeaders).toEqual([
      'Authorization',
      'Bearer a',
      'Authorization',
      'Bearer b',
      'X-Forwarded-For',
      '192.0.2.1',
      'Host',
      'api.example',
    ]);
    expect(view.headers).toEqual({
      authorization: 'Bearer a',
      'x-forwarded-for': '192.0.2.1',
      host: 'api.example',
    });
    expect(view.headersDistinct).toEqual({
      authorization: ['Bearer a', 'Bearer b'],
      'x-forwarded-for': ['192.0.2.1'],
      host: ['api.example'],
    });
    // The socket is the data plane's: its address is the peer the trust decision is made on.
    expect(view.socket).toBe(req.socket);
    // The check request itself is unchanged.
    expect([req.method, req.url, req.headers.host]).toEqual([
      'GET',
      '/_gatehouse/ext-authz',
      'gatehouse.internal',
    ]);
  });

  it('names no Host when the data plane named none', () => {
    const view = buildOriginalRequestView(
      checkRequest('GET /_gatehouse/ext-authz', ['Host: gatehouse.internal']),
      { method: 'GET', target: '/', host: undefined },
      [],
    );
    expect(view.headers.host).toBeUndefined();
    expect(view.rawHeaders).toEqual([]);
  });

  it('hides the client certificate of a TLS data plane: it is never the client’s (RFC 8705 §3)', () => {
    const socket = new TLSSocket(new Socket());
    try {
      const req = new IncomingMessage(socket);
      [req.method, req.url] = ['GET', '/_gatehouse/ext-authz'];
      expect(typeof socket.getPeerX509Certificate).toBe('function');
      const view = buildOriginalRequestView(req, { method: 'GET', target: '/', host: undefined }, []);
      const seen = view.socket as Partial<TLSSocket>;
      expect(seen.getPeerX509Certificate).toBeUndefined();
      expect(seen.getPeerCertificate).toBeUndefined();
      // Everything else is the data plane's socket: its address, and that it is encrypted.
      expect(seen.remoteAddress).toBe(socket.remoteAddress);
      expect('encrypted' in seen).toBe(true);
      expect(req.socket).toBe(socket);
    } finally {
      socket.destroy();
    }
  });
});
