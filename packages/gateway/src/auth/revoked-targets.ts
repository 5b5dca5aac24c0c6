import { RecentRevocations } from './recent-revocations.js';

/** guard's default `maxTokenAgeSec` plus its clock tolerance: no older token verifies. */
export const MAX_TOKEN_AGE_MS = (86_400 + 30) * 1000;

/**
 * The JWT revocations this gateway applied (by jti, session or subject), each kept while a token
 * it covers could still verify. guard keeps its own list inside a verifier; when a compromised key
 * makes the gateway build a new verifier, the new one is given this list, so no earlier
 * revocation is forgotten.
 */
export class RevokedTargets extends RecentRevocations {
  constructor(keepMs: number, now: () => number) {
    super(keepMs, now, { untilExp: true });
  }
}
