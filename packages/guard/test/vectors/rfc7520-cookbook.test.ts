import { describe, expect, it } from 'vitest';
import { createVerifier } from '../../src/index.js';
import { DEFAULT_ALGORITHMS, type Algorithm } from '../../src/jws/algorithms.js';
import { importJwk } from '../../src/jwks/import-jwk.js';
import { keySourceFor, verifyJwsLayer, type Jwk } from '../helpers/vectors-jose.js';
import { readVectorJson } from '../helpers/vectors-wycheproof.js';
import { AUDIENCE, ISSUER, NOW_MS } from '../helpers/tokens.js';

/**
 * RFC 7520 §4.1-§4.4 (JOSE cookbook) compact JWS examples, verified with the cookbook's own
 * verification keys (RFC 7520 §3.1, §3.3, §3.5) through guard's JWS layer and end to end through
 * createVerifier. The payload is prose, not a JWT: the verifier must accept the signature and only
 * then refuse with ERR_JWT_JSON_INVALID.
 */
interface CookbookExample {
  readonly title: string;
  readonly input: { readonly payload: string; readonly alg: string };
  readonly signing: { readonly protected: Jwk };
  readonly output: { readonly compact: string };
}

const EXAMPLES: readonly { section: string; file: string; key: string; alg: Algorithm }[] = [
  {
    section: '§4.1',
    file: 'jws/4_1.rsa_v15_signature.json',
    key: 'jwk/3_3.rsa_public_key.json',
    alg: 'RS256',
  },
  {
    section: '§4.2',
    file: 'jws/4_2.rsa-pss_signature.json',
    key: 'jwk/3_3.rsa_public_key.json',
    alg: 'PS384',
  },
  { section: '§4.3', file: 'jws/4_3.ecdsa_signature.json', key: 'jwk/3_1.ec_public_key.json', alg: 'ES512' },
  {
    section: '§4.4',
    file: 'jws/4_4.hmac-sha2_integrity_protection.json',
    key: 'jwk/3_5.symmetric_key_mac_computation.json',
    alg: 'HS256',
  },
];

const load = (path: string): unknown => readVectorJson(`jose-cookbook/${path}`);

/** Flips the lowest bit of the signature's last byte (keeps size and, for ECDSA, range). */
function tamper(token: string): string {
  const at = token.lastIndexOf('.') + 1;
  const signature = Buffer.from(token.slice(at), 'base64url');
  signature[signature.length - 1] = (signature.at(-1) ?? 0) ^ 1;
  return `${token.slice(0, at)}${signature.toString('base64url')}`;
}

describe.each(EXAMPLES)('RFC 7520 $section $alg', ({ file, key, alg }) => {
  const example = load(file) as CookbookExample;
  const jwk = load(key) as Jwk;
  const token = example.output.compact;
  const symmetric = jwk['kty'] === 'oct';
  const keyMode = symmetric ? 'symmetric' : 'asymmetric';

  function verifier(algorithms: readonly Algorithm[]) {
    const common = { issuer: ISSUER, audience: AUDIENCE, typ: null, requiredClaims: [], now: () => NOW_MS };
    return symmetric
      ? createVerifier({ ...common, secret: Buffer.from(String(jwk['k']), 'base64url'), algorithms })
      : createVerifier({ ...common, jwks: { keys: [jwk] }, algorithms });
  }

  it('is the example it claims to be', () => {
    expect(example.input.alg).toBe(alg);
    expect(example.signing.protected['alg']).toBe(alg);
  });

  it('verifies through the JWS layer and yields the cookbook payload bytes', async () => {
    const algorithms = new Set([alg]);
    const payload = await verifyJwsLayer(token, { algorithms, keyMode, keys: keySourceFor(jwk, algorithms) });
    expect(payload.equals(Buffer.from(example.input.payload, 'utf8'))).toBe(true);
  });

  it('refuses the same token with one signature bit changed', async () => {
    const algorithms = new Set([alg]);
    await expect(
      verifyJwsLayer(tamper(token), { algorithms, keyMode, keys: keySourceFor(jwk, algorithms) }),
    ).rejects.toMatchObject({ code: 'ERR_JWT_SIGNATURE_INVALID' });
  });

  it('passes the signature check in createVerifier, then refuses the non-JWT payload', async () => {
    await expect(verifier([alg]).verify(token)).rejects.toMatchObject({ code: 'ERR_JWT_JSON_INVALID' });
    // The control: the same verifier stops at the signature when it is wrong.
    await expect(verifier([alg]).verify(tamper(token))).rejects.toMatchObject({
      code: 'ERR_JWT_SIGNATURE_INVALID',
    });
  });
});

describe('RFC 7520 algorithms outside the default allowlist', () => {
  // ES512 and PS384 must be allowed explicitly (RFC 8725 §3.1: the verifier names its algorithms).
  it.each(
    EXAMPLES.filter(({ alg }) => !(DEFAULT_ALGORITHMS as readonly string[]).includes(alg) && alg !== 'HS256'),
  )('refuses $alg ($section) with the default algorithms', async ({ file, key }) => {
    const verifier = createVerifier({
      issuer: ISSUER,
      audience: AUDIENCE,
      jwks: { keys: [load(key)] },
      typ: null,
      requiredClaims: [],
      now: () => NOW_MS,
    });
    await expect(verifier.verify((load(file) as CookbookExample).output.compact)).rejects.toMatchObject({
      code: 'ERR_JWT_ALG_NOT_ALLOWED',
    });
  });
});

describe('RFC 7520 §3 keys through importJwk', () => {
  const cases: readonly { file: string; result: string }[] = [
    { file: 'jwk/3_1.ec_public_key.json', result: 'imported' },
    { file: 'jwk/3_2.ec_private_key.json', result: 'private key material' },
    { file: 'jwk/3_3.rsa_public_key.json', result: 'imported' },
    { file: 'jwk/3_4.rsa_private_key.json', result: 'private key material' },
    { file: 'jwk/3_5.symmetric_key_mac_computation.json', result: 'unsupported kty' },
    { file: 'jwk/3_6.symmetric_key_encryption.json', result: 'unsupported kty' },
  ];

  it.each(cases)('$file -> $result', ({ file, result }) => {
    const imported = importJwk(load(file), new Set<Algorithm>(['ES512', 'RS256', 'PS384']));
    expect(imported.ok ? 'imported' : imported.reason).toBe(result);
  });
});
