import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect } from 'vitest';
import {
  buildEcsDocument,
  buildSinksConfig,
  createMemoryAuditSource,
  createSinks,
  type AuditRecord,
  type SinkConfigInput,
  type SinkDelivery,
} from '@gatehouse/audit';
import { sampleEvent, writePki } from './events.js';
import type { ReceivedSyslog, Rsyslog, RsyslogPki } from './rsyslog-daemon.js';
import { listenerPort, type TlsListener, type TlsSettings } from './tls-cases.js';

const BOM = '\uFEFF';

/** Retries quick enough for a test, slow enough not to spin. */
export const fastRetry = { initialDelayMs: 20, maxDelayMs: 200, permanentFailureDelayMs: 200 };

/** A received line with its MSG parsed back into the ECS document the sink sent. */
export type ReceivedDocument = ReceivedSyslog & { document: ReturnType<typeof buildEcsDocument> };

/** The sinks the suites run against rsyslog. */
export type SiemSinkType = 'syslog' | 'relp';

/** Which of rsyslog's listeners a sink sends to (see `RsyslogPorts`). */
export type Listener = 'plain' | TlsListener;

/**
 * What a test sets on top of the suite's defaults (its sink type, `id` = the tag, host 127.0.0.1,
 * the listener's port, `protocol: 'tcp'` for plain, `tls.caFile: ca.pem` otherwise, `fastRetry`).
 */
export type SinkSettings = Partial<Omit<Extract<SinkConfigInput, { type: SiemSinkType }>, 'type'>>;

export interface RsyslogSuite {
  /** The daemon, started before the first test and stopped after the last. */
  readonly rsyslog: Rsyslog;
  /** A source with `count` events whose component is `tag`, and its sink to `listener` started. */
  readonly startSink: (
    tag: string,
    count: number,
    listener: Listener,
    settings?: SinkSettings,
  ) => Promise<{ source: ReturnType<typeof createMemoryAuditSource>; sink: SinkDelivery }>;
  /** What rsyslog received from the sinks started with `tag`, in the order it wrote it. */
  readonly receivedFor: (tag: string) => ReceivedDocument[];
  /** A sink whose TLS handshake fails delivers nothing and keeps retrying, its events kept. */
  readonly expectRefused: (name: string, listener: TlsListener, tls: TlsSettings) => Promise<void>;
}

/**
 * The shared frame of the suites that deliver to a real rsyslog: a temporary directory with the dev
 * PKI, the daemon `create` configures there, and the sinks the tests start, all torn down after the
 * last test. Call it inside `describe`: it registers that block's `beforeAll` and `afterAll`.
 */
export function useRsyslogSuite(
  type: SiemSinkType,
  create: (dir: string, pki: RsyslogPki) => Promise<Rsyslog>,
): RsyslogSuite {
  const dir = mkdtempSync(join(tmpdir(), `gatehouse-${type}-rsyslog-`));
  let rsyslog: Rsyslog | undefined;
  const running: SinkDelivery[] = [];

  beforeAll(async () => {
    rsyslog = await create(dir, await writePki(dir));
    await rsyslog.start();
  });

  afterAll(async () => {
    await Promise.all(running.map((sink) => sink.stop('abandon')));
    await rsyslog?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  const started = (): Rsyslog => {
    if (rsyslog === undefined) throw new Error('rsyslog is not started yet (use it inside a test)');
    return rsyslog;
  };

  function toConfig(tag: string, listener: Listener, settings: SinkSettings): SinkConfigInput {
    const ports = started();
    const target =
      listener === 'plain'
        ? { port: ports.plainPort, protocol: 'tcp' as const }
        : { port: listenerPort(ports, listener), tls: { caFile: 'ca.pem' } };
    return { type, id: tag, host: '127.0.0.1', ...target, retry: fastRetry, ...settings } as SinkConfigInput;
  }

  const suite: RsyslogSuite = {
    get rsyslog() {
      return started();
    },
    async startSink(tag, count, listener, settings = {}) {
      const source = createMemoryAuditSource();
      for (let n = 1; n <= count; n += 1) source.append({ ...sampleEvent(n), component: tag });
      const config = toConfig(tag, listener, settings);
      const [sink] = await createSinks(buildSinksConfig([{ batch: { maxWaitMs: 50 }, ...config }]), {
        source,
        cursorDir: join(dir, 'cursors'),
        baseDir: dir,
      });
      running.push(sink!);
      source.onAppend(() => sink!.wake());
      return { source, sink: sink! };
    },
    receivedFor(tag) {
      return started()
        .received()
        .map((line) => {
          expect(line.msg.startsWith(BOM)).toBe(true);
          return {
            ...line,
            document: JSON.parse(line.msg.slice(BOM.length)) as ReturnType<typeof buildEcsDocument>,
          };
        })
        .filter((line) => line.document.service.name === tag);
    },
    async expectRefused(name, listener, tls) {
      const tag = `${type}-refused-${name}`;
      const { sink } = await suite.startSink(tag, 2, listener, { id: `${type}-refused`, tls });
      await expect.poll(() => sink.state().consecutiveFailures, { timeout: 10_000 }).toBeGreaterThan(1);
      expect(sink.state().lastError?.code).toBe('ERR_AUDIT_SINK_TLS');
      expect(sink.state()).toMatchObject({ cursor: 0, lag: 2 });
      await sink.stop('abandon');
      expect(suite.receivedFor(tag)).toEqual([]);
    },
  };
  return suite;
}

/**
 * Each record came through the plain listener with every RFC 5424 field as sent (hostname
 * `gh-test`, facility local4), and the escaped reason survived rsyslog's parser (RFC 5424 §6.3.3).
 */
export function expectParsedBack(lines: readonly ReceivedDocument[], records: readonly AuditRecord[]): void {
  expect(lines).toHaveLength(records.length);
  lines.forEach((line, index) => {
    const record = records[index]!;
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
  expect(lines[2]!['structured-data']).toContain(' reason="bad \\"credentials\\" [3\\] \\\\ é"');
}
