import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startRecordingUpstream, type RecordingUpstream } from '../support/recording-upstream.js';
import { startGateway, type StartedGateway } from '../support/start-gateway.js';
import { exchange, expectRefusal, HOST, parseFirstResponse } from './attack-table.js';

/**
 * X-Forwarded-For spoofing against per-IP rate limits: a client rotating the address it claims must stay in its
 * own bucket. From an untrusted peer every forwarding header is ignored (the socket address is the client);
 * behind a trusted proxy only the hops that proxy appended are believed, read from the right.
 */

const LIMIT = 3;
const ATTEMPTS = 8;

let upstream: RecordingUpstream;
let direct: StartedGateway;
let behindProxy: StartedGateway;

/** One route per case, each with its own per-IP limit (a rule id is part of every counter key). */
const CASES = ['xff', 'real-ip', 'forwarded', 'xff-list', 'appended', 'malformed', 'mapped'] as const;
const routes = CASES.map((id) => ({
  id,
  match: { pathPrefix: `/${id}` },
  upstream: 'app',
  auth: 'none' as const,
  rateLimits: [{ id: `per-ip-${id}`, limit: LIMIT, windowSec: 3600, key: ['ip' as const] }],
}));

beforeAll(async () => {
  upstream = await startRecordingUpstream();
  direct = await startGateway({ upstreams: { app: { targets: [upstream.url] } }, routes });
  behindProxy = await startGateway({
    trustedProxies: ['127.0.0.1'],
    upstreams: { app: { targets: [upstream.url] } },
    routes,
  });
});

afterAll(async () => {
  await direct.close();
  await behindProxy.close();
  await upstream.close();
});

/**
 * Sends ATTEMPTS requests to `/{route}/{n}` with the spoofing fields of attempt n: the first LIMIT pass, every
 * later one is refused with 429 and never reaches the upstream.
 */
async function expectOneBucket(
  gw: StartedGateway,
  route: string,
  fields: (n: number) => string,
): Promise<void> {
  const statuses: (number | undefined)[] = [];
  for (let n = 0; n < ATTEMPTS; n++) {
    const result = await exchange(gw.port, `GET /${route}/${n} HTTP/1.1\r\n${HOST}${fields(n)}\r\n`);
    statuses.push(result.status);
    if (n >= LIMIT) {
      expectRefusal(result, { status: 429, code: 'ERR_GATEWAY_RATE_LIMITED' });
      expect(parseFirstResponse(result.raw)?.headers['retry-after']).toMatch(/^\d+$/);
    }
  }
  expect(statuses).toEqual([...Array<number>(LIMIT).fill(200), ...Array<number>(ATTEMPTS - LIMIT).fill(429)]);
  const reached = upstream.requests.filter((request) => request.url.startsWith(`/${route}/`));
  expect(reached.map((request) => request.url)).toEqual(
    Array.from({ length: LIMIT }, (_, n) => `/${route}/${n}`),
  );
}

describe('from an untrusted peer, forwarding headers do not move the client to another bucket', () => {
  it('rotating X-Forwarded-For', async () => {
    await expectOneBucket(direct, 'xff', (n) => `X-Forwarded-For: 198.51.100.${n + 1}\r\n`);
  });

  it('rotating X-Real-IP', async () => {
    await expectOneBucket(direct, 'real-ip', (n) => `X-Real-IP: 198.51.100.${n + 1}\r\n`);
  });

  it('rotating Forwarded: for=', async () => {
    await expectOneBucket(direct, 'forwarded', (n) => `Forwarded: for=198.51.100.${n + 1};proto=https\r\n`);
  });

  it('rotating lists and repeated X-Forwarded-For lines', async () => {
    await expectOneBucket(
      direct,
      'xff-list',
      (n) =>
        `X-Forwarded-For: 203.0.113.${n + 1}, 198.51.100.${n + 1}\r\nX-Forwarded-For: 192.0.2.${n + 1}\r\n`,
    );
  });
});

describe('behind a trusted proxy, only the hops it appended count', () => {
  it('rotating the client-written part of X-Forwarded-For', async () => {
    // The proxy appended the real client (203.0.113.7); everything left of it is the client's own writing.
    await expectOneBucket(
      behindProxy,
      'appended',
      (n) => `X-Forwarded-For: 198.51.100.${n + 1}, 203.0.113.7\r\n`,
    );
  });

  it('rotating garbage after the last hop stops the walk at the proxy', async () => {
    await expectOneBucket(behindProxy, 'malformed', (n) => `X-Forwarded-For: not-an-ip-${n}\r\n`);
  });

  it('rotating spellings of one address (IPv4-mapped IPv6, case)', async () => {
    const spellings = ['203.0.113.9', '::ffff:203.0.113.9', '::FFFF:203.0.113.9'];
    await expectOneBucket(
      behindProxy,
      'mapped',
      (n) => `X-Forwarded-For: ${spellings[n % spellings.length] ?? ''}\r\n`,
    );
  });

  it('a different real client still has its own budget', async () => {
    const result = await exchange(
      behindProxy.port,
      `GET /appended/other HTTP/1.1\r\n${HOST}X-Forwarded-For: 203.0.113.8\r\n\r\n`,
    );
    expect(result.status).toBe(200);
  });
});
