/**
 * A bounded map that forgets the least recently used entry first. A Map keeps insertion order, so
 * touching an entry is delete + set and the oldest entry is the first key. Touching the entry that
 * is already the most recent (one busy client repeating its token) changes nothing, so it is skipped.
 */
export class LruCache<K, V> {
  readonly maxEntries: number;
  readonly #entries = new Map<K, V>();
  /** The key touched or set last (the Map's last key), while it is in the map. */
  #newest: K | undefined;

  constructor(maxEntries: number) {
    this.maxEntries = maxEntries;
  }

  get size(): number {
    return this.#entries.size;
  }

  get(key: K): V | undefined {
    const value = this.#entries.get(key);
    if (value !== undefined && key !== this.#newest) {
      this.#entries.delete(key);
      this.#entries.set(key, value);
      this.#newest = key;
    }
    return value;
  }

  set(key: K, value: V): void {
    this.#entries.delete(key);
    this.#entries.set(key, value);
    this.#newest = key;
    if (this.#entries.size > this.maxEntries) {
      const oldest = this.#entries.keys().next().value as K;
      this.#entries.delete(oldest);
      if (oldest === this.#newest) this.#newest = undefined;
    }
  }

  delete(key: K): void {
    this.#entries.delete(key);
    if (key === this.#newest) this.#newest = undefined;
  }

  clear(): void {
    this.#entries.clear();
    this.#newest = undefined;
  }
}
