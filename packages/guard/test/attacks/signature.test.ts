import { constants, createHmac, randomBytes, sign } from 'node:crypto';
import { describe, it } from 'vitest';
import {
  assertUniqueNames,
  expectAccepted,
  expectRefused,
  flipBit,
  jwksVerifier,
  secretVerifier,
  segmentOf,
  titled,
  withSegment,
  type AttackCase,
} from '../helpers/attacks.js';
import { createTestKey, type TestKey } from '../helpers/keys.js';
import { b64, forge, signInput, signToken, validClaims } from '../helpers/tokens.js';

// Every row keeps the header and payload of a valid token and replaces only the signature, so the
// only thing deciding the outcome is the signature check (RFC 7515 §5.2 step 8, RFC 8725 §3.3-3.4).
// Wrong size or out-of-range values are MALFORMED; well-formed but wrong is INVALID.
const es256 = createTestKey('ES256', 'es256');
const es384 = createTestKey('ES384', 'es384');
const es512 = createTestKey('ES512', 'es512');
const ed = createTestKey('EdDSA', 'ed');
const rsa = createTestKey('RS256', 'rsa');
const pss = createTestKey('PS256', 'pss');
const verifier = jwksVerifier(
  [es256, es384, es512, ed, rsa, pss].map((k) => k.publicJwk),
  { algorithms: ['ES256', 'ES384', 'ES512', 'EdDSA', 'RS256', 'PS256'] },
);

const SECRET = 'hmac-secret-of-at-least-thirty-two-bytes';
const hmacVerifier = secretVerifier(SECRET, { algorithms: ['HS256'] });
const hmacToken = forge({
  header: { alg: 'HS256', typ: 'at+jwt' },
  payload: validClaims(),
  signer: { alg: 'HS256', key: SECRET },
});

/** Group orders n (SEC 2 §2.4.2, §2.5.1, §2.6.1) and the Ed25519 order L (RFC 8032 §5.1). */
const ORDER = {
  ES256: BigInt('0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551'),
  ES384: BigInt(
    '0xffffffffffffffffffffffffffffffffffffffffffffffffc7634d81f4372ddf581a0db248b0a77aecec196accc52973',
  ),
  ES512: BigInt(
    '0x01ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff' +
      'fa51868783bf2f966b7fcc0148f709a5d03bb5c9b8899c47aebb6fb71e91386409',
  ),
} as const;
const ED25519_L = 2n ** 252n + 27742317777372353535851937790883648493n;
const COORD = { ES256: 32, ES384: 48, ES512: 66 } as const;

/** Big-endian bytes of `value`, exactly `size` long. */
function be(value: bigint, size: number): Buffer {
  return Buffer.from(value.toString(16).padStart(size * 2, '0'), 'hex');
}
const fill = (size: number, byte: number): Buffer => Buffer.alloc(size, byte);

/** The valid token for `key`, its signing input and its signature bytes. */
function parts(key: TestKey): { token: string; input: string; sig: Buffer } {
  const token = signToken(key);
  return {
    token,
    input: token.slice(0, token.lastIndexOf('.')),
    sig: Buffer.from(segmentOf(token, 2), 'base64url'),
  };
}

/** Valid header and payload with `signature` as the third segment. */
const resigned = (token: string, signature: Uint8Array): string => withSegment(token, 2, b64(signature));

type Row = readonly [name: string, signature: Uint8Array, source?: string];

/** Rows re-signing `token` (same header and payload as the signature they are derived from). */
function table(
  label: string,
  token: string,
  code: AttackCase['code'],
  source: string,
  rows: readonly Row[],
): AttackCase[] {
  return rows.map(([name, signature, rowSource]) => ({
    name: `${label}: ${name}`,
    source: rowSource ?? source,
    token: resigned(token, signature),
    code,
  }));
}

// --- ECDSA (RFC 7518 §3.4: R‖S, each exactly the coordinate size; SEC 1 §4.1.4: 1 ≤ r, s < n).
function ecdsaCases(key: TestKey, alg: 'ES256' | 'ES384' | 'ES512'): AttackCase[] {
  const size = COORD[alg];
  const n = ORDER[alg];
  const { token, input, sig } = parts(key);
  const r = sig.subarray(0, size);
  const s = sig.subarray(size);
  const zero = fill(size, 0);
  const cat = (...b: Uint8Array[]): Buffer => Buffer.concat(b);
  const other = createTestKey(alg);
  const malformed: Row[] = [
    ['r = s = 0 (psychic signature)', cat(zero, zero), 'CVE-2022-21449'],
    ['r = s = n (zero mod n)', cat(be(n, size), be(n, size))],
    ['r = 0', cat(zero, s)],
    ['s = 0', cat(r, zero)],
    ['r = n', cat(be(n, size), s)],
    ['s = n', cat(r, be(n, size))],
    ['r = n + 1', cat(be(n + 1n, size), s)],
    ['s = n + 1', cat(r, be(n + 1n, size))],
    ['all bytes 0xFF', fill(size * 2, 0xff)],
    [
      'DER-encoded signature of the right key',
      sign(`sha${alg.slice(2)}`, Buffer.from(input), { key: key.privateKey, dsaEncoding: 'der' }),
    ],
    ['truncated by one byte', sig.subarray(0, -1)],
    ['one extra byte', cat(sig, Buffer.from([0]))],
    ['leading zero byte', cat(Buffer.from([0]), sig)],
    ['empty signature', Buffer.alloc(0), 'CVE-2020-28042'],
    ['only r', r],
    ['signature twice', cat(sig, sig)],
  ];
  const invalid: Row[] = [
    ['flipped bit in r', flipBit(sig, size - 1, 1)],
    ['flipped bit in s', flipBit(sig, sig.length - 1, 1)],
    ['r and s swapped', cat(s, r)],
    ['r = s = 1', cat(be(1n, size), be(1n, size))],
    ['signature of another key', signInput(alg, other.privateKey, input)],
    [
      'signature over another payload',
      signInput(
        alg,
        key.privateKey,
        `${input.split('.')[0] ?? ''}.${b64(JSON.stringify(validClaims({ sub: 'admin' })))}`,
      ),
    ],
    ['signature over the header only', signInput(alg, key.privateKey, input.split('.')[0] ?? '')],
    ['signature over the payload only', signInput(alg, key.privateKey, input.split('.')[1] ?? '')],
    [
      'signature with the wrong hash',
      sign(alg === 'ES256' ? 'sha384' : 'sha256', Buffer.from(input), {
        key: key.privateKey,
        dsaEncoding: 'ieee-p1363',
      }),
    ],
  ];
  return [
    ...table(alg, token, 'ERR_JWT_SIGNATURE_MALFORMED', 'SEC 1 §4.1.4, RFC 7518 §3.4', malformed),
    ...table(alg, token, 'ERR_JWT_SIGNATURE_INVALID', 'RFC 8725 §3.3', invalid),
  ];
}

// --- EdDSA (RFC 8037 §3.1, RFC 8032 §5.1.7: 64 bytes; S must be below L).
function eddsaCases(): AttackCase[] {
  const { token, input, sig } = parts(ed);
  const sLe = BigInt(`0x${Buffer.from(sig.subarray(32)).reverse().toString('hex')}`);
  const sPlusL = Buffer.from(be(sLe + ED25519_L, 32)).reverse();
  const other = createTestKey('EdDSA');
  return [
    ...table('EdDSA', token, 'ERR_JWT_SIGNATURE_MALFORMED', 'RFC 8037 §3.1', [
      ['63 bytes', sig.subarray(0, 63)],
      ['65 bytes', Buffer.concat([sig, Buffer.from([0])])],
      ['empty signature', Buffer.alloc(0), 'CVE-2020-28042'],
      ['signature twice', Buffer.concat([sig, sig])],
    ]),
    ...table('EdDSA', token, 'ERR_JWT_SIGNATURE_INVALID', 'RFC 8032 §5.1.7', [
      ['64 zero bytes', fill(64, 0)],
      ['64 bytes 0xFF', fill(64, 0xff)],
      ['S + L (non-canonical S, malleability)', Buffer.concat([sig.subarray(0, 32), sPlusL])],
      ['flipped bit in R', flipBit(sig, 0)],
      ['flipped bit in S', flipBit(sig, 40)],
      ['signature of another key', signInput('EdDSA', other.privateKey, input)],
      ['signature over the header only', signInput('EdDSA', ed.privateKey, input.split('.')[0] ?? '')],
      ['signature over another payload', signInput('EdDSA', ed.privateKey, `${input}x`)],
    ]),
  ];
}

// --- RSA (RFC 8017 §8.2.2, §8.1.2: exactly the modulus length; RFC 7518 §3.3, §3.5).
function rsaCases(key: TestKey, alg: 'RS256' | 'PS256'): AttackCase[] {
  const { token, input, sig } = parts(key);
  const data = Buffer.from(input);
  const other = createTestKey(alg);
  const modulus = Buffer.from(key.publicJwk['n'] as string, 'base64url');
  const pkcs1 = (hash: string): Buffer =>
    sign(hash, data, { key: key.privateKey, padding: constants.RSA_PKCS1_PADDING });
  const pssSig = (hash: string, saltLength: number): Buffer =>
    sign(hash, data, { key: key.privateKey, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength });
  const common: Row[] = [
    ['flipped bit', flipBit(sig, 100)],
    ['modulus-length random bytes', randomBytes(sig.length)],
    ['all bytes 0xFF (above the modulus)', fill(sig.length, 0xff)],
    ['all zero bytes', fill(sig.length, 0)],
    ['the value 1', be(1n, sig.length)],
    ['the modulus itself', modulus],
    ['signature of another key', signInput(alg, other.privateKey, input)],
    ['signature over the header only', signInput(alg, key.privateKey, input.split('.')[0] ?? '')],
    ['signature over another payload', signInput(alg, key.privateKey, `${input}x`)],
  ];
  const specific: Row[] =
    alg === 'RS256'
      ? [
          ['PS256 signature under an RS256 header', pssSig('sha256', 32), 'RFC 7518 §3.3'],
          ['PKCS#1 v1.5 with SHA-1', pkcs1('sha1'), 'RFC 7518 §3.3'],
          ['PKCS#1 v1.5 with SHA-512 (RS512)', pkcs1('sha512'), 'RFC 7518 §3.3'],
        ]
      : [
          ['RS256 signature under a PS256 header', pkcs1('sha256'), 'RFC 7518 §3.5'],
          ['PSS with salt length 0', pssSig('sha256', 0), 'RFC 7518 §3.5'],
          [
            'PSS with maximal salt length',
            pssSig('sha256', constants.RSA_PSS_SALTLEN_MAX_SIGN),
            'RFC 7518 §3.5',
          ],
          ['PSS with SHA-384', pssSig('sha384', 48), 'RFC 7518 §3.5'],
        ];
  return [
    ...table(alg, token, 'ERR_JWT_SIGNATURE_MALFORMED', 'RFC 8017 §8.2.2', [
      ['short by one byte', sig.subarray(1)],
      ['leading zero byte (one extra)', Buffer.concat([Buffer.from([0]), sig])],
      ['one extra trailing byte', Buffer.concat([sig, Buffer.from([0])])],
      ['empty signature', Buffer.alloc(0), 'CVE-2020-28042'],
      ['half the modulus length', sig.subarray(0, sig.length / 2)],
    ]),
    ...table(alg, token, 'ERR_JWT_SIGNATURE_INVALID', 'RFC 8725 §3.3', [...common, ...specific]),
  ];
}

// --- HMAC in secret mode (RFC 7518 §3.2: the full HMAC output, compared in constant time).
function hmacCases(): AttackCase[] {
  const input = hmacToken.slice(0, hmacToken.lastIndexOf('.'));
  const tag = Buffer.from(segmentOf(hmacToken, 2), 'base64url');
  const mac = (key: string, alg = 'sha256', data = input): Buffer =>
    createHmac(alg, key).update(data).digest();
  return [
    ...table('HS256', hmacToken, 'ERR_JWT_SIGNATURE_MALFORMED', 'RFC 7518 §3.2', [
      ['empty signature', Buffer.alloc(0), 'CVE-2020-28042'],
      ['one byte of the tag', tag.subarray(0, 1)],
      ['tag truncated to 16 bytes', tag.subarray(0, 16)],
      ['tag truncated by one byte', tag.subarray(0, 31)],
      ['one extra byte', Buffer.concat([tag, Buffer.from([0])])],
      ['HMAC-SHA-512 tag', mac(SECRET, 'sha512')],
    ]),
    ...table('HS256', hmacToken, 'ERR_JWT_SIGNATURE_INVALID', 'RFC 7518 §3.2', [
      ['tag with another secret', mac('another-secret-of-thirty-two-bytes!!')],
      ['tag with an empty key (kid -> /dev/null style)', mac('')],
      ['flipped bit', flipBit(tag, 31)],
      ['32 zero bytes', fill(32, 0)],
      ['tag over another payload', mac(SECRET, 'sha256', `${input}x`)],
      ['tag over the header only', mac(SECRET, 'sha256', input.split('.')[0] ?? '')],
    ]),
  ];
}

const asymmetricCases: AttackCase[] = [
  ...ecdsaCases(es256, 'ES256'),
  ...ecdsaCases(es384, 'ES384'),
  ...ecdsaCases(es512, 'ES512'),
  ...eddsaCases(),
  ...rsaCases(rsa, 'RS256'),
  ...rsaCases(pss, 'PS256'),
];
const secretCases = hmacCases();

describe('signatures (RFC 7515 §5.2, RFC 7518 §3, RFC 8725 §3.3-3.4)', () => {
  it('has unique case names', () => {
    assertUniqueNames([...asymmetricCases, ...secretCases]);
  });

  it.each(titled(asymmetricCases))('%s', async (_title, { token, code }) => {
    await expectRefused(verifier, token, code);
  });

  it.each(titled(secretCases))('%s', async (_title, { token, code }) => {
    await expectRefused(hmacVerifier, token, code);
  });

  describe('positive controls', () => {
    it.each([es256, es384, es512, ed, rsa, pss])('accepts a valid $alg token', async (key) => {
      await expectAccepted(verifier, signToken(key));
    });

    it('accepts a valid HS256 token', async () => {
      await expectAccepted(hmacVerifier, hmacToken);
    });

    it('accepts a second, freshly randomized ECDSA signature over the same input', async () => {
      const { token, input } = parts(es256);
      await expectAccepted(verifier, resigned(token, signInput('ES256', es256.privateKey, input)));
    });
  });
});
