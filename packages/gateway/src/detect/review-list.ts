/** A bounded, newest-first list kept in memory for review (flagged detections, recent alerts). */
export interface ReviewList<T> {
  push(item: T): void;
  /** Newest first. */
  list(): T[];
  readonly size: number;
}

export function createReviewList<T>(capacity: number): ReviewList<T> {
  if (!(Number.isSafeInteger(capacity) && capacity >= 1))
    throw new RangeError('capacity must be a positive integer');
  const ring: T[] = [];
  let next = 0;
  return {
    push(item) {
      if (ring.length < capacity) ring.push(item);
      else ring[next] = item;
      next = (next + 1) % capacity;
    },
    list() {
      const newestFirst: T[] = [];
      for (let i = 1; i <= ring.length; i++)
        newestFirst.push(ring[(next - i + ring.length * 2) % ring.length] as T);
      return newestFirst;
    },
    get size() {
      return ring.length;
    },
  };
}
