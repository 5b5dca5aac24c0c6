import { randomBytes, randomUUID } from 'node:crypto';
import { createVerifier, type GuardEvent, type Verifier, type VerifierOptions } from '../../src/index.js';
import type { JwksServer } from '../helpers/jwks-server.js';
import type { TestKey } from '../helpers/keys.js';
import { AUDIENCE, ISSUER, forge, signToken, validClaims } from '../helpers/tokens.js';

export interface RemoteVerifier {
  readonly verifier: Verifier;
  /** Every event the verifier emitted, in order. */
  readonly events: GuardEvent[];
}

/** A verifier on `server`'s key set; `now` is the test's movable clock. */
export function remoteVerifier(
  server: JwksServer,
  options: Omit<VerifierOptions, 'issuer' | 'audience' | 'onEvent'> & { readonly now: () => number },
): RemoteVerifier {
  const events: GuardEvent[] = [];
  const verifier = createVerifier({
    issuer: ISSUER,
    audience: AUDIENCE,
    jwksUri: server.url,
    ...options,
    onEvent: (event) => events.push(event),
  });
  return { verifier, events };
}

export function eventsOf<T extends GuardEvent['type']>(
  events: readonly GuardEvent[],
  type: T,
): Array<Extract<GuardEvent, { type: T }>> {
  return events.filter((event): event is Extract<GuardEvent, { type: T }> => event.type === type);
}

/** Claims valid at `nowMs` (issued 10 s before, valid 10 min), with a unique jti. */
function claimsAt(nowMs: number): Record<string, unknown> {
  const now = Math.floor(nowMs / 1000);
  return { iat: now - 10, exp: now + 600, jti: randomUUID() };
}

/** A valid token signed by `key`, issued at the test clock `nowMs`. */
export function tokenAt(key: TestKey, nowMs: number, header: Record<string, unknown> = {}): string {
  return signToken(key, claimsAt(nowMs), header);
}

/** A token naming `kid` with a random signature: key selection refuses it before any crypto. */
export function forgedKidToken(kid: string, nowMs: number, alg = 'ES256'): string {
  return forge({
    header: { alg, typ: 'at+jwt', kid },
    payload: validClaims(claimsAt(nowMs)),
    signature: randomBytes(alg === 'ES256' ? 64 : 256),
  });
}

/** Wall time of `run`, for "returns quickly instead of hanging" bounds. */
export async function timed<T>(
  run: () => Promise<T>,
): Promise<{ ms: number; result: PromiseSettledResult<T> }> {
  const start = performance.now();
  const [result] = await Promise.allSettled([run()]);
  return { ms: performance.now() - start, result: result as PromiseSettledResult<T> };
}
