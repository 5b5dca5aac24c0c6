import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  buildEcsDocument,
  buildSinksConfig,
  createMemoryAuditSource,
  createSinks,
  type SinkConfigInput,
  type SinkDelivery,
  type SinkLogger,
} from '../../src/sinks/index.js';
import { expectAtLeastOnce, range, sampleEvent, writePki } from './support/events.js';
import { createWebhookReceiver, type WebhookReceiver } from './support/webhook-receiver.js';

const TOKEN = 'whk_3f9c1d2e7a6b5c4d3e2f1a0b9c8d7e6f';
const fastRetry = { initialDelayMs: 20, maxDelayMs: 200, permanentFailureDelayMs: 100 };

describe('webhook sink against a real HTTPS receiver', () => {
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-webhook-'));
  let pki: Awaited<ReturnType<typeof writePki>>;
  const receivers: WebhookReceiver[] = [];
  const running: SinkDelivery[] = [];

  beforeAll(async () => {
    pki = await writePki(dir);
  });

  afterAll(async () => {
    await Promise.all(running.map((sink) => sink.stop('abandon')));
    await Promise.all(receivers.map((receiver) => receiver.stop()));
    rmSync(dir, { recursive: true, force: true });
  });

  async function receiver(): Promise<WebhookReceiver> {
    const created = await createWebhookReceiver({ cert: pki.serverCert, key: pki.serverKey });
    receivers.push(created);
    return created;
  }

  function recordingLogger() {
    const lines: unknown[] = [];
    const logger: SinkLogger = {
      info: (fields, message) => lines.push({ level: 'info', fields, message }),
      warn: (fields, message) => lines.push({ level: 'warn', fields, message }),
      error: (fields, message) => lines.push({ level: 'error', fields, message }),
    };
    return { logger, lines };
  }

  async function startSink(url: string, count: number, overrides: Partial<SinkConfigInput> = {}) {
    const source = createMemoryAuditSource();
    for (let n = 1; n <= count; n += 1) source.append(sampleEvent(n));
    const { logger, lines } = recordingLogger();
    const config = {
      type: 'webhook',
      id: 'hook',
      url,
      bearerToken: TOKEN,
      headers: { 'X-Tenant': 'acme' },
      tls: { caFile: 'ca.pem' },
      batch: { maxEvents: 4, maxWaitMs: 20 },
      retry: fastRetry,
      pollIntervalMs: 20,
      ...overrides,
    } as SinkConfigInput;
    const [sink] = await createSinks(buildSinksConfig([config]), {
      source,
      cursorDir: join(dir, `cursors-${running.length}`),
      baseDir: dir,
      logger,
    });
    running.push(sink!);
    source.onAppend(() => sink!.wake());
    const append = (from: number, to: number) => {
      for (let n = from; n <= to; n += 1) source.append(sampleEvent(n));
    };
    return { source, sink: sink!, lines, append };
  }

  /** The token must appear in no log line and no state a metrics or doctor surface shows. */
  function expectNoSecret(sink: SinkDelivery, lines: unknown[]): void {
    expect(JSON.stringify(lines)).not.toContain(TOKEN);
    expect(JSON.stringify(sink.state())).not.toContain(TOKEN);
    expect(JSON.stringify(lines)).not.toContain('tenant=t1');
  }

  it('POSTs JSON arrays of ECS documents with the configured headers', async () => {
    const hook = await receiver();
    const { source, sink, lines } = await startSink(hook.url, 10);
    await expect.poll(() => sink.state().cursor, { timeout: 10_000 }).toBe(10);
    expect(hook.accepted()).toEqual(range(1, 10));
    expect(hook.requests.every((request) => request.documents.length <= 4)).toBe(true);
    const [first] = hook.requests;
    expect(first!.headers).toMatchObject({
      authorization: `Bearer ${TOKEN}`,
      'content-type': 'application/json',
      'x-tenant': 'acme',
    });
    const records = await source.read(0, 10);
    expect(hook.requests.flatMap((request) => request.documents)).toEqual(records.map(buildEcsDocument));
    expectNoSecret(sink, lines);
  });

  it('survives a receiver outage: every event arrives, in order, repeats only within one batch', async () => {
    const hook = await receiver();
    const { sink, lines, append } = await startSink(hook.url, 6, { backlogAlertEvents: 10 });
    await expect.poll(() => hook.accepted().length, { timeout: 10_000 }).toBe(6);

    await hook.stop();
    append(7, 14);
    await expect.poll(() => sink.state().consecutiveFailures, { timeout: 10_000 }).toBeGreaterThan(2);
    expect(sink.state().lastError?.code).toBe('ERR_AUDIT_SINK_UNREACHABLE');
    append(15, 20);
    await expect
      .poll(() => sink.state(), { timeout: 10_000 })
      .toMatchObject({ backlogFull: true, headSeq: 20 });

    await hook.start();
    append(21, 24);
    await expect.poll(() => sink.state().cursor, { timeout: 15_000 }).toBe(24);
    expectAtLeastOnce(hook.accepted(), range(1, 24), 4);
    expect(sink.state()).toMatchObject({ backlogFull: false, consecutiveFailures: 0 });
    expectNoSecret(sink, lines);
  });

  it('treats a 4xx refusal as permanent: logged and counted, retried later, never dropped', async () => {
    const hook = await receiver();
    hook.answer = (n) => (n <= 2 ? 400 : 200);
    const { sink, lines } = await startSink(hook.url, 3);
    await expect.poll(() => sink.state().cursor, { timeout: 10_000 }).toBe(3);
    expect(hook.accepted()).toEqual([1, 2, 3]);
    expect(hook.requests.map((request) => request.answer)).toEqual([400, 400, 200]);
    expect(sink.state()).toMatchObject({
      permanentFailures: 2,
      lastError: {
        code: 'ERR_AUDIT_SINK_REJECTED',
        permanent: true,
        detail: expect.stringContaining('HTTP 400'),
      },
    });
    expect(lines).toContainEqual(
      expect.objectContaining({
        level: 'error',
        fields: expect.objectContaining({ code: 'ERR_AUDIT_SINK_REJECTED' }),
      }),
    );
    expectNoSecret(sink, lines);
  });

  it.each([503, 429, 408])('retries a %i as a temporary failure', async (status) => {
    const hook = await receiver();
    hook.answer = (n) => (n === 1 ? status : 200);
    const { sink } = await startSink(hook.url, 2);
    await expect.poll(() => sink.state().cursor, { timeout: 10_000 }).toBe(2);
    expect(sink.state()).toMatchObject({
      permanentFailures: 0,
      lastError: { code: 'ERR_AUDIT_SINK_UNAVAILABLE', permanent: false },
    });
    expect(hook.accepted()).toEqual([1, 2]);
  });

  it('gives up on a receiver that does not answer in time, and sends the batch again', async () => {
    const hook = await receiver();
    hook.answer = (n) => (n === 1 ? 'hang' : 200);
    const { sink } = await startSink(hook.url, 3, { timeoutMs: 2000 });
    await expect.poll(() => sink.state().cursor, { timeout: 10_000 }).toBe(3);
    expect(sink.state().lastError?.code).toBe('ERR_AUDIT_SINK_TIMEOUT');
    // The receiver saw the first batch twice (the unanswered request and its retry): the
    // at-least-once window, which `event.id` deduplicates downstream.
    const [unanswered, retried] = hook.requests;
    expect(unanswered!.answer).toBe('hang');
    expect(retried!.answer).toBe(200);
    expect(unanswered!.documents.map((d) => d.event.id)).toEqual(retried!.documents.map((d) => d.event.id));
    expect(hook.accepted()).toEqual([1, 2, 3]);
  });

  it('refuses a receiver whose certificate the configured CA did not issue', async () => {
    const hook = await receiver();
    const { sink } = await startSink(hook.url, 2, { tls: { caFile: 'other-ca.pem' } });
    await expect.poll(() => sink.state().consecutiveFailures, { timeout: 10_000 }).toBeGreaterThan(1);
    expect(sink.state().lastError?.code).toBe('ERR_AUDIT_SINK_TLS');
    expect(hook.requests).toEqual([]);
  });
});
