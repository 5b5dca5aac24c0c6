/** What a revocation event can match in a cached entry. */
export interface RevocableEntry {
  /** Token ids whose revocation evicts the entry (the token's own `jti`, its subject token's). */
  readonly jtis: readonly string[];
  readonly sub: string | undefined;
  readonly sid: string | undefined;
  /** `iat` of the external token, epoch seconds (subject-wide revocations cut at a time). */
  readonly issuedAt: number | undefined;
}

/**
 * A bounded LRU map keyed by SHA-256 digests of tokens (never a token), with an index from `jti`
 * to entries so a revocation event evicts in O(1). A Map keeps insertion order: touching an entry
 * is delete + set, and the least recently used entry is the first key.
 */
export class TokenCache<E extends RevocableEntry & { readonly expiresAtMs: number }> {
  readonly maxEntries: number;
  readonly #entries = new Map<string, E>();
  readonly #byJti = new Map<string, Set<string>>();
  /** The key touched or set last (the Map's last key), while it is in the map. */
  #newest: string | undefined;

  constructor(maxEntries: number) {
    this.maxEntries = maxEntries;
  }

  get size(): number {
    return this.#entries.size;
  }

  get(key: string): E | undefined {
    const entry = this.#entries.get(key);
    // Touching the entry that is already the most recent (one busy client) changes nothing.
    if (entry !== undefined && key !== this.#newest) {
      this.#entries.delete(key);
      this.#entries.set(key, entry);
      this.#newest = key;
    }
    return entry;
  }

  set(key: string, entry: E): void {
    this.delete(key);
    this.#entries.set(key, entry);
    this.#newest = key;
    for (const jti of entry.jtis) {
      let keys = this.#byJti.get(jti);
      if (keys === undefined) {
        keys = new Set();
        this.#byJti.set(jti, keys);
      }
      keys.add(key);
    }
    if (this.#entries.size > this.maxEntries) {
      this.delete(this.#entries.keys().next().value as string);
    }
  }

  delete(key: string): boolean {
    const entry = this.#entries.get(key);
    if (entry === undefined) return false;
    this.#entries.delete(key);
    if (key === this.#newest) this.#newest = undefined;
    for (const jti of entry.jtis) {
      const keys = this.#byJti.get(jti);
      keys?.delete(key);
      if (keys?.size === 0) this.#byJti.delete(jti);
    }
    return true;
  }

  /**
   * Drops every entry whose token has expired; returns how many. An entry is otherwise dropped only
   * when used again, revoked or pushed out by the size bound: without this, a gateway seeing many
   * short-lived tokens once each holds them all until the bound (measured by bench/soak).
   */
  sweepExpired(nowMs: number): number {
    let swept = 0;
    for (const [key, entry] of [...this.#entries]) {
      if (entry.expiresAtMs <= nowMs && this.delete(key)) swept++;
    }
    return swept;
  }

  /** Evicts every entry a revoked `jti` covers; returns how many. */
  evictJti(jti: string): number {
    const keys = this.#byJti.get(jti);
    if (keys === undefined) return 0;
    let evicted = 0;
    for (const key of [...keys]) if (this.delete(key)) evicted++;
    return evicted;
  }

  /** Evicts every entry `matches` selects (rare events: session or subject revocations, key compromise). */
  evictWhere(matches: (entry: E) => boolean): number {
    let evicted = 0;
    for (const [key, entry] of [...this.#entries]) {
      if (matches(entry) && this.delete(key)) evicted++;
    }
    return evicted;
  }

  clear(): void {
    this.#entries.clear();
    this.#byJti.clear();
    this.#newest = undefined;
  }
}

/** A bounded LRU of expiry times (negative caches: key → until, epoch ms). */
export class ExpiryCache<V> {
  readonly #entries = new Map<string, { readonly untilMs: number; readonly value: V }>();
  readonly #maxEntries: number;

  constructor(maxEntries: number) {
    this.#maxEntries = maxEntries;
  }

  get size(): number {
    return this.#entries.size;
  }

  /** The value while it lives; an expired entry is dropped. */
  get(key: string, nowMs: number): V | undefined {
    const entry = this.#entries.get(key);
    if (entry === undefined) return undefined;
    if (entry.untilMs <= nowMs) {
      this.#entries.delete(key);
      return undefined;
    }
    return entry.value;
  }

  /** Drops every expired entry; returns how many. */
  sweepExpired(nowMs: number): number {
    let swept = 0;
    for (const [key, entry] of [...this.#entries]) {
      if (entry.untilMs <= nowMs && this.#entries.delete(key)) swept++;
    }
    return swept;
  }

  set(key: string, value: V, untilMs: number): void {
    this.#entries.delete(key);
    this.#entries.set(key, { untilMs, value });
    if (this.#entries.size > this.#maxEntries) {
      this.#entries.delete(this.#entries.keys().next().value as string);
    }
  }

  delete(key: string): void {
    this.#entries.delete(key);
  }

  clear(): void {
    this.#entries.clear();
  }
}
