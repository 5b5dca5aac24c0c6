import { describe, expect, it } from 'vitest';
import type { Principal } from '../../src/index.js';
import { NOW } from '../helpers/tokens.js';
import { staticVerifier } from './support.js';

const TOLERANCE = 30; // default clockToleranceSec

describe('verification cache', () => {
  it('serves the second verification of a token from the cache, as the same frozen principal', async () => {
    const { verifier, token } = staticVerifier();
    const t = token();
    const first = await verifier.verify(t);
    const second = await verifier.verify(t);
    expect(second).toBe(first);
    expect(verifier.stats()).toMatchObject({
      verified: 2,
      refused: 0,
      cacheMisses: 1,
      cacheHits: 1,
      cacheEntries: 1,
    });
  });

  it('freezes the principal and its claims, so a shared cached result cannot be altered', async () => {
    const { verifier, token } = staticVerifier();
    const principal = await verifier.verify(
      token({ roles: ['admin'], cnf: { jkt: 'abc' }, ext: { a: [1] } }),
    );
    expect(Object.isFrozen(principal)).toBe(true);
    expect(Object.isFrozen(principal.scopes)).toBe(true);
    expect(Object.isFrozen(principal.roles)).toBe(true);
    expect(Object.isFrozen(principal.audience)).toBe(true);
    expect(Object.isFrozen(principal.cnf)).toBe(true);
    expect(Object.isFrozen(principal.claims)).toBe(true);
    expect(Object.isFrozen(principal.claims['ext'])).toBe(true);

    // ES modules run in strict mode: writes to frozen objects throw.
    const writable = principal as { -readonly [K in keyof Principal]: Principal[K] };
    expect(() => {
      writable.sub = 'admin';
    }).toThrow(TypeError);
    expect(() => (principal.scopes as string[]).push('admin:all')).toThrow(TypeError);
    expect(() => (principal.roles as string[]).push('root')).toThrow(TypeError);
    expect(() => {
      (principal.claims as Record<string, unknown>)['sub'] = 'admin';
    }).toThrow(TypeError);
    expect(() => (principal.claims['ext'] as { a: number[] }).a.push(2)).toThrow(TypeError);

    const again = await verifier.verify(token({ roles: ['admin'], cnf: { jkt: 'abc' }, ext: { a: [1] } }));
    expect(again.sub).toBe('user-1');
  });

  it('keeps a result until exp, then verifies again and refuses once past the tolerance', async () => {
    const { verifier, token, clock } = staticVerifier();
    const t = token({ exp: NOW + 300 });
    await verifier.verify(t);

    clock.advanceSec(299);
    await expect(verifier.verify(t)).resolves.toMatchObject({ sub: 'user-1' });
    expect(verifier.stats()).toMatchObject({ cacheHits: 1, cacheMisses: 1 });

    // At exp the cached entry is dropped: the token is verified again (still inside the tolerance).
    clock.advanceSec(1);
    await expect(verifier.verify(t)).resolves.toMatchObject({ sub: 'user-1' });
    expect(verifier.stats()).toMatchObject({ cacheHits: 1, cacheMisses: 2 });

    // RFC 7519 §4.1.4: refused once now - tolerance reaches exp.
    clock.advanceSec(TOLERANCE);
    await expect(verifier.verify(t)).rejects.toMatchObject({ code: 'ERR_JWT_EXPIRED' });
    expect(verifier.stats()).toMatchObject({ cacheHits: 1, cacheMisses: 3, verified: 3, refused: 1 });
  });

  it('forgets the least recently used result first', async () => {
    const { verifier, token } = staticVerifier({ cache: { maxEntries: 2 } });
    const [a, b, c] = [token({ jti: 'a' }), token({ jti: 'b' }), token({ jti: 'c' })] as [
      string,
      string,
      string,
    ];
    await verifier.verify(a);
    await verifier.verify(b);
    await verifier.verify(a); // hit: a is now the most recently used
    await verifier.verify(c); // evicts b
    expect(verifier.stats()).toMatchObject({ cacheHits: 1, cacheMisses: 3, cacheEntries: 2 });

    await verifier.verify(a);
    await verifier.verify(c);
    expect(verifier.stats()).toMatchObject({ cacheHits: 3, cacheMisses: 3 });
    await verifier.verify(b);
    expect(verifier.stats()).toMatchObject({ cacheHits: 3, cacheMisses: 4, cacheEntries: 2 });
  });

  it('evicts the oldest of three tokens with maxEntries 2', async () => {
    const { verifier, token } = staticVerifier({ cache: { maxEntries: 2 } });
    const tokens = [token({ jti: '1' }), token({ jti: '2' }), token({ jti: '3' })];
    for (const t of tokens) await verifier.verify(t);
    await verifier.verify(tokens[0]!);
    expect(verifier.stats()).toMatchObject({ cacheHits: 0, cacheMisses: 4, cacheEntries: 2 });
  });

  it('cache: false verifies every time', async () => {
    const { verifier, token } = staticVerifier({ cache: false });
    const t = token();
    const first = await verifier.verify(t);
    const second = await verifier.verify(t);
    expect(second).toEqual(first);
    expect(second).not.toBe(first);
    expect(verifier.stats()).toMatchObject({ verified: 2, cacheHits: 0, cacheMisses: 0, cacheEntries: 0 });
  });

  it('a hit means the very same token: a tampered copy of a cached token is verified, and refused', async () => {
    const { verifier, token } = staticVerifier();
    const t = token();
    await verifier.verify(t);
    const [header, payload, signature] = t.split('.') as [string, string, string];
    // Same header and claims, another signature: must not ride on the cached result.
    const flipped = signature.startsWith('A') ? `B${signature.slice(1)}` : `A${signature.slice(1)}`;
    await expect(verifier.verify(`${header}.${payload}.${flipped}`)).rejects.toMatchObject({
      code: 'ERR_JWT_SIGNATURE_INVALID',
    });
    expect(verifier.stats()).toMatchObject({ cacheHits: 0, cacheMisses: 2, cacheEntries: 1, refused: 1 });
  });

  it('does not cache refusals', async () => {
    const { verifier, token } = staticVerifier();
    const wrongAudience = token({ aud: 'https://other.example' });
    await expect(verifier.verify(wrongAudience)).rejects.toMatchObject({ code: 'ERR_JWT_AUDIENCE_INVALID' });
    await expect(verifier.verify(wrongAudience)).rejects.toMatchObject({ code: 'ERR_JWT_AUDIENCE_INVALID' });
    expect(verifier.stats()).toMatchObject({ cacheHits: 0, cacheMisses: 2, cacheEntries: 0, refused: 2 });
  });

  it('refuses empty, non-string and oversized tokens before the cache', async () => {
    const { verifier, token } = staticVerifier({ maxTokenBytes: 100 });
    await expect(verifier.verify('')).rejects.toMatchObject({ code: 'ERR_JWT_MALFORMED' });
    await expect(verifier.verify(undefined as unknown as string)).rejects.toMatchObject({
      code: 'ERR_JWT_MALFORMED',
    });
    await expect(verifier.verify(token())).rejects.toMatchObject({ code: 'ERR_JWT_TOO_LARGE' });
    expect(verifier.stats()).toMatchObject({ refused: 3, cacheMisses: 0, cacheHits: 0 });
  });
});
