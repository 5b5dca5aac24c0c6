import { GuardError, isGuardError } from '../errors.js';
import type { GuardEventListener, VerifierStats } from '../events.js';
import type { Algorithm } from '../jws/algorithms.js';
import { fetchJwks } from './fetch-jwks.js';
import { importJwk, type KeyRecord } from './import-jwk.js';
import { KeyIndex } from './key-index.js';
import type { KeySource } from './key-source.js';
import { kidOf } from './static-key-set.js';

export interface RemoteKeySetOptions {
  /** Deadline for one fetch, headers and body (default 5000). */
  readonly timeoutMs?: number;
  /** Largest accepted response (default 256 KiB). */
  readonly maxBytes?: number;
  /** Bounds applied to the endpoint's `Cache-Control: max-age` (defaults 60 and 86400). */
  readonly minCacheSec?: number;
  readonly maxCacheSec?: number;
  /** Freshness when the endpoint sends no `max-age` (default 300). */
  readonly defaultCacheSec?: number;
  /** Least time between two fetches triggered by unknown kids or failures (default 10). */
  readonly cooldownSec?: number;
  /** How long past freshness keys are still served while the endpoint is down (default 3600). */
  readonly maxStaleSec?: number;
  /** Fetch implementation, e.g. one with an mTLS dispatcher (default global fetch). */
  readonly fetch?: typeof globalThis.fetch;
}

interface Context {
  readonly algorithms: ReadonlySet<Algorithm>;
  readonly now: () => number;
  readonly onEvent: GuardEventListener;
  readonly stats: VerifierStats;
}

/** Cap on keys taken from one document: a key set is small, a huge one is an attack on CPU. */
const MAX_KEYS = 64;

export const REMOTE_KEY_SET_DEFAULTS = {
  timeoutMs: 5000,
  maxBytes: 256 * 1024,
  minCacheSec: 60,
  maxCacheSec: 86_400,
  defaultCacheSec: 300,
  cooldownSec: 10,
  maxStaleSec: 3600,
} as const;

/**
 * A JWKS endpoint (RFC 8414 `jwks_uri`) behind a cache: honours `Cache-Control` within bounds,
 * refetches once per cooldown on an unknown `kid` (so forged kids cannot cause a fetch storm), shares
 * one in-flight fetch among all callers, and serves stale keys for `maxStaleSec` when the endpoint
 * is down.
 */
export class RemoteKeySet implements KeySource {
  readonly uri: string;
  readonly #options: Required<Omit<RemoteKeySetOptions, 'fetch'>> & { fetch: typeof globalThis.fetch };
  readonly #context: Context;
  #index: KeyIndex | undefined;
  #freshUntil = 0;
  #lastAttempt = Number.NEGATIVE_INFINITY;
  #inflight: Promise<KeyIndex> | undefined;

  constructor(uri: string, options: RemoteKeySetOptions, context: Context) {
    this.uri = uri;
    this.#options = { ...REMOTE_KEY_SET_DEFAULTS, fetch: globalThis.fetch, ...options };
    this.#context = context;
  }

  async prewarm(): Promise<void> {
    await this.#refresh();
  }

  /**
   * Fetches now, past the cache and the cooldown (sharing a fetch in flight): for a trusted signal
   * that the set changed, such as the authorization server's own key event. Never for a `kid` taken
   * from a request: that is what the cooldown guards against.
   */
  async refresh(): Promise<void> {
    await this.#refresh();
  }

  isCurrent(): boolean {
    return this.#context.now() < this.#freshUntil;
  }

  async select(alg: Algorithm, kid: string | undefined): Promise<KeyRecord> {
    const index = await this.#current();
    try {
      return index.select(alg, kid);
    } catch (err) {
      if (!isGuardError(err) || err.code !== 'ERR_JWKS_NO_MATCHING_KEY') throw err;
      // Unknown kid: maybe a key was just published (rotation). One fetch per cooldown, shared.
      if (!this.#mayFetch()) {
        this.#context.stats.jwksRefetchSuppressed++;
        throw err;
      }
      return (await this.#refresh()).select(alg, kid);
    }
  }

  #mayFetch(): boolean {
    return (
      this.#inflight !== undefined ||
      this.#context.now() - this.#lastAttempt >= this.#options.cooldownSec * 1000
    );
  }

  async #current(): Promise<KeyIndex> {
    const index = this.#index;
    if (index === undefined) {
      // Never loaded (endpoint down since start): retry at most once per cooldown, fail fast between.
      if (this.#mayFetch()) return this.#refresh();
      throw new GuardError('ERR_JWKS_FETCH_FAILED', { detail: 'no keys yet; in cooldown' });
    }
    const now = this.#context.now();
    if (now < this.#freshUntil) return index;
    if (this.#mayFetch()) {
      try {
        return await this.#refresh();
      } catch (err) {
        return this.#stale(index, err);
      }
    }
    return this.#stale(index, new GuardError('ERR_JWKS_FETCH_FAILED', { detail: 'in cooldown' }));
  }

  #stale(index: KeyIndex, cause: unknown): KeyIndex {
    const ageSec = (this.#context.now() - this.#freshUntil) / 1000;
    if (ageSec > this.#options.maxStaleSec) {
      throw new GuardError('ERR_JWKS_STALE', { detail: `stale for ${Math.round(ageSec)}s`, cause });
    }
    this.#context.stats.jwksStaleServed++;
    this.#context.onEvent({ type: 'jwks.stale_served', uri: this.uri, ageSec: Math.round(ageSec) });
    return index;
  }

  #refresh(): Promise<KeyIndex> {
    this.#inflight ??= this.#fetch().finally(() => {
      this.#inflight = undefined;
    });
    return this.#inflight;
  }

  async #fetch(): Promise<KeyIndex> {
    const { stats, onEvent, algorithms, now } = this.#context;
    this.#lastAttempt = now();
    stats.jwksFetches++;
    let fetched;
    try {
      fetched = await fetchJwks(this.uri, this.#options);
    } catch (err) {
      stats.jwksFetchFailures++;
      const code = isGuardError(err) ? err.code : 'ERR_JWKS_FETCH_FAILED';
      onEvent({ type: 'jwks.fetch_failed', uri: this.uri, code });
      throw err;
    }
    const records: KeyRecord[] = [];
    for (const jwk of fetched.keys.slice(0, MAX_KEYS)) {
      const result = importJwk(jwk, algorithms);
      if (result.ok) records.push(result.record);
      else onEvent({ type: 'jwks.key_skipped', uri: this.uri, reason: result.reason, ...kidOf(jwk) });
    }
    const { minCacheSec, maxCacheSec, defaultCacheSec } = this.#options;
    const cacheSec = Math.min(maxCacheSec, Math.max(minCacheSec, fetched.maxAgeSec ?? defaultCacheSec));
    const index = this.#index ? this.#index.succeed(records) : new KeyIndex(records);
    this.#index = index;
    this.#freshUntil = now() + cacheSec * 1000;
    onEvent({ type: 'jwks.fetched', uri: this.uri, keys: records.length, cacheSec });
    return index;
  }
}

/** RFC 8414 §2 asks for TLS; plain HTTP only on loopback (development, tests, sidecars). */
export function isAllowedJwksUri(uri: string): boolean {
  let url: URL;
  try {
    url = new URL(uri);
  } catch {
    return false;
  }
  if (url.protocol === 'https:') return true;
  if (url.protocol !== 'http:') return false;
  const host = url.hostname;
  return host === 'localhost' || host === '[::1]' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);
}
