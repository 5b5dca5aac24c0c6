import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ACCOUNTS, API, startAuthServer, TestClock, type TestAuthServer } from '../support/auth-server.js';
import { ALL_DETECTORS_OFF, metricValue, startDetectStack, type DetectStack } from './support.js';

/**
 * Rate-limit evasion: per-IP limits dodged by spreading one token over many addresses, per-token
 * limits dodged by rotating tokens from one address. Real tokens from the real auth server.
 */

const IPS_PER_TOKEN = 5;
const TOKENS_PER_IP = 4;
const clock = new TestClock();
let as: TestAuthServer;
let stack: DetectStack;

async function tokenOfNewClient(): Promise<{ clientId: string; token: string }> {
  const client = await as.createClient({ resources: [ACCOUNTS], tokenFormat: 'jwt' });
  return { clientId: client.clientId, token: await as.tokenFor(client, { resource: ACCOUNTS }) };
}

beforeAll(async () => {
  as = await startAuthServer({ clock });
  const gatewayClient = await as.createGatewayClient();
  stack = await startDetectStack(
    {
      auth: {
        issuer: as.issuer,
        audience: [API],
        clientId: gatewayClient.clientId,
        clientSecret: gatewayClient.clientSecret,
      },
      detection: {
        ...ALL_DETECTORS_OFF,
        rateLimitEvasion: {
          enabled: true,
          action: 'ban',
          windowSec: 600,
          ipsPerIdentity: IPS_PER_TOKEN,
          identitiesPerIp: TOKENS_PER_IP,
        },
      },
      alerts: { enabled: false },
      routes: [
        {
          id: 'api',
          match: { pathPrefix: '/api' },
          upstream: 'app',
          auth: 'jwt',
          audience: ACCOUNTS,
          rateLimits: [{ id: 'per-ip', limit: 1000, windowSec: 60, key: ['ip'] }],
        },
      ],
    },
    { now: clock.now, state: as.state },
  );
});
afterAll(async () => {
  await stack.close();
  await as.close();
});

describe('rate-limit evasion detector', () => {
  it('one token used from many addresses bans every address it was seen from', async () => {
    const leaked = await tokenOfNewClient();
    const ips = Array.from({ length: IPS_PER_TOKEN }, (_, i) => `203.0.113.${String(70 + i)}`);
    for (const ip of ips)
      expect((await stack.send('/api/quota', { ip, token: leaked.token })).status).toBe(200);
    for (const ip of ips)
      await expect
        .poll(() => stack.gw.gateway.bans.isBanned(ip))
        .toMatchObject({
          source: 'detector',
          createdBy: 'rate-limit-evasion-detector',
        });
    expect(stack.audited('gateway.abuse.detected')).toEqual([
      expect.objectContaining({
        reason: 'rate-limit-evasion',
        actor: expect.objectContaining({ clientId: leaked.clientId }),
        details: expect.objectContaining({
          trigger: 'identity_ips',
          count: IPS_PER_TOKEN,
          banned: IPS_PER_TOKEN,
        }),
      }),
    ]);
    expect((await stack.send('/api/quota', { ip: ips[0] ?? '', token: leaked.token })).code).toBe(
      'ERR_GATEWAY_BANNED',
    );
  });

  it('many tokens rotated from one address ban that address', async () => {
    const ip = '203.0.113.80';
    const tokens = await Promise.all(Array.from({ length: TOKENS_PER_IP }, () => tokenOfNewClient()));
    for (const { token } of tokens) expect((await stack.send('/api/quota', { ip, token })).status).toBe(200);
    await expect.poll(() => stack.gw.gateway.bans.isBanned(ip)).toBeDefined();
    expect(stack.audited('gateway.abuse.detected').at(-1)).toMatchObject({
      reason: 'rate-limit-evasion',
      sourceIp: ip,
      target: { type: 'ip', id: ip },
      details: { trigger: 'ip_identities', count: TOKENS_PER_IP, banned: 1 },
    });
    expect(
      metricValue(stack, 'gatehouse_gateway_detections_total{detector="rate-limit-evasion",action="ban"}'),
    ).toBe(2);
  });

  it('many users each on their own address, and one moving between a few, ban nobody (false-positive check)', async () => {
    const before = stack.audited('gateway.abuse.detected').length;
    const users = await Promise.all(Array.from({ length: 12 }, () => tokenOfNewClient()));
    for (let round = 0; round < 4; round++)
      for (const [i, user] of users.entries())
        expect(
          (await stack.send('/api/quota', { ip: `192.0.2.${String(i + 1)}`, token: user.token })).status,
        ).toBe(200);
    // Home, office, phone: fewer addresses than the threshold, again and again.
    const commuter = users[0]!;
    for (let n = 0; n < 20; n++)
      await stack.send('/api/quota', {
        ip: `198.51.100.${String(n % (IPS_PER_TOKEN - 2))}`,
        token: commuter.token,
      });
    expect(stack.audited('gateway.abuse.detected')).toHaveLength(before);
    for (let i = 1; i <= 12; i++)
      expect(stack.gw.gateway.bans.isBanned(`192.0.2.${String(i)}`)).toBeUndefined();
  });
});
