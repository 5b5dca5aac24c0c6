import { describe, expect, it } from 'vitest';
import { dummyPasswordHash, hashPassword, verifyPassword } from './password.js';

// Low cost for speed; one test below proves the OWASP default parameters.
const LOW = { logN: 10 } as const;
const FORMAT = /^\$scrypt\$ln=(\d+),r=(\d+),p=(\d+)\$([A-Za-z0-9_-]+)\$([A-Za-z0-9_-]+)$/;

describe('hashPassword / verifyPassword', () => {
  it('hashes to the PHC-like scrypt format and verifies only the right password', async () => {
    const stored = await hashPassword('correct horse battery staple', LOW);
    const match = FORMAT.exec(stored);
    expect(match).not.toBeNull();
    expect(match!.slice(1, 4)).toEqual(['10', '8', '1']);
    expect(Buffer.from(match![4]!, 'base64url')).toHaveLength(16);
    expect(Buffer.from(match![5]!, 'base64url')).toHaveLength(32);
    expect(stored).not.toContain('correct horse');
    await expect(verifyPassword('correct horse battery staple', stored)).resolves.toBe(true);
    await expect(verifyPassword('correct horse battery stapl', stored)).resolves.toBe(false);
    await expect(verifyPassword('Correct horse battery staple', stored)).resolves.toBe(false);
    await expect(verifyPassword('', stored)).resolves.toBe(false);
  });

  it('salts every hash: the same password hashes differently', async () => {
    const [a, b] = await Promise.all([hashPassword('pw', LOW), hashPassword('pw', LOW)]);
    expect(a).not.toBe(b);
    await expect(verifyPassword('pw', a)).resolves.toBe(true);
    await expect(verifyPassword('pw', b)).resolves.toBe(true);
  });

  it('records r and p so raised parameters still verify old hashes', async () => {
    const stored = await hashPassword('pw', { logN: 10, r: 4, p: 2 });
    expect(stored.startsWith('$scrypt$ln=10,r=4,p=2$')).toBe(true);
    await expect(verifyPassword('pw', stored)).resolves.toBe(true);
  });

  it('defaults to N = 2^17, r = 8, p = 1 (OWASP Password Storage Cheat Sheet)', async () => {
    const stored = await hashPassword('default cost');
    expect(stored.startsWith('$scrypt$ln=17,r=8,p=1$')).toBe(true);
    await expect(verifyPassword('default cost', stored)).resolves.toBe(true);
  });

  it.each([
    ['U+FB01 ligature vs "fi"', '\uFB01le', 'file'],
    ['precomposed vs combining accent', 'caf\u00e9', 'cafe\u0301'],
    ['full-width vs ASCII', '\uFF50\uFF57', 'pw'],
  ])('normalizes to NFKC before hashing: %s', async (_name, typed, stored) => {
    const hash = await hashPassword(stored, LOW);
    await expect(verifyPassword(typed, hash)).resolves.toBe(true);
  });
});

describe('verifyPassword with a malformed stored hash is false, never an exception', () => {
  const good = hashPassword('pw', LOW);

  const mutations: Array<{ name: string; mutate: (stored: string) => string }> = [
    { name: 'empty string', mutate: () => '' },
    { name: 'plain text password', mutate: () => 'pw' },
    { name: 'another algorithm', mutate: (s) => s.replace('$scrypt$', '$argon2id$') },
    { name: 'missing hash part', mutate: (s) => s.slice(0, s.lastIndexOf('$')) },
    { name: 'trailing newline', mutate: (s) => `${s}\n` },
    { name: 'leading space', mutate: (s) => ` ${s}` },
    { name: 'padding in the hash', mutate: (s) => `${s}=` },
    { name: 'truncated hash (31 bytes)', mutate: (s) => s.slice(0, -2) },
    { name: 'hash too long (33 bytes)', mutate: (s) => `${s}AA` },
    { name: 'cost above the cap (ln=21)', mutate: (s) => s.replace('ln=10', 'ln=21') },
    { name: 'three-digit cost', mutate: (s) => s.replace('ln=10', 'ln=100') },
    { name: 'missing r', mutate: (s) => s.replace(',r=8', '') },
    { name: 'non-numeric p', mutate: (s) => s.replace('p=1', 'p=x') },
    {
      name: 'wrong salt (still well formed)',
      mutate: (s) => s.replace(/\$([^$]+)\$([^$]+)$/, '$AAAAAAAAAAAAAAAAAAAAAA$$$2'),
    },
    { name: 'wrong cost (still well formed)', mutate: (s) => s.replace('ln=10', 'ln=11') },
  ];

  it.each(mutations)('$name', async ({ mutate }) => {
    await expect(verifyPassword('pw', mutate(await good))).resolves.toBe(false);
  });

  // scrypt reads r = 0 / p = 0 as its defaults (so "r=0" would verify like "r=8"), refuses N = 2^0
  // and N >= 2^(16 r) outright, and a huge r asks for more memory than any real hash needs.
  it.each([
    ['r=0 (read as the default r=8)', (s: string) => s.replace('r=8', 'r=0')],
    ['p=0 (read as the default p=1)', (s: string) => s.replace('p=1', 'p=0')],
    ['ln=0 (N = 1, refused by scrypt)', (s: string) => s.replace('ln=10', 'ln=0')],
    ['ln=16,r=1 (N >= 2^(16 r), refused by scrypt)', (s: string) => s.replace('ln=10,r=8', 'ln=16,r=1')],
    ['ln=20,r=99 (13 GiB of memory)', (s: string) => s.replace('ln=10,r=8', 'ln=20,r=99')],
  ])('parameters scrypt must not run: %s', async (_name, mutate) => {
    await expect(verifyPassword('pw', mutate(await good))).resolves.toBe(false);
  });
});

describe('dummyPasswordHash', () => {
  it('is a well-formed hash that no password verifies against', async () => {
    const dummy = await dummyPasswordHash(LOW);
    expect(dummy).toMatch(FORMAT);
    for (const guess of ['', 'pw', 'password', 'undefined', dummy]) {
      await expect(verifyPassword(guess, dummy)).resolves.toBe(false);
    }
  });

  it('uses the default cost unless told otherwise, so it costs what a real verify costs', async () => {
    const dummy = await dummyPasswordHash();
    expect(dummy.startsWith('$scrypt$ln=17,r=8,p=1$')).toBe(true);
    expect(await dummyPasswordHash(LOW)).not.toBe(await dummyPasswordHash(LOW));
  });
});
