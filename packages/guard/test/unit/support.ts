import { createVerifier, type Principal, type Verifier, type VerifierOptions } from '../../src/index.js';
import { createTestKey, type TestKey } from '../helpers/keys.js';
import { AUDIENCE, ISSUER, NOW_MS, signToken } from '../helpers/tokens.js';

/** A clock tests move by hand (epoch milliseconds). */
export class TestClock {
  ms: number;
  constructor(ms = NOW_MS) {
    this.ms = ms;
  }
  readonly now = (): number => this.ms;
  advanceSec(seconds: number): void {
    this.ms += seconds * 1000;
  }
}

export interface StaticSetup {
  readonly key: TestKey;
  readonly clock: TestClock;
  readonly verifier: Verifier;
  /** A valid token signed by `key`, with claim overrides. */
  readonly token: (claims?: Record<string, unknown>) => string;
}

const sharedKey = createTestKey('ES256', 'unit-es256');

/** A verifier over a static ES256 key set and a movable clock frozen at NOW. */
export function staticVerifier(options: Partial<VerifierOptions> = {}): StaticSetup {
  const clock = new TestClock();
  const verifier = createVerifier({
    issuer: ISSUER,
    audience: AUDIENCE,
    jwks: { keys: [sharedKey.publicJwk] },
    algorithms: ['ES256'],
    now: clock.now,
    ...options,
  });
  return { key: sharedKey, clock, verifier, token: (claims = {}) => signToken(sharedKey, claims) };
}

/** A principal as the verifier builds it, for units that take one. */
export function principal(overrides: Partial<Principal> = {}): Principal {
  return {
    sub: 'user-1',
    clientId: 'client-1',
    scopes: [],
    audience: [AUDIENCE],
    issuer: ISSUER,
    expiresAt: NOW_MS / 1000 + 300,
    issuedAt: NOW_MS / 1000 - 10,
    jti: undefined,
    sid: undefined,
    roles: [],
    tenant: undefined,
    cnf: undefined,
    claims: {},
    ...overrides,
  };
}
