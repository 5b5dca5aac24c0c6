import { createHash } from 'node:crypto';
import { GatehouseError, type Logger } from '@gatehouse/core';
import type { Redis } from 'ioredis';
import { createFailFastRedis } from '../limits/create-fail-fast-redis.js';
import { createBoundedMap } from './bounded-map.js';
import {
  createMemoryCounterWindow,
  createMemoryDistinctWindow,
  createMemoryWalkWindow,
  type MemoryCounterWindow,
  type MemoryDistinctWindow,
  type MemoryWalkWindow,
} from './memory-window-store.js';
import { COUNTER_SCRIPT, DISTINCT_SCRIPT, TAKE_SCRIPT, WALK_SCRIPT } from './redis-window-scripts.js';
import {
  NO_VALUES,
  isCrossing,
  type CounterWindow,
  type Crossing,
  type DetectorWindows,
  type DistinctWindow,
  type Pending,
  type WalkWindow,
  type WindowScopeOptions,
  type WindowStore,
} from './window-store.js';
import type { DetectorId } from './types.js';

export interface RedisWindowStoreOptions {
  readonly url: string;
  /** Prefix of every key (default `gatehouse:`), so several deployments can share a Redis. */
  readonly prefix?: string | undefined;
  readonly logger: Logger;
  /** Deadline of one script call (default 500 ms): a stalled Redis falls back fast. */
  readonly commandTimeoutMs?: number;
}

type Reply = (number | string)[];

interface ScriptedRedis extends Redis {
  gatehouseDetectDistinct(
    key: string,
    t: number,
    windowMs: number,
    limit: number,
    threshold: number,
    keepValues: number,
    member: string,
  ): Promise<unknown>;
  gatehouseDetectTake(key: string, t: number, windowMs: number, atLeast: number): Promise<unknown>;
  gatehouseDetectCount(
    key: string,
    bucket: number,
    buckets: number,
    threshold: number,
    windowMs: number,
  ): Promise<unknown>;
  gatehouseDetectWalk(key: string, n: number, t: number, windowMs: number, run: number): Promise<unknown>;
}

/** Characters of a digest: 132 bits of SHA-256 in base64url, a fixed 22 bytes whatever the input. */
const DIGEST_LENGTH = 22;

/**
 * Keys and values chosen by clients (subjects, tokens, paths, object ids) are stored as digests:
 * fixed-length key names and members however long the input, and no client text in Redis.
 */
function digest(text: string): string {
  return createHash('sha256').update(text).digest('base64url').slice(0, DIGEST_LENGTH);
}

/**
 * The Redis key of one detector window's key: `<prefix>detect:<detector>:<window>:<digest of key>`
 * (prefix default `gatehouse:`).
 */
export function buildRedisWindowKey(
  prefix: string | undefined,
  detector: DetectorId,
  window: string,
  key: string,
): string {
  return `${prefix ?? 'gatehouse:'}detect:${detector}:${window}:${digest(key)}`;
}

function corrupt(): GatehouseError {
  return new GatehouseError('ERR_STORE_CORRUPT', { detail: 'unexpected detection window script reply' });
}

function toCountOrCrossing(reply: unknown): number | Crossing {
  if (!Array.isArray(reply) || reply.length < 2 || typeof reply[1] !== 'number') throw corrupt();
  const [crossed, count] = reply as Reply;
  if (crossed === 0) return count as number;
  return { count: count as number, values: reply.length === 2 ? NO_VALUES : (reply.slice(2) as string[]) };
}

function toNumber(reply: unknown): number {
  if (typeof reply !== 'number') throw corrupt();
  return reply;
}

/**
 * Which store answers: Redis while it does, else the window's copy in this process. After a
 * failure, one observation at a time tries Redis again (the others count locally meanwhile), so a
 * Redis that hangs holds one call, not one per request; the first success ends the outage.
 */
interface Link {
  call<T>(remote: () => Promise<T>, local: () => T, onFallback: (() => void) | undefined): Pending<T>;
}

function createLink(logger: Logger, startDown: boolean): Link {
  let down = startDown;
  let probing = false;
  return { call };

  function call<T>(
    remote: () => Promise<T>,
    local: () => T,
    onFallback: (() => void) | undefined,
  ): Pending<T> {
    if (down && probing) {
      onFallback?.();
      return local();
    }
    const probe = down;
    if (probe) probing = true;
    // A synchronous throw (a client in a bad state) is a failure like any other.
    const answer = new Promise<T>((resolve) => {
      resolve(remote());
    });
    return answer.then(
      (value) => {
        if (probe) probing = false;
        if (down) {
          down = false;
          logger.info('detection window store (Redis) answers again; detectors count across instances');
        }
        return value;
      },
      (err: unknown) => {
        if (probe) probing = false;
        if (!down) {
          down = true;
          // Once per outage: every request would otherwise log it.
          logger.warn(
            { err },
            'detection window store (Redis) failed; detectors count in this instance until it answers',
          );
        }
        onFallback?.();
        return local();
      },
    );
  }
}

interface Recent {
  value: string;
  at: number;
  count: number;
}

/**
 * Detector windows in Redis, shared by every gateway instance: one script call per observation,
 * atomic however many instances count at once, keys `<prefix>detect:<detector>:<window>:<digest>`
 * expiring (PEXPIRE) one window after their last write. Each window keeps a copy in this process,
 * created on the first failure, that counts while Redis does not answer (never failing a request).
 * Per key, Redis holds what memory does (at most `limit` values, 10 buckets, one walk); the number
 * of keys is bounded by time (keys expire) rather than by `maxKeys`, which bounds the local copy.
 */
export async function createRedisWindowStore(options: RedisWindowStoreOptions): Promise<WindowStore> {
  const { logger, prefix } = options;
  const client = (await createFailFastRedis(options.url, options.commandTimeoutMs ?? 500, {
    gatehouseDetectDistinct: { lua: DISTINCT_SCRIPT },
    gatehouseDetectTake: { lua: TAKE_SCRIPT },
    gatehouseDetectCount: { lua: COUNTER_SCRIPT },
    gatehouseDetectWalk: { lua: WALK_SCRIPT },
  })) as ScriptedRedis;
  let startDown = false;
  try {
    await client.connect();
  } catch (err) {
    // Detection never keeps the gateway from starting: count locally, and keep reconnecting.
    startDown = true;
    logger.warn(
      { err },
      'detection window store (Redis) unreachable; detectors count in this instance until it answers',
    );
  }
  const link = createLink(logger, startDown);

  const scope = (scoped: WindowScopeOptions): DetectorWindows => {
    const { onFallback, detector } = scoped;

    const distinct: DetectorWindows['distinct'] = (spec) => {
      const key = (k: string): string => buildRedisWindowKey(prefix, detector, spec.name, k);
      const member = spec.values === 'digest' ? digest : (value: string) => value;
      const touchMs = spec.windowMs / 16;
      let local: MemoryDistinctWindow | undefined;
      const localWindow = (): MemoryDistinctWindow => (local ??= createMemoryDistinctWindow(spec, scoped));
      // Per key, the value sent last and the count read back: the same value again within touchMs
      // is answered here, as memory's fast path does (a repeat never crosses a threshold), and the
      // counts are this instance's view of the other keys for a baseline.
      const recent = createBoundedMap<Recent>({ maxKeys: scoped.maxKeys, touchMs });
      const remember = (
        k: string,
        value: string,
        t: number,
        result: number | Crossing,
      ): number | Crossing => {
        if (isCrossing(result)) {
          recent.delete(k);
          return result;
        }
        const entry = recent.get(k, t);
        if (entry === undefined) recent.set(k, { value, at: t, count: result }, t);
        else {
          entry.value = value;
          entry.at = t;
          entry.count = result;
        }
        return result;
      };
      const window: DistinctWindow = {
        add(k, value, t) {
          const last = recent.get(k, t);
          if (last !== undefined && last.value === value && t >= last.at && t - last.at < touchMs)
            return last.count;
          const answer = link.call(
            () =>
              client
                .gatehouseDetectDistinct(
                  key(k),
                  t,
                  spec.windowMs,
                  spec.limit,
                  spec.threshold ?? 0,
                  spec.keepValues === true ? 1 : 0,
                  member(value),
                )
                .then(toCountOrCrossing),
            () => localWindow().add(k, value, t),
            onFallback,
          );
          return answer instanceof Promise
            ? answer.then((result) => remember(k, value, t, result))
            : remember(k, value, t, answer);
        },
        take(k, atLeast, t) {
          const answer = link.call(
            () => client.gatehouseDetectTake(key(k), t, spec.windowMs, atLeast).then(toNumber),
            () => (localWindow().take(k, atLeast, t) ? 1 : 0),
            onFallback,
          );
          const taken = (took: number): boolean => {
            if (took === 1) recent.delete(k);
            return took === 1;
          };
          return answer instanceof Promise ? answer.then(taken) : taken(answer);
        },
        *counts(t) {
          for (const [k, entry] of recent.entries())
            if (entry.count > 0 && t - entry.at < spec.windowMs) yield [k, entry.count] as const;
        },
      };
      return window;
    };

    const counter: DetectorWindows['counter'] = (spec) => {
      const bucketMs = spec.windowMs / spec.buckets;
      let local: MemoryCounterWindow | undefined;
      const window: CounterWindow = {
        add: (k, t) =>
          link.call(
            () =>
              client
                .gatehouseDetectCount(
                  buildRedisWindowKey(prefix, detector, spec.name, k),
                  Math.floor(t / bucketMs),
                  spec.buckets,
                  spec.threshold,
                  spec.windowMs,
                )
                .then(toCountOrCrossing),
            () => (local ??= createMemoryCounterWindow(spec, scoped)).add(k, t),
            onFallback,
          ),
      };
      return window;
    };

    const walk: DetectorWindows['walk'] = (spec) => {
      const key = (k: string): string => buildRedisWindowKey(prefix, detector, spec.name, k);
      let local: MemoryWalkWindow | undefined;
      const window: WalkWindow = {
        step: (k, n, t) =>
          link.call(
            () => client.gatehouseDetectWalk(key(k), n, t, spec.windowMs, spec.run).then(toNumber),
            () => (local ??= createMemoryWalkWindow(spec, scoped)).step(k, n, t),
            onFallback,
          ),
        delete(k) {
          local?.delete(k);
          // Forgetting a walk is best effort: one that stays restarts on its next gap anyway.
          client.del(key(k)).catch(() => undefined);
        },
      };
      return window;
    };

    return { distinct, counter, walk, fail: scoped.onError };
  };

  return {
    kind: 'redis',
    scope,
    close: async () => {
      await client.quit().catch(() => client.disconnect());
    },
  };
}
