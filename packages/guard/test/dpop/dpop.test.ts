import { connect } from 'node:net';
import { ERROR_CODES, type ErrorCode } from '@gatehouse/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  MemoryReplayStore,
  createDpopVerifier,
  createVerifier,
  normalizeHtu,
  type AsymmetricAlgorithm,
  type DpopOptions,
  type GuardOptions,
} from '../../src/index.js';
import {
  RESOURCE_PATH,
  captureLogger,
  send,
  startGuardedServer,
  type RunningServer,
} from '../helpers/adapter-servers.js';
import {
  accessTokenHash,
  createDpopKey,
  createProof,
  createProofWithJose,
  dpopBoundToken,
  type DpopKey,
  type ProofOptions,
} from '../helpers/dpop.js';
import { createTestKey } from '../helpers/keys.js';
import { AUDIENCE, ISSUER, NOW, NOW_MS, forge, signToken } from '../helpers/tokens.js';

const HTU = 'https://api.example.com/api/resource';
const REALM = 'gatehouse-test';
const ALGS = 'ES256 EdDSA RS256 PS256';

const issuerKey = createTestKey('ES256');
const dpopKey = await createDpopKey('ES256');
const otherEcKey = await createDpopKey('ES256');
const p384Key = await createDpopKey('ES384');
const rsaKey = await createDpopKey('RS256');
const boundToken = dpopBoundToken(issuerKey, dpopKey);
const unboundToken = signToken(issuerKey);

/** What a case builds its proof for: the request URI and the access token sent with it. */
interface ProofContext {
  readonly htu: string;
  readonly token: string;
}

interface AttackCase {
  readonly name: string;
  readonly source: string;
  /** The proof sent with a GET to `ctx.htu` and the bound token. */
  readonly proof: (ctx: ProofContext) => string;
  readonly code: ErrorCode;
  /** For ERR_DPOP_PROOF_INVALID: the check that refused it (server-side detail). */
  readonly detail?: string;
}

/** A GET proof for the context, with changes. */
const proofWith =
  (changes: Partial<ProofOptions> = {}, key: DpopKey = dpopKey) =>
  (ctx: ProofContext): string =>
    createProof(key, { htm: 'GET', htu: ctx.htu, accessToken: ctx.token, ...changes });

/** An otherwise valid proof whose payload JSON is given as exact text. */
const rawPayloadProof = (payload: (ctx: ProofContext) => string) => (ctx: ProofContext) =>
  forge({
    header: { typ: 'dpop+jwt', alg: 'ES256', jwk: dpopKey.publicJwk },
    payload: payload(ctx),
    signer: { alg: 'ES256', key: dpopKey.privateKey },
  });

const withHtu = (htu: (ctx: ProofContext) => string) => (ctx: ProofContext) =>
  proofWith({ htu: htu(ctx) })(ctx);

const invalid = (name: string, source: string, proof: AttackCase['proof'], detail: string): AttackCase => ({
  name,
  source,
  proof,
  code: 'ERR_DPOP_PROOF_INVALID',
  detail,
});

const attacks: AttackCase[] = [
  // Header (RFC 9449 §4.3 steps 2-7)
  invalid('typ JWT', 'RFC 9449 §4.3 step 4', proofWith({ header: { typ: 'JWT' } }), 'ERR_JWT_TYP_INVALID'),
  invalid(
    'typ missing',
    'RFC 9449 §4.3 step 4',
    proofWith({ header: { typ: undefined } }),
    'ERR_JWT_TYP_INVALID',
  ),
  invalid(
    'typ at+jwt (an access token used as a proof)',
    'RFC 8725 §3.11',
    proofWith({ header: { typ: 'at+jwt' } }),
    'ERR_JWT_TYP_INVALID',
  ),
  invalid(
    'alg none without signature',
    'RFC 9449 §4.3 step 5, RFC 8725 §3.1',
    proofWith({ header: { alg: 'none' }, signature: new Uint8Array() }),
    'ERR_JWT_ALG_NONE',
  ),
  invalid(
    'alg HS256 keyed with the public key',
    'RFC 9449 §4.3 step 5, RFC 8725 §2.1',
    proofWith({ header: { alg: 'HS256' }, signer: { alg: 'HS256', key: JSON.stringify(dpopKey.publicJwk) } }),
    'ERR_JWT_ALG_KEY_CONFUSION',
  ),
  invalid(
    'alg ES384, not in the allowed list',
    'RFC 9449 §4.3 step 5',
    proofWith({}, p384Key),
    'ERR_JWT_ALG_NOT_ALLOWED',
  ),
  invalid(
    'jwk carries the private key (d)',
    'RFC 9449 §4.3 step 7',
    proofWith({ header: { jwk: dpopKey.privateKey.export({ format: 'jwk' }) } }),
    'jwk: private key material',
  ),
  invalid(
    'jwk missing',
    'RFC 9449 §4.3 step 6',
    proofWith({ header: { jwk: undefined } }),
    'jwk: not an object',
  ),
  invalid(
    'jwk is an RSA key under alg ES256',
    'RFC 8725 §3.1',
    proofWith({ header: { jwk: rsaKey.publicJwk } }),
    'jwk: no allowed algorithm fits the key',
  ),
  invalid(
    'jwk is a P-384 key under alg ES256',
    'RFC 7518 §3.4',
    proofWith({ header: { jwk: p384Key.publicJwk } }),
    'jwk: no allowed algorithm fits the key',
  ),
  invalid(
    'signed by another key than the jwk',
    'RFC 9449 §4.3 step 8',
    proofWith({ signer: { alg: 'ES256', key: otherEcKey.privateKey } }),
    'ERR_JWT_SIGNATURE_INVALID',
  ),
  invalid(
    'all-zero ECDSA signature ("psychic signature")',
    'CVE-2022-21449',
    proofWith({ signature: new Uint8Array(64) }),
    'ERR_JWT_SIGNATURE_MALFORMED',
  ),
  invalid(
    'jku header (key from a URL)',
    'RFC 8725 §3.10',
    proofWith({ header: { jku: 'https://attacker.example/jwks' } }),
    'ERR_JWT_HEADER_KEY_FORBIDDEN',
  ),
  invalid(
    'x5c header (key from a certificate chain)',
    'RFC 8725 §3.10',
    proofWith({ header: { x5c: ['MIIB'] } }),
    'ERR_JWT_HEADER_KEY_FORBIDDEN',
  ),
  invalid(
    'crit header',
    'RFC 7515 §4.1.11',
    proofWith({ header: { crit: ['exp'], exp: 1 } }),
    'ERR_JWT_CRIT_UNSUPPORTED',
  ),
  // Payload structure (RFC 9449 §4.2)
  invalid(
    'duplicate htu member (parser differential)',
    'RFC 8259 §4, RFC 7515 §5.2',
    rawPayloadProof(
      (ctx) =>
        `{"jti":"dup-1","htm":"GET","htu":"https://attacker.example/","htu":${JSON.stringify(ctx.htu)},` +
        `"iat":${NOW},"ath":"${accessTokenHash(ctx.token)}"}`,
    ),
    'ERR_JWT_DUPLICATE_MEMBER',
  ),
  invalid(
    'payload is not a JSON object',
    'RFC 7519 §7.2',
    rawPayloadProof(() => '["GET"]'),
    'ERR_JWT_JSON_INVALID',
  ),
  invalid('jti missing', 'RFC 9449 §4.2', proofWith({ claims: { jti: undefined } }), 'jti'),
  invalid('jti empty', 'RFC 9449 §4.2', proofWith({ claims: { jti: '' } }), 'jti'),
  invalid('jti longer than 256', 'RFC 9449 §11.1', proofWith({ jti: 'j'.repeat(257) }), 'jti'),
  invalid('htm missing', 'RFC 9449 §4.2', proofWith({ claims: { htm: undefined } }), 'htm/htu'),
  invalid('htu not a string', 'RFC 9449 §4.2', proofWith({ claims: { htu: 42 } }), 'htm/htu'),
  invalid('iat a string', 'RFC 9449 §4.2', proofWith({ claims: { iat: String(NOW) } }), 'iat'),
  invalid('iat a fraction', 'RFC 7519 §2', proofWith({ iat: NOW + 0.5 }), 'iat'),
  invalid(
    'proof over 4096 characters',
    'RFC 9449 §11.1',
    proofWith({ claims: { pad: 'x'.repeat(4096) } }),
    'size',
  ),
  // Request binding (RFC 9449 §4.3 steps 8-9)
  {
    name: 'htm POST for a GET',
    source: 'RFC 9449 §4.3 step 8',
    proof: proofWith({ htm: 'POST' }),
    code: 'ERR_DPOP_HTM_MISMATCH',
  },
  {
    name: 'htm get in lower case (methods are case-sensitive)',
    source: 'RFC 9449 §4.3 step 8, RFC 9110 §9.1',
    proof: proofWith({ htm: 'get' }),
    code: 'ERR_DPOP_HTM_MISMATCH',
  },
  {
    name: 'htu other host',
    source: 'RFC 9449 §4.3 step 9',
    proof: withHtu((ctx) => ctx.htu.replace(/\/\/[^/]+/, '//attacker.example')),
    code: 'ERR_DPOP_HTU_MISMATCH',
  },
  {
    name: 'htu other path',
    source: 'RFC 9449 §4.3 step 9',
    proof: withHtu((ctx) => `${ctx.htu}/other`),
    code: 'ERR_DPOP_HTU_MISMATCH',
  },
  {
    name: 'htu other scheme',
    source: 'RFC 9449 §4.3 step 9',
    proof: withHtu((ctx) => ctx.htu.replace(/^http(s?):/, (_m, s: string) => (s ? 'http:' : 'https:'))),
    code: 'ERR_DPOP_HTU_MISMATCH',
  },
  {
    name: 'htu other port',
    source: 'RFC 9449 §4.3 step 9',
    proof: withHtu((ctx) => {
      const url = new URL(ctx.htu);
      url.port = '8443';
      return url.href;
    }),
    code: 'ERR_DPOP_HTU_MISMATCH',
  },
  {
    name: 'htu relative',
    source: 'RFC 9449 §4.2',
    proof: withHtu(() => RESOURCE_PATH),
    code: 'ERR_DPOP_HTU_MISMATCH',
  },
  // Time (RFC 9449 §4.3 step 11, §11.1)
  {
    name: 'iat 61 s old (window 60 s)',
    source: 'RFC 9449 §4.3 step 11',
    proof: proofWith({ iat: NOW - 61 }),
    code: 'ERR_DPOP_IAT_INVALID',
  },
  {
    name: 'iat 6 s in the future (tolerance 5 s)',
    source: 'RFC 9449 §4.3 step 11',
    proof: proofWith({ iat: NOW + 6 }),
    code: 'ERR_DPOP_IAT_INVALID',
  },
  // Access token hash (RFC 9449 §4.3 step 12)
  {
    name: 'ath missing',
    source: 'RFC 9449 §4.3 step 12',
    proof: proofWith({ claims: { ath: undefined } }),
    code: 'ERR_DPOP_ATH_MISMATCH',
  },
  {
    name: 'ath of another token',
    source: 'RFC 9449 §4.3 step 12',
    proof: proofWith({ accessToken: unboundToken }),
    code: 'ERR_DPOP_ATH_MISMATCH',
  },
  {
    name: 'ath as standard base64 with padding',
    source: 'RFC 9449 §4.2',
    proof: (ctx) =>
      proofWith({
        claims: { ath: Buffer.from(accessTokenHash(ctx.token), 'base64url').toString('base64') },
      })(ctx),
    code: 'ERR_DPOP_ATH_MISMATCH',
  },
];

describe('createDpopVerifier: attack table', () => {
  const verifier = createDpopVerifier({ now: () => NOW_MS });
  const request = { method: 'GET', url: HTU };

  it.each(attacks)('$name ($source) -> $code', async ({ proof, code, detail }) => {
    const ctx = { htu: HTU, token: boundToken };
    const expected = detail === undefined ? { code } : { code, detail };
    await expect(verifier.verify(proof(ctx), request, boundToken)).rejects.toMatchObject(expected);
  });

  it('accepts a valid proof and returns its key thumbprint, jti and iat', async () => {
    const proof = createProof(dpopKey, { htm: 'GET', htu: HTU, accessToken: boundToken, jti: 'ok-1' });
    await expect(verifier.verify(proof, request, boundToken)).resolves.toEqual({
      jkt: dpopKey.jkt,
      jti: 'ok-1',
      iat: NOW,
    });
  });

  it.each(['ES256', 'EdDSA', 'RS256', 'PS256'] as const)('accepts %s proofs (default list)', async (alg) => {
    const key = await createDpopKey(alg);
    const proof = createProof(key, { htm: 'GET', htu: HTU, accessToken: boundToken });
    await expect(verifier.verify(proof, request, boundToken)).resolves.toMatchObject({ jkt: key.jkt });
  });

  it('accepts a proof made by jose (interoperability)', async () => {
    const proof = await createProofWithJose(dpopKey, { htm: 'GET', htu: HTU, accessToken: boundToken });
    await expect(verifier.verify(proof, request, boundToken)).resolves.toMatchObject({ jkt: dpopKey.jkt });
  });

  it.each([
    ['60 s old', NOW - 60],
    ['5 s in the future', NOW + 5],
  ])('accepts iat at the edge of the window: %s', async (_label, iat) => {
    const proof = createProof(dpopKey, { htm: 'GET', htu: HTU, accessToken: boundToken, iat });
    await expect(verifier.verify(proof, request, boundToken)).resolves.toMatchObject({ iat });
  });

  it('without an access token (token endpoint) ath is not required', async () => {
    const proof = createProof(dpopKey, { htm: 'POST', htu: 'https://as.example.com/token' });
    await expect(
      verifier.verify(proof, { method: 'POST', url: 'https://as.example.com/token' }),
    ).resolves.toMatchObject({ jkt: dpopKey.jkt });
  });

  it('refuses when the request URL itself is not an absolute http(s) URI', async () => {
    const proof = createProof(dpopKey, { htm: 'GET', htu: HTU, accessToken: boundToken });
    await expect(
      verifier.verify(proof, { method: 'GET', url: '/api/resource' }, boundToken),
    ).rejects.toMatchObject({ code: 'ERR_DPOP_HTU_MISMATCH' });
  });

  it('refuses an empty proof', async () => {
    await expect(verifier.verify('', request, boundToken)).rejects.toMatchObject({
      code: 'ERR_DPOP_PROOF_INVALID',
    });
  });
});

describe('createDpopVerifier: replay (RFC 9449 §11.1)', () => {
  const request = { method: 'GET', url: HTU };
  const proofFor = (key: DpopKey = dpopKey, jti?: string): string =>
    createProof(key, { htm: 'GET', htu: HTU, accessToken: boundToken, ...(jti ? { jti } : {}) });

  it('refuses a proof used twice', async () => {
    const verifier = createDpopVerifier({ now: () => NOW_MS });
    const proof = proofFor();
    await verifier.verify(proof, request, boundToken);
    await expect(verifier.verify(proof, request, boundToken)).rejects.toMatchObject({
      code: 'ERR_DPOP_REPLAYED',
    });
  });

  it('of two concurrent uses of one proof exactly one succeeds', async () => {
    const verifier = createDpopVerifier({ now: () => NOW_MS });
    const proof = proofFor();
    const results = await Promise.allSettled([
      verifier.verify(proof, request, boundToken),
      verifier.verify(proof, request, boundToken),
    ]);
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    expect(results.filter((r) => r.status === 'rejected')).toEqual([
      { status: 'rejected', reason: expect.objectContaining({ code: 'ERR_DPOP_REPLAYED' }) },
    ]);
  });

  it('a proof refused for another reason does not use up its jti', async () => {
    const verifier = createDpopVerifier({ now: () => NOW_MS });
    const proof = proofFor();
    await expect(verifier.verify(proof, { ...request, method: 'POST' }, boundToken)).rejects.toMatchObject({
      code: 'ERR_DPOP_HTM_MISMATCH',
    });
    await expect(verifier.verify(proof, request, boundToken)).resolves.toMatchObject({ jkt: dpopKey.jkt });
  });

  it('the same jti from another key is another proof (jti is scoped by key)', async () => {
    const verifier = createDpopVerifier({ now: () => NOW_MS });
    await verifier.verify(proofFor(dpopKey, 'shared-jti'), request, boundToken);
    await expect(
      verifier.verify(proofFor(otherEcKey, 'shared-jti'), request, boundToken),
    ).resolves.toMatchObject({ jkt: otherEcKey.jkt });
  });

  it('uses the injected replay store, remembering the jti until the proof window closes', async () => {
    const calls: Array<[string, number]> = [];
    const verifier = createDpopVerifier({
      now: () => NOW_MS,
      replayStore: {
        checkAndRemember: (key, expiresAtMs) => {
          calls.push([key, expiresAtMs]);
          return Promise.resolve(calls.length === 1);
        },
      },
    });
    const proof = proofFor(dpopKey, 'store-1');
    await verifier.verify(proof, request, boundToken);
    await expect(verifier.verify(proof, request, boundToken)).rejects.toMatchObject({
      code: 'ERR_DPOP_REPLAYED',
    });
    // iat + maxAge (60) + tolerance (5): after that the proof is refused by time anyway.
    expect(calls[0]).toEqual([`dpop:${dpopKey.jkt}:store-1`, (NOW + 65) * 1000]);
  });
});

describe('MemoryReplayStore', () => {
  it('remembers a key until it expires', () => {
    let now = 1_000;
    const store = new MemoryReplayStore({ now: () => now });
    expect(store.checkAndRemember('a', 2_000)).toBe(true);
    expect(store.checkAndRemember('a', 2_000)).toBe(false);
    now = 1_999;
    expect(store.checkAndRemember('a', 3_000)).toBe(false);
    now = 2_000;
    expect(store.checkAndRemember('a', 3_000)).toBe(true);
    expect(store.size).toBe(1);
  });

  it('fails closed when full of live entries, and makes room once they expire', () => {
    let now = 0;
    const store = new MemoryReplayStore({ maxEntries: 2, now: () => now });
    expect(store.checkAndRemember('a', 100)).toBe(true);
    expect(store.checkAndRemember('b', 500)).toBe(true);
    // Forgetting a live identifier would allow a replay: refuse the new one instead.
    expect(store.checkAndRemember('c', 500)).toBe(false);
    expect(store.size).toBe(2);
    now = 100;
    expect(store.checkAndRemember('c', 500)).toBe(true);
    expect(store.checkAndRemember('b', 500)).toBe(false);
    expect(store.size).toBe(2);
  });

  it('defaults to the system clock', () => {
    const store = new MemoryReplayStore();
    expect(store.checkAndRemember('x', Date.now() + 60_000)).toBe(true);
    expect(store.checkAndRemember('x', Date.now() + 60_000)).toBe(false);
    expect(store.checkAndRemember('old', Date.now() - 1)).toBe(true);
    expect(store.checkAndRemember('old', Date.now() - 1)).toBe(true);
  });
});

describe('createDpopVerifier: options', () => {
  const bad: Array<{ name: string; options: DpopOptions; problem: string }> = [
    { name: 'no algorithms', options: { algorithms: [] }, problem: 'dpop.algorithms' },
    {
      name: 'a symmetric algorithm',
      options: { algorithms: ['HS256' as AsymmetricAlgorithm] },
      problem: 'HS256 is not an asymmetric algorithm',
    },
    {
      name: 'alg none',
      options: { algorithms: ['none' as AsymmetricAlgorithm] },
      problem: 'none is not an asymmetric algorithm',
    },
    {
      name: 'an unknown algorithm beside a good one',
      options: { algorithms: ['ES256', 'ES999' as AsymmetricAlgorithm] },
      problem: 'ES999',
    },
    { name: 'negative maxAgeSec', options: { maxAgeSec: -1 }, problem: 'dpop.maxAgeSec' },
    {
      name: 'NaN clockToleranceSec',
      options: { clockToleranceSec: Number.NaN },
      problem: 'dpop.clockToleranceSec',
    },
    { name: 'infinite maxProofBytes', options: { maxProofBytes: Infinity }, problem: 'dpop.maxProofBytes' },
  ];

  it.each(bad)('refuses $name with ERR_CONFIG_INVALID', ({ options, problem }) => {
    expect(() => createDpopVerifier(options)).toThrow(
      expect.objectContaining({ code: 'ERR_CONFIG_INVALID', detail: expect.stringContaining(problem) }),
    );
  });

  it('defaults to the system clock and an in-process replay store', async () => {
    const verifier = createDpopVerifier();
    const iat = Math.floor(Date.now() / 1000);
    const proof = createProof(dpopKey, { htm: 'GET', htu: HTU, iat });
    await expect(verifier.verify(proof, { method: 'GET', url: HTU })).resolves.toMatchObject({ iat });
    await expect(verifier.verify(proof, { method: 'GET', url: HTU })).rejects.toMatchObject({
      code: 'ERR_DPOP_REPLAYED',
    });
    // A proof made at the frozen test clock (2026-01-01) is far outside the real-time window.
    const frozen = createProof(dpopKey, { htm: 'GET', htu: HTU });
    await expect(verifier.verify(frozen, { method: 'GET', url: HTU })).rejects.toMatchObject({
      code: 'ERR_DPOP_IAT_INVALID',
    });
  });

  it('reports every problem at once', () => {
    expect(() => createDpopVerifier({ algorithms: [], maxAgeSec: -1, maxProofBytes: -1 })).toThrow(
      expect.objectContaining({
        detail:
          'dpop.algorithms: at least one required; dpop.maxAgeSec: a non-negative number; ' +
          'dpop.maxProofBytes: a non-negative number',
      }),
    );
  });

  it('takes its own algorithm list, exposed frozen', async () => {
    const verifier = createDpopVerifier({ algorithms: ['ES384'], now: () => NOW_MS });
    expect(verifier.algorithms).toEqual(['ES384']);
    expect(Object.isFrozen(verifier.algorithms)).toBe(true);
    const proof = createProof(p384Key, { htm: 'GET', htu: HTU });
    await expect(verifier.verify(proof, { method: 'GET', url: HTU })).resolves.toMatchObject({
      jkt: p384Key.jkt,
    });
    const es256 = createProof(dpopKey, { htm: 'GET', htu: HTU });
    await expect(verifier.verify(es256, { method: 'GET', url: HTU })).rejects.toMatchObject({
      code: 'ERR_DPOP_PROOF_INVALID',
      detail: 'ERR_JWT_ALG_NOT_ALLOWED',
    });
  });

  it('honours maxAgeSec, clockToleranceSec and maxProofBytes', async () => {
    const verifier = createDpopVerifier({
      maxAgeSec: 10,
      clockToleranceSec: 0,
      maxProofBytes: 800,
      now: () => NOW_MS,
    });
    const request = { method: 'GET', url: HTU };
    await expect(
      verifier.verify(createProof(dpopKey, { htm: 'GET', htu: HTU, iat: NOW - 11 }), request),
    ).rejects.toMatchObject({ code: 'ERR_DPOP_IAT_INVALID' });
    await expect(
      verifier.verify(createProof(dpopKey, { htm: 'GET', htu: HTU, iat: NOW + 1 }), request),
    ).rejects.toMatchObject({ code: 'ERR_DPOP_IAT_INVALID' });
    await expect(
      verifier.verify(createProof(rsaKey, { htm: 'GET', htu: HTU }), request),
    ).rejects.toMatchObject({ code: 'ERR_DPOP_PROOF_INVALID', detail: 'size' });
    await expect(
      verifier.verify(createProof(dpopKey, { htm: 'GET', htu: HTU, iat: NOW - 10 }), request),
    ).resolves.toMatchObject({ iat: NOW - 10 });
  });
});

describe('normalizeHtu (RFC 9449 §4.3 step 9, RFC 3986 §6.2.2-6.2.3)', () => {
  const equivalent: Array<[string, string, string]> = [
    ['query and fragment ignored', 'https://api.example.com/r?a=1#frag', 'https://api.example.com/r'],
    ['default https port', 'https://api.example.com:443/r', 'https://api.example.com/r'],
    ['default http port', 'http://api.example.com:80/r', 'http://api.example.com/r'],
    ['host case', 'https://API.Example.COM/r', 'https://api.example.com/r'],
    ['scheme case', 'HTTPS://api.example.com/r', 'https://api.example.com/r'],
    ['%7E and ~', 'https://api.example.com/%7Euser', 'https://api.example.com/~user'],
    ['%7e and ~', 'https://api.example.com/%7euser', 'https://api.example.com/~user'],
    ['encoded unreserved letter', 'https://api.example.com/%41pi', 'https://api.example.com/Api'],
    ['hex case of a reserved escape', 'https://api.example.com/a%2fb', 'https://api.example.com/a%2Fb'],
    ['dot segments', 'https://api.example.com/a/./b/../r', 'https://api.example.com/a/r'],
    ['encoded dot segments', 'https://api.example.com/a/%2e%2E/r', 'https://api.example.com/r'],
    ['empty path', 'https://api.example.com', 'https://api.example.com/'],
  ];
  it.each(equivalent)('equivalent: %s', (_name, a, b) => {
    expect(normalizeHtu(a)).toBeDefined();
    expect(normalizeHtu(a)).toBe(normalizeHtu(b));
  });

  const different: Array<[string, string, string]> = [
    ['host', 'https://api.example.com/r', 'https://api.example.org/r'],
    ['path', 'https://api.example.com/r', 'https://api.example.com/s'],
    ['path case', 'https://api.example.com/r', 'https://api.example.com/R'],
    ['trailing slash', 'https://api.example.com/r', 'https://api.example.com/r/'],
    ['scheme', 'https://api.example.com/r', 'http://api.example.com/r'],
    ['port', 'https://api.example.com/r', 'https://api.example.com:8443/r'],
    ['non-default port of the other scheme', 'https://api.example.com:80/r', 'https://api.example.com/r'],
    ['encoded slash is not a slash', 'https://api.example.com/a%2Fb', 'https://api.example.com/a/b'],
  ];
  it.each(different)('different: %s', (_name, a, b) => {
    expect(normalizeHtu(a)).not.toBe(normalizeHtu(b));
  });

  it.each(['not a url', '/api/resource', 'ftp://api.example.com/r', 'javascript:alert(1)', ''])(
    'no value for %j (not an absolute http(s) URI)',
    (value) => {
      expect(normalizeHtu(value)).toBeUndefined();
    },
  );
});

// ---- End to end through the node:http adapter --------------------------------------------------

const e2eOnly: AttackCase[] = [
  {
    name: 'DPoP scheme without a proof',
    source: 'RFC 9449 §7.1',
    proof: () => '',
    code: 'ERR_DPOP_PROOF_MISSING',
  },
  {
    name: 'proof key is not the key the token is bound to',
    source: 'RFC 9449 §7.1, §6.1',
    proof: proofWith({}, otherEcKey),
    code: 'ERR_DPOP_JKT_MISMATCH',
  },
];

/** The challenges a client sees for a refusal of a DPoP request. */
function challengeFor(code: ErrorCode): string {
  const { oauthError } = ERROR_CODES[code] as { oauthError?: string };
  const description =
    oauthError === 'invalid_dpop_proof' ? 'The DPoP proof is invalid' : 'The access token is invalid';
  return (
    `Bearer realm="${REALM}", DPoP realm="${REALM}", error="${oauthError ?? ''}", ` +
    `error_description="${description}", algs="${ALGS}"`
  );
}

describe('DPoP through the node:http adapter, end to end', () => {
  let server: RunningServer;
  let proxied: RunningServer;
  let noDpop: RunningServer;
  const logs = captureLogger();

  const options = (extra: Partial<GuardOptions> = {}): GuardOptions => ({
    verifier: createVerifier({
      issuer: ISSUER,
      audience: AUDIENCE,
      jwks: { keys: [issuerKey.publicJwk] },
      now: () => NOW_MS,
    }),
    realm: REALM,
    logger: logs.logger,
    now: () => NOW_MS,
    ...extra,
  });

  beforeAll(async () => {
    server = await startGuardedServer('node', options());
    // Behind a TLS-terminating proxy: clients address https://api.example.com.
    proxied = await startGuardedServer('node', options({ publicOrigin: 'https://api.example.com' }));
    noDpop = await startGuardedServer('node', options({ dpop: false }));
  });
  afterAll(async () => {
    await Promise.all([server.close(), proxied.close(), noDpop.close()]);
  });

  const dpopFields = (token: string, ...proofs: string[]): Array<[string, string]> => [
    ['Authorization', `DPoP ${token}`],
    ...proofs.filter(Boolean).map((p): [string, string] => ['DPoP', p]),
  ];
  const htuOf = (target: RunningServer, path = RESOURCE_PATH): string => target.origin + path;

  it.each([...attacks, ...e2eOnly])('$name ($source) -> $code', async ({ proof, code }) => {
    const requestId = `dpop-${code}-${Math.random()}`;
    const reply = await send(server.origin, {
      headers: [
        ...dpopFields(boundToken, proof({ htu: htuOf(server), token: boundToken })),
        ['X-Request-Id', requestId],
      ],
    });
    expect(reply.status).toBe(ERROR_CODES[code].status);
    // RFC 9449 §7.1: proof errors are answered on the DPoP challenge with invalid_dpop_proof.
    expect(reply.headers['www-authenticate']).toBe(challengeFor(code));
    expect(reply.body).not.toContain('ERR_');
    const entry = logs.entries.find((e) => e.object['requestId'] === requestId);
    expect(entry?.object).toMatchObject({ code });
    // Neither the token nor the proof reaches the log.
    expect(JSON.stringify(entry)).not.toContain(boundToken.slice(-20));
    expect(JSON.stringify(entry)).not.toContain('eyJ');
  });

  it('accepts a valid proof with the DPoP scheme and a bound token', async () => {
    const proof = createProof(dpopKey, { htm: 'GET', htu: htuOf(server), accessToken: boundToken });
    const reply = await send(server.origin, { headers: dpopFields(boundToken, proof) });
    expect(reply.status).toBe(200);
    expect(JSON.parse(reply.body)).toMatchObject({ sub: 'user-1', cnf: { jkt: dpopKey.jkt } });
  });

  it('accepts a jose-made proof for a POST with a query string (htu has no query)', async () => {
    const proof = await createProofWithJose(dpopKey, {
      htm: 'POST',
      htu: htuOf(server),
      accessToken: boundToken,
    });
    const reply = await send(server.origin, {
      method: 'POST',
      path: `${RESOURCE_PATH}?page=2`,
      headers: dpopFields(boundToken, proof),
    });
    expect(reply.status).toBe(200);
  });

  it('refuses two DPoP fields with 400 invalid_request (RFC 9449 §4.3 step 1)', async () => {
    const proof = () => createProof(dpopKey, { htm: 'GET', htu: htuOf(server), accessToken: boundToken });
    const requestId = 'dpop-two-fields';
    const reply = await send(server.origin, {
      headers: [...dpopFields(boundToken, proof(), proof()), ['X-Request-Id', requestId]],
    });
    expect(reply.status).toBe(400);
    expect(reply.headers['www-authenticate']).toContain(
      'DPoP realm="gatehouse-test", error="invalid_request"',
    );
    expect(logs.entries.find((e) => e.object['requestId'] === requestId)?.object).toMatchObject({
      code: 'ERR_DPOP_MULTIPLE_PROOFS',
    });
  });

  it('refuses the DPoP scheme with an unbound token (ERR_DPOP_TOKEN_NOT_BOUND)', async () => {
    const requestId = 'dpop-unbound';
    const proof = createProof(dpopKey, { htm: 'GET', htu: htuOf(server), accessToken: unboundToken });
    const reply = await send(server.origin, {
      headers: [...dpopFields(unboundToken, proof), ['X-Request-Id', requestId]],
    });
    expect(reply.status).toBe(401);
    expect(reply.headers['www-authenticate']).toBe(challengeFor('ERR_DPOP_TOKEN_NOT_BOUND'));
    expect(logs.entries.find((e) => e.object['requestId'] === requestId)?.object).toMatchObject({
      code: 'ERR_DPOP_TOKEN_NOT_BOUND',
    });
  });

  it('refuses a replayed proof, and exactly one of two concurrent uses', async () => {
    const proof = createProof(dpopKey, { htm: 'GET', htu: htuOf(server), accessToken: boundToken });
    expect((await send(server.origin, { headers: dpopFields(boundToken, proof) })).status).toBe(200);
    const replay = await send(server.origin, { headers: dpopFields(boundToken, proof) });
    expect(replay.status).toBe(401);
    expect(replay.headers['www-authenticate']).toBe(challengeFor('ERR_DPOP_REPLAYED'));

    const twin = createProof(dpopKey, { htm: 'GET', htu: htuOf(server), accessToken: boundToken });
    const statuses = await Promise.all([
      send(server.origin, { headers: dpopFields(boundToken, twin) }),
      send(server.origin, { headers: dpopFields(boundToken, twin) }),
    ]);
    expect(statuses.map((r) => r.status).sort()).toEqual([200, 401]);
  });

  it('plain HTTP: the htu origin is http://host, an https htu is refused', async () => {
    const https = htuOf(server).replace(/^http:/, 'https:');
    const proof = createProof(dpopKey, { htm: 'GET', htu: https, accessToken: boundToken });
    const reply = await send(server.origin, { headers: dpopFields(boundToken, proof) });
    expect(reply.status).toBe(401);
    expect(reply.headers['www-authenticate']).toBe(challengeFor('ERR_DPOP_HTU_MISMATCH'));
  });

  it('publicOrigin: htu is checked against the origin clients use, not the local one', async () => {
    const publicProof = createProof(dpopKey, {
      htm: 'GET',
      htu: `https://api.example.com${RESOURCE_PATH}`,
      accessToken: boundToken,
    });
    expect((await send(proxied.origin, { headers: dpopFields(boundToken, publicProof) })).status).toBe(200);
    const localProof = createProof(dpopKey, { htm: 'GET', htu: htuOf(proxied), accessToken: boundToken });
    const reply = await send(proxied.origin, { headers: dpopFields(boundToken, localProof) });
    expect(reply.status).toBe(401);
    expect(reply.headers['www-authenticate']).toBe(challengeFor('ERR_DPOP_HTU_MISMATCH'));
  });

  it('an HTTP/1.0 request without Host cannot match any htu (no request URI to compare)', async () => {
    // Without Host the origin would be "http://", and "http:///api/resource" parses as the URL
    // http://api/resource: a proof for that host must not pass.
    const htu = new URL(`http://${RESOURCE_PATH}`).href;
    expect(htu).toBe('http://api/resource');
    const proof = createProof(dpopKey, { htm: 'GET', htu, accessToken: boundToken });
    const { port } = new URL(server.origin);
    const socket = connect(Number(port), '127.0.0.1');
    // HTTP/1.0 without keep-alive: the server closes the connection after its response.
    socket.write(
      `GET ${RESOURCE_PATH} HTTP/1.0\r\nAuthorization: DPoP ${boundToken}\r\nDPoP: ${proof}\r\n\r\n`,
    );
    const chunks: Buffer[] = [];
    for await (const chunk of socket) chunks.push(chunk as Buffer);
    const response = Buffer.concat(chunks).toString('latin1');
    expect(response.slice(0, response.indexOf('\r\n'))).toBe('HTTP/1.1 401 Unauthorized');
    expect(response).toContain('error="invalid_dpop_proof"');
  });

  it('dpop: false refuses the DPoP scheme with a bare Bearer challenge and keeps bound tokens out', async () => {
    const proof = createProof(dpopKey, { htm: 'GET', htu: htuOf(noDpop), accessToken: boundToken });
    const viaDpop = await send(noDpop.origin, { headers: dpopFields(boundToken, proof) });
    expect(viaDpop.status).toBe(401);
    expect(viaDpop.headers['www-authenticate']).toBe(`Bearer realm="${REALM}"`);
    const asBearer = await send(noDpop.origin, { headers: [['Authorization', `Bearer ${boundToken}`]] });
    expect(asBearer.status).toBe(401);
    expect(asBearer.headers['www-authenticate']).toBe(
      `Bearer realm="${REALM}", error="invalid_token", error_description="The access token is invalid"`,
    );
    // The error goes on the one challenge offered, even when the request named the DPoP scheme.
    const twoFields = await send(noDpop.origin, {
      headers: [
        ['Authorization', `DPoP ${boundToken}`],
        ['Authorization', `Bearer ${boundToken}`],
      ],
    });
    expect(twoFields.status).toBe(400);
    expect(twoFields.headers['www-authenticate']).toBe(
      `Bearer realm="${REALM}", error="invalid_request", error_description="The request is malformed"`,
    );
  });

  it('a custom DPoP verifier sets the algs of the challenge', async () => {
    const custom = await startGuardedServer(
      'node',
      options({ dpop: createDpopVerifier({ algorithms: ['ES256'], now: () => NOW_MS }) }),
    );
    try {
      const reply = await send(custom.origin);
      expect(reply.headers['www-authenticate']).toBe(
        `Bearer realm="${REALM}", DPoP realm="${REALM}", algs="ES256"`,
      );
      const proof = createProof(dpopKey, { htm: 'GET', htu: htuOf(custom), accessToken: boundToken });
      expect((await send(custom.origin, { headers: dpopFields(boundToken, proof) })).status).toBe(200);
    } finally {
      await custom.close();
    }
  });
});
