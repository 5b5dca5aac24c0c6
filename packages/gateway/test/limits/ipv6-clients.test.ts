import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ACCOUNTS, API, startAuthServer, TestClock, type TestAuthServer } from '../support/auth-server.js';
import { ALL_DETECTORS_OFF, startDetectStack, type DetectStack } from '../detect/support.js';

/**
 * IPv6 clients are counted per network (`ipv6ClientPrefix`, default /64): a client that rotates
 * addresses within the block it holds (RFC 8981 privacy addresses, or a whole routed /64) meets
 * the same rate limit, the same brute-force count and the same automatic ban. Real gateway and
 * auth server; the test client is a trusted proxy, so X-Forwarded-For names each client.
 */

const LIMIT = 3;
const BRUTE_FORCE = 5;
const FUZZING = 8;
/** An address of the fuzzing detector's `exempt` list: its /64 is never banned automatically. */
const EXEMPT = '2001:db8:ee:1::7';

const clock = new TestClock();
let as: TestAuthServer;

async function stackWith(ipv6ClientPrefix: number | undefined): Promise<DetectStack> {
  const gatewayClient = await as.createGatewayClient();
  return startDetectStack(
    {
      ...(ipv6ClientPrefix === undefined ? {} : { ipv6ClientPrefix }),
      auth: {
        issuer: as.issuer,
        audience: [API],
        clientId: gatewayClient.clientId,
        clientSecret: gatewayClient.clientSecret,
      },
      bruteForce: { threshold: BRUTE_FORCE, windowSec: 60, banSec: 600 },
      detection: {
        ...ALL_DETECTORS_OFF,
        fuzzing: { enabled: true, action: 'ban', threshold: FUZZING, windowSec: 60 },
        ban: { banSec: 600, multiplier: 2 },
        exempt: [EXEMPT],
      },
      alerts: { enabled: false },
      routes: [
        {
          id: 'open',
          match: { pathPrefix: '/open' },
          upstream: 'app',
          auth: 'none',
          rateLimits: [{ id: 'per-ip', limit: LIMIT, windowSec: 60, key: ['ip'] }],
        },
        { id: 'api', match: { pathPrefix: '/api' }, upstream: 'app', auth: 'jwt', audience: ACCOUNTS },
      ],
    },
    { now: clock.now, state: as.state },
  );
}

beforeAll(async () => {
  as = await startAuthServer({ clock });
});
afterAll(() => as.close());

describe('IPv6 clients counted per /64 (the default)', () => {
  let stack: DetectStack;
  beforeAll(async () => {
    stack = await stackWith(undefined);
  });
  afterAll(() => stack.close());

  /** One rate-limit budget per case: each row's addresses are its own network. */
  const RATE_LIMIT_CASES: readonly {
    readonly name: string;
    /** The first LIMIT requests, each admitted. */
    readonly spend: readonly string[];
    /** Then these: refused (429) when in the same counted client. */
    readonly refused: readonly string[];
    /** And these: admitted (another client). */
    readonly admitted: readonly string[];
  }[] = [
    {
      name: 'addresses rotated within one /64 share one budget',
      spend: ['2001:db8:1:1::1', '2001:db8:1:1::2', '2001:db8:1:1:8000::3'],
      refused: ['2001:db8:1:1:ffff:ffff:ffff:ffff', '2001:db8:1:1::4'],
      admitted: ['2001:db8:1:2::1', '2001:db8:1:0:ffff::1'],
    },
    {
      name: 'another spelling of the same /64 (leading zeros, upper case, no ::) is the same client',
      spend: ['2001:db8:2:1::a', '2001:db8:2:1::b', '2001:db8:2:1::c'],
      refused: ['2001:0DB8:0002:0001:0000:0000:0000:000D', '2001:db8:2:1:0:0:0:e'],
      admitted: ['2001:db8:2:2::a'],
    },
    {
      name: 'an IPv4-embedding address (NAT64, RFC 6052) is counted by its /64 too',
      spend: ['64:ff9b::192.0.2.10', '64:ff9b::192.0.2.11', '64:ff9b::c000:20c'],
      refused: ['64:ff9b::198.51.100.1'],
      admitted: ['64:ff9b:0:1::192.0.2.10'],
    },
    {
      name: 'IPv4 clients stay per address (positive control)',
      spend: ['192.0.2.1', '192.0.2.1', '192.0.2.1'],
      refused: ['192.0.2.1', '::ffff:192.0.2.1'],
      admitted: ['192.0.2.2', '192.0.2.3'],
    },
  ];

  it.each(RATE_LIMIT_CASES)('rate limit keyed by ip: $name', async ({ spend, refused, admitted }) => {
    for (const ip of spend) expect((await stack.send('/open', { ip })).status, ip).toBe(200);
    for (const ip of refused) {
      const answer = await stack.send('/open', { ip });
      expect([answer.status, answer.code], ip).toEqual([429, 'ERR_GATEWAY_RATE_LIMITED']);
    }
    for (const ip of admitted) expect((await stack.send('/open', { ip })).status, ip).toBe(200);
  });

  it("the admin console's top clients count a /64 as one client, an IPv4 address as itself", async () => {
    const rotated = ['2001:db8:7:1::1', '2001:db8:7:1::2', '2001:db8:7:1:ffff::3'];
    for (const ip of rotated) expect((await stack.send('/open', { ip })).status, ip).toBe(200);
    expect((await stack.send('/open', { ip: '192.0.2.77' })).status).toBe(200);
    const { body } = (await stack.admin('/admin/gateway/top-clients?limit=100')) as {
      body: { clients: { kind: string; id: string; requests: number }[] };
    };
    const ids = body.clients.map((client) => client.id);
    expect(body.clients).toContainEqual(
      expect.objectContaining({ kind: 'ip', id: '2001:db8:7:1::/64', requests: rotated.length }),
    );
    expect(body.clients).toContainEqual(
      expect.objectContaining({ kind: 'ip', id: '192.0.2.77', requests: 1 }),
    );
    for (const ip of rotated) expect(ids).not.toContain(ip);
  });

  it('401s from addresses rotated within one /64 ban the whole /64, and only it', async () => {
    const network = '2001:db8:3:1::/64';
    for (let host = 1; host <= BRUTE_FORCE; host++) {
      const answer = await stack.send('/api/accounts', { ip: `2001:db8:3:1::${String(host)}`, token: 'x' });
      expect(answer.status).toBe(401);
    }
    await expect
      .poll(() => stack.gw.gateway.bans.isBanned('2001:db8:3:1::99'))
      .toMatchObject({
        subject: network,
        source: 'brute-force',
      });
    // A new address of the block is refused before any other work; the next block is not.
    expect(await stack.send('/open', { ip: '2001:db8:3:1:abcd::1' })).toEqual({
      status: 403,
      code: 'ERR_GATEWAY_BANNED',
    });
    expect((await stack.send('/open', { ip: '2001:db8:3:2::1' })).status).toBe(200);
    const [event] = stack.audited('gateway.brute_force.detected');
    expect(event).toMatchObject({
      sourceIp: `2001:db8:3:1::${String(BRUTE_FORCE)}`,
      target: { id: network },
    });
    const listed = (await stack.admin('/admin/gateway/bans')).body as { bans: { subject: string }[] };
    expect(listed.bans.map((ban) => ban.subject)).toContain(network);
  });

  it('probing from addresses rotated within one /64 gets the /64 banned by the fuzzing detector', async () => {
    for (let n = 0; n < FUZZING; n++) {
      expect((await stack.send('/wp-admin/setup.php', { ip: `2001:db8:4:1::${String(n + 1)}` })).status).toBe(
        404,
      );
    }
    await expect
      .poll(() => stack.gw.gateway.bans.isBanned('2001:db8:4:1:ffff::1'))
      .toMatchObject({ subject: '2001:db8:4:1::/64', source: 'detector' });
  });

  it('a /64 that holds an exempt address is not banned by a detector', async () => {
    for (let n = 0; n < FUZZING + 2; n++) {
      const ip = `2001:db8:ee:1::${String(100 + n)}`;
      expect((await stack.send('/wp-admin/setup.php', { ip })).status).toBe(404);
    }
    // Give a ban every chance to land, then check it did not.
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(stack.gw.gateway.bans.isBanned(EXEMPT)).toBeUndefined();
    expect(stack.gw.gateway.bans.isBanned('2001:db8:ee:1::100')).toBeUndefined();
    expect((await stack.send('/open', { ip: EXEMPT })).status).toBe(200);
  });
});

describe('ipv6ClientPrefix: 128 (per address)', () => {
  let stack: DetectStack;
  beforeAll(async () => {
    stack = await stackWith(128);
  });
  afterAll(() => stack.close());

  it('each IPv6 address has its own budget', async () => {
    for (let n = 0; n < LIMIT; n++)
      expect((await stack.send('/open', { ip: '2001:db8:9:1::1' })).status).toBe(200);
    expect((await stack.send('/open', { ip: '2001:db8:9:1::1' })).status).toBe(429);
    expect((await stack.send('/open', { ip: '2001:db8:9:1::2' })).status).toBe(200);
  });
});

describe('ipv6ClientPrefix: 48', () => {
  let stack: DetectStack;
  beforeAll(async () => {
    stack = await stackWith(48);
  });
  afterAll(() => stack.close());

  it('addresses of different /64s within one /48 share one budget', async () => {
    for (const ip of ['2001:db8:5:1::1', '2001:db8:5:2::1', '2001:db8:5:ffff::1'])
      expect((await stack.send('/open', { ip })).status, ip).toBe(200);
    expect((await stack.send('/open', { ip: '2001:db8:5:abcd::1' })).status).toBe(429);
    expect((await stack.send('/open', { ip: '2001:db8:6:1::1' })).status).toBe(200);
  });
});
