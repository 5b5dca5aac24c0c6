import { randomUUID } from 'node:crypto';
import { emitAuditEvent, type AuditSink, type Logger } from '@gatehouse/core';
import type { DetectionConfig } from '../config/detection-schema.js';
import { buildIpSet } from '../net/ip-set.js';
import type { OffenderBans } from './ban-offender.js';
import { createBulkScrapingDetector } from './bulk-scraping-detector.js';
import type { DetectionMetrics } from './detection-metrics.js';
import { createEnumerationDetector } from './enumeration-detector.js';
import { createFuzzingDetector } from './fuzzing-detector.js';
import { createRateLimitEvasionDetector } from './rate-limit-evasion-detector.js';
import type { ReviewList } from './review-list.js';
import type { DetectorWindows, WindowStore } from './window-store.js';
import {
  createRequestKeys,
  type DetectionRecord,
  type Detector,
  type DetectorAction,
  type DetectorId,
  type Finding,
  type RequestObserver,
} from './types.js';

export interface AbuseDetectorsDeps {
  readonly offenders: OffenderBans;
  /** Where flagged detections are kept for review (outlives a reload). */
  readonly flagged: ReviewList<DetectionRecord>;
  readonly metrics: DetectionMetrics;
  /** Where the detectors keep their windows (process memory, or Redis shared by every instance). */
  readonly windows: WindowStore;
  readonly now: () => number;
  readonly logger: Logger;
  readonly audit?: AuditSink | undefined;
}

/** The audit target type of a detector key (`sub:…` → subject). */
const KEY_TYPES: Readonly<Record<string, string>> = {
  sub: 'subject',
  client: 'client',
  ip: 'ip',
  token: 'token',
};

/**
 * The enabled detectors behind one observer, and what follows a finding: the detector's action
 * (ban, flag, log), an audit event `gateway.abuse.detected` and `gatehouse_gateway_detections_total`.
 * Returns undefined when every detector is off, so the pipeline skips the call altogether.
 */
export function createAbuseDetectors(
  config: DetectionConfig,
  deps: AbuseDetectorsDeps,
): RequestObserver | undefined {
  const { offenders, flagged, metrics, logger, audit } = deps;
  const onError = (err: unknown): void => {
    logger.error({ err }, 'abuse detector failed');
  };
  const detectors: { readonly detector: Detector; readonly action: DetectorAction }[] = [];
  const add = (
    id: DetectorId,
    settings: { enabled: boolean; action: DetectorAction },
    make: (windows: DetectorWindows) => Detector,
  ) => {
    if (!settings.enabled) return;
    const windows = deps.windows.scope({
      detector: id,
      maxKeys: config.maxKeys,
      maxValues: config.maxValues,
      onFallback: () => metrics.fellBack(id),
      onError,
    });
    detectors.push({ detector: make(windows), action: settings.action });
  };
  add('enumeration', config.enumeration, (w) => createEnumerationDetector(config.enumeration, w));
  add('fuzzing', config.fuzzing, (w) => createFuzzingDetector(config.fuzzing, w));
  add('bulk-scraping', config.bulkScraping, (w) => createBulkScrapingDetector(config.bulkScraping, w));
  const evasion = config.rateLimitEvasion;
  if (evasion.ipsPerIdentity > 0 || evasion.identitiesPerIp > 0)
    add('rate-limit-evasion', evasion, (w) => createRateLimitEvasionDetector(evasion, w));
  if (detectors.length === 0) return undefined;
  const exempt = buildIpSet(config.exempt);

  const emit = (
    finding: Finding,
    record: DetectionRecord,
    outcome: 'success' | 'failure',
    extra: Readonly<Record<string, string | number | boolean>>,
  ): void => {
    const keyType = KEY_TYPES[finding.key.slice(0, finding.key.indexOf(':'))] ?? 'key';
    emitAuditEvent(
      audit,
      {
        time: record.time,
        action: 'gateway.abuse.detected',
        outcome,
        component: 'gateway',
        ...(record.sub === undefined && record.clientId === undefined
          ? {}
          : {
              actor: {
                ...(record.sub === undefined ? {} : { sub: record.sub }),
                ...(record.clientId === undefined ? {} : { clientId: record.clientId }),
              },
            }),
        sourceIp: record.ip,
        target: { type: keyType, id: finding.key.slice(finding.key.indexOf(':') + 1) },
        decision: record.action === 'ban' ? 'deny' : 'allow',
        reason: finding.detector,
        details: {
          trigger: record.trigger,
          action: record.action,
          count: record.count,
          threshold: record.threshold,
          windowSec: record.windowSec,
          route: record.route,
          ...extra,
        },
      },
      (err: unknown) => {
        logger.warn({ err }, 'audit sink failed');
      },
    );
  };

  const banAll = async (finding: Finding, record: DetectionRecord, ips: readonly string[]): Promise<void> => {
    const reason = `${finding.detector}: ${finding.trigger} ${finding.count} in ${finding.windowSec} s`;
    const results = await Promise.allSettled(
      ips.map((ip) => offenders.ban(ip, reason, `${finding.detector}-detector`)),
    );
    let banned = 0;
    let failed = 0;
    let first: { offence: number; durationSec: number } | undefined;
    for (const result of results) {
      if (result.status === 'rejected') {
        failed++;
        logger.warn({ err: result.reason as unknown, detector: finding.detector }, 'detector ban failed');
      } else if (result.value.banned) {
        banned++;
        first ??= result.value;
      }
    }
    emit(finding, record, failed > 0 ? 'failure' : 'success', {
      banned,
      ...(failed > 0 ? { failed } : {}),
      ...(first === undefined ? {} : { offence: first.offence, durationSec: first.durationSec }),
    });
  };

  const report = (finding: Finding, action: DetectorAction): void => {
    const { outcome } = finding;
    const ips = (finding.ips ?? [outcome.clientNet]).filter((ip) => !exempt.overlaps(ip));
    if (ips.length === 0) return;
    const record: DetectionRecord = {
      id: randomUUID(),
      time: new Date(deps.now()).toISOString(),
      detector: finding.detector,
      trigger: finding.trigger,
      action,
      key: finding.key,
      ip: outcome.clientIp,
      ...(outcome.clientId === undefined ? {} : { clientId: outcome.clientId }),
      ...(outcome.sub === undefined ? {} : { sub: outcome.sub }),
      route: outcome.route,
      count: finding.count,
      threshold: finding.threshold,
      windowSec: finding.windowSec,
    };
    metrics.detected(finding.detector, action);
    logger.warn(
      {
        detector: finding.detector,
        trigger: finding.trigger,
        action,
        clientIp: outcome.clientIp,
        count: finding.count,
        threshold: finding.threshold,
        route: outcome.route,
      },
      'abuse detected',
    );
    if (action === 'flag') flagged.push(record);
    if (action === 'ban') void banAll(finding, record, ips);
    else emit(finding, record, 'success', {});
  };

  // One closure per detector, made once: no allocation per request.
  const reporters = detectors.map(({ action }) => (finding: Finding) => {
    report(finding, action);
  });

  const keys = createRequestKeys();
  return {
    observe(outcome) {
      keys.reset(outcome);
      for (let i = 0; i < detectors.length; i++) {
        try {
          (detectors[i] as (typeof detectors)[number]).detector.observe(
            outcome,
            keys,
            reporters[i] as (f: Finding) => void,
          );
        } catch (err) {
          // A detector bug must not fail the request's close handler (or the others).
          onError(err);
        }
      }
    },
  };
}
