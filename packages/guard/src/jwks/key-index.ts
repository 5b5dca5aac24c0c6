import { fail } from '../errors.js';
import { keyFitsAlgorithm, type Algorithm } from '../jws/algorithms.js';
import type { KeyRecord } from './import-jwk.js';

/** Keys of one key set, looked up by `kid` (never used as anything but a map key). */
export class KeyIndex {
  readonly keys: readonly KeyRecord[];
  readonly #byKid = new Map<string, KeyRecord[]>();

  constructor(keys: readonly KeyRecord[]) {
    this.keys = keys;
    for (const record of keys) {
      if (record.kid === undefined) continue;
      const list = this.#byKid.get(record.kid);
      if (list) list.push(record);
      else this.#byKid.set(record.kid, [record]);
    }
  }

  /**
   * The key for a token: by `kid` when the token names one, else the only key that fits `alg`.
   * A named key that exists but cannot do `alg` is a key/algorithm mismatch, not an unknown key.
   */
  select(alg: Algorithm, kid: string | undefined): KeyRecord {
    const fits = (record: KeyRecord): boolean =>
      (record.alg === undefined || record.alg === alg) && keyFitsAlgorithm(record.key, alg);
    if (kid !== undefined) {
      const named = this.#byKid.get(kid);
      if (named === undefined) return fail('ERR_JWKS_NO_MATCHING_KEY');
      return named.find(fits) ?? fail('ERR_JWT_KEY_TYPE_MISMATCH', alg);
    }
    const candidates = this.keys.filter(fits);
    if (candidates.length === 0) return fail('ERR_JWKS_NO_MATCHING_KEY');
    if (candidates.length > 1) return fail('ERR_JWKS_MULTIPLE_MATCHING_KEYS');
    return candidates[0] as KeyRecord;
  }

  /**
   * The index after a refresh: a key that is still published keeps its record (so results cached
   * with it stay valid); a key that is gone is marked inactive, which ends its cached results.
   */
  succeed(fetched: readonly KeyRecord[]): KeyIndex {
    const previous = new Map(this.keys.map((record) => [identityOf(record), record]));
    const next = fetched.map((record) => {
      const id = identityOf(record);
      const kept = previous.get(id);
      previous.delete(id);
      return kept ?? record;
    });
    for (const gone of previous.values()) gone.active = false;
    return new KeyIndex(next);
  }
}

const exported = new WeakMap<KeyRecord, string>();

/** A stable identity for a key across fetches: its kid plus its public key material. */
function identityOf(record: KeyRecord): string {
  let value = exported.get(record);
  if (value === undefined) {
    value = `${record.kid ?? ''}|${record.alg ?? ''}|${JSON.stringify(record.key.export({ format: 'jwk' }))}`;
    exported.set(record, value);
  }
  return value;
}
