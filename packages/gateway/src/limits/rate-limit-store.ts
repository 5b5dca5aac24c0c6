import type { RateLimitRule } from './rate-limit-rule.js';

/** The outcome of one counted request under one rule. Times are whole milliseconds. */
export interface RateLimitDecision {
  readonly allowed: boolean;
  readonly limit: number;
  /** Requests still allowed right after this one. */
  readonly remaining: number;
  /** Until the full quota is available again. */
  readonly resetMs: number;
  /** Until a request would be allowed again; 0 when allowed. */
  readonly retryAfterMs: number;
}

/**
 * Where rate-limit state lives. `hit` counts one request at `nowMs` (the caller's clock, so every
 * instance and every test agrees on time) and decides atomically; a refused request is not
 * counted, so hammering a closed limit does not push its reopening further away.
 * The memory store answers synchronously (hot path); the Redis store returns a promise and
 * rejects with `ERR_STORE_UNAVAILABLE` when Redis cannot answer.
 */
export interface RateLimitStore {
  readonly kind: 'memory' | 'redis';
  hit(rule: RateLimitRule, key: string, nowMs: number): Promise<RateLimitDecision> | RateLimitDecision;
  close(): Promise<void>;
}

/**
 * Floating point slack of the algorithms: `windowMs / limit` is rarely exact, and a quota that is
 * exactly used must not read as one request over or under. Shared by the memory store and the Lua
 * scripts of the Redis store, which must compute the same decisions.
 */
export const RATE_LIMIT_EPSILON = 1e-6;
