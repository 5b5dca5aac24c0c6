import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import type { Algorithm } from '../../src/index.js';

/** A signing key for tests with its public JWK (kid set). */
export interface TestKey {
  readonly alg: Algorithm;
  readonly kid: string;
  readonly privateKey: KeyObject;
  readonly publicKey: KeyObject;
  readonly publicJwk: Record<string, unknown>;
}

type Spec = Parameters<typeof generateKeyPairSync>;

function pair(alg: Algorithm): { privateKey: KeyObject; publicKey: KeyObject } {
  switch (alg) {
    case 'ES256':
      return generateKeyPairSync('ec', { namedCurve: 'P-256' });
    case 'ES384':
      return generateKeyPairSync('ec', { namedCurve: 'P-384' });
    case 'ES512':
      return generateKeyPairSync('ec', { namedCurve: 'P-521' });
    case 'EdDSA':
    case 'Ed25519':
      return generateKeyPairSync('ed25519');
    case 'RS256':
    case 'RS384':
    case 'RS512':
    case 'PS256':
    case 'PS384':
    case 'PS512':
      return generateKeyPairSync('rsa', { modulusLength: 2048 });
    default:
      throw new Error(`no test key for ${alg}`);
  }
}

let counter = 0;

/** Generates a fresh key for `alg`; `kid` defaults to a unique name. */
export function createTestKey(alg: Algorithm, kid = `${alg.toLowerCase()}-${++counter}`): TestKey {
  const { privateKey, publicKey } = pair(alg);
  const publicJwk = { ...publicKey.export({ format: 'jwk' }), kid, alg, use: 'sig' };
  return { alg, kid, privateKey, publicKey, publicJwk };
}

export type { Spec };
