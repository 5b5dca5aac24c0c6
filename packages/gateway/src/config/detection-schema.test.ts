import { describe, expect, it } from 'vitest';
import { buildAlertRules } from '../detect/create-alert-engine.js';
import { alertsSchema, detectionSchema } from './detection-schema.js';

const messages = (result: {
  success: boolean;
  error?: { issues: { path: PropertyKey[]; message: string }[] };
}) => result.error?.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`) ?? [];

describe('detection settings', () => {
  it('defaults: every detector on, flagging; bans escalate from 10 minutes to a day', () => {
    const detection = detectionSchema.parse(undefined);
    expect(detection.enumeration).toMatchObject({
      enabled: true,
      action: 'flag',
      key: 'actor',
      distinctIds: 30,
    });
    expect(detection.fuzzing).toMatchObject({ enabled: true, action: 'flag', statuses: [400, 404, 405] });
    expect(detection.bulkScraping).toMatchObject({
      enabled: true,
      action: 'flag',
      key: 'token',
      baselineFactor: 0,
    });
    expect(detection.rateLimitEvasion).toMatchObject({ enabled: true, action: 'flag', identity: 'token' });
    expect(detection.ban).toEqual({ banSec: 600, multiplier: 2, maxBanSec: 86_400 });
    // Each instance counts its own traffic unless Redis is chosen.
    expect(detection.store).toBe('memory');
  });

  it('store: memory or redis, nothing else', () => {
    expect(detectionSchema.parse({ store: 'redis' }).store).toBe('redis');
    expect(messages(detectionSchema.safeParse({ store: 'postgres' }))).toEqual([
      expect.stringMatching(/^store: /),
    ]);
  });

  it('refuses unknown keys, unknown actions and exempt entries that are not addresses', () => {
    expect(messages(detectionSchema.safeParse({ fuzzing: { action: 'block' } }))).toEqual([
      expect.stringMatching(/^fuzzing\.action: /),
    ]);
    expect(messages(detectionSchema.safeParse({ exempt: ['10.0.0.0/8', 'example.com'] }))).toEqual([
      'exempt: IP addresses or CIDR blocks',
    ]);
    expect(detectionSchema.safeParse({ enumeration: { treshold: 3 } }).success).toBe(false);
  });
});

describe('alert settings', () => {
  const rule = { id: 'r', kind: 'count', status: ['5xx'], above: 10 } as const;

  it.each([
    ['https://alerts.example.com/hook', true],
    ['http://127.0.0.1:9000/hook', true],
    ['http://localhost/hook', true],
    ['http://[::1]:8080/hook', true],
    ['http://alerts.example.com/hook', false],
    ['http://10.0.0.5/hook', false],
    ['https://user:pass@alerts.example.com/hook', false],
    ['ftp://alerts.example.com/hook', false],
  ])('webhook url %s accepted: %s', (url, ok) => {
    expect(alertsSchema.safeParse({ webhook: { url } }).success).toBe(ok);
  });

  it('checks each rule kind for what it needs, and ban for per-IP rules only', () => {
    expect(
      messages(
        alertsSchema.safeParse({
          rules: [
            { id: 'a', kind: 'ratio', status: [500] },
            { id: 'b', kind: 'ratio', status: [500], above: 5 },
            { id: 'c', kind: 'baseline', status: [401], scope: 'ip', baselineSec: 100, windowSec: 60 },
            { ...rule, id: 'd', actions: ['ban'] },
            { ...rule, id: 'e', actions: ['webhook'] },
            { ...rule, id: 'e' },
          ],
        }),
      ),
    ).toEqual([
      'rules.0.above: a ratio rule needs above',
      'rules.1.above: a ratio is below 1',
      'rules.2.factor: a baseline rule needs factor',
      'rules.2.baselineSec: baselineSec must be at least twice windowSec',
      'rules.2.scope: baseline rules are global or per route',
      'rules.3.actions: ban needs scope ip',
      'rules.4.actions: the webhook action needs alerts.webhook',
      'rules.5.id: duplicate rule id e',
    ]);
  });

  it('embeds the default rules, drops their webhook without a receiver, and lets a rule of the same id replace one', () => {
    const defaults = buildAlertRules(alertsSchema.parse(undefined));
    expect(defaults.map((r) => [r.id, r.actions])).toEqual([
      ['server-error-ratio', ['flag']],
      ['auth-failure-spike', ['flag']],
      ['rate-limit-flood', ['flag']],
    ]);
    const withWebhook = buildAlertRules(
      alertsSchema.parse({
        webhook: { url: 'https://alerts.example.com/hook' },
        rules: [{ ...rule, id: 'rate-limit-flood', scope: 'ip', actions: ['ban'] }],
      }),
    );
    expect(withWebhook.map((r) => [r.id, r.actions])).toEqual([
      ['server-error-ratio', ['flag', 'webhook']],
      ['auth-failure-spike', ['flag', 'webhook']],
      ['rate-limit-flood', ['ban']],
    ]);
    expect(buildAlertRules(alertsSchema.parse({ defaultRules: false }))).toEqual([]);
  });
});
