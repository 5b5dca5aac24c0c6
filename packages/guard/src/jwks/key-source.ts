import type { Algorithm } from '../jws/algorithms.js';
import type { KeyRecord } from './import-jwk.js';

/** Where a verifier gets the key for a token header. */
export interface KeySource {
  select(alg: Algorithm, kid: string | undefined): KeyRecord | Promise<KeyRecord>;
  /** Loads keys ahead of the first request (a no-op for static keys). */
  prewarm(): Promise<void>;
}
