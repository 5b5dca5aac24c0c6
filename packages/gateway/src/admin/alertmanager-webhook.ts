import { z } from 'zod';
import { isIP } from 'node:net';
import type { Ban, BanList } from '../limits/ban-list.js';
import { normalizeIp } from '../net/ip-set.js';
import type { RerouteList } from '../routing/reroute-list.js';

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
export const ROUTE_LABEL = 'route';
export const REROUTE_DURATION_LABEL = 'gatehouse_reroute_duration';
const DEFAULT_BAN_SEC = 900;
const MAX_BAN_SEC = 7 * 86_400;
// Longer than Alertmanager's repeat interval of the reroute route (15m in deploy/alertmanager), so a
// reroute lasts while its alert fires, and ends on its own when the resolved notification is lost.
const DEFAULT_REROUTE_SEC = 3600;
const MAX_REROUTE_SEC = 86_400;
const DURATION = /^(\d{1,6})(s|m|h|d)$/;
const UNIT_SEC = { s: 1, m: 60, h: 3600, d: 86_400 } as const;

export interface AlertOutcome {
  readonly alertname: string;
  readonly status: 'firing' | 'resolved';
  readonly fingerprint: string | undefined;
  /**
   * `banned`: a ban was set; `rerouted`: a route goes to its fallback upstream (set, or renewed by
   * a repeat notification); `restored`: a resolved alert lifted its reroute; `ignored`: no action
   * asked for, or nothing to undo; `refused`: why in `reason`.
   */
  readonly action: 'banned' | 'rerouted' | 'restored' | 'ignored' | 'refused';
  readonly reason?: string;
  readonly ban?: Ban;
  readonly reroute?: {
    readonly route: string;
    /** The fallback upstream (rerouted). */
    readonly upstream?: string;
    readonly expiresAt?: number;
    /** Restored: whether another alert still reroutes the route. */
    readonly stillRerouted?: boolean;
  };
}

/** What the notification acts on. */
export interface AlertTargets {
  readonly bans: BanList;
  readonly reroutes: RerouteList;
}

function durationSeconds(value: string | undefined, fallback: number, max: number): number | undefined {
  if (value === undefined) return fallback;
  const match = DURATION.exec(value);
  if (match === null) return undefined;
  const seconds = Number(match[1]) * UNIT_SEC[match[2] as keyof typeof UNIT_SEC];
  return seconds > 0 && seconds <= max ? seconds : undefined;
}

type Alert = AlertmanagerNotification['alerts'][number];
type Base = Pick<AlertOutcome, 'alertname' | 'status' | 'fingerprint'>;

/**
 * A firing `gatehouse_action="reroute"` alert switches its `route` to the route's fallbackUpstream
 * for `gatehouse_reroute_duration` (default 1h, at most 24h; repeat notifications renew it); the
 * resolved alert (same fingerprint, or same alertname and route) switches it back.
 */
async function applyReroute(reroutes: RerouteList, alert: Alert, base: Base): Promise<AlertOutcome> {
  const route = alert.labels[ROUTE_LABEL];
  if (route === undefined || route === '')
    return { ...base, action: 'refused', reason: `label ${ROUTE_LABEL} is missing` };
  if (alert.status === 'resolved') {
    const lifted = await reroutes.lift(route, {
      alert: { alertname: base.alertname, fingerprint: base.fingerprint },
      actor: 'alertmanager',
    });
    if (lifted === 0) return { ...base, action: 'ignored', reason: 'no reroute of this alert in force' };
    return { ...base, action: 'restored', reroute: { route, stillRerouted: reroutes.isRerouted(route) } };
  }
  const durationSec = durationSeconds(
    alert.labels[REROUTE_DURATION_LABEL],
    DEFAULT_REROUTE_SEC,
    MAX_REROUTE_SEC,
  );
  if (durationSec === undefined) {
    return {
      ...base,
      action: 'refused',
      reason: `label ${REROUTE_DURATION_LABEL} is not a duration such as 30m, 1h or 1d (at most 24h)`,
    };
  }
  const result = await reroutes.set({
    route,
    alertname: base.alertname,
    fingerprint: base.fingerprint,
    durationSec,
    source: 'alertmanager',
    actor: 'alertmanager',
  });
  if (!result.ok) {
    return {
      ...base,
      action: 'refused',
      reason: result.reason === 'unknown_route' ? 'no such route' : 'the route has no fallbackUpstream',
    };
  }
  return {
    ...base,
    action: 'rerouted',
    ...(result.renewed ? { reason: 'renewed' } : {}),
    reroute: { route, upstream: result.upstream, expiresAt: result.reroute.expiresAt },
  };
}

/**
 * Applies what Alertmanager notifies: a firing alert labelled `gatehouse_action="ban"` with an `ip`
 * label bans that address (source `alertmanager`, for `gatehouse_ban_duration`, default 15m, at most
 * 7d); one labelled `gatehouse_action="reroute"` with a `route` label reroutes that route (see
 * applyReroute); any other alert is only recorded. A resolved ban alert lifts nothing: bans expire on
 * their own, and an operator lifts one early (`gatehouse bans remove`). Labels come from the
 * operator's own rules, but are still checked: an address that is not one, an unknown route, or a
 * malformed duration, is refused and reported.
 */
export async function applyAlertmanagerNotification(
  targets: AlertTargets,
  notification: AlertmanagerNotification,
): Promise<AlertOutcome[]> {
  const { bans, reroutes } = targets;
  const outcomes: AlertOutcome[] = [];
  for (const alert of notification.alerts) {
    const alertname = alert.labels['alertname'] ?? 'unnamed';
    const base = { alertname, status: alert.status, fingerprint: alert.fingerprint };
    if (alert.labels[ACTION_LABEL] === 'reroute') {
      outcomes.push(await applyReroute(reroutes, alert, base));
      continue;
    }
    if (alert.status !== 'firing' || alert.labels[ACTION_LABEL] !== 'ban') {
      outcomes.push({ ...base, action: 'ignored' });
      continue;
    }
    const ip = normalizeIp(alert.labels[IP_LABEL] ?? '');
    if (isIP(ip) === 0) {
      outcomes.push({ ...base, action: 'refused', reason: `label ${IP_LABEL} is not an IP address` });
      continue;
    }
    const durationSec = durationSeconds(alert.labels[DURATION_LABEL], DEFAULT_BAN_SEC, MAX_BAN_SEC);
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
