import { z } from 'zod';
import type { Ban, BanList } from '../limits/ban-list.js';
import { normalizeIp } from '../net/ip-set.js';
import { isIP } from 'node:net';

/**
 * Alertmanager's webhook notification (version 4): the fields the gateway reads. Unknown fields are
 * ignored, since Alertmanager adds some between versions.
 */
export const alertmanagerNotificationSchema = z.object({
  version: z.literal('4'),
  status: z.enum(['firing', 'resolved']),
  receiver: z.string().max(200).optional(),
  alerts: z
    .array(
      z.object({
        status: z.enum(['firing', 'resolved']),
        labels: z.record(z.string().max(200), z.string().max(1000)),
        fingerprint: z.string().max(64).optional(),
      }),
    )
    .max(1000),
});

export type AlertmanagerNotification = z.infer<typeof alertmanagerNotificationSchema>;

/** The labels a Prometheus rule sets to have the gateway act on its alert. */
export const ACTION_LABEL = 'gatehouse_action';
export const IP_LABEL = 'ip';
export const DURATION_LABEL = 'gatehouse_ban_duration';
const DEFAULT_BAN_SEC = 900;
const MAX_BAN_SEC = 7 * 86_400;
const DURATION = /^(\d{1,6})(s|m|h|d)$/;
const UNIT_SEC = { s: 1, m: 60, h: 3600, d: 86_400 } as const;

export interface AlertOutcome {
  readonly alertname: string;
  readonly status: 'firing' | 'resolved';
  readonly fingerprint: string | undefined;
  /** `banned`: a ban was set; `ignored`: no action asked for, or resolved; `refused`: why in `reason`. */
  readonly action: 'banned' | 'ignored' | 'refused';
  readonly reason?: string;
  readonly ban?: Ban;
}

function banSeconds(value: string | undefined): number | undefined {
  if (value === undefined) return DEFAULT_BAN_SEC;
  const match = DURATION.exec(value);
  if (match === null) return undefined;
  const seconds = Number(match[1]) * UNIT_SEC[match[2] as keyof typeof UNIT_SEC];
  return seconds > 0 && seconds <= MAX_BAN_SEC ? seconds : undefined;
}

/**
 * Applies what Alertmanager notifies: a firing alert labelled `gatehouse_action="ban"` with an `ip`
 * label bans that address (source `alertmanager`, for `gatehouse_ban_duration`, default 15m, at most
 * 7d); any other alert is only recorded. A resolved alert lifts nothing: bans expire on their own, and
 * an operator lifts one early (`gatehouse bans remove`). Labels come from the operator's own rules,
 * but are still checked: an address that is not one, or a malformed duration, is refused and reported.
 */
export async function applyAlertmanagerNotification(
  bans: BanList,
  notification: AlertmanagerNotification,
): Promise<AlertOutcome[]> {
  const outcomes: AlertOutcome[] = [];
  for (const alert of notification.alerts) {
    const alertname = alert.labels['alertname'] ?? 'unnamed';
    const base = { alertname, status: alert.status, fingerprint: alert.fingerprint };
    if (alert.status !== 'firing' || alert.labels[ACTION_LABEL] !== 'ban') {
      outcomes.push({ ...base, action: 'ignored' });
      continue;
    }
    const ip = normalizeIp(alert.labels[IP_LABEL] ?? '');
    if (isIP(ip) === 0) {
      outcomes.push({ ...base, action: 'refused', reason: `label ${IP_LABEL} is not an IP address` });
      continue;
    }
    const durationSec = banSeconds(alert.labels[DURATION_LABEL]);
    if (durationSec === undefined) {
      outcomes.push({
        ...base,
        action: 'refused',
        reason: `label ${DURATION_LABEL} is not a duration such as 15m, 2h or 1d (at most 7d)`,
      });
      continue;
    }
    if (bans.isBanned(ip) !== undefined) {
      outcomes.push({ ...base, action: 'ignored', reason: 'already banned' });
      continue;
    }
    const ban = await bans.add({
      subject: ip,
      durationSec,
      reason: `alert ${alertname}`.slice(0, 200),
      source: 'alertmanager',
      actor: 'alertmanager',
    });
    outcomes.push({ ...base, action: 'banned', ban });
  }
  return outcomes;
}
