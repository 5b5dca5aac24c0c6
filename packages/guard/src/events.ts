import type { ErrorCode } from '@gatehouse/core';

/** Operational events of a verifier, for logs and metrics (never carrying a token). */
export type GuardEvent =
  | { readonly type: 'jwks.fetched'; readonly uri: string; readonly keys: number; readonly cacheSec: number }
  | {
      readonly type: 'jwks.key_skipped';
      readonly uri: string;
      readonly kid?: string;
      readonly reason: string;
    }
  | { readonly type: 'jwks.fetch_failed'; readonly uri: string; readonly code: ErrorCode }
  | { readonly type: 'jwks.stale_served'; readonly uri: string; readonly ageSec: number }
  | { readonly type: 'revocation.source_failed' };

export type GuardEventListener = (event: GuardEvent) => void;

/** Counters a verifier keeps; exported as metrics by the component that owns it. */
export interface VerifierStats {
  /** Successful verifications, cached or not. */
  verified: number;
  /** Refusals, all codes. */
  refused: number;
  cacheHits: number;
  cacheMisses: number;
  cacheEntries: number;
  jwksFetches: number;
  jwksFetchFailures: number;
  /** Verifications served with keys past their cache lifetime because the endpoint was down. */
  jwksStaleServed: number;
  /** Unknown-kid refetches skipped because of the cooldown. */
  jwksRefetchSuppressed: number;
}

export function createStats(): VerifierStats {
  return {
    verified: 0,
    refused: 0,
    cacheHits: 0,
    cacheMisses: 0,
    cacheEntries: 0,
    jwksFetches: 0,
    jwksFetchFailures: 0,
    jwksStaleServed: 0,
    jwksRefetchSuppressed: 0,
  };
}
