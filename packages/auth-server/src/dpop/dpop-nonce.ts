import { createHmac, hkdfSync, timingSafeEqual } from 'node:crypto';
import type { AuthServerDeps } from '../context.js';

const MAC_BYTES = 16;
/** A nonce from a clock slightly ahead on another instance is still accepted (seconds). */
const FUTURE_TOLERANCE_SEC = 5;

export interface DpopNonces {
  /** A fresh nonce to send in `DPoP-Nonce` (RFC 9449 §8). */
  issue(): string;
  /** Whether a nonce from a proof was issued by this server (any instance) and is still fresh. */
  check(nonce: unknown): boolean;
}

/**
 * Stateless server nonces (RFC 9449 §8, §9): issue time (seconds) and an HMAC over it, keyed by a
 * key derived from the key-encryption key, so every instance of the server accepts every other's
 * nonces without shared state. A nonce lives `dpop.nonceTtlSec`; proofs stay single-use through
 * the `jti` replay store, so a nonce may be used by several proofs within its lifetime (§8).
 */
export function createDpopNonces(deps: Pick<AuthServerDeps, 'config' | 'kek' | 'now'>): DpopNonces {
  const key = Buffer.from(hkdfSync('sha256', deps.kek, 'gatehouse', `dpop-nonce:${deps.config.issuer}`, 32));
  const ttlSec = deps.config.dpop.nonceTtlSec;
  const mac = (time: Buffer): Buffer =>
    createHmac('sha256', key).update(time).digest().subarray(0, MAC_BYTES);

  return {
    issue() {
      const time = Buffer.alloc(8);
      time.writeBigUInt64BE(BigInt(Math.floor(deps.now() / 1000)));
      return Buffer.concat([time, mac(time)]).toString('base64url');
    },
    check(nonce) {
      if (typeof nonce !== 'string' || nonce.length !== 32 || !/^[A-Za-z0-9_-]+$/.test(nonce)) return false;
      const raw = Buffer.from(nonce, 'base64url');
      if (raw.length !== 8 + MAC_BYTES) return false;
      const time = raw.subarray(0, 8);
      if (!timingSafeEqual(raw.subarray(8), mac(time))) return false;
      const age = Math.floor(deps.now() / 1000) - Number(time.readBigUInt64BE());
      return age >= -FUTURE_TOLERANCE_SEC && age <= ttlSec;
    },
  };
}
