import type { Principal } from '../jwt/principal.js';

/**
 * What can be revoked: one token (`jti`), one session (`sid`, OpenID Connect session id) or every
 * token a subject holds that was issued at or before `issuedBefore` (epoch seconds, default now).
 */
export type RevocationTarget =
  | { readonly jti: string }
  | { readonly sid: string }
  | { readonly sub: string; readonly issuedBefore?: number };

/**
 * A source of revocations shared by many verifiers (e.g. the auth server's revocation events over
 * Redis pub/sub). `subscribe` pushes revocations as they happen; `isRevoked` is asked for every
 * verification, cached or not, when the source keeps its own list.
 */
export interface RevocationSource {
  subscribe?(listener: (target: RevocationTarget) => void): () => void;
  isRevoked?(principal: Principal): boolean | Promise<boolean>;
}

/**
 * Revocations known to this verifier. An entry is kept as long as a token it covers could still
 * be accepted (the longest token lifetime plus clock tolerance), then dropped.
 */
export class RevocationList {
  readonly #jti = new Map<string, number>();
  readonly #sid = new Map<string, number>();
  /** sub → [issuedBefore (s), keep-until (ms)] */
  readonly #sub = new Map<string, readonly [number, number]>();
  readonly #retentionMs: number;
  readonly #now: () => number;
  #writes = 0;

  constructor(retentionSec: number, now: () => number) {
    this.#retentionMs = retentionSec * 1000;
    this.#now = now;
  }

  get size(): number {
    return this.#jti.size + this.#sid.size + this.#sub.size;
  }

  add(target: RevocationTarget): void {
    const now = this.#now();
    const until = now + this.#retentionMs;
    if ('jti' in target) this.#jti.set(target.jti, until);
    else if ('sid' in target) this.#sid.set(target.sid, until);
    else {
      const before = target.issuedBefore ?? Math.floor(now / 1000);
      const previous = this.#sub.get(target.sub);
      this.#sub.set(target.sub, [Math.max(before, previous?.[0] ?? before), until]);
    }
    if (++this.#writes % 1024 === 0) this.prune();
  }

  /** Whether any revocation covers the principal. */
  covers(principal: Principal): boolean {
    if (this.#jti.size > 0 && principal.jti !== undefined && this.#jti.has(principal.jti)) return true;
    if (this.#sid.size > 0 && principal.sid !== undefined && this.#sid.has(principal.sid)) return true;
    if (this.#sub.size > 0) {
      const entry = this.#sub.get(principal.sub);
      // A token without iat cannot prove it was issued after the revocation.
      if (entry !== undefined && (principal.issuedAt ?? 0) <= entry[0]) return true;
    }
    return false;
  }

  prune(): void {
    const now = this.#now();
    for (const map of [this.#jti, this.#sid]) {
      for (const [key, until] of map) if (until <= now) map.delete(key);
    }
    for (const [key, [, until]] of this.#sub) if (until <= now) this.#sub.delete(key);
  }
}
