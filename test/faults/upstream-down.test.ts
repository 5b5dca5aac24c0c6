import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  builtOrSkip,
  childEnv,
  distOf,
  startBinary,
  type Started,
} from '../../packages/cli/test/helpers/binary.js';
import { parseGatewayUrls } from '../../packages/cli/test/helpers/gateway.js';

/**
 * Issue 7, "upstream service down or slow": a real `gatehouse gateway` process in front of real
 * upstream processes, which the test kills (SIGKILL), freezes (SIGSTOP: connections are accepted,
 * nothing is answered) and starts again on the same port. The circuit breaker opens after
 * `failureThreshold` failures and then answers 503 at once without connecting; after `openMs` one
 * half-open probe goes through and closes it; with two targets, retries and health checks keep
 * every idempotent request succeeding on the live one.
 */
const SUITE = 'faults: upstream down or slow';
const built = builtOrSkip(SUITE, distOf(['auth-server', 'core', 'guard', 'gateway']));

const UPSTREAM_SCRIPT = fileURLToPath(new URL('./upstream-process.mjs', import.meta.url));
/** The breaker of every upstream here: small numbers so that the suite runs in seconds. */
const BREAKER = { failureThreshold: 3, openMs: 2000, halfOpenProbes: 1 };
const HEADERS_TIMEOUT_MS = 1000;
/**
 * "Fast": an answer that waited on no upstream, far below the connect timeout (2 s) and the
 * headers timeout (10 s) a refused or hung target would cost; generous for a loaded machine.
 */
const FAST_MS = 500;

interface UpstreamProcess {
  readonly name: string;
  readonly port: number;
  readonly url: string;
  readonly child: ChildProcess;
  /** What it printed so far (`request <method> <path>` per request). */
  output(): string;
  /** Sends the signal and, for a fatal one, waits until the process is gone. */
  signal(signal: NodeJS.Signals): Promise<void>;
}

/** Starts `upstream-process.mjs` as `name` on `port` (0: a free one); resolves once it listens. */
function startUpstreamProcess(name: string, port = 0): Promise<UpstreamProcess> {
  const child = spawn(process.execPath, [UPSTREAM_SCRIPT], {
    env: { PATH: process.env['PATH'], NAME: name, PORT: String(port) },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return new Promise((resolve, reject) => {
    let out = '';
    child.once('exit', (code) => reject(new Error(`upstream ${name} exited with ${String(code)}`)));
    child.stdout.on('data', (chunk: Buffer) => {
      out += chunk.toString('utf8');
      const bound = /listening (\d+)/.exec(out)?.[1];
      if (bound === undefined) return;
      resolve({
        name,
        port: Number(bound),
        url: `http://127.0.0.1:${bound}`,
        child,
        output: () => out,
        async signal(signal) {
          child.kill(signal);
          if (signal === 'SIGKILL' || signal === 'SIGTERM') await exited;
        },
      });
    });
  });
}

/**
 * Something listening on a dead target's port that counts the connections it gets and never
 * answers: while it listens, a gateway that still tried the target would be seen (and would hang).
 */
async function listenAsWitness(port: number): Promise<{ connections: () => number; close(): Promise<void> }> {
  let connections = 0;
  const sockets = new Set<Socket>();
  const server: Server = createServer((socket) => {
    connections += 1;
    sockets.add(socket);
  });
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  return {
    connections: () => connections,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

interface Answer {
  readonly status: number;
  readonly headers: Headers;
  readonly text: string;
  readonly ms: number;
}

async function call(url: string, init: RequestInit = {}): Promise<Answer> {
  const started = performance.now();
  const response = await fetch(url, init);
  const text = await response.text();
  return { status: response.status, headers: response.headers, text, ms: performance.now() - started };
}

/** Which upstream process answered (its JSON names it). */
function servedBy(answer: Answer): string {
  return (JSON.parse(answer.text) as { name: string }).name;
}

describe.skipIf(!built)('gateway in front of upstream processes that die or hang', () => {
  let dir: string;
  let gateway: Started;
  const upstreams: Record<'one' | 'slow' | 'a' | 'b' | 'c' | 'd', UpstreamProcess> = {} as never;

  beforeAll(async () => {
    const names = ['one', 'slow', 'a', 'b', 'c', 'd'] as const;
    const started = await Promise.all(names.map((name) => startUpstreamProcess(name)));
    names.forEach((name, i) => (upstreams[name] = started[i]!));
    const { one, slow, a, b, c, d } = upstreams;
    dir = await mkdtemp(join(tmpdir(), 'gatehouse-faults-'));
    // JSON is YAML; keys as in packages/gateway/src/config/schema.ts.
    const config = {
      log: { level: 'info' },
      admin: { token: '${GATEHOUSE_ADMIN_TOKEN}' },
      authServer: { issuer: 'http://127.0.0.1:4000', listen: { port: 0 } },
      gateway: {
        listen: { port: 0 },
        admin: { listen: { port: 0 } },
        upstreams: {
          // One target, no retry, no active health check: the circuit breaker alone.
          one: { targets: [one.url], retries: 0, circuitBreaker: BREAKER },
          slow: {
            targets: [slow.url],
            retries: 0,
            timeouts: { headersMs: HEADERS_TIMEOUT_MS },
            circuitBreaker: BREAKER,
          },
          // Two targets: retries of idempotent requests, and active health checks.
          pair: {
            targets: [a.url, b.url],
            retries: 1,
            healthCheck: {
              path: '/health',
              intervalMs: 200,
              timeoutMs: 200,
              unhealthyAfter: 1,
              healthyAfter: 1,
            },
            circuitBreaker: BREAKER,
          },
          // Two targets, passive checks only (the breaker).
          duo: { targets: [c.url, d.url], retries: 1, circuitBreaker: BREAKER },
        },
        routes: [
          { id: 'one', match: { pathPrefix: '/one' }, upstream: 'one', auth: 'none' },
          { id: 'slow', match: { pathPrefix: '/slow' }, upstream: 'slow', auth: 'none' },
          { id: 'pair', match: { pathPrefix: '/pair' }, upstream: 'pair', auth: 'none' },
          { id: 'duo', match: { pathPrefix: '/duo' }, upstream: 'duo', auth: 'none' },
        ],
      },
    };
    await writeFile(join(dir, 'gatehouse.yaml'), JSON.stringify(config, null, 2));
    gateway = await startBinary(['gateway', '--config', 'gatehouse.yaml'], dir, parseGatewayUrls, childEnv());
  });

  afterAll(async () => {
    if (gateway.child.exitCode === null) gateway.child.kill('SIGKILL');
    for (const upstream of Object.values(upstreams)) {
      if (upstream.child.exitCode === null && upstream.child.signalCode === null) {
        upstream.child.kill('SIGCONT');
        await upstream.signal('SIGKILL');
      }
    }
    await rm(dir, { recursive: true, force: true });
  });

  /** A series of the gateway's admin `/metrics` for one upstream target; undefined when absent. */
  async function gauge(name: string, upstream: string, target: string): Promise<number | undefined> {
    const text = await (await fetch(`${gateway.admin}/metrics`)).text();
    const line = text
      .split('\n')
      .find((l) => l.startsWith(`${name}{upstream="${upstream}",target="${target}"} `));
    return line === undefined ? undefined : Number(line.split(' ').pop());
  }
  /** `gatehouse_upstream_circuit_state`: 0 closed, 1 half-open, 2 open. */
  const circuit = (upstream: string, target: UpstreamProcess): Promise<number | undefined> =>
    gauge('gatehouse_upstream_circuit_state', upstream, target.url);

  /** The problem+json a client gets, without a word about the upstream's address or its error. */
  function expectProblem(answer: Answer, status: number): void {
    expect(answer.status, answer.text).toBe(status);
    expect(answer.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    expect(JSON.parse(answer.text)).toMatchObject({ status });
    expect(answer.text).not.toMatch(/127\.0\.0\.1|ECONN|UND_ERR|upstream (one|slow|pair)/);
  }

  it('killed: 502 while the breaker counts, then open: 503 at once without connecting; restarted: one half-open probe closes it', async () => {
    const one = upstreams.one;
    expect((await call(`${gateway.url}/one/x`)).status).toBe(200);
    expect(await circuit('one', one)).toBe(0);

    await one.signal('SIGKILL');
    // Connection refused: 502 (the upstream could not be reached), each counted by the breaker.
    for (let i = 0; i < BREAKER.failureThreshold; i++) {
      const refused = await call(`${gateway.url}/one/x`);
      expectProblem(refused, 502);
      expect(refused.ms).toBeLessThan(FAST_MS);
    }
    expect(await circuit('one', one)).toBe(2);

    // Open: 503 with Retry-After, without a connection attempt (the witness on the port sees none).
    const witness = await listenAsWitness(one.port);
    const open: Answer[] = [];
    for (let i = 0; i < 10; i++) open.push(await call(`${gateway.url}/one/x`));
    await witness.close();
    for (const answer of open) {
      expectProblem(answer, 503);
      expect(answer.headers.get('retry-after')).toBe('5');
      expect(answer.ms).toBeLessThan(FAST_MS);
    }
    expect(witness.connections()).toBe(0);

    // Back on the same port: the circuit stays open until `openMs` has passed…
    upstreams.one = await startUpstreamProcess('one', one.port);
    expectProblem(await call(`${gateway.url}/one/x`), 503);
    await expect.poll(() => circuit('one', one), { timeout: BREAKER.openMs + 2000, interval: 100 }).toBe(1);
    // …then half-open: one probe goes through (held 500 ms); a request meanwhile is refused.
    const probe = call(`${gateway.url}/one/probe?delay=500`);
    await expect
      .poll(() => upstreams.one.output(), { timeout: 2000, interval: 10 })
      .toContain('request GET /one/probe');
    const meanwhile = await call(`${gateway.url}/one/x`);
    expectProblem(meanwhile, 503);
    const probed = await probe;
    expect(probed.status).toBe(200);
    expect(servedBy(probed)).toBe('one');
    // The probe succeeded: closed, and traffic recovers by itself.
    expect(await circuit('one', one)).toBe(0);
    const after = await Promise.all(Array.from({ length: 5 }, () => call(`${gateway.url}/one/x`)));
    expect(after.map((answer) => answer.status)).toEqual([200, 200, 200, 200, 200]);

    // The operator's log: each transition, with the upstream and target.
    const transitions = gateway
      .stdout()
      .split('\n')
      .filter((line) => line.includes('upstream circuit changed') && line.includes(`"upstream":"one"`))
      .map((line) => (JSON.parse(line) as { circuit: string }).circuit);
    expect(transitions).toEqual(['open', 'half-open', 'closed']);
    // …a `request failed` line per refused request, with its code; the counter by route and status.
    const failed = gateway
      .stdout()
      .split('\n')
      .filter((line) => line.includes('"msg":"request failed"') && line.includes('"route":"one"'))
      .map((line) => (JSON.parse(line) as { code: string }).code);
    expect(failed.filter((code) => code === 'ERR_GATEWAY_UPSTREAM_UNAVAILABLE')).toHaveLength(
      BREAKER.failureThreshold,
    );
    expect(failed.filter((code) => code === 'ERR_GATEWAY_CIRCUIT_OPEN').length).toBeGreaterThanOrEqual(12);
    const metrics = await (await fetch(`${gateway.admin}/metrics`)).text();
    expect(metrics).toMatch(
      /gatehouse_requests_total\{route="one",method="GET",code="503"\} (1[2-9]|[2-9]\d)/,
    );
  });

  it('frozen (SIGSTOP): 504 at the headers timeout, the breaker opens, 503 at once; resumed: recovers', async () => {
    const slow = upstreams.slow;
    expect((await call(`${gateway.url}/slow/x`)).status).toBe(200);

    await slow.signal('SIGSTOP');
    for (let i = 0; i < BREAKER.failureThreshold; i++) {
      const timedOut = await call(`${gateway.url}/slow/x`);
      expectProblem(timedOut, 504);
      expect(timedOut.ms).toBeGreaterThanOrEqual(HEADERS_TIMEOUT_MS - 50);
      expect(timedOut.ms).toBeLessThan(HEADERS_TIMEOUT_MS + 1000);
    }
    expect(await circuit('slow', slow)).toBe(2);
    const open = await call(`${gateway.url}/slow/x`);
    expectProblem(open, 503);
    expect(open.ms).toBeLessThan(FAST_MS);

    await slow.signal('SIGCONT');
    // After `openMs`, the first request is the half-open probe; it succeeds and closes the circuit.
    await expect
      .poll(async () => (await call(`${gateway.url}/slow/x`)).status, {
        timeout: BREAKER.openMs + 3000,
        interval: 200,
      })
      .toBe(200);
    expect(await circuit('slow', slow)).toBe(0);
  });

  it('two targets, one killed: every GET succeeds on the live one; once detected, POSTs too; restarted: it serves again', async () => {
    const { a, b } = upstreams;
    const spread = await Promise.all(Array.from({ length: 6 }, () => call(`${gateway.url}/pair/x`)));
    expect(new Set(spread.map(servedBy))).toEqual(new Set(['a', 'b']));

    await a.signal('SIGKILL');
    // Idempotent requests that reached nothing are retried on the other target (RFC 9110 §9.2.2):
    // not one failure is visible, from the first request after the kill.
    const gets: Answer[] = [];
    for (let i = 0; i < 20; i++) gets.push(await call(`${gateway.url}/pair/x`));
    expect(gets.map((answer) => answer.status)).toEqual(gets.map(() => 200));
    expect(new Set(gets.map(servedBy))).toEqual(new Set(['b']));

    // Active health checks take it out (and its breaker opened on the refused connections).
    await expect
      .poll(() => gauge('gatehouse_upstream_healthy', 'pair', a.url), { timeout: 3000, interval: 100 })
      .toBe(0);
    expect(await gauge('gatehouse_upstream_healthy', 'pair', b.url)).toBe(1);
    // A POST is never retried (it may have had an effect), so only after detection is the dead
    // target out of every request's way: from here on, POSTs succeed too.
    const posts = await Promise.all(
      Array.from({ length: 10 }, () =>
        call(`${gateway.url}/pair/x`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: '{}',
        }),
      ),
    );
    expect(posts.map((answer) => answer.status)).toEqual(posts.map(() => 200));
    expect(new Set(posts.map(servedBy))).toEqual(new Set(['b']));

    // Restarted on its port: the health checks put it back, and round robin reaches it again.
    upstreams.a = await startUpstreamProcess('a', a.port);
    await expect
      .poll(() => gauge('gatehouse_upstream_healthy', 'pair', a.url), { timeout: 3000, interval: 100 })
      .toBe(1);
    await expect
      .poll(async () => servedBy(await call(`${gateway.url}/pair/x`)), {
        timeout: BREAKER.openMs + 3000,
        interval: 100,
      })
      .toBe('a');
    expect(gateway.stdout()).toMatch(/"upstream":"pair".*"healthy":false.*upstream target health changed/);
  });
  it('two targets, one dead, no health check: a POST is never retried, so exactly failureThreshold POSTs see 502, then none', async () => {
    const { c, d } = upstreams;
    await c.signal('SIGKILL');
    // Round robin starts at the first target (c, dead) and alternates; a POST that reached nothing
    // is not retried (it is not idempotent): every request that lands on c fails until its
    // breaker opens after `failureThreshold` failures.
    const post = (): Promise<Answer> =>
      call(`${gateway.url}/duo/x`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: '{}',
      });
    const first: Answer[] = [];
    for (let i = 0; i < 2 * BREAKER.failureThreshold - 1; i++) first.push(await post());
    expect(first.map((answer) => answer.status)).toEqual([502, 200, 502, 200, 502]);
    for (const refused of first.filter((answer) => answer.status === 502)) expectProblem(refused, 502);
    expect(await circuit('duo', c)).toBe(2);
    // Open on c: every POST and GET goes to d.
    const later: Answer[] = [];
    for (let i = 0; i < 6; i++) later.push(i % 2 === 0 ? await post() : await call(`${gateway.url}/duo/x`));
    expect(later.map((answer) => answer.status)).toEqual(later.map(() => 200));
    expect(new Set(later.map(servedBy))).toEqual(new Set([d.name]));
  });
});
