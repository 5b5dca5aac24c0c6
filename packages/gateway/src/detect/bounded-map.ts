export interface BoundedMapOptions<V> {
  /** Most keys kept; adding one more forgets the least recently used. */
  readonly maxKeys: number;
  /**
   * Recency is refreshed at most once per `touchMs` per key: a hot key costs a lookup, not a
   * delete and reinsert per use. The eviction order is therefore LRU to within `touchMs`.
   */
  readonly touchMs: number;
  /** Told of every key forgotten to make room (not of `delete`). */
  readonly onEvict?: (key: string, value: V) => void;
}

export interface BoundedMap<V> {
  /** The value of `key`, marking it used at `t`. */
  get(key: string, t: number): V | undefined;
  /** The value of `key`, leaving its recency alone (safe while iterating `entries`). */
  peek(key: string): V | undefined;
  /** Adds or replaces `key`, as used at `t`; forgets the least recently used key when over `maxKeys`. */
  set(key: string, value: V, t: number): void;
  delete(key: string): boolean;
  /** Forgets the least recently used key (other than `keep`); false when there is none. */
  evictOldest(keep?: string): boolean;
  readonly size: number;
  /** Keys were forgotten to make room since the start (an attacker rotating keys shows here). */
  readonly evictions: number;
  entries(): IterableIterator<[string, V]>;
}

interface Slot<V> {
  value: V;
  touched: number;
}

/**
 * A map with a cap on its keys, least recently used first out (a Map iterates in insertion order,
 * so reinserting a key on use keeps the oldest in front). The state of every detector and alert
 * rule sits in one, so a client rotating IPs, tokens or paths cannot grow memory without bound.
 */
export function createBoundedMap<V>(options: BoundedMapOptions<V>): BoundedMap<V> {
  const { maxKeys, touchMs, onEvict } = options;
  if (!(Number.isSafeInteger(maxKeys) && maxKeys >= 1))
    throw new RangeError('maxKeys must be a positive integer');
  const slots = new Map<string, Slot<V>>();
  let evictions = 0;

  const evictOldest = (keep?: string): boolean => {
    for (const [key, slot] of slots) {
      if (key === keep) continue;
      slots.delete(key);
      evictions++;
      onEvict?.(key, slot.value);
      return true;
    }
    return false;
  };

  return {
    get(key, t) {
      const slot = slots.get(key);
      if (slot === undefined) return undefined;
      if (t - slot.touched >= touchMs) {
        slot.touched = t;
        slots.delete(key);
        slots.set(key, slot);
      }
      return slot.value;
    },
    peek: (key) => slots.get(key)?.value,
    set(key, value, t) {
      const slot = slots.get(key);
      if (slot !== undefined) slots.delete(key);
      slots.set(key, { value, touched: t });
      while (slots.size > maxKeys && evictOldest(key));
    },
    delete: (key) => slots.delete(key),
    evictOldest,
    get size() {
      return slots.size;
    },
    get evictions() {
      return evictions;
    },
    *entries() {
      for (const [key, slot] of slots) yield [key, slot.value];
    },
  };
}
