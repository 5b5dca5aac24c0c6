import { isIP } from 'node:net';
import { z } from 'zod';
import { buildIpSet } from '../net/ip-set.js';

const positiveInt = (description: string, fallback: number) =>
  z.number().int().positive().default(fallback).describe(description);
const countOrOff = (description: string, fallback: number) =>
  z.number().int().min(0).default(fallback).describe(`${description} (0: off)`);

const ruleId = z
  .string()
  .regex(/^[a-z0-9][a-z0-9_-]{0,62}$/, 'lower-case letters, digits, - and _ (a metrics label)');

const ipList = (description: string) =>
  z
    .array(z.string())
    .default([])
    .refine(
      (entries) => {
        try {
          buildIpSet(entries);
          return true;
        } catch {
          return false;
        }
      },
      { error: 'IP addresses or CIDR blocks' },
    )
    .describe(description);

const detectorAction = z
  .enum(['ban', 'flag', 'log'])
  .describe(
    'ban: the offending IP through the ban list (escalating); flag: kept for review (GET /admin/gateway/detections); log: a log line. All are audited and counted',
  );

/** Who a detector counts per: `actor` is the subject, else the client id, else the client IP. */
const detectorKey = z.enum(['actor', 'ip', 'client_id', 'sub', 'token']);

export const detectionSchema = z
  .strictObject({
    store: z
      .enum(['memory', 'redis'])
      .default('memory')
      .describe(
        "Where the detectors' sliding windows live: memory (each instance counts its own traffic) or " +
          'redis (every instance counts together; sharedState.url / REDIS_URL, keys under sharedState.prefix). ' +
          'While Redis fails, detectors count in the memory of each instance. Read at start',
      ),
    maxKeys: positiveInt(
      'Keys (actors, IPs, tokens) one detector tracks in memory; past it the least recently seen are forgotten',
      10_000,
    ),
    maxValues: positiveInt(
      'Distinct values (object ids, paths, IPs) one detector stores in memory over all its keys',
      200_000,
    ),
    exempt: ipList(
      'IPs/CIDRs no detector acts on and no alert rule bans (your monitoring, your own scanners)',
    ),
    ban: z
      .strictObject({
        banSec: positiveInt('First ban by a detector or an alert rule', 600),
        multiplier: z.number().min(1).default(2).describe('Each repeated offence multiplies the ban'),
        maxBanSec: positiveInt('Longest automatic ban', 86_400),
      })
      .prefault({}),
    enumeration: z
      .strictObject({
        enabled: z.boolean().default(true).describe('Run this detector'),
        action: detectorAction.default('flag'),
        key: detectorKey.default('actor').describe('Who is counted: actor = sub, else client id, else IP'),
        windowSec: positiveInt('Sliding window', 60),
        distinctIds: positiveInt('403/404 answers on distinct object ids within the window', 30),
        sequentialRun: countOrOff(
          'Requests on consecutive numeric ids (n, n+1, n+2… or down), answered or not, within the window',
          25,
        ),
      })
      .prefault({})
      .describe('BOLA / IDOR scraping: object ids are OpenAPI path parameters, else an id-like last segment'),
    fuzzing: z
      .strictObject({
        enabled: z.boolean().default(true).describe('Run this detector'),
        action: detectorAction.default('flag'),
        key: detectorKey.default('ip'),
        windowSec: positiveInt('Sliding window', 60),
        threshold: positiveInt('Matching answers within the window', 100),
        statuses: z
          .array(z.number().int().min(400).max(599))
          .default([400, 404, 405])
          .describe('Statuses counted (validation failures always count)'),
      })
      .prefault({}),
    bulkScraping: z
      .strictObject({
        enabled: z.boolean().default(true).describe('Run this detector'),
        action: detectorAction.default('flag'),
        key: detectorKey.default('token').describe('Who is counted: token = client id + sub'),
        windowSec: positiveInt('Sliding window', 300),
        distinctPaths: positiveInt('Distinct canonical paths answered 2xx/3xx within the window', 1000),
        baselineFactor: z
          .number()
          .min(0)
          .default(0)
          .describe(
            'Also require more than this many times the median of the other active keys (0: threshold only)',
          ),
        minPeers: positiveInt('Other active keys needed before the median applies', 5),
      })
      .prefault({}),
    rateLimitEvasion: z
      .strictObject({
        enabled: z.boolean().default(true).describe('Run this detector'),
        action: detectorAction.default('flag'),
        identity: z
          .enum(['token', 'client_id', 'sub'])
          .default('token')
          .describe('What one identity is: token = client id + sub'),
        windowSec: positiveInt('Sliding window', 600),
        ipsPerIdentity: countOrOff('Distinct client IPs one identity is seen from within the window', 20),
        identitiesPerIp: countOrOff('Distinct identities seen from one client IP within the window', 50),
      })
      .prefault({}),
  })
  .prefault({})
  .describe(
    'Abuse detectors over the finished requests, counting in process memory or, with store: redis, across instances',
  );

const STATUS_CLASS = z.enum(['1xx', '2xx', '3xx', '4xx', '5xx']);

const LOOPBACK_HOSTS = new Set(['localhost', '[::1]']);

/** https, or http to this machine only (a local relay): an alert must not cross a network in clear. */
function isAcceptableWebhook(value: string): boolean {
  const url = new URL(value);
  if (url.username !== '' || url.password !== '') return false;
  if (url.protocol === 'https:') return true;
  const host = url.hostname;
  return LOOPBACK_HOSTS.has(host) || (isIP(host) === 4 && host.startsWith('127.'));
}

const alertRuleSchema = z
  .strictObject({
    id: ruleId.describe('Rule name: metrics label, audit reason'),
    kind: z
      .enum(['count', 'ratio', 'baseline'])
      .describe(
        'count: matching requests above `above`; ratio: matching / all above `above`; baseline: matching rate above `factor` × its own rate over `baselineSec`',
      ),
    status: z
      .array(z.union([z.number().int().min(100).max(599), STATUS_CLASS]))
      .min(1)
      .describe('Statuses that match: codes or classes (`5xx`)'),
    scope: z
      .enum(['global', 'route', 'ip'])
      .default('global')
      .describe('Evaluated over all traffic, per route id, or per client IP'),
    routes: z.array(ruleId).optional().describe('Only these route ids (default: all)'),
    windowSec: z.number().int().min(10).default(300).describe('Window the rule looks at'),
    above: z.number().min(0).optional().describe('count: a number of requests; ratio: a fraction (0.05)'),
    factor: z.number().gt(1).optional().describe('baseline: how many times the usual rate'),
    baselineSec: z
      .number()
      .int()
      .positive()
      .optional()
      .describe('baseline: the usual rate is measured over this'),
    minRequests: z
      .number()
      .int()
      .min(0)
      .default(0)
      .describe('ratio: fewest requests in the window; baseline and count: fewest matching ones'),
    actions: z
      .array(z.enum(['webhook', 'flag', 'ban']))
      .default(['flag'])
      .describe('webhook: POST to alerts.webhook; flag: marked for review; ban: the IP (scope ip only)'),
    cooldownSec: z
      .number()
      .int()
      .min(0)
      .default(600)
      .describe('After it resolves, the same rule and scope does not fire again for this long'),
    severity: z
      .enum(['info', 'warning', 'critical'])
      .default('warning')
      .describe('Passed on in the webhook payload'),
    summary: z.string().min(1).max(200).optional().describe('One line for humans (webhook, admin API)'),
  })
  .superRefine((rule, context) => {
    const issue = (message: string, path: string): void => {
      context.addIssue({ code: 'custom', message, path: [path] });
    };
    if (rule.kind === 'baseline') {
      if (rule.factor === undefined) issue('a baseline rule needs factor', 'factor');
      if (rule.baselineSec === undefined) issue('a baseline rule needs baselineSec', 'baselineSec');
      else if (rule.baselineSec < rule.windowSec * 2)
        issue('baselineSec must be at least twice windowSec', 'baselineSec');
      if (rule.scope === 'ip') issue('baseline rules are global or per route', 'scope');
    } else if (rule.above === undefined) issue(`a ${rule.kind} rule needs above`, 'above');
    if (rule.kind === 'ratio' && rule.above !== undefined && rule.above >= 1)
      issue('a ratio is below 1', 'above');
    if (rule.actions.includes('ban') && rule.scope !== 'ip') issue('ban needs scope ip', 'actions');
  });

export type AlertRuleConfig = z.output<typeof alertRuleSchema>;

export const alertsSchema = z
  .strictObject({
    enabled: z.boolean().default(true).describe('Evaluate alert rules'),
    evaluateEverySec: positiveInt('How often the rules are evaluated', 5),
    defaultRules: z
      .boolean()
      .default(true)
      .describe(
        'Include the embedded rules (5xx ratio, 401 spike, 429 flood); a rule of the same id replaces one',
      ),
    rules: z.array(alertRuleSchema).default([]).describe('Alert rules over the gateway request stream'),
    maxKeys: positiveInt('Client IPs tracked by per-IP rules; the least recently seen go first', 10_000),
    webhook: z
      .strictObject({
        url: z
          .url({ protocol: /^https?$/ })
          .refine(isAcceptableWebhook, {
            error: 'https, or http to a loopback address; no credentials in the URL (use secret)',
          })
          .describe('Receiver of firing and resolved alerts (POST, JSON)'),
        secret: z
          .string()
          .min(1)
          .optional()
          .describe('Sent as `Authorization: Bearer`, e.g. `${ALERT_WEBHOOK_SECRET}`; never logged'),
        timeoutMs: positiveInt('Deadline of one delivery attempt', 5000),
        retries: z.number().int().min(0).max(20).default(5).describe('Further attempts after a failure'),
        backoffMs: positiveInt('Wait before the first retry; doubled each time', 1000),
        maxBackoffMs: positiveInt('Longest wait between attempts', 60_000),
        sendResolved: z.boolean().default(true).describe('Also POST when an alert resolves'),
      })
      .optional()
      .describe('Escalation endpoint for the `webhook` action'),
  })
  .superRefine((alerts, context) => {
    const ids = new Set<string>();
    alerts.rules.forEach((rule, index) => {
      if (ids.has(rule.id))
        context.addIssue({
          code: 'custom',
          message: `duplicate rule id ${rule.id}`,
          path: ['rules', index, 'id'],
        });
      ids.add(rule.id);
      if (rule.actions.includes('webhook') && alerts.webhook === undefined)
        context.addIssue({
          code: 'custom',
          message: 'the webhook action needs alerts.webhook',
          path: ['rules', index, 'actions'],
        });
    });
  })
  .prefault({})
  .describe('Alert rules evaluated in the gateway over its own request stream');

export type DetectionConfig = z.output<typeof detectionSchema>;
export type AlertsConfig = z.output<typeof alertsSchema>;
