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
  /**
   * Counts the request under every rule, in order; all must allow. Stops at the first refusal.
   * Answers synchronously while the store does (the memory store always), so the hot path awaits
   * nothing; with a promise once the store returns one (Redis). Never rejects.
   */
  check(
    rules: readonly RateLimitRule[],
    subject: RateLimitSubject,
  ): RateLimitResult | Promise<RateLimitResult>;
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
  // Lower-case names, as the response relay merges them (field names are case-insensitive, RFC 9110 §5.1).
  return { 'ratelimit-policy': policy, ratelimit: `${name};r=${decision.remaining};t=${t}` };
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

  /** The state of one check across its rules. */
  interface Progress {
    storeFailed: boolean;
    tightest: RateLimitDecision | undefined;
    tightestRule: RateLimitRule | undefined;
  }

  const storeAnswered = (progress: Progress): void => {
    if (failing && !progress.storeFailed) {
      failing = false;
      logger?.info({ store: store.kind }, 'rate-limit store answers again');
    }
  };

  /**
   * The store's failure under `rule`: a final result (closed), the local store's decision, or
   * undefined (open, or no local store: the rule is skipped).
   */
  const onFailure = (
    err: unknown,
    rule: RateLimitRule,
    key: string,
    nowMs: number,
    progress: Progress,
  ): RateLimitResult | RateLimitDecision | undefined => {
    progress.storeFailed = true;
    reportFailure(err, rule);
    if (onStoreFailure === 'closed') {
      return {
        allowed: false,
        headers: NO_HEADERS,
        retryAfterSec: undefined,
        rule: rule.id,
        storeFailed: true,
      };
    }
    return local?.hit(rule, key, nowMs);
  };

  /** Folds one rule's decision in: a refusal is the final result, else undefined (go on). */
  const apply = (
    rule: RateLimitRule,
    decision: RateLimitDecision,
    progress: Progress,
  ): RateLimitResult | undefined => {
    if (!decision.allowed) {
      return {
        allowed: false,
        headers: buildHeaders(rule, decision),
        retryAfterSec: Math.max(1, seconds(decision.retryAfterMs)),
        rule: rule.id,
        storeFailed: progress.storeFailed,
      };
    }
    const { tightest } = progress;
    if (
      tightest === undefined ||
      decision.remaining < tightest.remaining ||
      (decision.remaining === tightest.remaining && decision.resetMs > tightest.resetMs)
    ) {
      progress.tightest = decision;
      progress.tightestRule = rule;
    }
    return undefined;
  };

  const allowed = (progress: Progress): RateLimitResult => ({
    allowed: true,
    headers:
      progress.tightest === undefined || progress.tightestRule === undefined
        ? NO_HEADERS
        : buildHeaders(progress.tightestRule, progress.tightest),
    retryAfterSec: undefined,
    rule: undefined,
    storeFailed: progress.storeFailed,
  });

  const isResult = (value: RateLimitResult | RateLimitDecision): value is RateLimitResult =>
    'storeFailed' in value;

  /** Rules from `from` on; synchronous until the store returns a promise. */
  const run = (
    rules: readonly RateLimitRule[],
    subject: RateLimitSubject,
    nowMs: number,
    from: number,
    progress: Progress,
  ): RateLimitResult | Promise<RateLimitResult> => {
    for (let i = from; i < rules.length; i++) {
      const rule = rules[i] as RateLimitRule;
      const key = buildRateLimitKey(rule, subject);
      let answer: RateLimitDecision | RateLimitResult | undefined;
      try {
        const pending = store.hit(rule, key, nowMs);
        if (pending instanceof Promise) {
          return pending.then(
            (decision) => {
              storeAnswered(progress);
              return apply(rule, decision, progress) ?? run(rules, subject, nowMs, i + 1, progress);
            },
            (err: unknown) => {
              const failed = onFailure(err, rule, key, nowMs, progress);
              if (failed !== undefined && isResult(failed)) return failed;
              return (
                (failed === undefined ? undefined : apply(rule, failed, progress)) ??
                run(rules, subject, nowMs, i + 1, progress)
              );
            },
          );
        }
        storeAnswered(progress);
        answer = pending;
      } catch (err) {
        answer = onFailure(err, rule, key, nowMs, progress);
        if (answer !== undefined && isResult(answer)) return answer;
      }
      if (answer === undefined) continue;
      const refused = apply(rule, answer, progress);
      if (refused !== undefined) return refused;
    }
    return allowed(progress);
  };

  const check = (
    rules: readonly RateLimitRule[],
    subject: RateLimitSubject,
  ): RateLimitResult | Promise<RateLimitResult> => {
    if (rules.length === 0) return ALLOWED_WITHOUT_RULES;
    return run(rules, subject, now(), 0, {
      storeFailed: false,
      tightest: undefined,
      tightestRule: undefined,
    });
  };

  return {
    check,
    close: () => local?.close() ?? Promise.resolve(),
  };
}
