import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { hashToken, randomToken } from './random-token.js';

const BASE64URL = /^[A-Za-z0-9_-]+$/;

describe('randomToken', () => {
  it('is 256 random bits as 43 unpadded base64url characters by default', () => {
    const token = randomToken();
    expect(token).toHaveLength(43);
    expect(token).toMatch(BASE64URL);
    expect(Buffer.from(token, 'base64url')).toHaveLength(32);
  });

  it.each([
    [16, 22],
    [24, 32],
    [48, 64],
  ])('%i bytes give %i characters', (bytes, length) => {
    const token = randomToken(bytes);
    expect(token).toHaveLength(length);
    expect(token).toMatch(BASE64URL);
  });

  it('never repeats across many draws', () => {
    const tokens = new Set(Array.from({ length: 2000 }, () => randomToken()));
    expect(tokens.size).toBe(2000);
  });

  it('uses the whole base64url alphabet (no biased or constant characters)', () => {
    const seen = new Set(Array.from({ length: 200 }, () => randomToken()).join(''));
    expect(seen.size).toBe(64);
  });
});

describe('hashToken', () => {
  it('is SHA-256 in base64url, the same as node:crypto', () => {
    for (const token of [randomToken(), 'abc', '', 'tøken ✓']) {
      expect(hashToken(token)).toBe(createHash('sha256').update(token, 'utf8').digest('base64url'));
    }
  });

  it('matches the FIPS 180-2 "abc" test vector', () => {
    const hex = 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad';
    expect(hashToken('abc')).toBe(Buffer.from(hex, 'hex').toString('base64url'));
  });

  it('is 43 characters, deterministic, and differs for different tokens', () => {
    const token = randomToken();
    expect(hashToken(token)).toHaveLength(43);
    expect(hashToken(token)).toBe(hashToken(token));
    expect(hashToken(token)).not.toBe(hashToken(randomToken()));
    expect(hashToken(token)).not.toBe(token);
  });
});
