import type { RevocationTarget } from '@gatehouse/guard';
import type { RevocationEvent } from './revocation-events.js';

/** guard's default `maxTokenAgeSec` plus its clock tolerance: no older token verifies. */
export const MAX_TOKEN_AGE_MS = (86_400 + 30) * 1000;

/**
 * The JWT revocations this gateway applied (by jti, session or subject), each kept while a token
 * it covers could still verify. guard keeps its own list inside a verifier; when a compromised key
 * makes the gateway build a new verifier, the new one is given this list, so no earlier
 * revocation is forgotten.
 */
export class RevokedTargets {
  /** jti → keep-until (ms): the token's `exp` when known. */
  readonly #jti = new Map<string, number>();
  readonly #sid = new Map<string, number>();
  /** sub → [issuedBefore (s), keep-until (ms)] */
  readonly #sub = new Map<string, readonly [number, number]>();
  readonly #keepMs: number;
  readonly #now: () => number;
  #writes = 0;

  constructor(keepMs: number, now: () => number) {
    this.#keepMs = keepMs;
    this.#now = now;
  }

  get size(): number {
    return this.#jti.size + this.#sid.size + this.#sub.size;
  }

  /** Remembers the target of `event` (key revocations are not JWT targets: ignored). */
  add(event: RevocationEvent): void {
    const now = this.#now();
    if (++this.#writes % 256 === 0) this.prune(now);
    const until = now + this.#keepMs;
    if ('jti' in event) {
      this.#jti.set(event.jti, event.exp === undefined ? until : Math.min(until, (event.exp + 30) * 1000));
    } else if ('sid' in event) this.#sid.set(event.sid, until);
    else if ('sub' in event) {
      const previous = this.#sub.get(event.sub)?.[0] ?? event.issuedBefore;
      this.#sub.set(event.sub, [Math.max(previous, event.issuedBefore), until]);
    }
  }

  /** Calls `apply` with every target still in force. */
  forEach(apply: (target: RevocationTarget) => void): void {
    const now = this.#now();
    this.prune(now);
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
