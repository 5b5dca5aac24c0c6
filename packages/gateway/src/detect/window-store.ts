import type { DetectorId } from './types.js';

/** A window's answer: at once from process memory, a promise from a shared store. */
export type Pending<T> = T | Promise<T>;

/**
 * A threshold reached. The key's window was emptied in the same atomic step, so of all the
 * instances counting together exactly one gets the crossing, and reports it once.
 */
export interface Crossing {
  readonly count: number;
  /** The values the key held (windows made with `keepValues`; else empty). */
  readonly values: readonly string[];
}

export interface DistinctWindowSpec {
  /** Names the window within its detector (part of its shared key). */
  readonly name: string;
  readonly windowMs: number;
  /** Values kept per key at most: past it, new values are not counted. */
  readonly limit: number;
  /** Reaching this many values empties the key's window and answers a Crossing; undefined: never (see `take`). */
  readonly threshold?: number | undefined;
  /**
   * `digest`: values are client-chosen (paths, object ids, identities) and a shared store keeps a
   * fixed-length digest of each. `plain`: values are parsed client addresses, kept as they are so
   * that a crossing can name them.
   */
  readonly values: 'digest' | 'plain';
  /** A crossing carries the key's values (the addresses a ban covers). */
  readonly keepValues?: boolean;
}

export interface DistinctWindow {
  /** Records `value` under `key` at `t`: the key's distinct values in the window, or the crossing. */
  add(key: string, value: string, t: number): Pending<number | Crossing>;
  /** Empties the key's window when it holds at least `atLeast` values; true when this call did. */
  take(key: string, atLeast: number, t: number): Pending<boolean>;
  /**
   * The keys active in the window and their counts, for a baseline: exact in memory; from a
   * shared store, the count this instance last read for each key it saw within the window.
   */
  counts(t: number): Iterable<readonly [key: string, count: number]>;
}

export interface CounterWindowSpec {
  readonly name: string;
  readonly windowMs: number;
  /** The window slides in steps of windowMs / buckets. */
  readonly buckets: number;
  /** Reaching this many events empties the key's window and answers a Crossing. */
  readonly threshold: number;
}

export interface CounterWindow {
  /** Counts one event of `key` at `t`: the key's events in the window, or the crossing. */
  add(key: string, t: number): Pending<number | Crossing>;
}

export interface WalkWindowSpec {
  readonly name: string;
  readonly windowMs: number;
  /** The run length that is reported (the walk is then forgotten). */
  readonly run: number;
}

export interface WalkWindow {
  /**
   * Records numeric id `n` of `key` at `t`: 0, or the length of the run of consecutive ids (n,
   * n+1, n+2… or down, within the window) when it reached `run`; the walk is then forgotten.
   */
  step(key: string, n: number, t: number): Pending<number>;
  delete(key: string): void;
}

/** The windows of one detector. */
export interface DetectorWindows {
  distinct(spec: DistinctWindowSpec): DistinctWindow;
  counter(spec: CounterWindowSpec): CounterWindow;
  walk(spec: WalkWindowSpec): WalkWindow;
  /** Where a detector's error after a shared store answered goes (a synchronous one is the caller's). */
  readonly fail: (err: unknown) => void;
}

export interface WindowScopeOptions {
  readonly detector: DetectorId;
  /** Keys one window tracks in memory (least recently used out). */
  readonly maxKeys: number;
  /** Distinct values one window stores in memory over all its keys. */
  readonly maxValues: number;
  /** An observation counted in this instance's memory because the shared store failed. */
  readonly onFallback?: () => void;
  readonly onError: (err: unknown) => void;
}

/**
 * Where the detectors keep their sliding windows: process memory (each instance counts its own
 * traffic) or Redis (every instance counts together). One interface, so a detector reads the same
 * over both.
 */
export interface WindowStore {
  readonly kind: 'memory' | 'redis';
  scope(options: WindowScopeOptions): DetectorWindows;
  close(): Promise<void>;
}

export const NO_VALUES: readonly string[] = Object.freeze([]);

export function isCrossing(result: number | Crossing): result is Crossing {
  return typeof result !== 'number';
}
