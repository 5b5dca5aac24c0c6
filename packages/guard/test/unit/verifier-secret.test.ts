import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { createVerifier, type SymmetricAlgorithm } from '../../src/index.js';
import { createTestKey } from '../helpers/keys.js';
import { AUDIENCE, ISSUER, NOW_MS, forge, signToken, validClaims } from '../helpers/tokens.js';

// RFC 7518 §3.2: 64 bytes is long enough for HS512, hence for every HMAC algorithm.
const SECRET = randomBytes(64);
const ALL_HMAC: readonly SymmetricAlgorithm[] = ['HS256', 'HS384', 'HS512'];

function hmacToken(
  alg: string,
  secret: Uint8Array | string = SECRET,
  header: Record<string, unknown> = {},
): string {
  return forge({
    header: { alg, typ: 'at+jwt', ...header },
    payload: validClaims(),
    signer: { alg, key: secret },
  });
}

describe('createVerifier — shared secret (HS256/384/512)', () => {
  it.each(ALL_HMAC)('accepts a valid %s token', async (alg) => {
    const verifier = createVerifier({
      issuer: ISSUER,
      audience: AUDIENCE,
      secret: SECRET,
      algorithms: [alg],
      now: () => NOW_MS,
    });
    await expect(verifier.verify(hmacToken(alg))).resolves.toMatchObject({
      sub: 'user-1',
      clientId: 'client-1',
      scopes: ['accounts:read', 'orders:read'],
      issuer: ISSUER,
    });
  });

  it('accepts every allowed HMAC algorithm with one secret, given as a string', async () => {
    const secret = SECRET.toString('base64url'); // 86 characters
    const verifier = createVerifier({
      issuer: ISSUER,
      audience: AUDIENCE,
      secret,
      algorithms: ALL_HMAC,
      now: () => NOW_MS,
    });
    for (const alg of ALL_HMAC) {
      await expect(verifier.verify(hmacToken(alg, secret))).resolves.toMatchObject({ sub: 'user-1' });
    }
  });

  it('defaults to HS256 only', async () => {
    const verifier = createVerifier({
      issuer: ISSUER,
      audience: AUDIENCE,
      secret: SECRET,
      now: () => NOW_MS,
    });
    expect(verifier.algorithms).toEqual(['HS256']);
    await expect(verifier.verify(hmacToken('HS256'))).resolves.toMatchObject({ sub: 'user-1' });
    await expect(verifier.verify(hmacToken('HS512'))).rejects.toMatchObject({
      code: 'ERR_JWT_ALG_NOT_ALLOWED',
    });
  });

  const refused: Array<{ name: string; source: string; token: () => string; code: string }> = [
    {
      name: 'another secret',
      source: 'RFC 7515 §5.2',
      token: () => hmacToken('HS256', randomBytes(64)),
      code: 'ERR_JWT_SIGNATURE_INVALID',
    },
    {
      name: 'an asymmetric token',
      source: 'RFC 8725 §3.1',
      token: () => signToken(createTestKey('ES256')),
      code: 'ERR_JWT_ALG_NOT_ALLOWED',
    },
    {
      name: "alg 'none'",
      source: 'RFC 8725 §3.1',
      token: () => forge({ header: { alg: 'none', typ: 'at+jwt' }, payload: validClaims() }),
      code: 'ERR_JWT_ALG_NONE',
    },
    {
      name: 'a key in the header',
      source: 'RFC 8725 §3.10',
      token: () => hmacToken('HS256', SECRET, { jwk: { kty: 'oct', k: 'AA' } }),
      code: 'ERR_JWT_HEADER_KEY_FORBIDDEN',
    },
  ];

  it.each(refused)('refuses $name ($source)', async ({ token, code }) => {
    const verifier = createVerifier({
      issuer: ISSUER,
      audience: AUDIENCE,
      secret: SECRET,
      algorithms: ALL_HMAC,
      now: () => NOW_MS,
    });
    await expect(verifier.verify(token())).rejects.toMatchObject({ code });
  });
});
