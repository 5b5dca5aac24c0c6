import { randomUUID } from 'node:crypto';
import { emitAuditEvent, type AuditEvent, type AuditSink, type Logger } from '@gatehouse/core';
import type { AlertRuleConfig, AlertsConfig } from '../config/detection-schema.js';
import type { OffenderBans } from './ban-offender.js';
import { DEFAULT_ALERT_RULES } from './default-alert-rules.js';
import { createWebhookSender, type WebhookResult, type WebhookSender } from './deliver-webhook.js';
import type { ReviewList } from './review-list.js';
import { createSlidingWindowCounter, type SlidingWindowCounter } from './sliding-window-counter.js';
import type { RequestObserver } from './types.js';

export type AlertActionName = 'webhook' | 'flag' | 'ban';

export interface AlertActionRecord {
  readonly action: AlertActionName;
  /** What the action answered: the alert firing, or resolving (webhook only). */
  readonly event: 'fired' | 'resolved';
  outcome: 'pending' | 'success' | 'failure';
  attempts?: number;
  /** A failure's code (`status_503`, `ECONNREFUSED`, `already_banned`…), never a secret. */
  error?: string;
}

/** One alert: fires once per rule and scope, stays one alert until it resolves. */
export interface AlertRecord {
  readonly id: string;
  readonly rule: string;
  readonly severity: AlertRuleConfig['severity'];
  readonly summary: string | undefined;
  readonly scope: AlertRuleConfig['scope'];
  /** The route id or client IP of a per-route or per-IP rule. */
  readonly key: string | undefined;
  status: 'firing' | 'resolved';
  readonly firedAt: string;
  resolvedAt: string | undefined;
  /** Count, ratio, or count in the window for a baseline rule (updated at each evaluation). */
  value: number;
  threshold: number;
  readonly windowSec: number;
  flagged: boolean;
  readonly actions: AlertActionRecord[];
}

export interface AlertEngine extends RequestObserver {
  /** Starts evaluating every `evaluateEverySec`. */
  start(): void;
  /** Stops the evaluations and abandons webhook deliveries in progress. */
  stop(): void;
  /** Evaluates every rule now: fires, updates and resolves alerts; resolves once bans and flags are done. */
  evaluate(): Promise<void>;
  /** Resolves once no webhook delivery is pending. */
  idle(): Promise<void>;
  /** Alerts firing now, oldest first (copies). */
  firing(): AlertRecord[];
  /** Firing alerts per rule id, every rule present. */
  firingByRule(): ReadonlyMap<string, number>;
}

export interface AlertEngineDeps {
  readonly offenders: OffenderBans;
  /** Resolved alerts, newest first (outlives a reload). */
  readonly recent: ReviewList<AlertRecord>;
  readonly now: () => number;
  readonly logger: Logger;
  readonly audit?: AuditSink | undefined;
}

interface CompiledRule {
  readonly config: AlertRuleConfig;
  readonly actions: readonly AlertActionName[];
  /** matches[status] === 1 for the statuses the rule counts. */
  readonly matches: Uint8Array;
  readonly routes: ReadonlySet<string> | undefined;
  readonly windowMs: number;
  readonly hits: SlidingWindowCounter;
  /** Every request of the scope (ratio rules). */
  readonly totals: SlidingWindowCounter | undefined;
  readonly active: Map<string, AlertRecord>;
  /** Scope key → until when it may not fire again. */
  readonly cooldown: Map<string, number>;
}

const CLASSES: Readonly<Record<string, number>> = {
  '1xx': 100,
  '2xx': 200,
  '3xx': 300,
  '4xx': 400,
  '5xx': 500,
};
/** Buckets per window: a window slides in twentieths. */
const BUCKETS_PER_WINDOW = 20;

/** The configured rules over the embedded ones (same id: the configured one wins). */
export function buildAlertRules(config: AlertsConfig): AlertRuleConfig[] {
  const rules = new Map<string, AlertRuleConfig>();
  if (config.defaultRules) {
    for (const rule of DEFAULT_ALERT_RULES) {
      const actions =
        config.webhook === undefined ? rule.actions.filter((a) => a !== 'webhook') : rule.actions;
      rules.set(rule.id, { ...rule, actions });
    }
  }
  for (const rule of config.rules) rules.set(rule.id, rule);
  return [...rules.values()];
}

function compile(rule: AlertRuleConfig, maxKeys: number): CompiledRule {
  const matches = new Uint8Array(600);
  for (const status of rule.status) {
    if (typeof status === 'number') matches[status] = 1;
    else {
      const base = CLASSES[status] as number;
      matches.fill(1, base, base + 100);
    }
  }
  const windowMs = rule.windowSec * 1000;
  const bucketMs = Math.max(250, windowMs / BUCKETS_PER_WINDOW);
  const spanMs = rule.kind === 'baseline' ? (rule.baselineSec as number) * 1000 : windowMs;
  // Global and per-route scopes are few keys; per-IP ones are bounded by maxKeys.
  const counter = (): SlidingWindowCounter => createSlidingWindowCounter({ spanMs, bucketMs, maxKeys });
  return {
    config: rule,
    actions: [...new Set(rule.actions)],
    matches,
    routes: rule.routes === undefined ? undefined : new Set(rule.routes),
    windowMs,
    hits: counter(),
    totals: rule.kind === 'ratio' ? counter() : undefined,
    active: new Map(),
    cooldown: new Map(),
  };
}

interface Check {
  readonly met: boolean;
  readonly value: number;
  readonly threshold: number;
}

function check(rule: CompiledRule, key: string, t: number): Check {
  const { config } = rule;
  switch (config.kind) {
    case 'count': {
      const hits = rule.hits.sum(key, t);
      const above = config.above as number;
      return { met: hits > above && hits >= config.minRequests, value: hits, threshold: above };
    }
    case 'ratio': {
      const total = (rule.totals as SlidingWindowCounter).sum(key, t);
      const above = config.above as number;
      if (total === 0) return { met: false, value: 0, threshold: above };
      const ratio = rule.hits.sum(key, t) / total;
      return { met: total >= config.minRequests && ratio > above, value: ratio, threshold: above };
    }
    case 'baseline': {
      // The usual rate is the one before the window, so that a spike does not raise its own bar.
      const current = rule.hits.sum(key, t, rule.windowMs);
      const before = rule.hits.sum(key, t) - current;
      const spanMs = (config.baselineSec as number) * 1000;
      const expected = (before * rule.windowMs) / (spanMs - rule.windowMs);
      const threshold = (config.factor as number) * expected;
      return {
        met: current >= Math.max(1, config.minRequests) && current > threshold,
        value: current,
        threshold,
      };
    }
  }
}

/** A snapshot of an alert (its actions are still updated while deliveries run). */
export function copyAlertRecord(alert: AlertRecord): AlertRecord {
  return { ...alert, actions: alert.actions.map((action) => ({ ...action })) };
}

/**
 * Alert rules over the gateway's own request stream: counts, ratios and baselines in sliding
 * windows, globally, per route or per client IP; evaluated every few seconds. An alert fires
 * once and stays one alert until its condition clears (deduplication), then the same rule and
 * scope rests for `cooldownSec`. Firing, resolution and every action are audited.
 */
export function createAlertEngine(config: AlertsConfig, deps: AlertEngineDeps): AlertEngine | undefined {
  if (!config.enabled) return undefined;
  const { offenders, recent, now, logger, audit } = deps;
  const rules = buildAlertRules(config).map((rule) => compile(rule, config.maxKeys));
  const webhook: WebhookSender | undefined =
    config.webhook === undefined
      ? undefined
      : createWebhookSender({ ...config.webhook, logger: logger.child({ alerts: 'webhook' }) });
  const sendResolved = config.webhook?.sendResolved ?? false;
  const deliveries = new Set<Promise<void>>();

  const emit = (event: Omit<AuditEvent, 'time' | 'component'>): void => {
    emitAuditEvent(audit, { time: new Date(now()).toISOString(), component: 'gateway', ...event }, (err) => {
      logger.warn({ err }, 'audit sink failed');
    });
  };
  const targetOf = (alert: AlertRecord) =>
    alert.key === undefined ? { type: 'gateway' } : { type: alert.scope, id: alert.key };
  const auditAction = (
    alert: AlertRecord,
    record: AlertActionRecord,
    extra: Record<string, string | number> = {},
  ) => {
    emit({
      action: 'gateway.alert.action',
      outcome: record.outcome === 'success' ? 'success' : 'failure',
      ...(alert.scope === 'ip' && alert.key !== undefined ? { sourceIp: alert.key } : {}),
      target: targetOf(alert),
      reason: alert.rule,
      details: {
        alertId: alert.id,
        action: record.action,
        event: record.event,
        ...(record.attempts === undefined ? {} : { attempts: record.attempts }),
        ...(record.error === undefined ? {} : { error: record.error }),
        ...extra,
      },
    });
  };

  const payloadOf = (alert: AlertRecord) => ({
    version: 1,
    source: 'gatehouse-gateway',
    status: alert.status,
    alert: {
      id: alert.id,
      rule: alert.rule,
      severity: alert.severity,
      ...(alert.summary === undefined ? {} : { summary: alert.summary }),
      scope: alert.scope,
      ...(alert.key === undefined ? {} : { key: alert.key }),
      value: alert.value,
      threshold: alert.threshold,
      windowSec: alert.windowSec,
      firedAt: alert.firedAt,
      ...(alert.resolvedAt === undefined ? {} : { resolvedAt: alert.resolvedAt }),
    },
  });

  const escalate = (alert: AlertRecord, event: 'fired' | 'resolved'): void => {
    if (webhook === undefined) return;
    const record: AlertActionRecord = { action: 'webhook', event, outcome: 'pending' };
    alert.actions.push(record);
    const delivery = webhook.send(payloadOf(alert)).then((result: WebhookResult) => {
      record.outcome = result.delivered ? 'success' : 'failure';
      record.attempts = result.attempts;
      if (!result.delivered) record.error = result.error;
      auditAction(alert, record);
    });
    deliveries.add(delivery);
    void delivery.finally(() => deliveries.delete(delivery));
  };

  const fire = async (rule: CompiledRule, key: string, found: Check, t: number): Promise<void> => {
    const { config: ruleConfig } = rule;
    const alert: AlertRecord = {
      id: randomUUID(),
      rule: ruleConfig.id,
      severity: ruleConfig.severity,
      summary: ruleConfig.summary,
      scope: ruleConfig.scope,
      key: ruleConfig.scope === 'global' ? undefined : key,
      status: 'firing',
      firedAt: new Date(t).toISOString(),
      resolvedAt: undefined,
      value: found.value,
      threshold: found.threshold,
      windowSec: ruleConfig.windowSec,
      flagged: false,
      actions: [],
    };
    rule.active.set(key, alert);
    logger.warn(
      {
        rule: alert.rule,
        scope: alert.scope,
        key: alert.key,
        value: alert.value,
        threshold: alert.threshold,
      },
      'alert fired',
    );
    emit({
      action: 'gateway.alert.fired',
      outcome: 'success',
      ...(alert.scope === 'ip' && alert.key !== undefined ? { sourceIp: alert.key } : {}),
      target: targetOf(alert),
      reason: alert.rule,
      details: {
        alertId: alert.id,
        severity: alert.severity,
        value: alert.value,
        threshold: alert.threshold,
        windowSec: alert.windowSec,
      },
    });
    for (const action of rule.actions) {
      if (action === 'webhook') escalate(alert, 'fired');
      else if (action === 'flag') {
        alert.flagged = true;
        const record: AlertActionRecord = { action, event: 'fired', outcome: 'success' };
        alert.actions.push(record);
        auditAction(alert, record);
      } else if (alert.key !== undefined) {
        const record: AlertActionRecord = { action, event: 'fired', outcome: 'pending' };
        alert.actions.push(record);
        try {
          const result = await offenders.ban(alert.key, `alert ${alert.rule}`, `alert:${alert.rule}`);
          record.outcome = result.banned ? 'success' : 'failure';
          if (result.banned)
            auditAction(alert, record, { offence: result.offence, durationSec: result.durationSec });
          else {
            record.error = result.why;
            auditAction(alert, record);
          }
        } catch (err) {
          logger.warn({ err, rule: alert.rule }, 'alert ban failed');
          record.outcome = 'failure';
          record.error = 'ban_failed';
          auditAction(alert, record);
        }
      }
    }
  };

  const resolve = (rule: CompiledRule, key: string, alert: AlertRecord, t: number): void => {
    rule.active.delete(key);
    alert.status = 'resolved';
    alert.resolvedAt = new Date(t).toISOString();
    if (rule.config.cooldownSec > 0) rule.cooldown.set(key, t + rule.config.cooldownSec * 1000);
    recent.push(alert);
    logger.info({ rule: alert.rule, scope: alert.scope, key: alert.key }, 'alert resolved');
    emit({
      action: 'gateway.alert.resolved',
      outcome: 'success',
      ...(alert.scope === 'ip' && alert.key !== undefined ? { sourceIp: alert.key } : {}),
      target: targetOf(alert),
      reason: alert.rule,
      details: {
        alertId: alert.id,
        value: alert.value,
        durationSec: Math.round((t - Date.parse(alert.firedAt)) / 1000),
      },
    });
    if (sendResolved && rule.actions.includes('webhook')) escalate(alert, 'resolved');
  };

  let evaluating: Promise<void> | undefined;
  const evaluateNow = async (): Promise<void> => {
    const t = now();
    const work: Promise<void>[] = [];
    for (const rule of rules) {
      for (const [key, alert] of rule.active) {
        const found = check(rule, key, t);
        if (!found.met) resolve(rule, key, alert, t);
        else {
          alert.value = found.value;
          alert.threshold = found.threshold;
        }
      }
      for (const [key, until] of rule.cooldown) if (until <= t) rule.cooldown.delete(key);
      for (const key of (rule.totals ?? rule.hits).keys()) {
        if (rule.active.has(key)) continue;
        const found = check(rule, key, t);
        if (!found.met) continue;
        if (rule.cooldown.has(key)) continue;
        work.push(fire(rule, key, found, t));
      }
    }
    await Promise.all(work);
  };

  const evaluate = (): Promise<void> => {
    evaluating ??= evaluateNow()
      .catch((err: unknown) => {
        logger.error({ err }, 'alert evaluation failed');
      })
      .finally(() => {
        evaluating = undefined;
      });
    return evaluating;
  };

  let timer: NodeJS.Timeout | undefined;
  return {
    observe(outcome) {
      const { status } = outcome;
      for (const rule of rules) {
        if (rule.routes !== undefined && !rule.routes.has(outcome.route)) continue;
        const scope = rule.config.scope;
        const key = scope === 'global' ? '' : scope === 'route' ? outcome.route : outcome.clientNet;
        rule.totals?.add(key, outcome.time);
        if (rule.matches[status] === 1) rule.hits.add(key, outcome.time);
      }
    },
    start() {
      if (timer !== undefined) return;
      timer = setInterval(() => {
        // A slow evaluation (a ban waiting on the database) is not overlapped by the next one.
        if (evaluating !== undefined) return;
        void evaluate();
      }, config.evaluateEverySec * 1000);
      timer.unref();
    },
    stop() {
      clearInterval(timer);
      timer = undefined;
      webhook?.close();
    },
    evaluate,
    async idle() {
      while (deliveries.size > 0) await Promise.allSettled([...deliveries]);
    },
    firing() {
      const list: AlertRecord[] = [];
      for (const rule of rules) for (const alert of rule.active.values()) list.push(copyAlertRecord(alert));
      return list.sort((a, b) => a.firedAt.localeCompare(b.firedAt));
    },
    firingByRule() {
      return new Map(rules.map((rule) => [rule.config.id, rule.active.size]));
    },
  };
}
