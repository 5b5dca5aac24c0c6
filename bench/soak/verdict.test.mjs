/**
 * The verdict on synthetic series: a flat stack passes, each kind of growth fails the check it
 * concerns and only that one. Run with `node --test bench/soak/` (the soak is not part of CI, and
 * neither is this file: vitest covers packages/, examples/ and test/).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { BOUNDS, MIB, judge, planSpans, slope, trendOf } from './verdict.mjs';

const plan = planSpans(600);

/**
 * A series sampled every `every` seconds over the run.
 * @param {(t: number) => number} value
 * @param {number} [every]
 */
function series(value, every = 10) {
  return Array.from({ length: 600 / every + 1 }, (_, i) => ({ t: i * every, v: value(i * every) }));
}

/** Deterministic noise in [-1, 1]. @param {number} t */
const noise = (t) => Math.sin(t * 12.9898) * 0.999;

/** @param {Partial<import('./verdict.mjs').ProcessSeries>} [overrides] */
function steadyProcess(overrides = {}) {
  return {
    role: 'gateway',
    rss: series((t) => 150 * MIB + noise(t) * 4 * MIB),
    heap: series((t) => 40 * MIB + noise(t) * 1 * MIB, 30),
    fds: series((t) => 30 + Math.round(noise(t) * 2)),
    sockets: series((t) => 300 + Math.round(noise(t) * 100)),
    idleFdsBefore: 40,
    idleFdsAfter: 42,
    ...overrides,
  };
}

/** @param {Partial<import('./verdict.mjs').RunFacts>} [overrides] */
function facts(overrides = {}) {
  return {
    processes: [steadyProcess(), steadyProcess({ role: 'auth-server' })],
    requests: 60_000,
    errors: 0,
    unexpected: 0,
    scheduled: 60_000,
    started: 60_000,
    failedOperations: 0,
    exitedProcesses: [],
    stopExitCode: 0,
    ...overrides,
  };
}

/** @param {ReturnType<typeof judge>} verdict */
const failed = (verdict) => verdict.checks.filter((c) => !c.pass).map((c) => `${c.id}:${c.subject}`);

describe('planSpans', () => {
  it('takes minutes 2-4 as the baseline and the last 2 minutes as the final span of a 10-minute run', () => {
    assert.deepEqual(planSpans(600), {
      durationSec: 600,
      warmupSec: 120,
      baseline: [120, 240],
      final: [480, 600],
    });
  });

  it('scales down for a quick check', () => {
    assert.deepEqual(planSpans(60), { durationSec: 60, warmupSec: 12, baseline: [12, 24], final: [48, 60] });
  });
});

describe('trendOf and slope', () => {
  it('finds the slope of a straight line, per minute', () => {
    const line = series((t) => 1000 + 2 * t);
    assert.equal(slope(line), 2);
    assert.equal(trendOf(line, plan).slopePerMin, 120);
  });

  it('ignores the warm-up: a steep start followed by a plateau shows no growth', () => {
    const warming = series((t) => (t < 120 ? 50 * MIB + t * MIB : 170 * MIB));
    const trend = trendOf(warming, plan);
    assert.equal(trend.growth, 0);
    assert.equal(trend.slopePerMin, 0);
  });

  it('reads medians, so one outlier in a span does not count as growth', () => {
    const spike = series((t) => (t === 590 ? 900 * MIB : 100 * MIB));
    assert.equal(trendOf(spike, plan).growth, 0);
  });

  it('skips readings that are missing (a process that did not answer once)', () => {
    const gap = series((t) => (t === 500 ? Number.NaN : 7));
    assert.equal(trendOf(gap, plan).final, 7);
  });
});

describe('judge', () => {
  it('passes a stack whose memory and descriptors only wobble', () => {
    const verdict = judge(facts(), plan);
    assert.deepEqual(failed(verdict), []);
    assert.equal(verdict.pass, true);
  });

  it('fails the heap of the process that keeps 2 MiB a minute, and nothing else', () => {
    const leaking = steadyProcess({ heap: series((t) => 40 * MIB + (t / 60) * 2 * MIB, 30) });
    const verdict = judge(facts({ processes: [leaking, steadyProcess({ role: 'auth-server' })] }), plan);
    assert.deepEqual(failed(verdict), ['heap:gateway']);
  });

  it('passes a heap sawtooth of the size of the garbage collector (no growth of its median)', () => {
    const sawtooth = steadyProcess({ heap: series((t) => 40 * MIB + ((t % 90) / 90) * 10 * MIB, 30) });
    assert.deepEqual(failed(judge(facts({ processes: [sawtooth] }), plan)), []);
  });

  it('passes a heap step below the growth bound, fails one above it when it keeps rising', () => {
    const small = steadyProcess({ heap: series((t) => 40 * MIB + Math.min(t, 480) * 0.012 * MIB, 30) });
    assert.deepEqual(failed(judge(facts({ processes: [small] }), plan)), []);
    const large = steadyProcess({ heap: series((t) => 40 * MIB + t * 0.03 * MIB, 30) });
    assert.deepEqual(failed(judge(facts({ processes: [large] }), plan)), ['heap:gateway']);
  });

  it('lets RSS grow by less than 50 MiB whatever the share, fails it above both bounds', () => {
    const rssUp = (/** @type {number} */ mib) =>
      steadyProcess({ rss: series((t) => (t < 300 ? 100 * MIB : (100 + mib) * MIB)) });
    assert.deepEqual(failed(judge(facts({ processes: [rssUp(45)] }), plan)), []);
    assert.deepEqual(failed(judge(facts({ processes: [rssUp(60)] }), plan)), ['rss:gateway']);
  });

  it('does not judge sockets under load (they follow the requests in flight)', () => {
    const busy = steadyProcess({ sockets: series((t) => (t < 300 ? 100 : 900)) });
    assert.deepEqual(failed(judge(facts({ processes: [busy] }), plan)), []);
  });

  it('fails 50 more open descriptors other than sockets under load, passes 49', () => {
    const fdsUp = (/** @type {number} */ n) =>
      steadyProcess({ fds: series((t) => (t < 300 ? 100 : 100 + n)) });
    assert.deepEqual(failed(judge(facts({ processes: [fdsUp(49)] }), plan)), []);
    assert.deepEqual(failed(judge(facts({ processes: [fdsUp(BOUNDS.fdGrowth)] }), plan)), ['fds:gateway']);
  });

  it('fails 10 descriptors more in the idle stack after the load than before it', () => {
    assert.deepEqual(failed(judge(facts({ processes: [steadyProcess({ idleFdsAfter: 49 })] }), plan)), []);
    assert.deepEqual(failed(judge(facts({ processes: [steadyProcess({ idleFdsAfter: 50 })] }), plan)), [
      'idle-fds:gateway',
    ]);
  });

  it('fails a process without heap readings (the probe did not load)', () => {
    const blind = steadyProcess({ heap: [] });
    assert.deepEqual(failed(judge(facts({ processes: [blind] }), plan)), ['heap:gateway']);
  });

  it('fails on one server error, on a load that fell behind, on unexpected answers', () => {
    assert.deepEqual(failed(judge(facts({ errors: 1 }), plan)), ['errors:load']);
    assert.deepEqual(failed(judge(facts({ started: 56_000 }), plan)), ['rate:load']);
    assert.deepEqual(failed(judge(facts({ unexpected: 61 }), plan)), ['answers:load']);
    assert.deepEqual(failed(judge(facts({ unexpected: 60 }), plan)), []);
  });

  it('fails when a component died, or when the stack does not stop cleanly', () => {
    assert.deepEqual(failed(judge(facts({ exitedProcesses: ['bff'] }), plan)), ['alive:stack']);
    assert.deepEqual(failed(judge(facts({ stopExitCode: null }), plan)), ['stop:stack']);
  });
});
