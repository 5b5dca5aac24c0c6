import { GatehouseError } from '@gatehouse/core';
import type { Redis } from 'ioredis';
import { createFailFastRedis } from './create-fail-fast-redis.js';
import type { RateLimitRule } from './rate-limit-rule.js';
import { RATE_LIMIT_EPSILON, type RateLimitDecision, type RateLimitStore } from './rate-limit-store.js';

export interface RedisRateLimitStoreOptions {
  readonly url: string;
  /** Prefix of every key (default `gatehouse:`), so several deployments can share a Redis. */
  readonly prefix?: string;
  /** Deadline of one check (default 500 ms): a stalled Redis fails fast into `onStoreFailure`. */
  readonly commandTimeoutMs?: number;
  /**
   * Whether creating the store fails when Redis cannot be reached (default true: a wrong URL is
   * caught at startup). False starts anyway and keeps reconnecting; checks fail meanwhile, which the
   * limiter's `onStoreFailure` (open or local) absorbs.
   */
  readonly requireConnection?: boolean;
}

// Both scripts are the algorithms of memory-rate-limit-store.ts, operation for operation (Lua and
// JavaScript numbers are both IEEE doubles), so the two stores decide identically; the parity test
// runs the same tables through both. The clock is ARGV, never Redis' TIME: every instance passes
// its own `now` (NTP keeps instances within milliseconds, far below any window), tests inject time,
// and a script without TIME is deterministic, so it replicates and replays as the script itself.
const CEIL_MS = `
local EPS = ${RATE_LIMIT_EPSILON}
local function ceilMs(ms)
  local v = math.ceil(ms - EPS)
  if v < 0 then return 0 end
  return v
end`;

/** KEYS[1] holds the TAT; ARGV: now, windowMs, limit, burst. Returns {allowed, remaining, resetMs, retryAfterMs}. */
const GCRA = `${CEIL_MS}
local now = tonumber(ARGV[1])
local interval = tonumber(ARGV[2]) / tonumber(ARGV[3])
local capacity = interval * tonumber(ARGV[4])
local tat = now
local stored = tonumber(redis.call('GET', KEYS[1]) or '')
if stored ~= nil and stored >= now then tat = stored end
local nextTat = tat + interval
local diff = nextTat - now
if diff > capacity + EPS then
  return {0, 0, ceilMs(tat - now), ceilMs(diff - capacity)}
end
-- %.17g round-trips a double: the TAT advances by fractional intervals without drifting.
redis.call('SET', KEYS[1], string.format('%.17g', nextTat), 'PX', math.max(1, ceilMs(diff)))
return {1, math.floor((capacity - diff) / interval + EPS), ceilMs(diff), 0}`;

/** KEYS: current and previous window counters; ARGV: elapsedMs (in the current window), windowMs, limit. */
const SLIDING_WINDOW = `${CEIL_MS}
local elapsed = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
local limit = tonumber(ARGV[3])
local current = tonumber(redis.call('GET', KEYS[1]) or '0')
local previous = tonumber(redis.call('GET', KEYS[2]) or '0')
local count = (previous * (window - elapsed)) / window + current
if count + 1 > limit + EPS then
  local need = limit - 1
  local wait
  if current > need then
    wait = window - elapsed + window * (1 - need / current)
  else
    wait = window - elapsed - ((need - current) * window) / previous
  end
  local reset
  if current > 0 then reset = ceilMs(2 * window - elapsed) else reset = ceilMs(window - elapsed) end
  return {0, 0, reset, math.max(1, ceilMs(wait))}
end
-- The counter lives until the end of the next window, where it still weighs as the previous one.
if redis.call('INCR', KEYS[1]) == 1 then
  redis.call('PEXPIRE', KEYS[1], math.max(1, ceilMs(2 * window - elapsed)))
end
return {1, math.floor(limit - (count + 1) + EPS), ceilMs(2 * window - elapsed), 0}`;

type Reply = [number, number, number, number];

interface ScriptedRedis extends Redis {
  gatehouseRateLimitGcra(
    key: string,
    now: number,
    windowMs: number,
    limit: number,
    burst: number,
  ): Promise<Reply>;
  gatehouseRateLimitSliding(
    current: string,
    previous: string,
    elapsed: number,
    windowMs: number,
    limit: number,
  ): Promise<Reply>;
}

function unavailable(cause: unknown): GatehouseError {
  return new GatehouseError('ERR_STORE_UNAVAILABLE', { detail: 'redis rate-limit check failed', cause });
}

function toDecision(limit: number, reply: unknown): RateLimitDecision {
  if (!Array.isArray(reply) || reply.length !== 4 || !reply.every((n) => typeof n === 'number')) {
    throw new GatehouseError('ERR_STORE_CORRUPT', { detail: 'unexpected rate-limit script reply' });
  }
  const [allowed, remaining, resetMs, retryAfterMs] = reply as Reply;
  return { allowed: allowed === 1, limit, remaining, resetMs, retryAfterMs };
}

/**
 * Rate-limit state in Redis, shared by every gateway instance: each check is ONE script call
 * (EVALSHA, falling back to EVAL when Redis lost the script), atomic however many instances count
 * at once. Keys expire (PEXPIRE) once they mean a full quota again. Key names carry the counter key
 * in a hash tag (`{…}`), so both sliding-window keys of a subject land on one Redis Cluster slot.
 */
export async function createRedisRateLimitStore(
  options: RedisRateLimitStoreOptions,
): Promise<RateLimitStore> {
  const prefix = `${options.prefix ?? 'gatehouse:'}rl:`;
  // Connection settings of core's redis-shared-state (createFailFastRedis).
  const client = (await createFailFastRedis(options.url, options.commandTimeoutMs ?? 500, {
    gatehouseRateLimitGcra: { lua: GCRA },
    gatehouseRateLimitSliding: { lua: SLIDING_WINDOW, keys: 2 },
  })) as ScriptedRedis;
  try {
    await client.connect();
  } catch (cause) {
    if (options.requireConnection ?? true) {
      client.disconnect();
      throw unavailable(cause);
    }
  }

  const hit = async (rule: RateLimitRule, key: string, nowMs: number): Promise<RateLimitDecision> => {
    let reply: unknown;
    try {
      if (rule.algorithm === 'gcra') {
        reply = await client.gatehouseRateLimitGcra(
          `${prefix}{${key}}`,
          nowMs,
          rule.windowMs,
          rule.limit,
          rule.burst ?? rule.limit,
        );
      } else {
        const window = rule.windowMs;
        const index = Math.floor(nowMs / window);
        // The window length is part of the key: a reloaded rule with another window starts afresh
        // instead of reading counters of differently aligned windows.
        const base = `${prefix}{${key}}:${window}:`;
        reply = await client.gatehouseRateLimitSliding(
          `${base}${index}`,
          `${base}${index - 1}`,
          nowMs - index * window,
          window,
          rule.limit,
        );
      }
    } catch (cause) {
      throw unavailable(cause);
    }
    return toDecision(rule.limit, reply);
  };

  return {
    kind: 'redis',
    hit,
    close: async () => {
      await client.quit().catch(() => client.disconnect());
    },
  };
}
