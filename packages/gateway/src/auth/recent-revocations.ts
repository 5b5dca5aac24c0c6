import type { RevocationTarget } from '@gatehouse/guard';
import type { RevocationEvent } from './revocation-events.js';
import type { RevocableEntry } from './token-cache.js';

/**
 * Revocations seen in the last moments. An introspection or exchange that was in flight when an
 * event arrived may bring back an answer computed before the revocation; it is checked here
 * before it is cached or used, so an eviction cannot be undone by a late answer. Entries live
 * `retentionMs` (longer than any call to the auth server can take), so the list stays small.
 */
export class RecentRevocations {
  readonly #jti = new Map<string, number>();
  readonly #sid = new Map<string, number>();
  /** sub → [issuedBefore (s), keep-until (ms)] */
  readonly #sub = new Map<string, readonly [number, number]>();
  readonly #retentionMs: number;
  readonly #now: () => number;
  readonly #untilExp: boolean;
  #writes = 0;

  /** `untilExp`: a jti is kept only until its token's `exp` (plus guard's 30 s tolerance) when known. */
  constructor(retentionMs: number, now: () => number, options: { readonly untilExp?: boolean } = {}) {
    this.#retentionMs = retentionMs;
    this.#now = now;
    this.#untilExp = options.untilExp ?? false;
  }

  get size(): number {
    return this.#jti.size + this.#sid.size + this.#sub.size;
  }

  add(event: RevocationEvent): void {
    const now = this.#now();
    if (++this.#writes % 256 === 0) this.prune(now);
    const until = now + this.#retentionMs;
    if ('jti' in event) {
      const expUntil = this.#untilExp && event.exp !== undefined ? (event.exp + 30) * 1000 : until;
      this.#jti.set(event.jti, Math.min(until, expUntil));
    } else if ('sid' in event) this.#sid.set(event.sid, until);
    else if ('sub' in event) {
      const previous = this.#sub.get(event.sub)?.[0] ?? event.issuedBefore;
      this.#sub.set(event.sub, [Math.max(previous, event.issuedBefore), until]);
    }
  }

  covers(entry: RevocableEntry): boolean {
    if (this.size === 0) return false;
    const now = this.#now();
    for (const jti of entry.jtis) {
      const until = this.#jti.get(jti);
      if (until !== undefined && until > now) return true;
    }
    if (entry.sid !== undefined) {
      const until = this.#sid.get(entry.sid);
      if (until !== undefined && until > now) return true;
    }
    if (entry.sub !== undefined) {
      const cut = this.#sub.get(entry.sub);
      // A token without iat cannot show it was issued after the revocation.
      if (cut !== undefined && cut[1] > now && (entry.issuedAt ?? 0) <= cut[0]) return true;
    }
    return false;
  }

  /** Calls `apply` with every target still in force. */
  forEach(apply: (target: RevocationTarget) => void): void {
    this.prune();
    for (const jti of this.#jti.keys()) apply({ jti });
    for (const sid of this.#sid.keys()) apply({ sid });
    for (const [sub, [issuedBefore]] of this.#sub) apply({ sub, issuedBefore });
  }

  prune(now = this.#now()): void {
    for (const map of [this.#jti, this.#sid]) {
      for (const [key, until] of map) if (until <= now) map.delete(key);
    }
    for (const [key, [, until]] of this.#sub) if (until <= now) this.#sub.delete(key);
  }
}
