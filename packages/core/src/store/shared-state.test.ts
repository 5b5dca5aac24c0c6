import { randomBytes } from 'node:crypto';
import { requireService, serviceUrl } from '@gatehouse/testing';
import { Redis } from 'ioredis';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { createMemorySharedState } from './memory-shared-state.js';
import { createRedisSharedState } from './redis-shared-state.js';
import { sharedReplayStore, type SharedState } from './shared-state.js';

const redis = await requireService('redis', 'core shared state on Redis');

// One prefix per test run, so parallel test files and earlier runs never collide.
const PREFIX = `gh_test:${randomBytes(6).toString('hex')}:`;

afterAll(async () => {
  if (!redis.available) return;
  const raw = new Redis(serviceUrl('redis'));
  const keys = await raw.keys(`${PREFIX}*`);
  if (keys.length > 0) await raw.del(...keys);
  await raw.quit();
});

interface Harness {
  readonly state: SharedState;
  /** Lets `ms` pass: the injected clock for memory, real time for Redis (short TTLs). */
  readonly advance: (ms: number) => Promise<void>;
  /** The current time the state sees. */
  readonly now: () => number;
}

interface Engine {
  readonly name: string;
  readonly available: boolean;
  create(): Promise<Harness>;
}

// Real TTLs for Redis: long enough that a loaded machine does not expire them early.
const TTL = 300;
const PAST_TTL = 350;

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

const engines: Engine[] = [
  {
    name: 'memory',
    available: true,
    create: () => {
      let clock = 1_700_000_000_000;
      return Promise.resolve({
        state: createMemorySharedState({ now: () => clock }),
        advance: (ms) => {
          clock += ms;
          return Promise.resolve();
        },
        now: () => clock,
      });
    },
  },
  {
    name: 'Redis',
    available: redis.available,
    create: async () => ({
      state: await createRedisSharedState({ url: serviceUrl('redis'), prefix: PREFIX }),
      advance: sleep,
      now: Date.now,
    }),
  },
];

/**
 * Subscribes to `channel`; `received` resolves with the next message (then unsubscribes). Wrapped in
 * an object because an async function returning a promise would wait for it.
 */
async function nextMessage(state: SharedState, channel: string): Promise<{ received: Promise<string> }> {
  let resolve: (message: string) => void = () => undefined;
  const received = new Promise<string>((r) => (resolve = r));
  const unsubscribe = await state.subscribe(channel, (message) => {
    resolve(message);
  });
  return { received: received.finally(unsubscribe) };
}

for (const engine of engines) {
  describe.skipIf(!engine.available)(`SharedState on ${engine.name}`, () => {
    const harnesses: Harness[] = [];
    let test = 0;

    async function fresh(): Promise<Harness & { key: (name: string) => string }> {
      const harness = await engine.create();
      harnesses.push(harness);
      test += 1;
      const scope = `${String(test)}:${randomBytes(4).toString('hex')}`;
      return { ...harness, key: (name) => `${scope}:${name}` };
    }

    afterEach(async () => {
      await Promise.all(harnesses.splice(0).map((h) => h.state.close()));
    });

    it(`reports its kind`, async () => {
      const { state } = await fresh();
      expect(state.kind).toBe(engine.name === 'memory' ? 'memory' : 'redis');
    });

    it('setIfAbsent: the first writer wins until the entry expires', async () => {
      const { state, advance, key } = await fresh();
      await expect(state.setIfAbsent(key('jti'), 'first', TTL)).resolves.toBe(true);
      await expect(state.setIfAbsent(key('jti'), 'second', TTL)).resolves.toBe(false);
      await expect(state.get(key('jti'))).resolves.toBe('first');
      await advance(PAST_TTL);
      await expect(state.get(key('jti'))).resolves.toBeUndefined();
      await expect(state.setIfAbsent(key('jti'), 'third', TTL)).resolves.toBe(true);
      await expect(state.get(key('jti'))).resolves.toBe('third');
    });

    it('setIfAbsent with a fractional TTL (rounded up) stores the entry', async () => {
      const { state, key } = await fresh();
      await expect(state.setIfAbsent(key('a'), '1', 1000.4)).resolves.toBe(true);
      await expect(state.setIfAbsent(key('a'), '1', 1000.4)).resolves.toBe(false);
    });

    it('100 concurrent setIfAbsent calls on one key: exactly one wins', async () => {
      const { state, key } = await fresh();
      const results = await Promise.all(
        Array.from({ length: 100 }, (_, i) => state.setIfAbsent(key('race'), String(i), 10_000)),
      );
      expect(results.filter(Boolean)).toHaveLength(1);
      await expect(state.get(key('race'))).resolves.toBe(String(results.indexOf(true)));
    });

    it('get / set / delete', async () => {
      const { state, key } = await fresh();
      await expect(state.get(key('k'))).resolves.toBeUndefined();
      await state.set(key('k'), 'v1');
      await expect(state.get(key('k'))).resolves.toBe('v1');
      await state.set(key('k'), 'v2');
      await expect(state.get(key('k'))).resolves.toBe('v2');
      await state.delete(key('k'));
      await expect(state.get(key('k'))).resolves.toBeUndefined();
      await expect(state.delete(key('never-set'))).resolves.toBeUndefined();
      await state.set(key('empty'), '');
      await expect(state.get(key('empty'))).resolves.toBe('');
    });

    it('set with a TTL expires; without one it stays, and a later set without TTL clears the expiry', async () => {
      const { state, advance, key } = await fresh();
      await state.set(key('short'), 'x', TTL);
      await state.set(key('forever'), 'y');
      await state.set(key('renewed'), 'z', TTL);
      await state.set(key('renewed'), 'z2');
      await expect(state.get(key('short'))).resolves.toBe('x');
      await advance(PAST_TTL);
      await expect(state.get(key('short'))).resolves.toBeUndefined();
      await expect(state.get(key('forever'))).resolves.toBe('y');
      await expect(state.get(key('renewed'))).resolves.toBe('z2');
    });

    it('a deleted entry can be claimed again with setIfAbsent', async () => {
      const { state, key } = await fresh();
      await state.setIfAbsent(key('k'), 'a', 10_000);
      await state.delete(key('k'));
      await expect(state.setIfAbsent(key('k'), 'b', 10_000)).resolves.toBe(true);
    });

    it('increment counts, by 1 or by `by`', async () => {
      const { state, key } = await fresh();
      await expect(state.increment(key('n'), 10_000)).resolves.toBe(1);
      await expect(state.increment(key('n'), 10_000)).resolves.toBe(2);
      await expect(state.increment(key('n'), 10_000, 5)).resolves.toBe(7);
      await expect(state.increment(key('other'), 10_000, 3)).resolves.toBe(3);
      await expect(state.get(key('n'))).resolves.toBe('7');
    });

    it('increment is a fixed window: later increments do not extend it', async () => {
      const { state, advance, key } = await fresh();
      await expect(state.increment(key('window'), TTL)).resolves.toBe(1);
      await advance(100);
      // A sliding window would now live until 400 ms; a fixed one ends at 300 ms.
      await expect(state.increment(key('window'), TTL)).resolves.toBe(2);
      await advance(250);
      await expect(state.get(key('window'))).resolves.toBeUndefined();
      await expect(state.increment(key('window'), TTL)).resolves.toBe(1);
    });

    it('100 concurrent increments all count', async () => {
      const { state, key } = await fresh();
      const totals = await Promise.all(Array.from({ length: 100 }, () => state.increment(key('c'), 10_000)));
      expect([...totals].sort((a, b) => a - b)).toEqual(Array.from({ length: 100 }, (_, i) => i + 1));
    });

    it('publish delivers to a subscriber, asynchronously', async () => {
      const { state, key } = await fresh();
      let called = false;
      const unsubscribe = await state.subscribe(key('ch'), () => {
        called = true;
      });
      const { received } = await nextMessage(state, key('ch'));
      const published = state.publish(key('ch'), 'hello');
      // Subscribers never run inside the publisher's call stack.
      expect(called).toBe(false);
      await published;
      await expect(received).resolves.toBe('hello');
      expect(called).toBe(true);
      await unsubscribe();
    });

    it('every listener of a channel receives, other channels do not, and unsubscribe stops delivery', async () => {
      const { state, key } = await fresh();
      const a: string[] = [];
      const b: string[] = [];
      const other: string[] = [];
      const unsubscribeA = await state.subscribe(key('ch'), (m) => a.push(m));
      const unsubscribeB = await state.subscribe(key('ch'), (m) => b.push(m));
      const unsubscribeOther = await state.subscribe(key('other'), (m) => other.push(m));

      let done = (await nextMessage(state, key('ch'))).received;
      await state.publish(key('ch'), 'one');
      await done;
      expect(a).toEqual(['one']);
      expect(b).toEqual(['one']);

      await unsubscribeA();
      done = (await nextMessage(state, key('ch'))).received;
      await state.publish(key('ch'), 'two');
      await done;
      expect(a).toEqual(['one']);
      expect(b).toEqual(['one', 'two']);

      // Unsubscribing twice is harmless; with no listener left the channel stays silent.
      await unsubscribeA();
      await unsubscribeB();
      done = (await nextMessage(state, key('other'))).received;
      await state.publish(key('ch'), 'three');
      // Delivery is in publish order, so once `done` arrives 'three' would have too.
      await state.publish(key('other'), 'marker');
      await done;
      expect(b).toEqual(['one', 'two']);
      expect(other).toEqual(['marker']);
      await unsubscribeOther();
    });

    it('a listener removed while a message is in flight is not called', async () => {
      const { state, key } = await fresh();
      const heard: string[] = [];
      const unsubscribe = await state.subscribe(key('ch'), (m) => heard.push(m));
      const published = state.publish(key('ch'), 'in flight');
      await unsubscribe();
      await published;
      // Publish order is delivery order: once the marker arrives, 'in flight' has been handled.
      const { received } = await nextMessage(state, key('marker'));
      await state.publish(key('marker'), 'done');
      await received;
      expect(heard).toEqual([]);
    });

    it('resubscribing after the last listener left delivers again', async () => {
      const { state, key } = await fresh();
      const first = await state.subscribe(key('ch'), () => undefined);
      await first();
      const { received } = await nextMessage(state, key('ch'));
      await state.publish(key('ch'), 'back');
      await expect(received).resolves.toBe('back');
    });

    it('sharedReplayStore: the first use of a proof is fresh, a replay is not, until it expires', async () => {
      const { state, advance, now, key } = await fresh();
      const store = sharedReplayStore(state, key('dpop:'), now);
      const jti = randomBytes(16).toString('base64url');
      // As createDpopVerifier calls it: remember the jti until the proof's acceptance window ends.
      await expect(store.checkAndRemember(jti, now() + TTL)).resolves.toBe(true);
      await expect(store.checkAndRemember(jti, now() + TTL)).resolves.toBe(false);
      await expect(state.get(`${key('dpop:')}${jti}`)).resolves.toBe('1');
      await expect(store.checkAndRemember('another', now() + TTL)).resolves.toBe(true);
      await advance(PAST_TTL);
      await expect(store.checkAndRemember(jti, now() + TTL)).resolves.toBe(true);
    });

    it('sharedReplayStore: an expiry already past is still stored (a TTL of at least 1 ms)', async () => {
      const { state, now, key } = await fresh();
      const store = sharedReplayStore(state, key('p:'), now);
      // A zero or negative TTL would be an error in Redis ("invalid expire time").
      await expect(store.checkAndRemember('late', now() - 5_000)).resolves.toBe(true);
      await expect(store.checkAndRemember('at-expiry', now())).resolves.toBe(true);
    });

    it('close() resolves, and closing twice is harmless', async () => {
      const { state } = await fresh();
      await expect(state.close()).resolves.toBeUndefined();
      await expect(state.close()).resolves.toBeUndefined();
    });
  });
}

describe('sharedReplayStore with the real clock', () => {
  it('defaults to Date.now', async () => {
    const state = createMemorySharedState();
    const store = sharedReplayStore(state, 'replay:');
    await expect(store.checkAndRemember('jti', Date.now() + 60_000)).resolves.toBe(true);
    await expect(store.checkAndRemember('jti', Date.now() + 60_000)).resolves.toBe(false);
    await state.close();
  });
});
