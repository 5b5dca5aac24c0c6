import { describe, expect, it } from 'vitest';
import { NOW } from '../helpers/tokens.js';
import { staticVerifier } from './support.js';

describe('verifyFromCache: the synchronous cache lookup', () => {
  it('answers a token verified before with the same principal, counted as a verified hit', async () => {
    const { verifier, token } = staticVerifier();
    const t = token();
    expect(verifier.verifyFromCache?.(t)).toBeUndefined();
    const principal = await verifier.verify(t);
    expect(verifier.verifyFromCache?.(t)).toBe(principal);
    expect(verifier.stats()).toMatchObject({ verified: 2, refused: 0, cacheHits: 1, cacheMisses: 1 });
  });

  it('never answers what verify would check again: tampered, expired, revoked, malformed, oversized', async () => {
    const { verifier, token, clock } = staticVerifier({ maxTokenBytes: 4096 });
    const t = token({ exp: NOW + 300, jti: 'j-1' });
    await verifier.verify(t);

    const [header, payload, signature] = t.split('.') as [string, string, string];
    const flipped = signature.startsWith('A') ? `B${signature.slice(1)}` : `A${signature.slice(1)}`;
    const cases: [string, string][] = [
      ['another signature', `${header}.${payload}.${flipped}`],
      ['empty', ''],
      ['not a string', undefined as unknown as string],
      ['oversized', 'a'.repeat(4097)],
    ];
    for (const [, input] of cases) expect(verifier.verifyFromCache?.(input)).toBeUndefined();

    clock.advanceSec(300);
    // At exp the cached result no longer counts (verify then checks the token again).
    expect(verifier.verifyFromCache?.(t)).toBeUndefined();
    clock.advanceSec(-300);
    expect(verifier.verifyFromCache?.(t)).toMatchObject({ jti: 'j-1' });

    verifier.revoke({ jti: 'j-1' });
    expect(verifier.verifyFromCache?.(t)).toBeUndefined();
    await expect(verifier.verify(t)).rejects.toMatchObject({ code: 'ERR_JWT_REVOKED' });
    expect(verifier.stats()).toMatchObject({ cacheHits: 2, verified: 2, refused: 1 });
  });

  it('leaves everything to verify without a cache or with a revocation source to ask', async () => {
    const uncached = staticVerifier({ cache: false });
    const t = uncached.token();
    await uncached.verifier.verify(t);
    expect(uncached.verifier.verifyFromCache?.(t)).toBeUndefined();

    const asked: string[] = [];
    const withSource = staticVerifier({
      revocation: {
        isRevoked: (principal) => {
          asked.push(principal.sub);
          return Promise.resolve(false);
        },
      },
    });
    const u = withSource.token();
    await withSource.verifier.verify(u);
    expect(withSource.verifier.verifyFromCache?.(u)).toBeUndefined();
    await withSource.verifier.verify(u);
    expect(asked).toEqual(['user-1', 'user-1']);
  });
});
