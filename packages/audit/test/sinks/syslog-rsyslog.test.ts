import { requireService } from '@gatehouse/testing';
import { describe, expect, it } from 'vitest';
import { expectAtLeastOnce, range, sampleEvent } from './support/events.js';
import { createRsyslog } from './support/rsyslog.js';
import { expectParsedBack, useRsyslogSuite } from './support/rsyslog-suite.js';
import { tlsDeliveries, tlsRefusals } from './support/tls-cases.js';

const rsyslogd = await requireService('rsyslog', 'audit syslog sinks against a real rsyslog');

describe.runIf(rsyslogd.available)('syslog sinks against rsyslog', () => {
  const suite = useRsyslogSuite('syslog', createRsyslog);
  const { startSink, receivedFor } = suite;

  it('delivers over plain TCP, and rsyslog parses every RFC 5424 field back', async () => {
    const tag = 'plain-tcp';
    const { source, sink } = await startSink(tag, 6, 'plain', { hostname: 'gh-test', facility: 'local4' });
    await expect.poll(() => receivedFor(tag).length, { timeout: 10_000 }).toBe(6);
    expectParsedBack(receivedFor(tag), await source.read(0, 100));
    // The sink moves its cursor once its write completed, which can be just after rsyslog has
    // already written the lines out.
    await expect
      .poll(() => sink.state(), { timeout: 5000 })
      .toMatchObject({ cursor: 6, lag: 0, consecutiveFailures: 0 });
  });

  it.each(tlsDeliveries)('delivers over TLS, %s', async (_what, listener, tls) => {
    const tag = listener;
    const { sink } = await startSink(tag, 4, listener, { tls });
    await expect.poll(() => receivedFor(tag).length, { timeout: 10_000 }).toBe(4);
    expect(receivedFor(tag).map((line) => [line.input, line.document.event.sequence])).toEqual(
      range(1, 4).map((seq) => [listener, seq]),
    );
    expect(sink.state().lastError).toBeUndefined();
  });

  it.each(tlsRefusals)('delivers nothing to %s, and keeps retrying', (name, listener, tls) =>
    suite.expectRefused(name, listener, tls),
  );

  it('survives an rsyslog outage: every event arrives, in order, repeats only within one batch', async () => {
    const tag = 'outage';
    const maxEvents = 5;
    const { source, sink } = await startSink(tag, 10, 'tls', {
      batch: { maxEvents, maxWaitMs: 0 },
      pollIntervalMs: 20,
      backlogAlertEvents: 8,
    });
    const append = (from: number, to: number) => {
      for (let n = from; n <= to; n += 1) source.append({ ...sampleEvent(n), component: tag });
    };
    await expect.poll(() => receivedFor(tag).length, { timeout: 10_000 }).toBe(10);

    await suite.rsyslog.stop();
    append(11, 20);
    await expect.poll(() => sink.state().consecutiveFailures, { timeout: 10_000 }).toBeGreaterThan(2);
    expect(sink.state().lastError?.code).toBe('ERR_AUDIT_SINK_UNREACHABLE');
    append(21, 25);
    // Producers were never blocked, and the backlog raised its flag instead of dropping anything.
    await expect
      .poll(() => sink.state(), { timeout: 10_000 })
      .toMatchObject({ backlogFull: true, headSeq: 25 });

    await suite.rsyslog.start();
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
