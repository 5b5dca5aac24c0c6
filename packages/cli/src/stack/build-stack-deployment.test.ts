import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { deploymentConfigSchema } from '../config/deployment-schema.js';
import { buildStackDeployment, type StackSecrets } from './build-stack-deployment.js';
import { loadStack } from './load-stack.js';

const dir = mkdtempSync(join(tmpdir(), 'gatehouse-stack-file-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const io = { stdout: { write: () => true }, stderr: { write: () => true }, env: {}, cwd: dir };
const secrets: StackSecrets = {
  adminToken: 'a'.repeat(40),
  gatewayClient: { clientId: 'gateway', clientSecret: 'gateway-secret' },
  bffClient: { clientId: 'bff', clientSecret: 'bff-secret' },
  bffSessionKey: Buffer.alloc(32).toString('base64url'),
};
const services = {
  accounts: { main: 'a.js', audience: 'https://a.internal', scopes: ['a:read'], paths: ['/api/a'] },
  orders: { main: 'o.js', audience: 'https://o.internal', scopes: ['o:read'], paths: ['/api/o'] },
};

async function deploymentOf(extra: Record<string, unknown>) {
  const file = join(dir, 'stack.yaml');
  writeFileSync(file, JSON.stringify({ services, ...extra }));
  return buildStackDeployment(await loadStack(io as never, { config: file }), secrets);
}

describe('the stack file: the gateway block', () => {
  it("absent: the deployment leaves the gateway's abuse protection to its defaults", async () => {
    const deployment = await deploymentOf({});
    expect(deployment.gateway).not.toHaveProperty('detection');
    expect(deployment.gateway).not.toHaveProperty('alerts');
    expect(deployment.gateway).not.toHaveProperty('bruteForce');
  });

  it('present: detectors, alert rules and brute-force bans pass into the deployment, which stays valid', async () => {
    const deployment = await deploymentOf({
      gateway: {
        detection: { enumeration: { action: 'ban' } },
        alerts: { evaluateEverySec: 1 },
        bruteForce: { threshold: 5 },
      },
    });
    const gateway = deploymentConfigSchema.parse(deployment).gateway;
    expect(gateway?.detection.enumeration).toMatchObject({ action: 'ban', distinctIds: 30 });
    expect(gateway?.alerts.evaluateEverySec).toBe(1);
    expect(gateway?.bruteForce).toMatchObject({ threshold: 5, windowSec: 60 });
  });

  it('refuses anything else in it, and invalid settings, every problem at once', async () => {
    await expect(
      deploymentOf({ gateway: { routes: [], detection: { enumeration: { action: 'nuke' } } } }),
    ).rejects.toMatchObject({
      code: 'ERR_CONFIG_INVALID',
      detail: expect.stringMatching(
        /gateway\.detection\.enumeration\.action[\s\S]*gateway: Unrecognized key: "routes"/,
      ),
    });
  });
});
