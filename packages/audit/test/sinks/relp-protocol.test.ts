import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import {
  buildSinksConfig,
  createMemoryAuditSource,
  createRelpTransport,
  createSinks,
  type SinkConfigInput,
  type SinkDelivery,
} from '../../src/sinks/index.js';
import { range, sampleEvent } from './support/events.js';
import { createScriptedRelpServer, type RelpAnswer, type ScriptedRelpServer } from './support/relp-server.js';

const fastRetry = { initialDelayMs: 20, maxDelayMs: 100, permanentFailureDelayMs: 100 };

describe('relp sink against a scripted RELP server (answers rsyslog cannot be made to give)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-relp-scripted-'));
  const running: SinkDelivery[] = [];
  const servers: ScriptedRelpServer[] = [];
  let sinkCount = 0;

  afterEach(async () => {
    await Promise.all(running.splice(0).map((sink) => sink.stop('abandon')));
    await Promise.all(servers.splice(0).map((server) => server.close()));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  async function startSink(server: ScriptedRelpServer, count: number, config: Partial<SinkConfigInput> = {}) {
    const source = createMemoryAuditSource();
    for (let n = 1; n <= count; n += 1) source.append(sampleEvent(n));
    const [sink] = await createSinks(
      buildSinksConfig([
        {
          type: 'relp',
          id: `scripted-${(sinkCount += 1)}`,
          host: '127.0.0.1',
          port: server.port,
          protocol: 'tcp',
          batch: { maxEvents: 10, maxWaitMs: 0 },
          retry: fastRetry,
          pollIntervalMs: 20,
          ...config,
        } as SinkConfigInput,
      ]),
      { source, cursorDir: join(dir, 'cursors'), baseDir: dir },
    );
    running.push(sink!);
    source.onAppend(() => sink!.wake());
    return Object.assign(sink!, { source });
  }

  async function scriptedServer(): Promise<ScriptedRelpServer> {
    const server = await createScriptedRelpServer();
    servers.push(server);
    return server;
  }

  const faults: [string, RelpAnswer, string, string][] = [
    ['answers 500', 500, 'ERR_AUDIT_SINK_UNAVAILABLE', 'receiver answered 500'],
    ['answers another transaction', 'wrong-txnr', 'ERR_AUDIT_SINK_PROTOCOL', 'unexpected transaction'],
    ['answers with a broken frame', 'garbage', 'ERR_AUDIT_SINK_PROTOCOL', 'RELP: bad TXNR'],
    [
      'sends serverclose mid-batch',
      'serverclose',
      'ERR_AUDIT_SINK_UNREACHABLE',
      'receiver closed the session',
    ],
    ['never answers', 'hang', 'ERR_AUDIT_SINK_TIMEOUT', 'did not acknowledge the batch'],
  ];

  it.each(faults)(
    'a server that %s fails the whole batch, which is sent again until every message is acknowledged',
    async (_name, fault, code, detail) => {
      const server = await scriptedServer();
      // The 14th message (the 4th of the second batch) gets the fault, once.
      server.answer = (n) => (n === 14 ? fault : 200);
      const sink = await startSink(server, 30, { timeoutMs: 300 });
      await expect.poll(() => sink.state().cursor, { timeout: 10_000 }).toBe(30);
      expect(sink.state()).toMatchObject({ consecutiveFailures: 0, deliveredEvents: 30 });
      expect(sink.state().lastError).toMatchObject({
        code,
        permanent: false,
        detail: expect.stringContaining(detail) as string,
      });
      expect(sink.state().lastError?.detail).toMatch(/^relp\+tcp:\/\/127\.0\.0\.1:\d+: /);
      // Batch 2 (11–20) went out again from its first message; nothing was skipped. (The server
      // may have stored 15–20 before 14: first arrivals need not be in store order.)
      const accepted = server.accepted();
      expect([...new Set(accepted)].sort((a, b) => a - b)).toEqual(range(1, 30));
      expect(accepted.length - 30).toBeLessThanOrEqual(10);
      expect(server.messages.filter((message) => message.seq === 11)).toHaveLength(2);
    },
  );

  it('keeps retrying a server that always answers 500, and delivers once it accepts', async () => {
    const server = await scriptedServer();
    let refusing = true;
    server.answer = () => (refusing ? 500 : 200);
    const sink = await startSink(server, 5);
    await expect.poll(() => sink.state().consecutiveFailures, { timeout: 10_000 }).toBeGreaterThan(3);
    expect(sink.state()).toMatchObject({
      cursor: 0,
      lag: 5,
      lastError: { code: 'ERR_AUDIT_SINK_UNAVAILABLE' },
    });
    refusing = false;
    await expect.poll(() => sink.state().cursor, { timeout: 10_000 }).toBe(5);
  });

  it.each([
    [
      'without the syslog command',
      '200 OK\nrelp_version=0\ncommands=eventlog',
      'does not accept the syslog command',
    ],
    ['without relp_version', '200 OK\ncommands=syslog', 'offered no relp_version'],
  ])('treats a server %s as a permanent refusal', async (_name, openAnswer, detail) => {
    const server = await scriptedServer();
    server.openAnswer = openAnswer;
    const sink = await startSink(server, 3);
    await expect.poll(() => sink.state().permanentFailures, { timeout: 10_000 }).toBeGreaterThan(0);
    expect(sink.state()).toMatchObject({
      cursor: 0,
      lastError: {
        code: 'ERR_AUDIT_SINK_REJECTED',
        permanent: true,
        detail: expect.stringContaining(detail),
      },
    });
    expect(server.messages).toEqual([]);
  });

  it('retries a session the server refuses with 500', async () => {
    const server = await scriptedServer();
    server.openAnswer = '500 busy';
    const sink = await startSink(server, 3);
    await expect.poll(() => sink.state().consecutiveFailures, { timeout: 10_000 }).toBeGreaterThan(1);
    expect(sink.state().lastError).toMatchObject({ code: 'ERR_AUDIT_SINK_UNAVAILABLE', permanent: false });
    server.openAnswer = '200 OK\nrelp_version=0\ncommands=syslog';
    await expect.poll(() => sink.state().cursor, { timeout: 10_000 }).toBe(3);
  });

  it('keeps at most `window` messages unanswered, and one session for many batches', async () => {
    const server = await scriptedServer();
    server.batchAnswersMs = 50;
    const sink = await startSink(server, 120, { window: 8, batch: { maxEvents: 40, maxWaitMs: 0 } });
    await expect.poll(() => sink.state().cursor, { timeout: 10_000 }).toBe(120);
    expect(server.maxUnanswered).toBe(8);
    expect(server.accepted()).toEqual(range(1, 120));
    expect(server.commands).toEqual([{ session: 1, command: 'open' }]);
  });

  it('ends its session with close when the sink stops', async () => {
    const server = await scriptedServer();
    const sink = await startSink(server, 3);
    await expect.poll(() => sink.state().cursor, { timeout: 10_000 }).toBe(3);
    await sink.stop('finish');
    expect(server.commands).toEqual([
      { session: 1, command: 'open' },
      { session: 1, command: 'close' },
    ]);
  });

  it('opens a new session, without a failed batch, after the server ended the idle one', async () => {
    const server = await scriptedServer();
    const sink = await startSink(server, 3);
    await expect.poll(() => sink.state().cursor, { timeout: 10_000 }).toBe(3);
    server.dropSessions();
    await expect.poll(() => server.openConnections(), { timeout: 10_000 }).toBe(0);
    for (let n = 4; n <= 6; n += 1) sink.source.append(sampleEvent(n));
    await expect.poll(() => sink.state().cursor, { timeout: 10_000 }).toBe(6);
    expect(sink.state().lastError).toBeUndefined();
    expect(server.commands).toEqual([
      { session: 1, command: 'open' },
      { session: 2, command: 'open' },
    ]);
  });

  it('reports a refused connection, and abandons a batch when stopped', async () => {
    const server = await scriptedServer();
    const port = server.port;
    await server.close();
    servers.splice(0);
    const transport = createRelpTransport({ host: '127.0.0.1', port });
    const source = createMemoryAuditSource();
    source.append(sampleEvent(1));
    const records = await source.read(0, 1);
    await expect(transport.deliver(records, new AbortController().signal)).rejects.toMatchObject({
      code: 'ERR_AUDIT_SINK_UNREACHABLE',
      detail: `relp+tcp://127.0.0.1:${port}: ECONNREFUSED`,
    });

    const hanging = await scriptedServer();
    hanging.answer = () => 'hang';
    const stopped = createRelpTransport({ host: '127.0.0.1', port: hanging.port });
    const controller = new AbortController();
    const delivery = stopped.deliver(records, controller.signal);
    await expect.poll(() => hanging.messages.length).toBe(1);
    controller.abort();
    await expect(delivery).rejects.toMatchObject({ code: 'ERR_AUDIT_SINK_ABORTED' });
    await stopped.close();
  });
});
