import type { SharedState } from '@gatehouse/core';
import type { BanList } from '../limits/ban-list.js';
import type { IpSet } from '../net/ip-set.js';

export interface OffenderBansOptions {
  readonly state: SharedState;
  readonly bans: BanList;
  readonly banSec: number;
  readonly multiplier: number;
  readonly maxBanSec: number;
  /**
   * Addresses never banned automatically (`detection.exempt`), nor any client network (IPv6) that
   * holds one of them.
   */
  readonly exempt: IpSet;
}

export type OffenderBanResult =
  | { readonly banned: true; readonly offence: number; readonly durationSec: number }
  | { readonly banned: false; readonly why: 'exempt' | 'already_banned' | 'in_progress' };

export interface OffenderBans {
  /**
   * Bans `ip`, an address or a client's IPv6 network (source `detector`), for banSec × multiplier^(offence − 1), at most maxBanSec; offences
   * are counted in shared state, so an address caught again on any instance escalates.
   */
  ban(ip: string, reason: string, actor: string): Promise<OffenderBanResult>;
}

/** Offences are remembered this many longest bans, so a returning offender keeps escalating. */
const OFFENCE_MEMORY_FACTOR = 4;
/** How long detections in flight are kept from banning an IP twice for one offence. */
const MAX_BAN_LOCK_MS = 10_000;

/** Escalating bans for the abuse detectors and alert rules (the brute-force detector's scheme). */
export function createOffenderBans(options: OffenderBansOptions): OffenderBans {
  const { state, bans, banSec, multiplier, maxBanSec, exempt } = options;
  const offenceTtlMs = maxBanSec * 1000 * OFFENCE_MEMORY_FACTOR;
  const lockMs = Math.min(banSec * 1000, MAX_BAN_LOCK_MS);
  return {
    async ban(ip, reason, actor) {
      if (exempt.overlaps(ip)) return { banned: false, why: 'exempt' };
      if (bans.isBanned(ip) !== undefined) return { banned: false, why: 'already_banned' };
      const offenceKey = `gateway:detect:offence:${ip}`;
      const previous = Number((await state.get(offenceKey)) ?? '0') || 0;
      // One ban per offence level, also when two instances catch the same address at once.
      if (!(await state.setIfAbsent(`gateway:detect:lock:${ip}:${String(previous)}`, '1', lockMs)))
        return { banned: false, why: 'in_progress' };
      const offence = previous + 1;
      const durationSec = Math.min(maxBanSec, Math.ceil(banSec * multiplier ** (offence - 1)));
      await bans.add({ subject: ip, durationSec, reason, source: 'detector', actor, offence });
      await state.increment(offenceKey, offenceTtlMs);
      return { banned: true, offence, durationSec };
    },
  };
}
