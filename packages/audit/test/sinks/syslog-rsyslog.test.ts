import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { requireService } from '@gatehouse/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  buildEcsDocument,
  buildSinksConfig,
  createMemoryAuditSource,
  createSinks,
  type AuditRecord,
  type SinkConfigInput,
  type SinkDelivery,
} from '../../src/sinks/index.js';
import { expectAtLeastOnce, range, sampleEvent, writePki } from './support/events.js';
import { createRsyslog, type ReceivedSyslog, type Rsyslog } from './support/rsyslog.js';

const rsyslogd = await requireService('rsyslog', 'audit syslog sinks against a real rsyslog');

const BOM = '\uFEFF';
const fastRetry = { initialDelayMs: 20, maxDelayMs: 200, permanentFailureDelayMs: 200 };

describe.runIf(rsyslogd.available)('syslog sinks against rsyslog', () => {
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-rsyslog-'));
  let pki: Awaited<ReturnType<typeof writePki>>;
  let rsyslog: Rsyslog;
  const running: SinkDelivery[] = [];

  beforeAll(async () => {
    pki = await writePki(dir);
    rsyslog = await createRsyslog(dir, pki);
    await rsyslog.start();
  });

  afterAll(async () => {
    await Promise.all(running.map((sink) => sink.stop('abandon')));
    await rsyslog.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  /** A source with `count` events whose component marks the test, and its sink started. */
  async function startSink(config: SinkConfigInput, tag: string, count: number) {
    const source = createMemoryAuditSource();
    for (let n = 1; n <= count; n += 1) source.append({ ...sampleEvent(n), component: tag });
    const [sink] = await createSinks(buildSinksConfig([{ batch: { maxWaitMs: 50 }, ...config }]), {
      source,
      cursorDir: join(dir, 'cursors'),
      baseDir: dir,
    });
    running.push(sink!);
    source.onAppend(() => sink!.wake());
    return { source, sink: sink! };
  }

  function receivedFor(tag: string): (ReceivedSyslog & { document: ReturnType<typeof buildEcsDocument> })[] {
    return rsyslog
      .received()
      .map((line) => {
        expect(line.msg.startsWith(BOM)).toBe(true);
        return {
          ...line,
          document: JSON.parse(line.msg.slice(BOM.length)) as ReturnType<typeof buildEcsDocument>,
        };
      })
      .filter((line) => line.document.service.name === tag);
  }

  it('delivers over plain TCP, and rsyslog parses every RFC 5424 field back', async () => {
    const tag = 'plain-tcp';
    const { source, sink } = await startSink(
      {
        type: 'syslog',
        id: 'tcp',
        host: '127.0.0.1',
        port: rsyslog.plainPort,
        protocol: 'tcp',
        hostname: 'gh-test',
        facility: 'local4',
        retry: fastRetry,
      },
      tag,
      6,
    );
    await expect.poll(() => receivedFor(tag).length, { timeout: 10_000 }).toBe(6);
    const records = await source.read(0, 100);
    const lines = receivedFor(tag);
    lines.forEach((line, index) => {
      const record = records[index] as AuditRecord;
      expect(line.input).toBe('plain');
      expect(line['protocol-version']).toBe('1');
      // local4 (20) × 8 + warning (4) or informational (6).
      expect(line.pri).toBe(record.event.outcome === 'failure' ? '164' : '166');
      expect(line.timereported).toBe(record.event.time);
      expect(line.hostname).toBe('gh-test');
      expect(line['app-name']).toBe('gatehouse');
      expect(line.procid).toBe(String(process.pid));
      expect(line.msgid).toBe(record.event.action);
      expect(line.document).toEqual(buildEcsDocument(record));
      expect(line['structured-data']).toContain(`[gatehouse@32473 id="${record.id}" seq="${record.seq}" `);
    });
    // The escaped reason survived rsyslog's parser intact (RFC 5424 §6.3.3).
    expect(lines[2]!['structured-data']).toContain(' reason="bad \\"credentials\\" [3\\] \\\\ é"');
    expect(sink.state()).toMatchObject({ cursor: 6, lag: 0, consecutiveFailures: 0 });
  });

  it('delivers over TLS, verifying the server against the configured CA', async () => {
    const tag = 'tls';
    const { sink } = await startSink(
      {
        type: 'syslog',
        id: 'tls',
        host: '127.0.0.1',
        port: rsyslog.tlsPort,
        tls: { caFile: 'ca.pem' },
        retry: fastRetry,
      },
      tag,
      4,
    );
    await expect.poll(() => receivedFor(tag).length, { timeout: 10_000 }).toBe(4);
    expect(receivedFor(tag).map((line) => [line.input, line.document.event.sequence])).toEqual(
      range(1, 4).map((seq) => ['tls', seq]),
    );
    expect(sink.state().lastError).toBeUndefined();
  });

  it('presents a client certificate to a receiver that requires one', async () => {
    const tag = 'mtls';
    await startSink(
      {
        type: 'syslog',
        id: 'mtls',
        host: '127.0.0.1',
        port: rsyslog.mtlsPort,
        tls: {
          caFile: 'ca.pem',
          certFile: 'client.pem',
          keyFile: 'client-key.pem',
          servername: 'localhost',
          minVersion: 'TLSv1.3',
        },
        retry: fastRetry,
      },
      tag,
      3,
    );
    await expect.poll(() => receivedFor(tag).length, { timeout: 10_000 }).toBe(3);
    expect(receivedFor(tag).every((line) => line.input === 'mtls')).toBe(true);
  });

  const refusals: [string, Partial<SinkConfigInput>, string, RegExp][] = [
    [
      'a server certificate from another CA',
      { tls: { caFile: 'other-ca.pem' } },
      'tls',
      /ERR_AUDIT_SINK_TLS/,
    ],
    [
      'a server certificate for another name',
      { tls: { caFile: 'ca.pem', servername: 'siem.example' } },
      'tls',
      /ERR_AUDIT_SINK_TLS/,
    ],
    [
      'no client certificate where one is required',
      { tls: { caFile: 'ca.pem' } },
      'mtls',
      /ERR_AUDIT_SINK_TLS/,
    ],
  ];

  it.each(refusals)('delivers nothing to %s, and keeps retrying', async (name, override, listener, code) => {
    const tag = `refused-${name}`;
    const port = listener === 'tls' ? rsyslog.tlsPort : rsyslog.mtlsPort;
    const { sink } = await startSink(
      {
        type: 'syslog',
        id: 'refused',
        host: '127.0.0.1',
        port,
        retry: fastRetry,
        ...override,
      } as SinkConfigInput,
      tag,
      2,
    );
    await expect.poll(() => sink.state().consecutiveFailures, { timeout: 10_000 }).toBeGreaterThan(1);
    expect(sink.state().lastError?.code).toMatch(code);
    expect(sink.state()).toMatchObject({ cursor: 0, lag: 2 });
    await sink.stop('abandon');
    expect(receivedFor(tag)).toEqual([]);
  });

  it('survives an rsyslog outage: every event arrives, in order, repeats only within one batch', async () => {
    const tag = 'outage';
    const maxEvents = 5;
    const { source, sink } = await startSink(
      {
        type: 'syslog',
        id: 'outage',
        host: '127.0.0.1',
        port: rsyslog.tlsPort,
        tls: { caFile: 'ca.pem' },
        batch: { maxEvents, maxWaitMs: 0 },
        retry: fastRetry,
        pollIntervalMs: 20,
        backlogAlertEvents: 8,
      },
      tag,
      10,
    );
    const append = (from: number, to: number) => {
      for (let n = from; n <= to; n += 1) source.append({ ...sampleEvent(n), component: tag });
    };
    await expect.poll(() => receivedFor(tag).length, { timeout: 10_000 }).toBe(10);

    await rsyslog.stop();
    append(11, 20);
    await expect.poll(() => sink.state().consecutiveFailures, { timeout: 10_000 }).toBeGreaterThan(2);
    expect(sink.state().lastError?.code).toBe('ERR_AUDIT_SINK_UNREACHABLE');
    append(21, 25);
    // Producers were never blocked, and the backlog raised its flag instead of dropping anything.
    await expect
      .poll(() => sink.state(), { timeout: 10_000 })
      .toMatchObject({ backlogFull: true, headSeq: 25 });

    await rsyslog.start();
    append(26, 30);
    await expect.poll(() => sink.state().cursor, { timeout: 15_000 }).toBe(30);
    await expect.poll(() => receivedFor(tag).length >= 30, { timeout: 10_000 }).toBe(true);
    expectAtLeastOnce(
      receivedFor(tag).map((line) => line.document.event.sequence),
      range(1, 30),
      maxEvents,
    );
    expect(sink.state()).toMatchObject({ backlogFull: false, consecutiveFailures: 0, lag: 0 });
  });
});
