import { mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { createMetricsRegistry, GatehouseError } from '@gatehouse/core';
import { afterAll, describe, expect, it } from 'vitest';
import {
  buildEcsDocument,
  buildSinksConfig,
  createFileSinkCursor,
  createMemoryAuditSource,
  createSinks,
  registerSinkMetrics,
  type SinkDelivery,
} from '../../src/sinks/index.js';
import { range, sampleEvent } from './support/events.js';

const dir = mkdtempSync(join(tmpdir(), 'gatehouse-file-sink-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function lines(text: string): unknown[] {
  return text
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => JSON.parse(line) as unknown);
}

describe('file and stdout sinks', () => {
  const configs = buildSinksConfig([
    {
      type: 'file',
      id: 'local',
      path: 'out/audit.jsonl',
      batch: { maxEvents: 7, maxWaitMs: 20 },
      pollIntervalMs: 20,
    },
    { type: 'stdout', id: 'console', batch: { maxWaitMs: 20 }, pollIntervalMs: 20 },
  ]);

  it('append ECS JSON lines, keep a cursor each, and send nothing twice across a restart', async () => {
    const source = createMemoryAuditSource();
    for (let n = 1; n <= 20; n += 1) source.append(sampleEvent(n));
    const stdout = new PassThrough();
    let printed = '';
    stdout.on('data', (chunk: Buffer) => (printed += chunk.toString('utf8')));
    const cursorDir = join(dir, 'cursors');
    const options = { source, cursorDir, baseDir: dir, stdout };

    let sinks: SinkDelivery[] = await createSinks(configs, options);
    await expect.poll(() => sinks.map((sink) => sink.state().cursor), { timeout: 10_000 }).toEqual([20, 20]);
    await Promise.all(sinks.map((sink) => sink.stop()));

    for (let n = 21; n <= 25; n += 1) source.append(sampleEvent(n));
    sinks = await createSinks(configs, options);
    await expect.poll(() => sinks.map((sink) => sink.state().cursor), { timeout: 10_000 }).toEqual([25, 25]);
    await Promise.all(sinks.map((sink) => sink.stop()));

    const expected = (await source.read(0, 100)).map(buildEcsDocument);
    const file = join(dir, 'out', 'audit.jsonl');
    expect(lines(readFileSync(file, 'utf8'))).toEqual(expected);
    expect(lines(printed)).toEqual(expected);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(await createFileSinkCursor(join(cursorDir, 'local.cursor')).load()).toBe(25);
    expect(await createFileSinkCursor(join(cursorDir, 'console.cursor')).load()).toBe(25);
    expect(expected.map((document) => document.event.sequence)).toEqual(range(1, 25));
  });

  it('expose lag, backlog and failures as metrics', async () => {
    const source = createMemoryAuditSource();
    for (let n = 1; n <= 3; n += 1) source.append(sampleEvent(n));
    const sinks = await createSinks(
      buildSinksConfig([
        {
          type: 'file',
          id: 'metered',
          path: 'metered/audit.jsonl',
          batch: { maxWaitMs: 0 },
          pollIntervalMs: 20,
        },
      ]),
      { source, cursorDir: join(dir, 'metered-cursors'), baseDir: dir },
    );
    const registry = createMetricsRegistry();
    registerSinkMetrics(registry, () => sinks);
    await expect.poll(() => sinks[0]!.state().cursor, { timeout: 10_000 }).toBe(3);
    const text = registry.render();
    expect(text).toContain('gatehouse_audit_sink_lag_events{sink="metered"} 0');
    expect(text).toContain('gatehouse_audit_sink_backlog_full{sink="metered"} 0');
    expect(text).toContain('gatehouse_audit_sink_consecutive_failures{sink="metered"} 0');
    expect(text).toContain('gatehouse_audit_sink_rejected{sink="metered"} 0');
    expect(text).toMatch(/gatehouse_audit_sink_last_delivery_timestamp_seconds\{sink="metered"\} \d/);
    await sinks[0]!.stop();
  });

  it('fails at start, naming the file, when a configured certificate cannot be read', async () => {
    const start = createSinks(
      buildSinksConfig([
        { type: 'stdout', id: 'first' },
        { type: 'syslog', id: 'siem', host: 'siem.example', tls: { caFile: 'missing-ca.pem' } },
      ]),
      {
        source: createMemoryAuditSource(),
        cursorDir: join(dir, 'x'),
        baseDir: dir,
        stdout: new PassThrough(),
      },
    );
    const error: unknown = await start.catch((err: unknown) => err);
    expect(error).toBeInstanceOf(GatehouseError);
    expect(error).toMatchObject({
      code: 'ERR_CONFIG_INVALID',
      detail: 'sink siem tls.caFile: cannot read missing-ca.pem',
    });
  });

  it('reports a file it cannot write, and delivers once it can', async () => {
    const source = createMemoryAuditSource();
    source.append(sampleEvent(1));
    // The path is a folder at first: the write fails (EISDIR) until it is moved away.
    const blocked = join(dir, 'blocked.jsonl');
    mkdirSync(blocked);
    const [sink] = await createSinks(
      buildSinksConfig([
        {
          type: 'file',
          id: 'blocked',
          path: 'blocked.jsonl',
          batch: { maxWaitMs: 0 },
          retry: { initialDelayMs: 10, maxDelayMs: 50 },
          pollIntervalMs: 20,
        },
      ]),
      { source, cursorDir: join(dir, 'blocked-cursors'), baseDir: dir },
    );
    await expect.poll(() => sink!.state().lastError?.code, { timeout: 10_000 }).toBe('ERR_AUDIT_SINK_WRITE');
    expect(sink!.state().lastError?.detail).toBe('file sink: EISDIR');
    renameSync(blocked, `${blocked}.moved`);
    await expect.poll(() => sink!.state().cursor, { timeout: 10_000 }).toBe(1);
    await sink!.stop();
    expect(lines(readFileSync(blocked, 'utf8'))).toHaveLength(1);
  });
});
