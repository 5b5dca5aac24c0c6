import { generateKeyPairSync, randomBytes, type KeyObject } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { JwksServer } from '../helpers/jwks-server.js';
import { createTestKey } from '../helpers/keys.js';
import { NOW_MS, forge, validClaims } from '../helpers/tokens.js';
import { eventsOf, remoteVerifier, tokenAt, type RemoteVerifier } from './support.js';

const good = createTestKey('ES256', 'good');

function publicJwkOf(key: KeyObject, extra: Record<string, unknown>): Record<string, unknown> {
  return { ...key.export({ format: 'jwk' }), ...extra };
}

const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const ec384 = generateKeyPairSync('ec', { namedCurve: 'P-384' });
const rsa1024 = generateKeyPairSync('rsa', { modulusLength: 1024 });
const x25519 = generateKeyPairSync('x25519');
const k1 = generateKeyPairSync('ec', { namedCurve: 'secp256k1' });

/** Each skipped key, the header alg a token would name with its kid, and why it is skipped. */
const skipped: Array<{
  name: string;
  source: string;
  jwk: Record<string, unknown>;
  alg: string;
  reason: string;
}> = [
  {
    name: 'encryption key (use enc)',
    source: 'RFC 7517 §4.2',
    jwk: publicJwkOf(ec.publicKey, { kid: 'enc', use: 'enc', alg: 'ES256' }),
    alg: 'ES256',
    reason: 'use is not sig',
  },
  {
    name: 'key_ops without verify',
    source: 'RFC 7517 §4.3',
    jwk: publicJwkOf(ec.publicKey, { kid: 'ops-encrypt', key_ops: ['encrypt'] }),
    alg: 'ES256',
    reason: 'key_ops lacks verify',
  },
  {
    name: 'private key published',
    source: 'RFC 7518 §6.2.2',
    jwk: { ...ec.privateKey.export({ format: 'jwk' }), kid: 'private', alg: 'ES256' },
    alg: 'ES256',
    reason: 'private key material',
  },
  {
    name: 'symmetric oct key',
    source: 'RFC 8725 §3.1',
    jwk: { kty: 'oct', kid: 'oct', k: randomBytes(32).toString('base64url') },
    alg: 'ES256',
    reason: 'unsupported kty',
  },
  {
    name: 'RSA key of 1024 bits',
    source: 'RFC 7518 §3.3',
    jwk: publicJwkOf(rsa1024.publicKey, { kid: 'rsa-1024', alg: 'RS256' }),
    alg: 'RS256',
    reason: 'no allowed algorithm fits the key',
  },
  {
    name: 'X25519 key-agreement key',
    source: 'RFC 8037 §3.2',
    jwk: publicJwkOf(x25519.publicKey, { kid: 'x25519' }),
    alg: 'EdDSA',
    reason: 'no allowed algorithm fits the key',
  },
  {
    name: 'secp256k1 key',
    source: 'RFC 8812 §3.2',
    jwk: publicJwkOf(k1.publicKey, { kid: 'secp256k1' }),
    alg: 'ES256',
    reason: 'no allowed algorithm fits the key',
  },
  {
    name: 'alg outside the allowlist',
    source: 'RFC 8725 §3.1',
    jwk: publicJwkOf(ec384.publicKey, { kid: 'es384', alg: 'ES384' }),
    alg: 'ES256',
    reason: 'alg not allowed',
  },
  {
    name: 'alg none',
    source: 'RFC 8725 §3.1',
    jwk: publicJwkOf(ec.publicKey, { kid: 'alg-none', alg: 'none' }),
    alg: 'ES256',
    reason: 'alg not allowed',
  },
];

let server: JwksServer;
let remote: RemoteVerifier;
const clock = NOW_MS;

beforeAll(async () => {
  server = await JwksServer.start({
    keys: [...skipped.map((entry) => entry.jwk), { ...good.publicJwk, kid: 42 }, 'not-a-key', good.publicJwk],
  });
  remote = remoteVerifier(server, { now: () => clock, algorithms: ['ES256', 'EdDSA', 'RS256', 'PS256'] });
  await remote.verifier.prewarm();
});

afterAll(async () => {
  await server.close();
});

describe('RemoteKeySet — only keys whose use, alg and kty fit', () => {
  it('imports the good key only and reports every other with a reason', () => {
    expect(eventsOf(remote.events, 'jwks.fetched')).toEqual([
      { type: 'jwks.fetched', uri: server.url, keys: 1, cacheSec: 300 },
    ]);
    expect(eventsOf(remote.events, 'jwks.key_skipped')).toEqual([
      ...skipped.map(({ jwk, reason }) => ({
        type: 'jwks.key_skipped',
        uri: server.url,
        kid: jwk['kid'],
        reason,
      })),
      { type: 'jwks.key_skipped', uri: server.url, reason: 'kid not a string' },
      { type: 'jwks.key_skipped', uri: server.url, reason: 'not an object' },
    ]);
  });

  it('verifies a token signed by the good key, with or without kid', async () => {
    await expect(remote.verifier.verify(tokenAt(good, clock))).resolves.toMatchObject({ sub: 'user-1' });
    // Without kid, skipped keys are no candidates: the good key is the only one that fits.
    await expect(remote.verifier.verify(tokenAt(good, clock, { kid: undefined }))).resolves.toMatchObject({
      sub: 'user-1',
    });
  });

  it.each(skipped)('$name ($source): its kid gives ERR_JWKS_NO_MATCHING_KEY', async ({ jwk, alg }) => {
    const token = forge({
      header: { alg, typ: 'at+jwt', kid: jwk['kid'] },
      payload: validClaims(),
      signature: randomBytes(alg === 'RS256' ? 256 : 64),
    });
    await expect(remote.verifier.verify(token)).rejects.toMatchObject({ code: 'ERR_JWKS_NO_MATCHING_KEY' });
  });

  it('a published kid named with an algorithm its key cannot do is a mismatch, not a reason to refetch', async () => {
    const requests = server.requests;
    const token = forge({
      header: { alg: 'RS256', typ: 'at+jwt', kid: good.kid },
      payload: validClaims(),
      signature: randomBytes(256),
    });
    await expect(remote.verifier.verify(token)).rejects.toMatchObject({ code: 'ERR_JWT_KEY_TYPE_MISMATCH' });
    expect(server.requests).toBe(requests);
  });
});
