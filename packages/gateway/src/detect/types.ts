/** What the pipeline knows of a finished request: the one input of every detector and alert rule. */
export interface RequestOutcome {
  /** When the answer finished (the gateway clock, ms). */
  readonly time: number;
  readonly clientIp: string;
  /**
   * What the client is counted by: `clientIp`, or for IPv6 its network (`ipv6ClientPrefix`) as a
   * CIDR block. Keys of kind `ip`, and the automatic bans, use it.
   */
  readonly clientNet: string;
  readonly clientId: string | undefined;
  readonly sub: string | undefined;
  /** Route id, or `_unmatched`. */
  readonly route: string;
  readonly method: string;
  /** The canonical path; undefined when the request target was refused before it had one. */
  readonly path: string | undefined;
  /** The status answered (499: the client went away first). */
  readonly status: number;
  /** The request broke its OpenAPI operation (parameters or body). */
  readonly validationFailed: boolean;
  /** Path-template parameters, when an OpenAPI operation matched. */
  readonly params: Readonly<Record<string, string>> | undefined;
}

export interface RequestObserver {
  /** Called once per finished request; synchronous, never throws, O(1) in the common case. */
  observe(outcome: RequestOutcome): void;
}

export const DETECTOR_IDS = ['enumeration', 'fuzzing', 'bulk-scraping', 'rate-limit-evasion'] as const;
export type DetectorId = (typeof DETECTOR_IDS)[number];
export type DetectorAction = 'ban' | 'flag' | 'log';
export type DetectorKeyKind = 'actor' | 'ip' | 'client_id' | 'sub' | 'token';

/** What a detector found; the engine decides what happens (ban, flag, log). */
export interface Finding {
  readonly detector: DetectorId;
  /** Which of the detector's conditions: `distinct_ids`, `sequential_ids`, `errors`, … */
  readonly trigger: string;
  /** Who was counted, e.g. `sub:alice`, `ip:203.0.113.7`, `token:app alice`. */
  readonly key: string;
  readonly count: number;
  readonly threshold: number;
  readonly windowSec: number;
  /** The request that crossed the threshold. */
  readonly outcome: RequestOutcome;
  /** The addresses a ban applies to (default: the client IP of `outcome`). */
  readonly ips?: readonly string[];
}

/** One detection, as kept for review and listed by `GET /admin/gateway/detections`. */
export interface DetectionRecord {
  readonly id: string;
  readonly time: string;
  readonly detector: DetectorId;
  readonly trigger: string;
  readonly action: DetectorAction;
  readonly key: string;
  readonly ip: string;
  readonly clientId?: string;
  readonly sub?: string;
  readonly route: string;
  readonly count: number;
  readonly threshold: number;
  readonly windowSec: number;
}

/** The keys of one request, each built at most once however many detectors ask. */
export interface RequestKeys {
  /** The counting key: raw values, no allocation unless two must be joined (client id + sub). */
  of(kind: DetectorKeyKind): string | undefined;
  /** The key as shown in records and audit events: `sub:alice`, `ip:203.0.113.7`, `token:app alice`. */
  label(kind: DetectorKeyKind): string;
}

/** A detector: counts what it cares about and reports a finding when a threshold is crossed. */
export interface Detector {
  observe(outcome: RequestOutcome, keys: RequestKeys, report: (finding: Finding) => void): void;
}

/**
 * The key a detector counts a request under, or undefined when the request has none of that kind.
 * Each detector counts one kind, so keys need no prefix to stay apart; the subject of a
 * client-credentials token is its client, so such a token is keyed by the client id alone.
 */
export function detectorKeyOf(kind: DetectorKeyKind, outcome: RequestOutcome): string | undefined {
  const { clientId, sub } = outcome;
  switch (kind) {
    case 'ip':
      return outcome.clientNet;
    case 'actor':
      return sub ?? clientId ?? outcome.clientNet;
    case 'client_id':
      return clientId;
    case 'sub':
      return sub;
    case 'token':
      if (clientId === undefined) return sub;
      return sub === undefined || sub === clientId ? clientId : `${clientId}\n${sub}`;
  }
}

/** The shown form of a key (built on a detection only). */
export function labelKey(kind: DetectorKeyKind, outcome: RequestOutcome): string {
  const { clientId, sub } = outcome;
  switch (kind) {
    case 'ip':
      return `ip:${outcome.clientNet}`;
    case 'actor':
      // A client-credentials token's subject is its client: shown as the client it is.
      return sub !== undefined && sub !== clientId
        ? `sub:${sub}`
        : clientId !== undefined
          ? `client:${clientId}`
          : `ip:${outcome.clientNet}`;
    case 'client_id':
      return `client:${clientId ?? ''}`;
    case 'sub':
      return `sub:${sub ?? ''}`;
    case 'token':
      // As detectorKeyOf: a token whose subject is its client is named by the client alone.
      if (clientId === undefined) return `token:sub:${sub ?? ''}`;
      return sub === undefined || sub === clientId
        ? `token:client:${clientId}`
        : `token:client:${clientId} sub:${sub}`;
  }
}

const UNSET = Symbol('unset');

/**
 * One reusable key cache: `reset` per request (detectors run synchronously, one request at a time),
 * so building and hashing a key string happens once per request, not once per detector.
 */
export function createRequestKeys(): RequestKeys & { reset(outcome: RequestOutcome): void } {
  let current: RequestOutcome | undefined;
  const cache: Record<DetectorKeyKind, string | undefined | typeof UNSET> = {
    actor: UNSET,
    ip: UNSET,
    client_id: UNSET,
    sub: UNSET,
    token: UNSET,
  };
  return {
    reset(outcome) {
      current = outcome;
      cache.actor = cache.ip = cache.client_id = cache.sub = cache.token = UNSET;
    },
    of(kind) {
      const cached = cache[kind];
      if (cached !== UNSET) return cached;
      const key = detectorKeyOf(kind, current as RequestOutcome);
      cache[kind] = key;
      return key;
    },
    label: (kind) => labelKey(kind, current as RequestOutcome),
  };
}
