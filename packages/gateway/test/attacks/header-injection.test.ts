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
 * Header injection: fields that split into two, names no parser agrees on, Host confusion (RFC 9112 §3.2,
 * §5; RFC 9110 §5.5), and identity or forwarding headers a client writes hoping a service believes them
 * (issue 4: `x-gatehouse-*`, `x-forwarded-*`, `forwarded`, `x-real-ip` from an untrusted peer).
 */

let upstream: RecordingUpstream;
let gw: StartedGateway;
let target: AttackTarget;

beforeAll(async () => {
  upstream = await startRecordingUpstream();
  gw = await startGateway({
    upstreams: { app: { targets: [upstream.url] } },
    routes: [{ id: 'public', match: { pathPrefix: '/public' }, upstream: 'app', auth: 'none' }],
  });
  target = { port: gw.port, upstream };
});

afterAll(async () => {
  await gw.close();
  await upstream.close();
});

const withFields = (fields: string): string => `GET /public/x HTTP/1.1\r\n${fields}\r\n`;
const BAD: Refusal = { status: 400, code: 'ERR_GATEWAY_BAD_REQUEST', closes: true };

const cases: AttackCase[] = [
  // RFC 9110 §5.5: CR, LF and NUL are never valid in a field value.
  {
    name: 'CR in a value (response splitting upstream)',
    request: withFields(`${HOST}X-Note: a\rX-Gatehouse-Sub: admin\r\n`),
    refused: BAD,
  },
  {
    name: 'LF in a value',
    request: withFields(`${HOST}X-Note: a\nX-Gatehouse-Sub: admin\r\n`),
    refused: BAD,
  },
  { name: 'NUL in a value', request: withFields(`${HOST}X-Note: a\x00b\r\n`), refused: BAD },
  { name: 'DEL in a value', request: withFields(`${HOST}X-Note: a\x7fb\r\n`), refused: BAD },
  // RFC 9110 §5.1: a field name is a token.
  { name: 'NUL in a name', request: withFields(`${HOST}X-\x00Note: a\r\n`), refused: BAD },
  { name: 'latin-1 byte in a name', request: withFields(`${HOST}X-\xe9: a\r\n`), refused: BAD },
  { name: 'UTF-8 in a name', request: withFields(`${HOST}X-\xc3\xa9t\xc3\xa9: a\r\n`), refused: BAD },
  { name: 'space inside a name', request: withFields(`${HOST}X Gatehouse Sub: admin\r\n`), refused: BAD },
  { name: 'empty name', request: withFields(`${HOST}: admin\r\n`), refused: BAD },
  { name: 'slash in a name', request: withFields(`${HOST}X-Gatehouse/Sub: admin\r\n`), refused: BAD },
  // RFC 9112 §3.2: exactly one valid Host, else 400.
  {
    name: 'duplicate Host',
    request: withFields('Host: gateway.test\r\nHost: admin.internal\r\n'),
    refused: { status: 400, code: 'ERR_GATEWAY_BAD_REQUEST' },
  },
  { name: 'missing Host in HTTP/1.1', request: withFields(''), refused: { status: 400 } },
  {
    name: 'Host with a path',
    request: withFields('Host: gateway.test/admin\r\n'),
    refused: { status: 400, code: 'ERR_GATEWAY_BAD_REQUEST' },
  },
  {
    name: 'Host with user info',
    request: withFields('Host: admin@internal\r\n'),
    refused: { status: 400, code: 'ERR_GATEWAY_BAD_REQUEST' },
  },
  {
    name: 'Host with a space',
    request: withFields('Host: gateway.test admin.internal\r\n'),
    refused: { status: 400, code: 'ERR_GATEWAY_BAD_REQUEST' },
  },
];

describe('malformed fields and Host confusion are refused, nothing reaches the upstream', () => {
  itEachCase(cases, (attack) => expectRefused(target, attack));
});

describe('identity and forwarding headers from an untrusted client arrive sanitised', () => {
  it('no x-gatehouse-* header, whatever its case, reaches the service', async () => {
    const { received } = await expectForwarded(
      target,
      withFields(
        `${HOST}X-Gatehouse-Sub: admin\r\nx-gatehouse-client-id: root\r\nX-GATEHOUSE-SCOPES: admin:all\r\nX-Gatehouse-Authenticated: true\r\n`,
      ),
    );
    const names = received.rawHeaders.filter((_, index) => index % 2 === 0).map((name) => name.toLowerCase());
    expect(names.filter((name) => name.startsWith('x-gatehouse-'))).toEqual([]);
  });

  it('forwarding headers are the gateway’s, not the client’s', async () => {
    const { received } = await expectForwarded(
      target,
      withFields(
        `${HOST}X-Forwarded-For: 10.0.0.1\r\nX-Forwarded-For: 10.0.0.2\r\nX-Forwarded-Host: admin.internal\r\n` +
          'X-Forwarded-Proto: https\r\nX-Forwarded-Port: 443\r\nX-Forwarded-Prefix: /admin\r\n' +
          'Forwarded: for=10.0.0.1;host=admin.internal\r\nX-Real-IP: 10.0.0.1\r\n',
      ),
    );
    expect(received.headers['x-forwarded-for']).toBe('127.0.0.1');
    expect(received.headers['x-forwarded-host']).toBe('gateway.test');
    expect(received.headers['x-forwarded-proto']).toBe('http');
    expect(received.headers['forwarded']).toBe('for=127.0.0.1;host=gateway.test;proto=http');
    expect(received.headers['x-forwarded-port']).toBeUndefined();
    expect(received.headers['x-forwarded-prefix']).toBeUndefined();
    expect(received.headers['x-real-ip']).toBeUndefined();
  });

  it('client credentials never reach the service of a public route', async () => {
    const { received } = await expectForwarded(
      target,
      withFields(
        `${HOST}Authorization: Bearer external-token\r\nCookie: session=abc\r\nProxy-Authorization: Basic eDp5\r\nDPoP: proof\r\n`,
      ),
    );
    for (const name of ['authorization', 'cookie', 'proxy-authorization', 'dpop'])
      expect(received.headers[name], name).toBeUndefined();
  });

  it('request id and trace context chosen by the client are replaced', async () => {
    const { received, response } = await expectForwarded(
      target,
      withFields(
        `${HOST}X-Request-Id: attacker-chosen\r\ntraceparent: 00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01\r\ntracestate: vendor=evil\r\n`,
      ),
    );
    expect(received.headers['x-request-id']).not.toBe('attacker-chosen');
    expect(received.headers['x-request-id']).toBe(response.headers['x-request-id']);
    expect(received.headers['traceparent']).not.toContain('0af7651916cd43dd8448eb211c80319c');
    expect(received.headers['tracestate']).toBeUndefined();
  });
});
