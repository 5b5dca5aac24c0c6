import { describe, it } from 'vitest';
import {
  assertUniqueNames,
  expectAccepted,
  expectRefused,
  jwksVerifier,
  segmentOf,
  titled,
  withSegment,
  type AttackCase,
} from '../helpers/attacks.js';
import { createTestKey } from '../helpers/keys.js';
import { b64, forge, signToken, validClaims } from '../helpers/tokens.js';

// One JSON text, one byte string, one token: every alternative encoding of the same token is refused
// (RFC 7515 §2 base64url without padding, RFC 8725 §3.7 UTF-8, §2.6 multiplicity of JSON encodings).
const key = createTestKey('ES256', 'k1');
const verifier = jwksVerifier([key.publicJwk]);
const signer = { alg: 'ES256', key: key.privateKey } as const;
const HEADER = { alg: 'ES256', typ: 'at+jwt', kid: 'k1' };
const headerText = JSON.stringify(HEADER);
const claimsText = JSON.stringify(validClaims());

/** A validly signed token with exact header and payload bytes. */
const signed = (header: string | Uint8Array, payload: string | Uint8Array): string =>
  forge({ header, payload, signer });

const valid = signToken(key);
const [H, P, S] = [0, 1, 2].map((i) => segmentOf(valid, i)) as [string, string, string];

/**
 * A valid token whose segment `index` satisfies `wanted`, found by varying a filler member (the
 * base64url text depends on byte alignment). `filler` is the text that produces the wanted chars.
 */
function tokenWhere(index: 0 | 1 | 2, wanted: (segment: string) => boolean, filler = ''): string {
  for (let pad = 0; pad < 64; pad++) {
    const x = 'a'.repeat(pad) + filler;
    const header = index === 0 ? { ...HEADER, x } : HEADER;
    const payload = index === 1 ? validClaims({ x }) : validClaims();
    const t = forge({ header, payload, signer });
    if (wanted(segmentOf(t, index))) return t;
  }
  throw new Error('no filler produced the wanted encoding');
}

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
/** Same bytes, non-canonical text: flips the lowest unused bit of the last character (RFC 4648 §3.5). */
function strayBits(segment: string): string {
  const last = ALPHABET.indexOf(segment.slice(-1));
  return segment.slice(0, -1) + (ALPHABET[last ^ 1] as string);
}
const hasStrayBits = (s: string): boolean => s.length % 4 !== 0;
const hasUrlChars = (s: string): boolean => s.includes('-') && s.includes('_');
/** RFC 4648 §4 alphabet for the same bytes. */
const toStandardAlphabet = (s: string): string => s.replaceAll('-', '+').replaceAll('_', '/');
const padded = (s: string): string => s + '='.repeat((4 - (s.length % 4)) % 4 || 1);
const insertAt = (s: string, at: number, text: string): string => s.slice(0, at) + text + s.slice(at);

// '???' and '>>>' encode to '_' and '-' when aligned on three bytes.
const urlCharsFiller = '???>>>';

// --- Base64url must be canonical in all three segments (RFC 7515 §2, RFC 4648 §3.5, §5).
const SEGMENTS = [
  { label: 'header', index: 0 },
  { label: 'payload', index: 1 },
  { label: 'signature', index: 2 },
] as const;

const base64Cases: AttackCase[] = SEGMENTS.flatMap(({ label, index }) => {
  const withUrlChars =
    index === 2 ? tokenWhere(2, hasUrlChars) : tokenWhere(index, hasUrlChars, urlCharsFiller);
  const withStrayBits = tokenWhere(index, hasStrayBits);
  const seg = segmentOf(valid, index);
  const mutate = (f: (s: string) => string): string => withSegment(valid, index, f(seg));
  const rows: Omit<AttackCase, 'code'>[] = [
    { name: `${label}: '=' padding`, source: 'RFC 7515 §2', token: mutate(padded) },
    { name: `${label}: '==' padding`, source: 'RFC 7515 §2', token: mutate((s) => `${s}==`) },
    {
      name: `${label}: '+' and '/' of the standard alphabet`,
      source: 'RFC 4648 §5',
      token: withSegment(withUrlChars, index, toStandardAlphabet(segmentOf(withUrlChars, index))),
    },
    {
      name: `${label}: stray bits in the last character`,
      source: 'RFC 4648 §3.5',
      token: withSegment(withStrayBits, index, strayBits(segmentOf(withStrayBits, index))),
    },
    { name: `${label}: newline inside`, source: 'RFC 7515 §2', token: mutate((s) => insertAt(s, 10, '\n')) },
    { name: `${label}: CRLF inside`, source: 'RFC 7515 §2', token: mutate((s) => insertAt(s, 10, '\r\n')) },
    { name: `${label}: space inside`, source: 'RFC 7515 §2', token: mutate((s) => insertAt(s, 10, ' ')) },
    { name: `${label}: tab inside`, source: 'RFC 7515 §2', token: mutate((s) => insertAt(s, 10, '\t')) },
    {
      name: `${label}: '*' outside the alphabet`,
      source: 'RFC 4648 §5',
      token: mutate((s) => insertAt(s, 4, '*')),
    },
    {
      name: `${label}: '!' outside the alphabet`,
      source: 'RFC 4648 §5',
      token: mutate((s) => insertAt(s, 4, '!')),
    },
    { name: `${label}: non-ASCII letter`, source: 'RFC 4648 §5', token: mutate((s) => insertAt(s, 4, 'é')) },
    {
      name: `${label}: NUL character`,
      source: 'RFC 4648 §5',
      token: mutate((s) => insertAt(s, 4, '\u0000')),
    },
    { name: `${label}: percent-encoded padding`, source: 'RFC 7515 §2', token: mutate((s) => `${s}%3D`) },
  ];
  return rows.map((r) => ({ ...r, code: 'ERR_JWT_BASE64URL_INVALID' as const }));
});

const edgeBase64Cases: AttackCase[] = [
  { name: 'leading space before the token', token: ` ${valid}` },
  { name: 'trailing newline after the token', token: `${valid}\n` },
  { name: 'trailing space after the token', token: `${valid} ` },
  { name: 'Bearer prefix left in the token', token: `Bearer ${valid}` },
  { name: 'single base64url character in the signature', token: withSegment(valid, 2, 'A') },
].map(({ name, token }) => ({
  name,
  source: 'RFC 7515 §7.1',
  token,
  code: 'ERR_JWT_BASE64URL_INVALID' as const,
}));

// --- RFC 8725 §3.7 / RFC 3629 §3: only well-formed UTF-8, no overlongs, no surrogates.
const BAD_UTF8: readonly { label: string; bytes: readonly number[] }[] = [
  { label: 'lone continuation byte', bytes: [0x80] },
  { label: 'overlong "/" (C0 AF)', bytes: [0xc0, 0xaf] },
  { label: 'overlong NUL (C0 80)', bytes: [0xc0, 0x80] },
  { label: 'overlong three-byte "/" (E0 80 AF)', bytes: [0xe0, 0x80, 0xaf] },
  { label: 'high surrogate U+D800 encoded', bytes: [0xed, 0xa0, 0x80] },
  { label: 'low surrogate U+DFFF encoded', bytes: [0xed, 0xbf, 0xbf] },
  { label: 'CESU-8 surrogate pair', bytes: [0xed, 0xa0, 0xbd, 0xed, 0xb8, 0x80] },
  { label: 'truncated three-byte sequence', bytes: [0xe2, 0x82] },
  { label: 'truncated four-byte sequence', bytes: [0xf0, 0x9f, 0x98] },
  { label: 'code point above U+10FFFF', bytes: [0xf4, 0x90, 0x80, 0x80] },
  { label: 'byte FF', bytes: [0xff] },
  { label: 'byte FE', bytes: [0xfe] },
  { label: 'five-byte form', bytes: [0xf8, 0x88, 0x80, 0x80, 0x80] },
];

/** `{...json, "x": "<bad bytes>"}` as bytes. */
function withBadBytes(json: string, bytes: readonly number[]): Buffer {
  return Buffer.concat([Buffer.from(`${json.slice(0, -1)},"x":"`), Buffer.from(bytes), Buffer.from('"}')]);
}

const utf8Cases: AttackCase[] = [
  ...BAD_UTF8.map(({ label, bytes }) => ({
    name: `header: ${label}`,
    source: 'RFC 3629 §3',
    token: `${b64(withBadBytes(headerText, bytes))}.${P}.${S}`,
    code: 'ERR_JWT_UTF8_INVALID' as const,
  })),
  {
    name: 'header: invalid byte inside a member name',
    source: 'RFC 8725 §3.7',
    token: `${b64(Buffer.concat([Buffer.from('{"al'), Buffer.from([0xc0, 0xa7]), Buffer.from(`":"ES256"}`)]))}.${P}.${S}`,
    code: 'ERR_JWT_UTF8_INVALID',
  },
  // The payload is decoded only after the signature verifies, so these are validly signed.
  ...BAD_UTF8.filter((_, i) => i % 2 === 0).map(({ label, bytes }) => ({
    name: `payload: ${label}`,
    source: 'RFC 8725 §3.7',
    token: signed(headerText, withBadBytes(claimsText, bytes)),
    code: 'ERR_JWT_UTF8_INVALID' as const,
  })),
];

// --- RFC 7515 §4 / RFC 7519 §7.2: each segment is exactly one JSON object (RFC 8259).
const NOT_AN_OBJECT: readonly { label: string; text: (json: string) => string | Buffer }[] = [
  {
    label: 'byte-order mark before the object',
    text: (j) => Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(j)]),
  },
  { label: 'not JSON', text: () => 'alg=ES256&typ=at+jwt' },
  { label: 'single-quoted JSON', text: (j) => j.replaceAll('"', "'") },
  { label: 'trailing comma', text: (j) => `${j.slice(0, -1)},}` },
  { label: 'comment inside', text: (j) => `/* c */${j}` },
  { label: 'unquoted member names', text: () => '{alg:"ES256"}' },
  { label: 'NaN value', text: (j) => `${j.slice(0, -1)},"x":NaN}` },
  { label: 'array root', text: (j) => `[${j}]` },
  { label: 'string root', text: () => '"ES256"' },
  { label: 'number root', text: () => '1' },
  { label: 'null root', text: () => 'null' },
  { label: 'true root', text: () => 'true' },
  { label: 'trailing garbage', text: (j) => `${j}x` },
  { label: 'two objects', text: (j) => `${j}{}` },
  { label: 'only whitespace', text: () => ' ' },
  { label: 'unterminated object', text: (j) => j.slice(0, -1) },
  { label: 'trailing NUL', text: (j) => `${j}\u0000` },
];

const jsonCases: AttackCase[] = [
  ...NOT_AN_OBJECT.map(({ label, text }) => ({
    name: `header: ${label}`,
    source: 'RFC 7515 §5.2',
    token: `${b64(text(headerText))}.${P}.${S}`,
    code: 'ERR_JWT_JSON_INVALID' as const,
  })),
  ...NOT_AN_OBJECT.map(({ label, text }) => ({
    name: `payload: ${label}`,
    source: 'RFC 7519 §7.2',
    token: signed(headerText, text(claimsText)),
    code: 'ERR_JWT_JSON_INVALID' as const,
  })),
  {
    // RFC 7515 Appendix F: an empty payload segment means detached content, which guard never takes.
    name: 'payload: empty segment (detached content)',
    source: 'RFC 7515 Appendix F',
    token: signed(headerText, ''),
    code: 'ERR_JWT_JSON_INVALID',
  },
];

// --- RFC 7515 §4 / RFC 7519 §4, RFC 8725 §2.6: duplicate member names are refused, not
// resolved "last wins" (a first-wins parser elsewhere would read another token).
const dup = (json: string, member: string): string => `${json.slice(0, -1)},${member}}`;
const duplicateRows: readonly { name: string; header?: string; payload?: string }[] = [
  {
    name: 'header: alg twice (none, then ES256)',
    header: `{"alg":"none","alg":"ES256","typ":"at+jwt","kid":"k1"}`,
  },
  { name: 'header: alg twice (ES256, then HS256)', header: dup(headerText, '"alg":"HS256"') },
  {
    name: 'header: "\\u0061lg" and "alg"',
    header: `{"\\u0061lg":"HS256","alg":"ES256","typ":"at+jwt","kid":"k1"}`,
  },
  { name: 'header: "a\\u006cg" and "alg"', header: dup(headerText, '"a\\u006cg":"ES256"') },
  { name: 'header: kid twice', header: dup(headerText, '"kid":"../../dev/null"') },
  { name: 'header: typ twice', header: `{"typ":"JWT","alg":"ES256","typ":"at+jwt","kid":"k1"}` },
  { name: 'header: crit twice', header: dup(headerText, '"crit":[],"crit":[]') },
  { name: 'payload: exp twice', payload: dup(claimsText, '"exp":99999999999') },
  { name: 'payload: "\\u0065xp" and "exp"', payload: dup(claimsText, '"\\u0065xp":99999999999') },
  { name: 'payload: sub twice', payload: dup(claimsText, '"sub":"admin"') },
  { name: 'payload: iss twice', payload: dup(claimsText, '"iss":"https://evil.example"') },
  { name: 'payload: aud twice', payload: dup(claimsText, '"aud":"https://other.example"') },
  { name: 'payload: scope twice', payload: dup(claimsText, '"scope":"admin"') },
  { name: 'payload: roles twice', payload: dup(claimsText, '"roles":["user"],"roles":["admin"]') },
  { name: 'payload: nested cnf.jkt twice', payload: dup(claimsText, '"cnf":{"jkt":"a","jkt":"b"}') },
  {
    name: 'payload: duplicate inside an object in an array',
    payload: dup(claimsText, '"authorization_details":[{"type":"a","type":"b"}]'),
  },
  { name: 'payload: duplicate two objects deep', payload: dup(claimsText, '"ext":{"a":{"b":1,"b":2}}') },
];

const duplicateCases: AttackCase[] = duplicateRows.map(({ name, header, payload }) => ({
  name,
  source: header === undefined ? 'RFC 7519 §4' : 'RFC 7515 §4',
  token: signed(header ?? headerText, payload ?? claimsText),
  code: 'ERR_JWT_DUPLICATE_MEMBER',
}));

// --- RFC 7515 §7.1: exactly three segments; five is a JWE (RFC 7516 §7.1); JSON serialization
// (RFC 7515 §7.2) is not accepted.
const segmentRows: readonly Omit<AttackCase, 'source'>[] = [
  { name: 'one segment', token: H, code: 'ERR_JWT_MALFORMED' },
  { name: 'two segments (no signature part)', token: `${H}.${P}`, code: 'ERR_JWT_MALFORMED' },
  { name: 'four segments (trailing dot)', token: `${valid}.`, code: 'ERR_JWT_MALFORMED' },
  { name: 'four segments (signature twice)', token: `${valid}.${S}`, code: 'ERR_JWT_MALFORMED' },
  { name: 'six segments', token: `${valid}.${H}.${P}.${S}`, code: 'ERR_JWT_MALFORMED' },
  { name: 'seven segments', token: `${valid}.${valid}.`, code: 'ERR_JWT_MALFORMED' },
  { name: 'empty header segment', token: `.${P}.${S}`, code: 'ERR_JWT_MALFORMED' },
  { name: 'three empty segments', token: '..', code: 'ERR_JWT_MALFORMED' },
  { name: 'segments separated by spaces', token: `${H} ${P} ${S}`, code: 'ERR_JWT_MALFORMED' },
  {
    name: 'general JSON serialization',
    token: JSON.stringify({ payload: P, signatures: [{ protected: H, signature: S }] }),
    code: 'ERR_JWT_MALFORMED',
  },
  {
    name: 'flattened JSON serialization',
    token: JSON.stringify({ payload: P, protected: H, signature: S }),
    code: 'ERR_JWT_MALFORMED',
  },
  { name: 'five segments (two trailing dots)', token: `${valid}..`, code: 'ERR_JWT_JWE_UNSUPPORTED' },
];
const segmentCases: AttackCase[] = segmentRows.map((c) => ({
  ...c,
  source: c.code === 'ERR_JWT_JWE_UNSUPPORTED' ? 'RFC 7516 §7.1' : 'RFC 7515 §7.1',
}));

const allCases = [
  ...base64Cases,
  ...edgeBase64Cases,
  ...utf8Cases,
  ...jsonCases,
  ...duplicateCases,
  ...segmentCases,
];

describe('encoding (RFC 7515 §2, §7.1; RFC 8725 §3.7, §2.6)', () => {
  it('has unique case names', () => {
    assertUniqueNames(allCases);
  });

  it.each(titled(allCases))('%s', async (_title, { token, code }) => {
    await expectRefused(verifier, token, code);
  });

  describe('positive controls', () => {
    it('accepts the canonical token every row was derived from', async () => {
      await expectAccepted(verifier, valid);
    });

    it('accepts the tokens the alphabet and stray-bit rows were built from', async () => {
      for (const { index } of SEGMENTS) {
        const filler = index === 2 ? '' : urlCharsFiller;
        await expectAccepted(verifier, tokenWhere(index, hasUrlChars, filler));
        await expectAccepted(verifier, tokenWhere(index, hasStrayBits));
      }
    });

    it('accepts non-ASCII UTF-8 in the header and payload', async () => {
      const header = JSON.stringify({ ...HEADER, x: 'é✓😀' });
      await expectAccepted(verifier, signed(header, JSON.stringify(validClaims({ name: 'Zoë 😀' }))));
    });

    it('accepts escaped quotes that look like duplicate members inside a string', async () => {
      const payload = dup(claimsText, '"note":"\\"sub\\":\\"admin\\",{\\"exp\\":1}","a\\"b":1');
      await expectAccepted(verifier, signed(headerText, payload));
    });

    it('accepts the same member name in different objects', async () => {
      const payload = dup(
        claimsText,
        '"jkt":"x","cnf":{"jkt":"y"},"ext":{"a":{"x":1},"b":{"x":2},"":1},"":2',
      );
      await expectAccepted(verifier, signed(headerText, payload));
    });

    it('accepts names that differ only by case', async () => {
      await expectAccepted(verifier, signed(headerText, dup(claimsText, '"Sub":"admin","EXP":1')));
    });

    it('accepts insignificant JSON whitespace (RFC 8259 §2)', async () => {
      const header = JSON.stringify(HEADER, null, 2);
      await expectAccepted(
        verifier,
        signed(`\n ${header} \n`, ` ${JSON.stringify(validClaims(), null, 1)}\t`),
      );
    });
  });
});
