import { existsSync } from 'node:fs';
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDeployment, type TestDeployment } from './helpers/cli.js';
import { readAuditLog } from './helpers/audit.js';

interface KeyJson {
  kid: string;
  status: string;
  alg: string;
  generation: number;
  activates_at: string;
}

async function keys(deployment: TestDeployment): Promise<KeyJson[]> {
  const result = await deployment.run(['keys', 'list', '--json']);
  expect(result.code).toBe(0);
  return (JSON.parse(result.stdout) as { keys: KeyJson[] }).keys;
}

describe('gatehouse keys', () => {
  let deployment: TestDeployment;
  beforeAll(async () => {
    deployment = await createTestDeployment();
  });
  afterAll(async () => {
    await deployment.remove();
  });

  it('list and check on a fresh data dir: no key yet, which check reports as high (exit 1)', async () => {
    const fresh = await createTestDeployment();
    try {
      const listed = await fresh.run(['keys', 'list']);
      expect(listed.code).toBe(0);
      expect(listed.stdout).toContain('No signing keys yet');
      const check = await fresh.run(['keys', 'check']);
      expect(check.code).toBe(1);
      expect(check.stdout).toMatch(/^HIGH +no_active_key /m);
      const json = await fresh.run(['keys', 'check', '--json']);
      expect(json.code).toBe(1);
      expect(JSON.parse(json.stdout)).toEqual({
        ok: false,
        findings: [expect.objectContaining({ severity: 'high', code: 'no_active_key' })],
      });
    } finally {
      await fresh.remove();
    }
  });

  it('rotate creates the first key and pre-publishes its successor; list shows both; check passes', async () => {
    const rotated = await deployment.run(['keys', 'rotate', '--json']);
    expect(rotated.code).toBe(0);
    const result = JSON.parse(rotated.stdout) as { emergency: boolean; pending: KeyJson };
    expect(result.emergency).toBe(false);
    expect(result.pending.status).toBe('pending');

    const list = await keys(deployment);
    expect(list.map((k) => k.status).sort()).toEqual(['active', 'pending']);
    expect(list.find((k) => k.status === 'pending')?.kid).toBe(result.pending.kid);
    expect(list.every((k) => k.alg === 'ES256')).toBe(true);

    const table = await deployment.run(['keys', 'list']);
    expect(table.stdout).toMatch(/^KID +STATUS +ALG +GEN +SIGNS FROM +ROTATES AT +UNPUBLISH AT$/m);
    expect(table.stdout).toContain(result.pending.kid);

    const check = await deployment.run(['keys', 'check']);
    expect(check.code).toBe(0);
    expect(check.stdout).toContain('Signing keys: OK');
  });

  it('rotate --emergency revokes the active key at once and says how many tokens died', async () => {
    const before = await keys(deployment);
    const active = before.find((k) => k.status === 'active');
    expect(active).toBeDefined();
    const rotated = await deployment.run(['keys', 'rotate', '--emergency']);
    expect(rotated.code).toBe(0);
    expect(rotated.stdout).toContain(`Key ${active!.kid} revoked and unpublished.`);
    expect(rotated.stdout).toMatch(/0 unexpired access token\(s\) signed by it no longer work/);
    expect(rotated.stdout).toMatch(/New active key: \S+/);
    const after = await keys(deployment);
    expect(after.find((k) => k.kid === active!.kid)?.status).toBe('revoked');
    expect(after.filter((k) => k.status === 'active')).toHaveLength(1);

    const events = (await readAuditLog(deployment.dataDir))
      .split('\n')
      .filter(Boolean)
      .map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(events).toContainEqual(
      expect.objectContaining({
        action: 'admin.key.rotate',
        reason: 'emergency',
        target: { type: 'signing_key', id: active!.kid },
      }),
    );
    expect(events).toContainEqual(expect.objectContaining({ action: 'key.transition' }));
  });

  it('rotate --emergency --kid of an unknown key fails (exit 1) --json prints nothing', async () => {
    const result = await deployment.run(['keys', 'rotate', '--emergency', '--kid', 'no-such-kid', '--json']);
    expect(result.code).toBe(1);
    expect(result.stdout).toBe('');
    expect(result.stderr).toContain('no-such-kid');
  });

  it('key commands need the key-encryption key the keys were sealed with', async () => {
    const wrong = Buffer.alloc(32, 1).toString('base64');
    const result = await deployment.run(['keys', 'check'], { env: { GATEHOUSE_KEK: wrong } });
    expect(result.code).toBe(1);
    expect(result.stdout).toBe('');
    expect(result.stderr).toMatch(/stored data failed an integrity check/);
  });

  it('development generates <dataDir>/kek.key (0600) once, loudly; production refuses without a key', async () => {
    const dev = await createTestDeployment();
    try {
      const production = await dev.run(['keys', 'rotate'], {
        env: { GATEHOUSE_KEK: '', NODE_ENV: 'production' },
      });
      expect(production.code).toBe(1);
      expect(production.stderr).toMatch(/production requires a key-encryption key/);
      expect(existsSync(join(dev.dataDir, 'kek.key'))).toBe(false);

      const first = await dev.run(['keys', 'rotate'], { env: { GATEHOUSE_KEK: '' } });
      expect(first.code).toBe(0);
      expect(first.stderr).toMatch(/WARNING: generated a development key-encryption key at .*kek\.key/);
      expect((await stat(join(dev.dataDir, 'kek.key'))).mode & 0o777).toBe(0o600);
      const second = await dev.run(['keys', 'check'], { env: { GATEHOUSE_KEK: '' } });
      expect(second.code).toBe(0);
      expect(second.stderr).toBe('');
    } finally {
      await dev.remove();
    }
  });
});
