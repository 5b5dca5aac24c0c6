import { createSecretKey, generateKeyPairSync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { keyFitsAlgorithm } from '../../src/jws/algorithms.js';
import { verifySignature } from '../../src/jws/verify-signature.js';
import { importJwk, type KeyRecord } from '../../src/jwks/import-jwk.js';
import { KeyIndex } from '../../src/jwks/key-index.js';
import { createSecretKeySource, createStaticKeySource } from '../../src/jwks/static-key-set.js';
import { createTestKey } from '../helpers/keys.js';
import { staticVerifier } from './support.js';

function record(jwk: Record<string, unknown>): KeyRecord {
  const result = importJwk(jwk, new Set(['ES256', 'ES384', 'EdDSA', 'RS256'] as const));
  if (!result.ok) throw new Error(result.reason);
  return result.record;
}

const es256 = createTestKey('ES256', 'shared-kid');
const es384 = createTestKey('ES384', 'shared-kid');
const eddsa = createTestKey('EdDSA', 'ed');

describe('KeyIndex.select', () => {
  it('picks, among keys sharing a kid, the one that fits the algorithm', () => {
    const index = new KeyIndex([record(es384.publicJwk), record(es256.publicJwk)]);
    expect(index.select('ES256', 'shared-kid').key.asymmetricKeyDetails?.namedCurve).toBe('prime256v1');
    expect(index.select('ES384', 'shared-kid').key.asymmetricKeyDetails?.namedCurve).toBe('secp384r1');
  });

  it('without kid, uses the only key that fits and refuses ambiguity (RFC 7515 §4.1.4)', () => {
    const withoutKid = (jwk: Record<string, unknown>): Record<string, unknown> => {
      const copy = { ...jwk };
      delete copy['kid'];
      return copy;
    };
    const one = new KeyIndex([record(withoutKid(es256.publicJwk)), record(eddsa.publicJwk)]);
    expect(one.select('ES256', undefined).key.asymmetricKeyType).toBe('ec');
    const two = new KeyIndex([
      record(withoutKid(es256.publicJwk)),
      record(withoutKid(createTestKey('ES256').publicJwk)),
    ]);
    expect(() => two.select('ES256', undefined)).toThrow(
      expect.objectContaining({ code: 'ERR_JWKS_MULTIPLE_MATCHING_KEYS' }),
    );
    expect(() => one.select('RS256', undefined)).toThrow(
      expect.objectContaining({ code: 'ERR_JWKS_NO_MATCHING_KEY' }),
    );
  });

  it('keeps records of keys still published and retires the others on refresh', () => {
    const first = record(es256.publicJwk);
    const gone = record(eddsa.publicJwk);
    const index = new KeyIndex([first, gone]);
    const next = index.succeed([record(es256.publicJwk), record(es256.publicJwk)]);
    expect(next.keys[0]).toBe(first);
    expect(next.keys[1]).not.toBe(first);
    expect(first.active).toBe(true);
    expect(gone.active).toBe(false);
  });
});

describe('static and secret key sources', () => {
  it('have nothing to prewarm and report unusable keys', async () => {
    const events: unknown[] = [];
    const source = createStaticKeySource(
      { keys: [es256.publicJwk, { kty: 'oct', k: 'AAAA' }, 42] },
      new Set(['ES256']),
      (e) => {
        events.push(e);
      },
    );
    await expect(source.prewarm()).resolves.toBeUndefined();
    expect(source.size).toBe(1);
    expect(events).toEqual([
      { type: 'jwks.key_skipped', uri: 'static', reason: 'unsupported kty' },
      { type: 'jwks.key_skipped', uri: 'static', reason: 'not an object' },
    ]);
    const secret = createSecretKeySource(Buffer.alloc(32, 7));
    await expect(secret.prewarm()).resolves.toBeUndefined();
    expect(await secret.select('HS256', undefined)).toMatchObject({ kid: undefined, active: true });
  });
});

describe('defensive refusals below the header checks', () => {
  it('never lets an HMAC algorithm fit a public key', () => {
    expect(keyFitsAlgorithm(es256.publicKey, 'HS256')).toBe(false);
  });

  it('turns a key the algorithm cannot use into a plain signature failure, not a crash', () => {
    const data = Buffer.from('a.b');
    // HMAC with an EC public key: node:crypto throws; guard reports an invalid signature.
    expect(() => verifySignature('HS256', es256.publicKey, data, Buffer.alloc(32))).toThrow(
      expect.objectContaining({ code: 'ERR_JWT_SIGNATURE_INVALID' }),
    );
    const { publicKey } = generateKeyPairSync('x25519');
    expect(() => verifySignature('EdDSA', publicKey, data, Buffer.alloc(64))).toThrow(
      expect.objectContaining({ code: 'ERR_JWT_SIGNATURE_MALFORMED' }),
    );
    expect(() => verifySignature('HS256', createSecretKey(Buffer.alloc(32)), data, Buffer.alloc(32))).toThrow(
      expect.objectContaining({ code: 'ERR_JWT_SIGNATURE_INVALID' }),
    );
  });
});

describe('claims that are not required', () => {
  it('still refuses a token without sub or aud: the principal and the audience check need them', async () => {
    const { verifier, token } = staticVerifier({ requiredClaims: ['iss', 'exp', 'iat'] });
    await expect(verifier.verify(token({ sub: undefined }))).rejects.toMatchObject({
      code: 'ERR_JWT_CLAIM_MISSING',
    });
    await expect(verifier.verify(token({ aud: undefined }))).rejects.toMatchObject({
      code: 'ERR_JWT_AUDIENCE_INVALID',
    });
  });
});
