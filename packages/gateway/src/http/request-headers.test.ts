import { describe, expect, it } from 'vitest';
import { buildUpstreamHeaders, fieldValue, type ForwardContext } from './request-headers.js';

const TRACEPARENT = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';
const OUR_TRACEPARENT = '00-4bf92f3577b34da6a3ce929d0e0e4736-1111111111111111-01';
const NEW_TRACEPARENT = '00-aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa-2222222222222222-01';

const untrusted: ForwardContext = {
  clientIp: '203.0.113.9',
  peerTrusted: false,
  proto: 'https',
  host: 'api.example.com',
  requestId: 'gw-1',
  traceparent: NEW_TRACEPARENT,
  authorization: undefined,
  allowCookies: false,
};
const trusted: ForwardContext = {
  ...untrusted,
  clientIp: '198.51.100.1',
  peerIp: '10.0.0.2',
  peerTrusted: true,
  traceparent: OUR_TRACEPARENT,
};

/** The list sent upstream, read back as a dictionary: each name once, in lower case. */
function build(raw: readonly string[], ctx: ForwardContext = untrusted): Record<string, string> {
  const list = buildUpstreamHeaders(raw, ctx);
  expect(list.length % 2).toBe(0);
  const headers = Object.create(null) as Record<string, string>;
  for (let i = 0; i < list.length; i += 2) {
    const name = list[i] as string;
    expect(name in headers, `${name} is sent once`).toBe(false);
    expect(fieldValue(list, name)).toBe(list[i + 1]);
    headers[name] = list[i + 1] as string;
  }
  return headers;
}

describe('buildUpstreamHeaders: headers that never reach the service', () => {
  // attack: incoming header(s) → header names that must not be forwarded as received
  // prettier-ignore
  const cases: ReadonlyArray<readonly [string, readonly string[], ForwardContext, readonly string[]]> = [
    ['hop-by-hop headers', ['Connection', 'keep-alive', 'Keep-Alive', 'timeout=5', 'TE', 'trailers', 'Trailer', 'x', 'Upgrade', 'h2c', 'Proxy-Connection', 'keep-alive'], untrusted, ['connection', 'keep-alive', 'te', 'trailer', 'upgrade', 'proxy-connection']],
    ['Transfer-Encoding', ['Transfer-Encoding', 'chunked'], untrusted, ['transfer-encoding']],
    ['proxy credentials', ['Proxy-Authorization', 'Basic eDp5', 'Proxy-Authenticate', 'Basic'], trusted, ['proxy-authorization', 'proxy-authenticate']],
    ['Host (the proxy sets it)', ['Host', 'internal.svc'], trusted, ['host']],
    ['Expect (answered by the gateway)', ['Expect', '100-continue'], untrusted, ['expect']],
    ['a header named in Connection', ['Connection', 'X-Secret-Hop', 'X-Secret-Hop', '1'], untrusted, ['x-secret-hop']],
    ['several headers named in Connection', ['Connection', 'close, X-A ,x-b', 'Connection', 'X-C', 'X-A', '1', 'x-B', '2', 'X-C', '3'], untrusted, ['x-a', 'x-b', 'x-c']],
    ['Connection naming the forwarding chain (trusted)', ['Connection', 'X-Forwarded-For, Forwarded', 'X-Forwarded-For', '192.0.2.66', 'Forwarded', 'for=192.0.2.66'], trusted, []],
    ['client Authorization', ['Authorization', 'Bearer external-token'], untrusted, ['authorization']],
    ['client Authorization from a trusted peer', ['Authorization', 'Bearer external-token'], trusted, ['authorization']],
    ['DPoP proof', ['DPoP', 'eyJ...'], trusted, ['dpop']],
    ['cookies when the route does not allow them', ['Cookie', 'session=abc'], trusted, ['cookie']],
    ['identity namespace', ['X-Gatehouse-Sub', 'admin', 'x-gatehouse-scopes', 'admin:all', 'X-GATEHOUSE-CLIENT-ID', 'root'], trusted, ['x-gatehouse-sub', 'x-gatehouse-scopes', 'x-gatehouse-client-id']],
    ['spoofed X-Real-IP', ['X-Real-IP', '127.0.0.1'], untrusted, ['x-real-ip']],
    ['spoofed X-Forwarded-Port/-Prefix', ['X-Forwarded-Port', '443', 'X-Forwarded-Prefix', '/admin'], untrusted, ['x-forwarded-port', 'x-forwarded-prefix']],
    ['spoofed tracestate', ['tracestate', 'vendor=evil'], untrusted, ['tracestate']],
    ['tracestate of a trace that was not continued', ['traceparent', TRACEPARENT, 'tracestate', 'a=1'], { ...trusted, traceparent: NEW_TRACEPARENT }, ['tracestate']],
    ['tracestate without traceparent', ['tracestate', 'a=1'], trusted, ['tracestate']],
    ['RFC 9440 client certificate fields', ['Client-Cert', ':MIIB:', 'Client-Cert-Chain', ':MIIC:'], untrusted, ['client-cert', 'client-cert-chain']],
    ['RFC 9440 fields from a trusted proxy (consumed by the gateway)', ['Client-Cert', ':MIIB:'], trusted, ['client-cert']],
    ['the configured clientCertificateHeader', ['X-SSL-Client-Cert', '-----BEGIN'], { ...trusted, certificateHeader: 'x-ssl-client-cert' }, ['x-ssl-client-cert']],
  ];

  it.each(cases)('drops %s', (_, raw, ctx, dropped) => {
    const headers = build(raw, ctx);
    for (const name of dropped) expect(headers).not.toHaveProperty(name);
    for (const name of Object.keys(headers)) expect(name).toBe(name.toLowerCase());
  });

  // attack: spoofed forwarding header from an untrusted peer → the value the service sees
  const spoofs: ReadonlyArray<readonly [string, string, string, string]> = [
    ['X-Forwarded-For', '127.0.0.1', 'x-forwarded-for', '203.0.113.9'],
    [
      'Forwarded',
      'for=127.0.0.1;proto=https',
      'forwarded',
      'for=203.0.113.9;host=api.example.com;proto=https',
    ],
    ['X-Forwarded-Proto', 'http', 'x-forwarded-proto', 'https'],
    ['X-Forwarded-Host', 'admin.internal', 'x-forwarded-host', 'api.example.com'],
    ['X-Request-Id', 'forged\r\n', 'x-request-id', 'gw-1'],
    ['traceparent', TRACEPARENT, 'traceparent', NEW_TRACEPARENT],
  ];

  it.each(spoofs)('replaces a spoofed %s', (name, value, lower, expected) => {
    expect(build([name, value])[lower]).toBe(expected);
  });
});

describe('buildUpstreamHeaders: what the service receives', () => {
  it('sets the forwarding headers for an untrusted peer', () => {
    expect({ ...build(['Host', 'api.example.com', 'Accept', 'application/json']) }).toEqual({
      accept: 'application/json',
      forwarded: 'for=203.0.113.9;host=api.example.com;proto=https',
      'x-forwarded-for': '203.0.113.9',
      'x-forwarded-proto': 'https',
      'x-forwarded-host': 'api.example.com',
      'x-request-id': 'gw-1',
      traceparent: NEW_TRACEPARENT,
    });
  });

  it('appends our hop to a trusted peer’s chain and keeps its other forwarding headers', () => {
    const headers = build(
      [
        'Forwarded',
        'for=198.51.100.1;proto=https',
        'X-Forwarded-For',
        '198.51.100.1',
        'X-Forwarded-For',
        '10.0.0.3',
        'X-Real-IP',
        '198.51.100.1',
        'X-Forwarded-Port',
        '443',
        'traceparent',
        TRACEPARENT,
        'tracestate',
        'a=1',
        'tracestate',
        'b=2',
        'X-Request-Id',
        'lb-7',
      ],
      trusted,
    );
    expect(headers.forwarded).toBe(
      'for=198.51.100.1;proto=https, for=10.0.0.2;host=api.example.com;proto=https',
    );
    expect(headers['x-forwarded-for']).toBe('198.51.100.1, 10.0.0.3, 10.0.0.2');
    expect(headers['x-real-ip']).toBe('198.51.100.1');
    expect(headers['x-forwarded-port']).toBe('443');
    expect(headers.tracestate).toBe('a=1, b=2');
    expect(headers.traceparent).toBe(OUR_TRACEPARENT);
    expect(headers['x-request-id']).toBe('gw-1');
  });

  it('names the client when no peer address is given', () => {
    const withoutPeer: ForwardContext = { ...trusted };
    delete withoutPeer.peerIp;
    expect(build([], withoutPeer)['x-forwarded-for']).toBe('198.51.100.1');
  });

  it.each([
    ['2001:db8::1', 'api.example.com', 'for="[2001:db8::1]";host=api.example.com;proto=https'],
    ['203.0.113.9', 'api.example.com:8443', 'for=203.0.113.9;host="api.example.com:8443";proto=https'],
    // The same host again (remembered), then another, then back.
    ['203.0.113.10', 'api.example.com:8443', 'for=203.0.113.10;host="api.example.com:8443";proto=https'],
    ['203.0.113.9', 'api.example.com', 'for=203.0.113.9;host=api.example.com;proto=https'],
    ['203.0.113.9', 'api.example.com:8443', 'for=203.0.113.9;host="api.example.com:8443";proto=https'],
    ['203.0.113.9', '[2001:db8::2]:8443', 'for=203.0.113.9;host="[2001:db8::2]:8443";proto=https'],
    ['203.0.113.9', 'a"b\\c', 'for=203.0.113.9;host="a\\"b\\\\c";proto=https'],
    ['', 'api.example.com', 'for=unknown;host=api.example.com;proto=https'],
    ['203.0.113.9', '', 'for=203.0.113.9;proto=https'],
  ])('formats Forwarded for %j and host %j (RFC 7239 §4, §6)', (clientIp, host, expected) => {
    const headers = build([], { ...untrusted, clientIp, host });
    expect(headers.forwarded).toBe(expected);
    expect('x-forwarded-host' in headers).toBe(host !== '');
  });

  it('forwards the gateway’s Authorization only', () => {
    const headers = build(['Authorization', 'Bearer external'], {
      ...untrusted,
      authorization: 'Bearer internal-jwt',
    });
    expect(headers.authorization).toBe('Bearer internal-jwt');
  });

  it('joins repeated headers, cookies with "; " when the route allows them', () => {
    const headers = build(
      ['Cookie', 'a=1', 'Accept', 'text/html', 'cookie', 'b=2', 'accept', 'application/json'],
      { ...untrusted, allowCookies: true },
    );
    expect(headers.cookie).toBe('a=1; b=2');
    expect(headers.accept).toBe('text/html, application/json');
  });

  it('keeps Content-Length, even when named in Connection', () => {
    const headers = build([
      'Content-Length',
      '5',
      'Connection',
      'content-length',
      'Content-Type',
      'text/plain',
    ]);
    expect(headers['content-length']).toBe('5');
    expect(headers['content-type']).toBe('text/plain');
  });

  it.each([
    ['replaces the client’s with the length of the body sent', 12, '12'],
    ['drops it when no body is sent', null, undefined],
  ])('Content-Length: %s', (_, bodyLength, expected) => {
    const headers = build(['Content-Length', '5', 'Accept', '*/*'], { ...untrusted, bodyLength });
    expect(headers['content-length']).toBe(expected);
    expect(headers.accept).toBe('*/*');
  });

  it('reads no field that was not sent', () => {
    expect(fieldValue(buildUpstreamHeaders([], untrusted), 'authorization')).toBeUndefined();
  });

  it('treats prototype names as plain headers', () => {
    const headers = build(['__proto__', 'x', 'constructor', 'y', 'HasOwnProperty', 'z']);
    expect(Object.getPrototypeOf(headers)).toBeNull();
    expect(headers.__proto__).toBe('x');
    expect(headers.constructor).toBe('y');
    expect(headers.hasownproperty).toBe('z');
  });

  it('ignores a dangling name and empty Connection options', () => {
    const headers = build(['Connection', ' , ', 'X-A', '1', 'X-Dangling']);
    expect(headers['x-a']).toBe('1');
    expect(headers['x-dangling']).toBe('');
  });
});
