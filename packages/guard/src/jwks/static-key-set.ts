import { createSecretKey } from 'node:crypto';
import type { Algorithm } from '../jws/algorithms.js';
import type { GuardEventListener } from '../events.js';
import { importJwk, type KeyRecord } from './import-jwk.js';
import { KeyIndex } from './key-index.js';
import type { KeySource } from './key-source.js';

/** A key set given in configuration (`jwks: { keys: [...] }`). */
export function createStaticKeySource(
  jwks: { readonly keys: readonly unknown[] },
  algorithms: ReadonlySet<Algorithm>,
  onEvent: GuardEventListener,
): KeySource & { readonly size: number } {
  const records: KeyRecord[] = [];
  for (const jwk of jwks.keys) {
    const result = importJwk(jwk, algorithms);
    if (result.ok) records.push(result.record);
    else onEvent({ type: 'jwks.key_skipped', uri: 'static', reason: result.reason, ...kidOf(jwk) });
  }
  const index = new KeyIndex(records);
  return {
    size: records.length,
    select: (alg, kid) => index.select(alg, kid),
    prewarm: () => Promise.resolve(),
  };
}

/** A shared secret for HS* (never mixed with asymmetric keys). */
export function createSecretKeySource(secret: Uint8Array): KeySource {
  const record: KeyRecord = { kid: undefined, alg: undefined, key: createSecretKey(secret), active: true };
  return { select: () => record, prewarm: () => Promise.resolve() };
}

export function kidOf(jwk: unknown): { kid?: string } {
  const kid = (jwk as { kid?: unknown } | null)?.kid;
  return typeof kid === 'string' ? { kid } : {};
}
