import type { AuditSink, Logger, MetricsRegistry, SharedState } from '@gatehouse/core';
import type { AlertsConfig, DetectionConfig } from '../config/detection-schema.js';
import type { BanList } from '../limits/ban-list.js';
import { buildIpSet } from '../net/ip-set.js';
import { createOffenderBans, type OffenderBans } from './ban-offender.js';
import { createAbuseDetectors } from './create-abuse-detectors.js';
import {
  copyAlertRecord,
  createAlertEngine,
  type AlertEngine,
  type AlertRecord,
} from './create-alert-engine.js';
import { createDetectionMetrics } from './detection-metrics.js';
import { createMemoryWindowStore } from './memory-window-store.js';
import { createReviewList } from './review-list.js';
import type { DetectionRecord, RequestObserver } from './types.js';
import type { WindowStore } from './window-store.js';

/** Flagged detections kept for review. */
const FLAGGED_CAPACITY = 500;
/** Resolved alerts kept for `GET /admin/gateway/alerts`. */
const RECENT_ALERTS_CAPACITY = 200;

export interface AbuseMonitorOptions {
  readonly state: SharedState;
  readonly bans: BanList;
  readonly registry: MetricsRegistry;
  readonly now: () => number;
  readonly logger: Logger;
  readonly audit?: AuditSink | undefined;
  /** The detectors' windows (default: process memory); opened at start, kept across reloads. */
  readonly windows?: WindowStore | undefined;
}

export interface GatewayAlerts {
  /** Alerts firing now (oldest first) and resolved ones (newest first). */
  list(): { firing: AlertRecord[]; recent: AlertRecord[] };
  /** Evaluates the rules now (they are also evaluated every `alerts.evaluateEverySec`). */
  evaluate(): Promise<void>;
  /** Resolves once no webhook delivery is pending. */
  idle(): Promise<void>;
}

export interface AbuseMonitor {
  /** What the pipeline calls per finished request; undefined when detectors and alerts are off. */
  observer(): RequestObserver | undefined;
  /** Applies a (re)loaded configuration: detectors and rules are rebuilt only when their block changed. */
  apply(config: { readonly detection: DetectionConfig; readonly alerts: AlertsConfig }): void;
  start(): void;
  close(): void;
  /** Flagged detections, newest first. */
  detections(): DetectionRecord[];
  readonly alerts: GatewayAlerts;
}

/**
 * The abuse detectors and the alert engine of one gateway, with what outlives a reload: the
 * review lists, the metric series and the detectors' window store. Detectors count in the window
 * store (process memory, or Redis shared by every instance); alert rules count in this process's
 * memory. Bans, once decided, apply everywhere through the ban list.
 */
export function createAbuseMonitor(options: AbuseMonitorOptions): AbuseMonitor {
  const { state, bans, now, logger, audit } = options;
  const windows = options.windows ?? createMemoryWindowStore();
  const flagged = createReviewList<DetectionRecord>(FLAGGED_CAPACITY);
  const recent = createReviewList<AlertRecord>(RECENT_ALERTS_CAPACITY);
  let engine: AlertEngine | undefined;
  const metrics = createDetectionMetrics(options.registry, {
    alertsFiring: () => engine?.firingByRule() ?? new Map<string, number>(),
  });
  let detectors: RequestObserver | undefined;
  let observer: RequestObserver | undefined;
  let appliedDetection = '';
  let appliedAlerts = '';
  let started = false;
  // Ban settings (detection.ban) apply to detectors and alert rules alike, as currently configured.
  let currentOffenders: OffenderBans | undefined;
  const offenders: OffenderBans = {
    ban: (ip, reason, actor) => (currentOffenders as OffenderBans).ban(ip, reason, actor),
  };

  return {
    observer: () => observer,
    apply(config) {
      const detection = JSON.stringify(config.detection);
      const alerts = JSON.stringify(config.alerts);
      if (detection === appliedDetection && alerts === appliedAlerts) return;
      currentOffenders = createOffenderBans({
        state,
        bans,
        ...config.detection.ban,
        exempt: buildIpSet(config.detection.exempt),
      });
      if (detection !== appliedDetection) {
        if (config.detection.store !== windows.kind)
          logger.warn(
            { store: windows.kind, configured: config.detection.store },
            'detection.store is read at start: restart the gateway to change it',
          );
        detectors = createAbuseDetectors(config.detection, {
          offenders,
          flagged,
          metrics,
          windows,
          now,
          logger,
          audit,
        });
        appliedDetection = detection;
      }
      if (alerts !== appliedAlerts) {
        // Firing alerts of the previous rules are dropped with them; a condition still true fires anew.
        engine?.stop();
        engine = createAlertEngine(config.alerts, { offenders, recent, now, logger, audit });
        if (started) engine?.start();
        appliedAlerts = alerts;
      }
      const first = detectors;
      const second = engine;
      observer =
        first === undefined
          ? second
          : second === undefined
            ? first
            : {
                observe(outcome) {
                  first.observe(outcome);
                  second.observe(outcome);
                },
              };
    },
    start() {
      started = true;
      engine?.start();
    },
    close() {
      started = false;
      engine?.stop();
    },
    detections: () => flagged.list(),
    alerts: {
      list: () => ({
        firing: engine?.firing() ?? [],
        recent: recent.list().map(copyAlertRecord),
      }),
      evaluate: () => engine?.evaluate() ?? Promise.resolve(),
      idle: () => engine?.idle() ?? Promise.resolve(),
    },
  };
}
