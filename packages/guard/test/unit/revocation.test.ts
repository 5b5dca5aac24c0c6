import { describe, expect, it } from 'vitest';
import type { GuardEvent, Principal, RevocationSource, RevocationTarget } from '../../src/index.js';
import { NOW } from '../helpers/tokens.js';
import { staticVerifier } from './support.js';

/** A revocation feed like the auth server's pub/sub channel: publish() reaches every subscriber. */
class RevocationFeed implements RevocationSource {
  readonly listeners = new Set<(target: RevocationTarget) => void>();
  subscribe(listener: (target: RevocationTarget) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
  publish(target: RevocationTarget): void {
    for (const listener of this.listeners) listener(target);
  }
}

interface TargetCase {
  readonly name: string;
  readonly target: RevocationTarget;
  /** Claims of a token the target covers. */
  readonly covered: Record<string, unknown>;
  /** Claims of a token it does not cover. */
  readonly other: Record<string, unknown>;
}

const targets: TargetCase[] = [
  { name: 'one token (jti)', target: { jti: 'jti-1' }, covered: { jti: 'jti-1' }, other: { jti: 'jti-2' } },
  {
    name: 'one session (sid)',
    target: { sid: 'session-1' },
    covered: { sid: 'session-1', jti: 'a' },
    other: { sid: 'session-2', jti: 'b' },
  },
  {
    name: 'a subject (sub, issued up to now)',
    target: { sub: 'user-1' },
    covered: { sub: 'user-1' },
    other: { sub: 'user-2' },
  },
  {
    name: 'a subject up to a cut-off (sub + issuedBefore)',
    target: { sub: 'user-1', issuedBefore: NOW - 100 },
    covered: { sub: 'user-1', iat: NOW - 200, jti: 'old' },
    other: { sub: 'user-1', iat: NOW - 10, jti: 'recent' },
  },
];

describe('verifier.revoke', () => {
  it.each(targets)('revokes $name without a cache', async ({ target, covered, other }) => {
    const { verifier, token } = staticVerifier({ cache: false });
    verifier.revoke(target);
    await expect(verifier.verify(token(covered))).rejects.toMatchObject({
      code: 'ERR_JWT_REVOKED',
      status: 401,
    });
    await expect(verifier.verify(token(other))).resolves.toMatchObject({ sub: other['sub'] ?? 'user-1' });
  });

  it.each(targets)('revokes $name when the result is already cached', async ({ target, covered, other }) => {
    const { verifier, token } = staticVerifier();
    const coveredToken = token(covered);
    const otherToken = token(other);
    await verifier.verify(coveredToken);
    await verifier.verify(otherToken);
    verifier.revoke(target);
    await expect(verifier.verify(coveredToken)).rejects.toMatchObject({ code: 'ERR_JWT_REVOKED' });
    await expect(verifier.verify(otherToken)).resolves.toMatchObject({ sub: other['sub'] ?? 'user-1' });
    // The refused result is dropped from the cache, and stays refused when verified again.
    await expect(verifier.verify(coveredToken)).rejects.toMatchObject({ code: 'ERR_JWT_REVOKED' });
    expect(verifier.stats()).toMatchObject({ refused: 2, cacheEntries: 1 });
  });

  it('a token issued after a subject revocation passes; one issued in the same second does not', async () => {
    const { verifier, token, clock } = staticVerifier();
    verifier.revoke({ sub: 'user-1' }); // cut-off: NOW
    clock.advanceSec(60);
    await expect(verifier.verify(token({ iat: NOW, jti: 'same-second' }))).rejects.toMatchObject({
      code: 'ERR_JWT_REVOKED',
    });
    await expect(verifier.verify(token({ iat: NOW + 1, jti: 'after' }))).resolves.toMatchObject({
      sub: 'user-1',
    });
    await expect(verifier.verify(token({ iat: NOW + 60, jti: 'later' }))).resolves.toMatchObject({
      sub: 'user-1',
    });
  });

  it('a token without iat cannot prove it was issued after a subject revocation', async () => {
    const { verifier, token } = staticVerifier({ requiredClaims: ['iss', 'aud', 'exp', 'sub'] });
    await expect(verifier.verify(token({ iat: undefined }))).resolves.toMatchObject({ sub: 'user-1' });
    verifier.revoke({ sub: 'user-1', issuedBefore: NOW - 3600 });
    await expect(verifier.verify(token({ iat: undefined }))).rejects.toMatchObject({
      code: 'ERR_JWT_REVOKED',
    });
  });

  it('a later subject revocation with an earlier cut-off keeps the later cut-off', async () => {
    const { verifier, token } = staticVerifier({ cache: false });
    verifier.revoke({ sub: 'user-1', issuedBefore: NOW });
    verifier.revoke({ sub: 'user-1', issuedBefore: NOW - 1000 });
    await expect(verifier.verify(token({ iat: NOW - 10 }))).rejects.toMatchObject({
      code: 'ERR_JWT_REVOKED',
    });
  });
});

describe('revocation source', () => {
  it('subscribe() pushes revocations into the verifier, and close() unsubscribes', async () => {
    const feed = new RevocationFeed();
    const { verifier, token } = staticVerifier({ revocation: feed });
    expect(feed.listeners.size).toBe(1);
    const t = token({ jti: 'pushed' });
    await verifier.verify(t);

    feed.publish({ jti: 'pushed' });
    await expect(verifier.verify(t)).rejects.toMatchObject({ code: 'ERR_JWT_REVOKED' });
    feed.publish({ sid: 's-9' });
    await expect(verifier.verify(token({ sid: 's-9', jti: 'x' }))).rejects.toMatchObject({
      code: 'ERR_JWT_REVOKED',
    });

    verifier.close();
    expect(feed.listeners.size).toBe(0);
    feed.publish({ jti: 'after-close' });
    await expect(verifier.verify(token({ jti: 'after-close' }))).resolves.toMatchObject({ sub: 'user-1' });
  });

  it('close() without a source, or a source without subscribe, is harmless', () => {
    expect(() => staticVerifier().verifier.close()).not.toThrow();
    expect(() => staticVerifier({ revocation: { isRevoked: () => false } }).verifier.close()).not.toThrow();
  });

  it.each([
    { name: 'synchronous', answer: (revoked: boolean) => revoked },
    { name: 'asynchronous', answer: (revoked: boolean) => Promise.resolve(revoked) },
  ])('isRevoked() ($name) is asked for every verification, cached or not', async ({ answer }) => {
    const asked: Principal[] = [];
    const revokedJtis = new Set<string>();
    const source: RevocationSource = {
      isRevoked: (principal) => {
        asked.push(principal);
        return answer(principal.jti !== undefined && revokedJtis.has(principal.jti));
      },
    };
    const { verifier, token } = staticVerifier({ revocation: source });
    const t = token({ jti: 'asked' });
    await verifier.verify(t);
    await verifier.verify(t);
    expect(asked.map((p) => p.jti)).toEqual(['asked', 'asked']);
    expect(verifier.stats()).toMatchObject({ cacheHits: 1, verified: 2 });

    revokedJtis.add('asked');
    await expect(verifier.verify(t)).rejects.toMatchObject({ code: 'ERR_JWT_REVOKED' });
    // Uncached now: still refused by the source.
    await expect(verifier.verify(t)).rejects.toMatchObject({ code: 'ERR_JWT_REVOKED' });
    expect(verifier.stats()).toMatchObject({ refused: 2, cacheEntries: 0 });
  });

  it.each([
    {
      name: 'throws',
      isRevoked: (): boolean => {
        throw new Error('redis down');
      },
    },
    { name: 'rejects', isRevoked: (): Promise<boolean> => Promise.reject(new Error('redis down')) },
  ])(
    'fails closed when isRevoked $name: ERR_JWT_REVOCATION_UNAVAILABLE and an event',
    async ({ isRevoked }) => {
      let failing = false;
      const events: GuardEvent[] = [];
      const source: RevocationSource = {
        isRevoked: () => (failing ? isRevoked() : false),
      };
      const { verifier, token } = staticVerifier({ revocation: source, onEvent: (e) => events.push(e) });
      const cached = token({ jti: 'cached' });
      await verifier.verify(cached);

      failing = true;
      // Cached result: the status is unknown, so it is not served.
      const error: unknown = await verifier.verify(cached).catch((err: unknown) => err);
      expect(error).toMatchObject({ code: 'ERR_JWT_REVOCATION_UNAVAILABLE', status: 503, expose: false });
      expect((error as Error).cause).toMatchObject({ message: 'redis down' });
      // Uncached token.
      await expect(verifier.verify(token({ jti: 'fresh' }))).rejects.toMatchObject({
        code: 'ERR_JWT_REVOCATION_UNAVAILABLE',
      });
      expect(events).toEqual([{ type: 'revocation.source_failed' }, { type: 'revocation.source_failed' }]);

      // Once the source answers again, the token passes (verified afresh: the failed entry was dropped).
      failing = false;
      await expect(verifier.verify(cached)).resolves.toMatchObject({ jti: 'cached' });
      expect(verifier.stats()).toMatchObject({ refused: 2, verified: 2, cacheMisses: 3, cacheHits: 1 });
    },
  );
});
