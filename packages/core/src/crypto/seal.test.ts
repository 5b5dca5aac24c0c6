import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { openSecret, sealSecret } from './seal.js';

const KEY = randomBytes(32);
const AAD = 'kid:signing-key-1';

/** Flips one bit of the `index`-th dot-separated part (decoded as base64url). */
function flip(sealed: string, index: number, byte = 0): string {
  const parts = sealed.split('.');
  const bytes = Buffer.from(parts[index]!, 'base64url');
  bytes[byte] = bytes[byte]! ^ 0x01;
  parts[index] = bytes.toString('base64url');
  return parts.join('.');
}

describe('sealSecret / openSecret round trip', () => {
  it.each([
    ['a string', 'private key material ✓'],
    ['bytes', randomBytes(64)],
    ['an empty string', ''],
  ])('opens what it sealed: %s', (_name, plaintext) => {
    const sealed = sealSecret(KEY, plaintext, AAD);
    expect(openSecret(KEY, sealed, AAD).equals(Buffer.from(plaintext))).toBe(true);
  });

  it('is v1.<96-bit iv>.<ciphertext>.<128-bit tag> in base64url, and never shows the plaintext', () => {
    const sealed = sealSecret(KEY, 'hunter2-hunter2', AAD);
    const [version, iv, ciphertext, tag, ...rest] = sealed.split('.');
    expect(version).toBe('v1');
    expect(Buffer.from(iv!, 'base64url')).toHaveLength(12);
    expect(Buffer.from(ciphertext!, 'base64url')).toHaveLength('hunter2-hunter2'.length);
    expect(Buffer.from(tag!, 'base64url')).toHaveLength(16);
    expect(rest).toEqual([]);
    expect(sealed).not.toContain('hunter2');
  });

  it('uses a fresh IV each time: sealing twice gives different outputs (NIST SP 800-38D §8)', () => {
    const a = sealSecret(KEY, 'same', AAD);
    const b = sealSecret(KEY, 'same', AAD);
    expect(a).not.toBe(b);
    expect(a.split('.')[1]).not.toBe(b.split('.')[1]);
  });
});

describe('openSecret refuses anything altered', () => {
  const sealed = sealSecret(KEY, 'the secret', AAD);
  const [, iv, ciphertext, tag] = sealed.split('.') as [string, string, string, string];

  const cases: Array<{ name: string; source: string; key?: Uint8Array; aad?: string; input: string }> = [
    { name: 'wrong key', source: 'NIST SP 800-38D §7.2', key: randomBytes(32), input: sealed },
    {
      name: 'wrong AAD (moved to another row)',
      source: 'NIST SP 800-38D §7.2',
      aad: 'kid:other',
      input: sealed,
    },
    { name: 'empty AAD', source: 'NIST SP 800-38D §7.2', aad: '', input: sealed },
    { name: 'flipped IV bit', source: 'NIST SP 800-38D §7.2', input: flip(sealed, 1) },
    { name: 'flipped last IV bit', source: 'NIST SP 800-38D §7.2', input: flip(sealed, 1, 11) },
    { name: 'flipped ciphertext bit', source: 'NIST SP 800-38D §7.2', input: flip(sealed, 2) },
    { name: 'flipped tag bit', source: 'NIST SP 800-38D §7.2', input: flip(sealed, 3, 15) },
    {
      name: 'truncated tag (tag-length downgrade)',
      source: 'NIST SP 800-38D §5.2.1.2',
      input: ['v1', iv, ciphertext, Buffer.from(tag, 'base64url').subarray(0, 12).toString('base64url')].join(
        '.',
      ),
    },
    { name: 'empty tag', source: 'NIST SP 800-38D §5.2.1.2', input: ['v1', iv, ciphertext, ''].join('.') },
    { name: 'empty IV', source: 'NIST SP 800-38D §8.2', input: ['v1', '', ciphertext, tag].join('.') },
    { name: 'ciphertext dropped', source: 'NIST SP 800-38D §7.2', input: ['v1', iv, '', tag].join('.') },
  ];

  it.each(cases)('$name ($source) -> ERR_STORE_CORRUPT', ({ key = KEY, aad = AAD, input }) => {
    expect(() => openSecret(key, input, aad)).toThrow(expect.objectContaining({ code: 'ERR_STORE_CORRUPT' }));
  });

  const formats: Array<{ name: string; input: string }> = [
    { name: 'unknown version', input: ['v2', iv, ciphertext, tag].join('.') },
    { name: 'no version', input: [iv, ciphertext, tag].join('.') },
    { name: 'extra part', input: `${sealed}.AAAA` },
    { name: 'trailing dot', input: `${sealed}.` },
    { name: 'missing tag', input: ['v1', iv, ciphertext].join('.') },
    { name: 'only a version', input: 'v1' },
    { name: 'empty string', input: '' },
  ];

  it.each(formats)('$name -> ERR_STORE_CORRUPT (unknown format)', ({ input }) => {
    expect(() => openSecret(KEY, input, AAD)).toThrow(
      expect.objectContaining({ code: 'ERR_STORE_CORRUPT', detail: 'sealed secret has an unknown format' }),
    );
  });

  it('keeps the crypto failure as the cause but never the plaintext or key in the detail', () => {
    let caught: unknown;
    try {
      openSecret(randomBytes(32), sealed, AAD);
    } catch (err) {
      caught = err;
    }
    expect(caught).toMatchObject({
      code: 'ERR_STORE_CORRUPT',
      detail: 'sealed secret failed authentication',
    });
    expect((caught as Error).cause).toBeInstanceOf(Error);
    expect(JSON.stringify(caught)).not.toContain('the secret');
  });
});

describe('key-encryption key length', () => {
  it.each([0, 16, 24, 31, 33, 64])('a %i-byte key is a configuration error on seal and open', (length) => {
    const key = randomBytes(length);
    const expected = expect.objectContaining({ code: 'ERR_CONFIG_INVALID' });
    expect(() => sealSecret(key, 'x', AAD)).toThrow(expected);
    expect(() => openSecret(key, sealSecret(KEY, 'x', AAD), AAD)).toThrow(expected);
  });

  it('accepts a Uint8Array key, not only a Buffer', () => {
    const key = new Uint8Array(randomBytes(32));
    expect(openSecret(key, sealSecret(key, 'x', AAD), AAD).toString()).toBe('x');
  });
});
