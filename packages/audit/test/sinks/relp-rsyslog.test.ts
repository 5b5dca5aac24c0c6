import { requireService } from '@gatehouse/testing';
import { describe, expect, it } from 'vitest';
import { expectAtLeastOnce, range, sampleEvent } from './support/events.js';
import { createRsyslogRelp } from './support/rsyslog-relp.js';
import { expectParsedBack, useRsyslogSuite } from './support/rsyslog-suite.js';
import { tlsDeliveries, tlsRefusals } from './support/tls-cases.js';

const relp = await requireService('rsyslog-relp', 'audit RELP sinks against a real rsyslog (imrelp)');

describe.runIf(relp.available)('relp sinks against rsyslog imrelp', () => {
  const suite = useRsyslogSuite('relp', createRsyslogRelp);
  const { startSink, receivedFor } = suite;

  it('delivers over plain RELP, and rsyslog parses every RFC 5424 field back', async () => {
    const tag = 'relp-plain';
    const { source, sink } = await startSink(tag, 6, 'plain', { hostname: 'gh-test', facility: 'local4' });
    await expect.poll(() => sink.state().cursor, { timeout: 10_000 }).toBe(6);
    // Acknowledged means written: the Direct ruleset queue answers only after omfile.
    expectParsedBack(receivedFor(tag), await source.read(0, 100));
    expect(sink.state()).toMatchObject({ kind: 'relp+tcp', cursor: 6, lag: 0, consecutiveFailures: 0 });
  });

  it.each(tlsDeliveries)('delivers over TLS, %s', async (_what, listener, tls) => {
    const tag = `relp-${listener}`;
    const { sink } = await startSink(tag, 4, listener, { tls });
    await expect.poll(() => sink.state().cursor, { timeout: 10_000 }).toBe(4);
    expect(receivedFor(tag).map((line) => [line.input, line.document.event.sequence])).toEqual(
      range(1, 4).map((seq) => [listener, seq]),
    );
    expect(sink.state()).toMatchObject({ kind: 'relp+tls' });
    expect(sink.state().lastError).toBeUndefined();
  });

  it.each(tlsRefusals)('delivers nothing to %s, and keeps retrying', (name, listener, tls) =>
    suite.expectRefused(name, listener, tls),
  );

  it.each(['plain', 'tls'] as const)(
    'rsyslog killed (SIGKILL) mid-batch over %s: every event arrives, repeats only within one batch',
    async (listener) => {
      const tag = `relp-kill-${listener}`;
      const maxEvents = 500;
      const total = 5000;
      const before = suite.rsyslog.receivedCount();
      const { source, sink } = await startSink(tag, total, listener, {
        batch: { maxEvents, maxWaitMs: 0 },
        pollIntervalMs: 20,
        backlogAlertEvents: 2000,
      });
      // Kill while a batch is out: part of it acknowledged (and, Direct queue, written), part not.
      const inFlight = (): number => suite.rsyslog.receivedCount() - before - sink.state().cursor;
      await expect
        .poll(() => sink.state().cursor >= 1000 && inFlight() >= 50, { interval: 2, timeout: 20_000 })
        .toBe(true);
      await suite.rsyslog.kill();
      const cursorAtKill = sink.state().cursor;
      const writtenAtKill = suite.rsyslog.receivedCount() - before;
      // The kill hit a batch that was partly acknowledged: those messages must be sent again.
      expect(writtenAtKill).toBeGreaterThan(cursorAtKill);
      expect(cursorAtKill).toBeLessThan(total);

      // The outage: connection refused, retried with backoff, the backlog kept (and flagged).
      await expect.poll(() => sink.state().consecutiveFailures, { timeout: 10_000 }).toBeGreaterThan(2);
      expect(sink.state().lastError).toMatchObject({
        code: 'ERR_AUDIT_SINK_UNREACHABLE',
        detail: expect.stringContaining('ECONNREFUSED') as string,
      });
      expect(sink.state().cursor).toBe(cursorAtKill);
      for (let n = total + 1; n <= total + 100; n += 1) source.append({ ...sampleEvent(n), component: tag });
      await expect
        .poll(() => sink.state(), { timeout: 10_000 })
        .toMatchObject({ backlogFull: true, headSeq: total + 100 });

      await suite.rsyslog.start();
      await expect.poll(() => sink.state().cursor, { timeout: 30_000 }).toBe(total + 100);
      const received = receivedFor(tag).map((line) => line.document.event.sequence);
      expectAtLeastOnce(received, range(1, total + 100), maxEvents);
      expect(received.length - (total + 100)).toBe(writtenAtKill - cursorAtKill);
      expect(sink.state()).toMatchObject({ backlogFull: false, consecutiveFailures: 0, lag: 0 });
    },
    60_000,
  );
});
