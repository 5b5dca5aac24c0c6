import type { AlertRuleConfig } from '../config/detection-schema.js';

/**
 * The embedded rule set (`alerts.defaultRules`). `webhook` is dropped from their actions when no
 * webhook is configured; a configured rule with the same id replaces one of these.
 */
export const DEFAULT_ALERT_RULES: readonly AlertRuleConfig[] = Object.freeze([
  {
    id: 'server-error-ratio',
    kind: 'ratio',
    status: ['5xx'],
    scope: 'global',
    windowSec: 300,
    above: 0.05,
    minRequests: 50,
    actions: ['flag', 'webhook'],
    cooldownSec: 600,
    severity: 'critical',
    summary: 'More than 5% of requests answered 5xx over 5 minutes',
  },
  {
    id: 'auth-failure-spike',
    kind: 'baseline',
    status: [401],
    scope: 'global',
    windowSec: 300,
    factor: 10,
    baselineSec: 3600,
    minRequests: 50,
    actions: ['flag', 'webhook'],
    cooldownSec: 600,
    severity: 'warning',
    summary: '401 answers at more than 10 times their rate of the past hour',
  },
  {
    id: 'rate-limit-flood',
    kind: 'count',
    status: [429],
    scope: 'ip',
    windowSec: 60,
    above: 300,
    minRequests: 0,
    actions: ['flag'],
    cooldownSec: 600,
    severity: 'warning',
    summary: 'One client IP refused by rate limits more than 300 times in a minute',
  },
]);
