/**
 * The heaviest clients of the gateway in bounded memory: Space-Saving (Metwally, Agrawal, El
 * Abbadi, "Efficient Computation of Frequent and Top-k Elements in Data Streams", 2005) over a
 * Stream-Summary, so that recording a request is O(1) whatever the number of distinct clients.
 * A client is its client id when its token named one, its network otherwise, as rate limits and
 * bans count it: an IPv4 address, or the IPv6 block of `ipv6ClientPrefix` bits (`2001:db8:1:2::/64`),
 * so a client rotating addresses within its block is one heavy client, not many light ones. At most `capacity`
 * clients are tracked per period; a newcomer takes the place of the least counted one and inherits
 * its count as `overcount` (its true count lies between `requests - overcount` and `requests`).
 * Every client whose true count exceeds requests/capacity is guaranteed to be listed.
 */

export interface TopClient {
  readonly kind: 'client_id' | 'ip';
  /** The client id, or the client's network: an IPv4 address, or an IPv6 block in CIDR form. */
  readonly id: string;
  /** Requests in the window (an upper bound: at most `overcount` too many). */
  readonly requests: number;
  /** Of those, answered 4xx or 5xx (counted since the client entered the summary). */
  readonly errors: number;
  readonly overcount: number;
}

export interface TopClientsReport {
  /** Start of the counted window (the previous period's start): ISO 8601. */
  readonly since: string;
  readonly periodSec: number;
  readonly capacity: number;
  /** Heaviest first. */
  readonly clients: TopClient[];
}

export interface TopClients {
  /** One finished request: O(1), no allocation once the client is tracked. */
  record(clientId: string | undefined, clientNetwork: string, failed: boolean): void;
  list(limit?: number): TopClientsReport;
}

export interface TopClientsOptions {
  /** Clients tracked per period (memory bound). */
  readonly capacity?: number;
  /** The window is the current period and the one before it (so between one and two periods). */
  readonly periodSec?: number;
  readonly now?: () => number;
}

interface Bucket {
  readonly count: number;
  head: Entry | undefined;
  prev: Bucket | undefined;
  next: Bucket | undefined;
}

interface Entry {
  key: string;
  byClient: boolean;
  overcount: number;
  errors: number;
  bucket: Bucket;
  prev: Entry | undefined;
  next: Entry | undefined;
}

/** One period's Stream-Summary: buckets of equal counts in ascending order, entries listed in each. */
class Summary {
  private readonly clients = new Map<string, Entry>();
  private readonly ips = new Map<string, Entry>();
  /** The bucket with the smallest count. */
  private min: Bucket | undefined;
  private size = 0;

  constructor(private readonly capacity: number) {}

  add(key: string, byClient: boolean, failed: boolean): void {
    const index = byClient ? this.clients : this.ips;
    let entry = index.get(key);
    if (entry === undefined) {
      if (this.size < this.capacity) {
        this.size++;
        entry = this.insertNew(key, byClient);
      } else {
        // The least counted entry makes room (Space-Saving): its count becomes the newcomer's overcount.
        const victim = (this.min as Bucket).head as Entry;
        (victim.byClient ? this.clients : this.ips).delete(victim.key);
        victim.key = key;
        victim.byClient = byClient;
        victim.overcount = victim.bucket.count;
        victim.errors = 0;
        entry = victim;
        this.increment(entry);
      }
      index.set(key, entry);
    } else {
      this.increment(entry);
    }
    if (failed) entry.errors++;
  }

  entries(): Entry[] {
    const all: Entry[] = [];
    for (const entry of this.clients.values()) all.push(entry);
    for (const entry of this.ips.values()) all.push(entry);
    return all;
  }

  private insertNew(key: string, byClient: boolean): Entry {
    let bucket = this.min;
    if (bucket?.count !== 1) {
      bucket = { count: 1, head: undefined, prev: undefined, next: this.min };
      if (this.min !== undefined) this.min.prev = bucket;
      this.min = bucket;
    }
    const entry: Entry = {
      key,
      byClient,
      overcount: 0,
      errors: 0,
      bucket,
      prev: undefined,
      next: undefined,
    };
    this.link(entry, bucket);
    return entry;
  }

  /** Moves an entry to the bucket of its count + 1 (created after its own when missing). */
  private increment(entry: Entry): void {
    const from = entry.bucket;
    const count = from.count + 1;
    let to = from.next;
    if (to?.count !== count) {
      to = { count, head: undefined, prev: from, next: from.next };
      if (from.next !== undefined) from.next.prev = to;
      from.next = to;
    }
    this.unlink(entry);
    this.link(entry, to);
    if (from.head === undefined) {
      // The emptied bucket leaves the list.
      if (from.prev === undefined) this.min = from.next;
      else from.prev.next = from.next;
      if (from.next !== undefined) from.next.prev = from.prev;
    }
  }

  private link(entry: Entry, bucket: Bucket): void {
    entry.bucket = bucket;
    entry.prev = undefined;
    entry.next = bucket.head;
    if (bucket.head !== undefined) bucket.head.prev = entry;
    bucket.head = entry;
  }

  private unlink(entry: Entry): void {
    if (entry.prev === undefined) entry.bucket.head = entry.next;
    else entry.prev.next = entry.next;
    if (entry.next !== undefined) entry.next.prev = entry.prev;
  }
}

const DEFAULT_CAPACITY = 128;
const DEFAULT_PERIOD_SEC = 300;

/**
 * Top clients over the last one to two periods: two Summaries, the current one and the previous
 * one, swapped when a period ends (checked when a request is recorded or the list is read).
 */
export function createTopClients(options: TopClientsOptions = {}): TopClients {
  const capacity = options.capacity ?? DEFAULT_CAPACITY;
  const periodSec = options.periodSec ?? DEFAULT_PERIOD_SEC;
  if (!Number.isInteger(capacity) || capacity < 1)
    throw new RangeError('capacity must be a positive integer');
  if (!(periodSec > 0)) throw new RangeError('periodSec must be positive');
  const now = options.now ?? Date.now;
  const periodMs = periodSec * 1000;
  let periodStart = now();
  let previousStart = periodStart;
  let current = new Summary(capacity);
  let previous: Summary | undefined;

  const rotate = (time: number): void => {
    if (time - periodStart < periodMs) return;
    // A whole idle period since: the previous one holds nothing of the window either.
    const idle = time - periodStart >= 2 * periodMs;
    previous = idle ? undefined : current;
    current = new Summary(capacity);
    previousStart = idle ? time : periodStart;
    periodStart = time;
  };

  return {
    record(clientId, clientNetwork, failed) {
      rotate(now());
      if (clientId === undefined) current.add(clientNetwork, false, failed);
      else current.add(clientId, true, failed);
    },
    list(limit = capacity) {
      rotate(now());
      const merged = new Map<
        string,
        { kind: TopClient['kind']; id: string; r: number; e: number; o: number }
      >();
      for (const summary of previous === undefined ? [current] : [previous, current]) {
        for (const entry of summary.entries()) {
          const kind = entry.byClient ? 'client_id' : 'ip';
          const key = `${kind} ${entry.key}`;
          const found = merged.get(key) ?? { kind, id: entry.key, r: 0, e: 0, o: 0 };
          found.r += entry.bucket.count;
          found.e += entry.errors;
          found.o += entry.overcount;
          merged.set(key, found);
        }
      }
      const clients = [...merged.values()]
        .sort((a, b) => b.r - a.r || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
        .slice(0, Math.max(0, limit))
        .map((c) => ({ kind: c.kind, id: c.id, requests: c.r, errors: c.e, overcount: c.o }));
      return {
        since: new Date(previous === undefined ? periodStart : previousStart).toISOString(),
        periodSec,
        capacity,
        clients,
      };
    },
  };
}
