import type { Algorithm } from '../jws/algorithms.js';
import type { KeyRecord } from './import-jwk.js';

/** Where a verifier gets the key for a token header. */
export interface KeySource {
  select(alg: Algorithm, kid: string | undefined): KeyRecord | Promise<KeyRecord>;
  /** Loads keys ahead of the first request (a no-op for static keys). */
  prewarm(): Promise<void>;
  /**
   * Whether the keys are within their cache lifetime. When not, cached verification results are
   * not trusted until the key set is refreshed: a withdrawn key must end its cached results too.
   * Absent for sources that never change.
   */
  isCurrent?(): boolean;
  /** Fetches the keys now, whatever the cache and the cooldown say (absent for fixed keys). */
  refresh?(): Promise<void>;
}
