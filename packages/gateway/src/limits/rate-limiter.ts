import type { Logger } from '@gatehouse/core';
import { createMemoryRateLimitStore } from './memory-rate-limit-store.js';
import { buildRateLimitKey, type RateLimitRule, type RateLimitSubject } from './rate-limit-rule.js';
import type { RateLimitDecision, RateLimitStore } from './rate-limit-store.js';

export interface RateLimiterOptions {
  readonly store: RateLimitStore;
  /**
   * When the store fails: `open` lets the request through, `closed` refuses it (the caller answers
   * 503), `local` counts it in a private memory store of this instance (limits then hold per instance).
   */
  readonly onStoreFailure: 'open' | 'closed' | 'local';
  readonly now?: () => number;
  readonly logger?: Logger;
  /** Called on every store error (metrics); the logger only hears of outages starting and ending. */
  readonly onStoreError?: (err: unknown) => void;
}

export interface RateLimitResult {
  readonly allowed: boolean;
  /**
   * `RateLimit-Policy` and `RateLimit` (draft-ietf-httpapi-ratelimit-headers-11 §3, §4) for the
   * most restrictive rule: the refusing one, else the one with the least quota left. Empty when no
   * rule applied.
   */
  readonly headers: Readonly<Record<string, string>>;
  /** Whole seconds for `Retry-After` when refused by a rule. */
  readonly retryAfterSec: number | undefined;
  /** Id of the refusing rule (or of the rule whose store failed, when `closed`). */
  readonly rule: string | undefined;
  /**
   * The store failed during this check, whatever the mode (count it). A refusal with
   * `retryAfterSec` undefined is `closed` refusing for the failure (answer 503); a refusal with
   * `retryAfterSec` is a rate limit (429), under `local` possibly decided by the fallback store.
   */
  readonly storeFailed: boolean;
}

export interface RateLimiter {
  /** Counts the request under every rule, in order; all must allow. Stops at the first refusal. */
  check(rules: readonly RateLimitRule[], subject: RateLimitSubject): Promise<RateLimitResult>;
  /** Releases the local fallback store (the main store belongs to the caller). */
  close(): Promise<void>;
}

const NO_HEADERS: Readonly<Record<string, string>> = Object.freeze({});
const ALLOWED_WITHOUT_RULES: RateLimitResult = Object.freeze({
  allowed: true,
  headers: NO_HEADERS,
  retryAfterSec: undefined,
  rule: undefined,
  storeFailed: false,
});

/** RFC 9651 §3.3.3 sf-string: printable ASCII, with `"` and `\` escaped. */
function serializeSfString(value: string): string {
  return `"${value.replace(/[^\x20-\x7e]/g, '?').replace(/["\\]/g, '\\$&')}"`;
}

interface PolicyItem {
  /** The policy's sf-string, e.g. `"per-ip"`. */
  readonly name: string;
  /** The whole `RateLimit-Policy` value. */
  readonly policy: string;
}

/**
 * draft-ietf-httpapi-ratelimit-headers-11 §3.1: `"name";q=<quota>;w=<window seconds>`; w is a
 * non-zero integer (sub-second windows are advertised as 1 s). Computed once per rule object.
 */
const policies = new WeakMap<RateLimitRule, PolicyItem>();
function policyOf(rule: RateLimitRule): PolicyItem {
  let item = policies.get(rule);
  if (item === undefined) {
    const name = serializeSfString(rule.id);
    const window = Math.max(1, Math.ceil(rule.windowMs / 1000));
    item = { name, policy: `${name};q=${rule.limit};w=${window}` };
    policies.set(rule, item);
  }
  return item;
}

function seconds(ms: number): number {
  return Math.ceil(ms / 1000);
}

/**
 * §4.1: `"name";r=<available quota>;t=<seconds>`. Refused, t is the wait before a request is
 * allowed again, equal to Retry-After (§6: Retry-After not earlier than the end of the effective
 * window); allowed, t is the time until the full quota is back, so a client spreading r requests
 * over t seconds is never throttled.
 */
function buildHeaders(rule: RateLimitRule, decision: RateLimitDecision): Record<string, string> {
  const { name, policy } = policyOf(rule);
  const t = decision.allowed ? seconds(decision.resetMs) : Math.max(1, seconds(decision.retryAfterMs));
  return { 'RateLimit-Policy': policy, RateLimit: `${name};r=${decision.remaining};t=${t}` };
}

/**
 * The rate-limit step of the pipeline over one store. The store's errors never fail the request
 * on their own: `onStoreFailure` decides, and the result says the store failed.
 */
export function createRateLimiter(options: RateLimiterOptions): RateLimiter {
  const { store, onStoreFailure, logger, onStoreError } = options;
  const now = options.now ?? Date.now;
  const local =
    onStoreFailure === 'local' && store.kind !== 'memory' ? createMemoryRateLimitStore() : undefined;
  let failing = false;

  const reportFailure = (err: unknown, rule: RateLimitRule): void => {
    onStoreError?.(err);
    if (!failing) {
      failing = true;
      logger?.warn(
        { err, store: store.kind, rule: rule.id, onStoreFailure },
        'rate-limit store failed; applying onStoreFailure until it answers again',
      );
    }
  };

  const check = async (
    rules: readonly RateLimitRule[],
    subject: RateLimitSubject,
  ): Promise<RateLimitResult> => {
    if (rules.length === 0) return ALLOWED_WITHOUT_RULES;
    const nowMs = now();
    let storeFailed = false;
    let tightest: RateLimitDecision | undefined;
    let tightestRule: RateLimitRule | undefined;
    for (const rule of rules) {
      const key = buildRateLimitKey(rule, subject);
      let decision: RateLimitDecision;
      try {
        const pending = store.hit(rule, key, nowMs);
        decision = pending instanceof Promise ? await pending : pending;
        if (failing && !storeFailed) {
          failing = false;
          logger?.info({ store: store.kind }, 'rate-limit store answers again');
        }
      } catch (err) {
        storeFailed = true;
        reportFailure(err, rule);
        if (onStoreFailure === 'closed') {
          return {
            allowed: false,
            headers: NO_HEADERS,
            retryAfterSec: undefined,
            rule: rule.id,
            storeFailed,
          };
        }
        if (local === undefined) continue;
        decision = local.hit(rule, key, nowMs);
      }
      if (!decision.allowed) {
        return {
          allowed: false,
          headers: buildHeaders(rule, decision),
          retryAfterSec: Math.max(1, seconds(decision.retryAfterMs)),
          rule: rule.id,
          storeFailed,
        };
      }
      if (
        tightest === undefined ||
        decision.remaining < tightest.remaining ||
        (decision.remaining === tightest.remaining && decision.resetMs > tightest.resetMs)
      ) {
        tightest = decision;
        tightestRule = rule;
      }
    }
    return {
      allowed: true,
      headers:
        tightest === undefined || tightestRule === undefined
          ? NO_HEADERS
          : buildHeaders(tightestRule, tightest),
      retryAfterSec: undefined,
      rule: undefined,
      storeFailed,
    };
  };

  return {
    check,
    close: () => local?.close() ?? Promise.resolve(),
  };
}
