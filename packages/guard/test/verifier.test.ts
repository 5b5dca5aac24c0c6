import { describe, expect, it } from 'vitest';
import { createVerifier } from '../src/index.js';
import { createTestKey } from './helpers/keys.js';
import { AUDIENCE, ISSUER, NOW_MS, signToken } from './helpers/tokens.js';

describe('createVerifier — positive controls', () => {
  for (const alg of ['ES256', 'ES384', 'ES512', 'EdDSA', 'RS256', 'PS256'] as const) {
    it(`accepts a valid ${alg} access token`, async () => {
      const key = createTestKey(alg);
      const verifier = createVerifier({
        issuer: ISSUER,
        audience: AUDIENCE,
        jwks: { keys: [key.publicJwk] },
        algorithms: [alg],
        now: () => NOW_MS,
      });
      const principal = await verifier.verify(signToken(key));
      expect(principal).toMatchObject({
        sub: 'user-1',
        clientId: 'client-1',
        scopes: ['accounts:read', 'orders:read'],
        audience: [AUDIENCE],
        issuer: ISSUER,
      });
    });
  }
});
