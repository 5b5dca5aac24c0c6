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
 * Upgrades and HTTP/2 cleartext: once a proxy relays a `101 Switching Protocols`, or tunnels bytes for an upgrade
 * the upstream refused, everything after is an opaque stream no route, filter or limit looks at (h2c smuggling).
 * No route proxies upgrades: the gateway refuses them itself and the upstream never hears of them.
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
    ],
  });
  target = { port: gw.port, upstream };
});

afterAll(async () => {
  await gw.close();
  await upstream.close();
});

const REFUSED: Refusal = { status: 400, code: 'ERR_GATEWAY_BAD_REQUEST', closes: true };
const H2C = 'Upgrade: h2c\r\nHTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA\r\n';
const WEBSOCKET =
  'Upgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n';
const get = (fields: string): string => `GET /public/x HTTP/1.1\r\n${HOST}${fields}\r\n`;

const cases: AttackCase[] = [
  {
    name: 'h2c upgrade (RFC 7540 §3.2)',
    request: get(`Connection: Upgrade, HTTP2-Settings\r\n${H2C}`),
    refused: REFUSED,
  },
  {
    name: 'h2c upgrade followed by an HTTP/2 preface',
    request: `${get(`Connection: Upgrade, HTTP2-Settings\r\n${H2C}`)}PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n`,
    refused: REFUSED,
  },
  {
    name: 'h2c upgrade on a POST with a body',
    request: `POST /public/x HTTP/1.1\r\n${HOST}Connection: Upgrade\r\n${H2C}Content-Type: text/plain\r\nContent-Length: 4\r\n\r\nabcd`,
    refused: REFUSED,
  },
  { name: 'WebSocket upgrade', request: get(`Connection: Upgrade\r\n${WEBSOCKET}`), refused: REFUSED },
  {
    name: 'WebSocket upgrade in lower case',
    request: get(`connection: upgrade\r\n${WEBSOCKET.toLowerCase()}`),
    refused: REFUSED,
  },
  {
    name: 'upgrade to an invented protocol',
    request: get('Connection: keep-alive, Upgrade\r\nUpgrade: tunnel/1.0\r\n'),
    refused: REFUSED,
  },
  {
    name: 'HTTP/2 connection preface (prior knowledge)',
    request: 'PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n',
    refused: REFUSED,
  },
  {
    // RFC 9112 §2.3: an HTTP/1 request line never says 2.0; a 1.1 server answers 505 or refuses it.
    name: 'HTTP/2.0 in an HTTP/1 request line',
    request: `GET /public/x HTTP/2.0\r\n${HOST}\r\n`,
    refused: { status: [400, 505] },
  },
];

describe('upgrades are refused by the gateway and never reach the upstream', () => {
  itEachCase(cases, (attack) => expectRefused(target, attack));
});

describe('an Upgrade without Connection: upgrade is only a field, and it is removed', () => {
  it.each([
    { name: 'websocket', fields: WEBSOCKET },
    { name: 'h2c, with HTTP2-Settings named in Connection', fields: `Connection: HTTP2-Settings\r\n${H2C}` },
  ])('$name', async ({ fields }) => {
    const { received } = await expectForwarded(target, get(fields));
    expect(received.headers['upgrade']).toBeUndefined();
    expect(received.headers['http2-settings']).toBeUndefined();
  });
});
