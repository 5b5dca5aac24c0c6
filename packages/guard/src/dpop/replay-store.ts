/**
 * Remembers one-time identifiers (DPoP `jti`, assertion `jti`) until they expire. Implementations
 * must be atomic: of two concurrent calls with the same key exactly one gets `true`.
 */
export interface ReplayStore {
  /** Records `key` until `expiresAtMs`; true when it was not seen before. */
  checkAndRemember(key: string, expiresAtMs: number): boolean | Promise<boolean>;
}

export interface MemoryReplayStoreOptions {
  /** Most identifiers held (default 100 000). When full of live entries, new ones are refused. */
  readonly maxEntries?: number;
  readonly now?: () => number;
}

/** An in-process replay store (one instance). Several instances need a shared store (Redis). */
export class MemoryReplayStore implements ReplayStore {
  readonly #seen = new Map<string, number>();
  readonly #maxEntries: number;
  readonly #now: () => number;

  constructor(options: MemoryReplayStoreOptions = {}) {
    this.#maxEntries = options.maxEntries ?? 100_000;
    this.#now = options.now ?? Date.now;
  }

  get size(): number {
    return this.#seen.size;
  }

  checkAndRemember(key: string, expiresAtMs: number): boolean {
    const now = this.#now();
    const until = this.#seen.get(key);
    if (until !== undefined && until > now) return false;
    if (this.#seen.size >= this.#maxEntries) {
      this.#sweep(now);
      // Fail closed: forgetting a live identifier would let it be replayed.
      if (this.#seen.size >= this.#maxEntries) return false;
    }
    this.#seen.set(key, expiresAtMs);
    return true;
  }

  #sweep(now: number): void {
    for (const [key, until] of this.#seen) if (until <= now) this.#seen.delete(key);
  }
}
