import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startRecordingUpstream, type RecordingUpstream } from '../support/recording-upstream.js';
import { accountsRoute, publicRoute } from '../support/routes.js';
import { startGateway, type StartedGateway } from '../support/start-gateway.js';
import {
  expectForwarded,
  expectRefused,
  itEachCase,
  HOST,
  type AttackCase,
  type AttackTarget,
} from './attack-table.js';
import { PATH_CASES, PATH_MAX_URL, PATH_REFUSALS } from './path-cases.js';

/**
 * Path bypasses: one canonical path (issue 4, Hardening). The upstream serves everything, `/admin` and
 * `/public/internal` included; the gateway routes only `/public` (minus a deny rule on `/public/internal`) and
 * `/api/accounts` (rewritten to `/accounts`). Any target that two parsers could read differently is refused; one
 * that resolves outside a route is not found; nothing of either kind reaches the upstream.
 */

let upstream: RecordingUpstream;
let gw: StartedGateway;
let target: AttackTarget;

beforeAll(async () => {
  upstream = await startRecordingUpstream();
  gw = await startGateway({
    limits: { maxUrlLength: PATH_MAX_URL },
    upstreams: { app: { targets: [upstream.url] } },
    routes: [publicRoute(), accountsRoute({ auth: 'none' })],
  });
  target = { port: gw.port, upstream };
});

afterAll(async () => {
  await gw.close();
  await upstream.close();
});

const get = (requestTarget: string, method = 'GET'): string =>
  `${method} ${requestTarget} HTTP/1.1\r\n${HOST}\r\n`;

const cases: AttackCase[] = PATH_CASES.map(({ name, target: requestTarget, method, verdict }) => ({
  name,
  request: get(requestTarget, method),
  refused: { ...PATH_REFUSALS[verdict], ...(verdict === 'malformed' ? { closes: true } : {}) },
}));

describe('path bypasses are refused and never reach the upstream', () => {
  itEachCase(cases, (attack) => expectRefused(target, attack));
});

describe('the string matched is the string forwarded', () => {
  it.each([
    { name: 'a plain path', sent: '/public/ok', forwarded: '/public/ok' },
    {
      name: 'escaped unreserved characters decoded',
      sent: '/public/%7Euser/%41',
      forwarded: '/public/~user/A',
    },
    { name: 'other escapes kept, in upper case', sent: '/public/a%3fb%2a', forwarded: '/public/a%3Fb%2A' },
    {
      name: 'dot-segments and duplicate slashes resolved',
      sent: '/public//a/./b/../c',
      forwarded: '/public/a/c',
    },
    {
      name: 'the prefix rewritten after resolution',
      sent: '/api/accounts/x/../7?y=1',
      forwarded: '/accounts/7?y=1',
    },
  ])('$name', async ({ sent, forwarded }) => {
    const { received } = await expectForwarded(target, get(sent));
    expect(received.url).toBe(forwarded);
  });
});
