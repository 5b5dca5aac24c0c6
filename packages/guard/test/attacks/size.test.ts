import { describe, expect, it } from 'vitest';
import {
  assertUniqueNames,
  expectAccepted,
  expectRefused,
  jwksVerifier,
  titled,
  type AttackCase,
} from '../helpers/attacks.js';
import { createTestKey } from '../helpers/keys.js';
import { forge, signToken, validClaims } from '../helpers/tokens.js';

// Size is bounded before any parsing, so a huge token costs no base64, JSON or crypto work
// (CWE-400, uncontrolled resource consumption). A compact JWS is a string (RFC 7515 §7.1).
const key = createTestKey('ES256', 'k1');
const DEFAULT_LIMIT = 8192;
const verifier = jwksVerifier([key.publicJwk]);
const signer = { alg: 'ES256', key: key.privateKey } as const;
const HEADER = { alg: 'ES256', typ: 'at+jwt', kid: 'k1' };

/** A validly signed token of exactly `length` characters, padded through a private claim. */
function tokenOfLength(length: number): string {
  for (let h = 0; h < 3; h++) {
    const header = { ...HEADER, h: 'x'.repeat(h) };
    const base = forge({ header, payload: validClaims({ pad: '' }), signer }).length;
    for (let p = Math.max(0, Math.floor(((length - base) * 3) / 4) - 3); p < length; p++) {
      const t = forge({ header, payload: validClaims({ pad: 'p'.repeat(p) }), signer });
      if (t.length === length) return t;
      if (t.length > length) break;
    }
  }
  throw new Error(`no token of length ${length}`);
}

const atLimit = tokenOfLength(DEFAULT_LIMIT);
const overLimit = tokenOfLength(DEFAULT_LIMIT + 1);
const normal = signToken(key);

const tooLargeCases: AttackCase[] = [
  { name: 'validly signed token one character over 8192', token: overLimit },
  { name: 'validly signed token of 64 KiB', token: tokenOfLength(65_536) },
  { name: '1 MB of base64url', token: 'A'.repeat(1_000_000) },
  { name: '10,000 dots', token: '.'.repeat(10_000) },
  { name: 'a valid token followed by 8 KiB of padding', token: `${normal}${'='.repeat(DEFAULT_LIMIT)}` },
].map((c) => ({ ...c, source: 'CWE-400', code: 'ERR_JWT_TOO_LARGE' as const }));

// Anything that is not a non-empty string never reaches the parser.
const notAString = (value: unknown): string => value as string;
const malformedInputs: readonly { name: string; input: string }[] = [
  { name: 'empty string', input: '' },
  { name: 'undefined', input: notAString(undefined) },
  { name: 'null', input: notAString(null) },
  { name: 'number', input: notAString(12345) },
  { name: 'boolean', input: notAString(true) },
  { name: 'object', input: notAString({ token: normal }) },
  { name: 'array of segments', input: notAString(normal.split('.')) },
  { name: 'Buffer holding a valid token', input: notAString(Buffer.from(normal)) },
  { name: 'String object holding a valid token', input: notAString(new String(normal)) },
  { name: 'symbol', input: notAString(Symbol('token')) },
];
const malformedCases: AttackCase[] = malformedInputs.map(({ name, input }) => ({
  name: `input is ${name}`,
  source: 'RFC 7515 §7.1',
  token: input,
  code: 'ERR_JWT_MALFORMED',
}));

/** A header with `count` private members, then `last` members (which decide the outcome). */
function manyMembers(count: number, last: Record<string, unknown> = {}): Record<string, unknown> {
  const header: Record<string, unknown> = { ...HEADER };
  for (let i = 0; i < count; i++) header[`x${i}`] = i;
  return { ...header, ...last };
}

describe('size limits (CWE-400, RFC 7515 §7.1)', () => {
  it('has unique case names', () => {
    assertUniqueNames([...tooLargeCases, ...malformedCases]);
  });

  it.each(titled(tooLargeCases))('%s', async (_title, { token, code }) => {
    await expectRefused(verifier, token, code);
  });

  it.each(titled(malformedCases))('%s', async (_title, { token, code }) => {
    await expectRefused(verifier, token, code);
  });

  it('accepts a valid token of exactly 8192 characters (positive control)', async () => {
    expect(atLimit).toHaveLength(DEFAULT_LIMIT);
    expect(overLimit).toHaveLength(DEFAULT_LIMIT + 1);
    await expectAccepted(verifier, atLimit);
  });

  describe('custom maxTokenBytes', () => {
    const exact = jwksVerifier([key.publicJwk], { maxTokenBytes: normal.length });
    const oneShort = jwksVerifier([key.publicJwk], { maxTokenBytes: normal.length - 1 });
    const zero = jwksVerifier([key.publicJwk], { maxTokenBytes: 0 });

    it('accepts a token exactly at the limit', async () => {
      await expectAccepted(exact, normal);
    });

    it('refuses the same token one character over the limit', async () => {
      await expectRefused(oneShort, normal, 'ERR_JWT_TOO_LARGE');
    });

    it('refuses a larger validly signed token', async () => {
      await expectRefused(exact, signToken(key, { pad: 'p' }), 'ERR_JWT_TOO_LARGE');
    });

    it('maxTokenBytes 0 refuses every token, and an empty string stays malformed', async () => {
      await expectRefused(zero, normal, 'ERR_JWT_TOO_LARGE');
      await expectRefused(zero, '', 'ERR_JWT_MALFORMED');
    });
  });

  describe('large but allowed inputs are still processed correctly', () => {
    it('accepts a header with 300 private members under the limit', async () => {
      const token = forge({ header: manyMembers(300), payload: validClaims(), signer });
      expect(token.length).toBeGreaterThan(4000);
      expect(token.length).toBeLessThanOrEqual(DEFAULT_LIMIT);
      await expectAccepted(verifier, token);
    });

    it('still finds alg none after 300 members', async () => {
      const token = forge({ header: manyMembers(300, { alg: 'none' }), payload: validClaims() });
      await expectRefused(verifier, token, 'ERR_JWT_ALG_NONE');
    });

    it('still finds a jwk header after 300 members', async () => {
      const token = forge({
        header: manyMembers(300, { jwk: key.publicJwk }),
        payload: validClaims(),
        signer,
      });
      await expectRefused(verifier, token, 'ERR_JWT_HEADER_KEY_FORBIDDEN');
    });

    it('still finds a duplicate member 300 members apart', async () => {
      const text = JSON.stringify(manyMembers(300));
      const token = forge({ header: `${text.slice(0, -1)},"alg":"ES256"}`, payload: validClaims(), signer });
      await expectRefused(verifier, token, 'ERR_JWT_DUPLICATE_MEMBER');
    });

    it('accepts deeply nested JSON in a header member and a claim (no stack exhaustion)', async () => {
      const depth = 1200;
      const nested = `${'['.repeat(depth)}${']'.repeat(depth)}`;
      const header = `${JSON.stringify(HEADER).slice(0, -1)},"x":${nested}}`;
      const payload = `${JSON.stringify(validClaims()).slice(0, -1)},"ext":${nested}}`;
      const token = forge({ header, payload, signer });
      expect(token.length).toBeLessThanOrEqual(DEFAULT_LIMIT);
      await expectAccepted(verifier, token);
    });
  });
});
