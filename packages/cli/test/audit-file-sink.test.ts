import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AuditEvent } from '@gatehouse/core';
import { afterEach, describe, expect, it } from 'vitest';
import { openFileAuditSink } from '../src/runtime/audit-file-sink.js';

const event = (n: number): AuditEvent => ({
  time: new Date(Date.UTC(2026, 0, 1, 0, 0, n)).toISOString(),
  action: 'admin.client.list',
  outcome: 'success',
  component: 'auth-server',
  details: { n },
});

describe('the audit.jsonl sink', () => {
  let dir: string | undefined;
  afterEach(async () => {
    if (dir !== undefined) await rm(dir, { recursive: true, force: true });
    dir = undefined;
  });

  it('appends every event as one JSON line, in order, owner-only, each promise settled once synced', async () => {
    dir = await mkdtemp(join(tmpdir(), 'gatehouse-audit-'));
    const file = join(dir, 'data', 'audit.jsonl');
    const audit = await openFileAuditSink(file);
    // A burst (group commit) and then stragglers after the first batch has started.
    const burst = Array.from({ length: 200 }, (_, n) => audit.append(event(n)));
    await Promise.all(burst);
    const late = [audit.append(event(200)), audit.append(event(201))];
    await audit.close();
    await Promise.all(late);
    const lines = (await readFile(file, 'utf8')).trimEnd().split('\n');
    expect(lines.map((line) => (JSON.parse(line) as AuditEvent).details?.['n'])).toEqual(
      Array.from({ length: 202 }, (_, n) => n),
    );
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    expect((await stat(join(dir, 'data'))).mode & 0o777).toBe(0o700);
    await expect(audit.append(event(999))).rejects.toThrow(/closed/);
  });

  it('appends to an existing log instead of replacing it', async () => {
    dir = await mkdtemp(join(tmpdir(), 'gatehouse-audit-'));
    const file = join(dir, 'audit.jsonl');
    for (const n of [1, 2]) {
      const audit = await openFileAuditSink(file);
      await audit.append(event(n));
      await audit.flush();
      await audit.close();
    }
    expect((await readFile(file, 'utf8')).trimEnd().split('\n')).toHaveLength(2);
  });
});
