import { emitAuditEvent, type AuditSink, type Logger, type SharedState } from '@gatehouse/core';
import type { BanList } from './ban-list.js';

export interface BruteForceOptions {
  readonly state: SharedState;
  readonly bans: BanList;
  /** Failures within `windowSec` (from one IP, or against one client id) that trigger a ban. */
  readonly threshold: number;
  readonly windowSec: number;
  /** First ban; each further offence multiplies it by `multiplier`, up to `maxBanSec`. */
  readonly banSec: number;
  readonly maxBanSec: number;
  readonly multiplier: number;
  readonly now?: () => number;
  readonly logger: Logger;
  readonly audit?: AuditSink;
}

export interface BruteForceDetector {
  /**
   * Counts one failed authentication (a 401). Never rejects: a failing shared state is logged and
   * the failure goes uncounted, so callers may fire and forget.
   */
  recordFailure(input: {
    /** The client's address (logged and audited). */
    ip: string;
    /**
     * What failures are counted and banned by: the address, or its IPv6 network as a CIDR block
     * (`ipv6ClientPrefix`); default `ip`.
     */
    network?: string;
    clientId: string | undefined;
  }): Promise<void>;
}

/** Offences are remembered this many longest bans, so a returning offender keeps escalating. */
const OFFENCE_MEMORY_FACTOR = 4;
/** How long failures in flight are kept from banning an IP twice for one offence. */
const MAX_BAN_LOCK_MS = 10_000;

function checkPositive(name: string, value: number): void {
  if (!(Number.isFinite(value) && value > 0)) throw new RangeError(`${name} must be a positive number`);
}

/**
 * Brute-force detection over shared state, so every instance counts together: repeated 401s from
 * one IP within the window, or against one client id (a credential-stuffing run spread over many
 * addresses), ban the failing IP for banSec × multiplier^(offence − 1), at most maxBanSec.
 */
export function createBruteForceDetector(options: BruteForceOptions): BruteForceDetector {
  const { state, bans, threshold, windowSec, banSec, maxBanSec, multiplier, logger, audit } = options;
  const now = options.now ?? Date.now;
  if (!(Number.isSafeInteger(threshold) && threshold >= 1))
    throw new RangeError('threshold must be a positive integer');
  checkPositive('windowSec', windowSec);
  checkPositive('banSec', banSec);
  checkPositive('maxBanSec', maxBanSec);
  if (!(Number.isFinite(multiplier) && multiplier >= 1))
    throw new RangeError('multiplier must be at least 1');
  const windowMs = windowSec * 1000;
  const offenceTtlMs = maxBanSec * 1000 * OFFENCE_MEMORY_FACTOR;
  const lockMs = Math.min(banSec * 1000, MAX_BAN_LOCK_MS);

  const ban = async (
    ip: string,
    subject: string,
    trigger: 'ip' | 'client_id',
    failures: number,
    clientId: string | undefined,
  ) => {
    if (bans.isBanned(subject) !== undefined) return;
    const offenceKey = `gateway:bf:offence:${subject}`;
    const previous = Number((await state.get(offenceKey)) ?? '0') || 0;
    // One ban per offence level: failures in flight when the ban lands (here or on another
    // instance) claim the same level and stand down instead of banning again one level up.
    if (!(await state.setIfAbsent(`gateway:bf:lock:${subject}:${String(previous)}`, '1', lockMs))) return;
    const offence = previous + 1;
    const durationSec = Math.min(maxBanSec, Math.ceil(banSec * multiplier ** (offence - 1)));
    const reason =
      trigger === 'ip'
        ? `${failures} failed authentications in ${windowSec} s`
        : `failed authentication against a client with ${failures} failures in ${windowSec} s`;
    await bans.add({
      subject,
      durationSec,
      reason,
      source: 'brute-force',
      actor: 'brute-force-detector',
      offence,
    });
    await state.increment(offenceKey, offenceTtlMs);
    // A fresh count after the ban: the old failures are paid for.
    await state.delete(`gateway:bf:ip:${subject}`);
    logger.warn(
      { ip, banned: subject, trigger, failures, offence, durationSec },
      'brute force detected; client IP banned',
    );
    emitAuditEvent(
      audit,
      {
        time: new Date(now()).toISOString(),
        action: 'gateway.brute_force.detected',
        outcome: 'success',
        component: 'gateway',
        sourceIp: ip,
        target: { type: 'ip', id: subject },
        decision: 'deny',
        reason: trigger === 'ip' ? 'ip_failures' : 'client_failures',
        details: {
          failures,
          windowSec,
          offence,
          durationSec,
          ...(clientId === undefined ? {} : { clientId }),
        },
      },
      (err: unknown) => {
        logger.warn({ err }, 'audit sink failed');
      },
    );
  };

  return {
    async recordFailure({ ip, network = ip, clientId }) {
      try {
        const fromIp = await state.increment(`gateway:bf:ip:${network}`, windowMs);
        if (fromIp >= threshold) {
          await ban(ip, network, 'ip', fromIp, clientId);
          return;
        }
        if (clientId === undefined) return;
        const againstClient = await state.increment(`gateway:bf:client:${clientId}`, windowMs);
        if (againstClient >= threshold) await ban(ip, network, 'client_id', againstClient, clientId);
      } catch (err) {
        logger.warn({ err }, 'brute-force detection failed; failure not counted');
      }
    },
  };
}
