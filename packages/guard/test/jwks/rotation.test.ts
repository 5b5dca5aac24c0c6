import { randomUUID } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { createVerifier } from '../../src/index.js';
import { JwksServer } from '../helpers/jwks-server.js';
import { createTestKey } from '../helpers/keys.js';
import { NOW_MS } from '../helpers/tokens.js';
import { eventsOf, forgedKidToken, remoteVerifier, tokenAt } from './support.js';

const SEC = 1000;
let server: JwksServer;

afterEach(async () => {
  await server.close();
});

describe('RemoteKeySet — key rotation', () => {
  it('fetches once for a newly published kid, keeps the old key while published, drops it when removed', async () => {
    const oldKey = createTestKey('ES256');
    const newKey = createTestKey('ES256');
    server = await JwksServer.start({ keys: [oldKey.publicJwk], cacheControl: 'max-age=300' });
    let clock = NOW_MS;
    const { verifier, events } = remoteVerifier(server, { now: () => clock });
    await verifier.prewarm();
    expect(server.requests).toBe(1);

    // Verified and kept in the verification cache.
    const cachedOld = tokenAt(oldKey, clock);
    await expect(verifier.verify(cachedOld)).resolves.toMatchObject({ sub: 'user-1' });
    await expect(verifier.verify(cachedOld)).resolves.toMatchObject({ sub: 'user-1' });
    expect(verifier.stats()).toMatchObject({ cacheHits: 1, cacheEntries: 1 });

    // Rotation step 1: the issuer publishes the new key next to the old one.
    server.keys = [oldKey.publicJwk, newKey.publicJwk];
    clock += 11 * SEC; // past the 10 s unknown-kid cooldown since the prewarm
    await expect(verifier.verify(tokenAt(newKey, clock))).resolves.toMatchObject({ sub: 'user-1' });
    expect(server.requests).toBe(2);
    await expect(verifier.verify(tokenAt(newKey, clock))).resolves.toMatchObject({ sub: 'user-1' });
    await expect(verifier.verify(tokenAt(oldKey, clock))).resolves.toMatchObject({ sub: 'user-1' });
    await expect(verifier.verify(cachedOld)).resolves.toMatchObject({ sub: 'user-1' });
    expect(server.requests).toBe(2);

    // Rotation step 2: the old key is withdrawn; once the cached set expires it is gone.
    server.keys = [newKey.publicJwk];
    clock += 301 * SEC;
    await expect(verifier.verify(tokenAt(newKey, clock))).resolves.toMatchObject({ sub: 'user-1' });
    expect(server.requests).toBe(3);
    await expect(verifier.verify(tokenAt(oldKey, clock))).rejects.toMatchObject({
      code: 'ERR_JWKS_NO_MATCHING_KEY',
    });
    // The cached result died with its key: it is verified again and refused.
    await expect(verifier.verify(cachedOld)).rejects.toMatchObject({ code: 'ERR_JWKS_NO_MATCHING_KEY' });
    expect(server.requests).toBe(3);
    expect(eventsOf(events, 'jwks.fetched').map((event) => event.keys)).toEqual([1, 2, 1]);
  });

  it('refuses a cached result signed by a withdrawn key even when it is the first token after expiry', async () => {
    const oldKey = createTestKey('ES256');
    const newKey = createTestKey('ES256');
    server = await JwksServer.start({ keys: [oldKey.publicJwk], cacheControl: 'max-age=300' });
    let clock = NOW_MS;
    const { verifier } = remoteVerifier(server, { now: () => clock });
    await verifier.prewarm();

    const cachedOld = tokenAt(oldKey, clock);
    await expect(verifier.verify(cachedOld)).resolves.toMatchObject({ sub: 'user-1' });

    server.keys = [newKey.publicJwk];
    clock += 301 * SEC;
    // The key set has expired: a cache hit must not outlive it (the key may have been withdrawn
    // because it leaked). The verifier has to look at the refreshed key set first.
    await expect(verifier.verify(cachedOld)).rejects.toMatchObject({ code: 'ERR_JWKS_NO_MATCHING_KEY' });
    expect(server.requests).toBe(2);
  });
});

describe('RemoteKeySet — unknown-kid storm', () => {
  it('1,000 forged kids cause at most one refetch; more within the cooldown cause none', async () => {
    const key = createTestKey('ES256');
    server = await JwksServer.start({ keys: [key.publicJwk] });
    let clock = NOW_MS;
    const { verifier, events } = remoteVerifier(server, {
      now: () => clock,
      jwksOptions: { cooldownSec: 10 },
    });
    await verifier.prewarm();
    expect(server.requests).toBe(1);

    // Past the cooldown since the prewarm, so the storm is allowed exactly one refetch.
    clock += 10 * SEC;
    const storm = Array.from({ length: 1000 }, () => forgedKidToken(randomUUID(), clock));
    const results = await Promise.allSettled(storm.map((token) => verifier.verify(token)));

    const codes = new Set(
      results.map((r) => (r.status === 'rejected' ? (r.reason as { code: string }).code : 'ok')),
    );
    expect(codes).toEqual(new Set(['ERR_JWKS_NO_MATCHING_KEY']));
    expect(server.requests).toBe(2);
    expect(verifier.stats()).toMatchObject({ jwksFetches: 2, refused: 1000 });

    // Within the cooldown: no fetch at all, each suppressed refetch counted.
    const suppressedBefore = verifier.stats().jwksRefetchSuppressed;
    clock += 9 * SEC;
    const more = Array.from({ length: 100 }, () => forgedKidToken(randomUUID(), clock));
    const moreResults = await Promise.allSettled(more.map((token) => verifier.verify(token)));
    expect(moreResults.every((r) => r.status === 'rejected')).toBe(true);
    expect(server.requests).toBe(2);
    expect(verifier.stats().jwksRefetchSuppressed).toBe(suppressedBefore + 100);

    // The real key still works during the storm, from the cache, without a fetch.
    await expect(verifier.verify(tokenAt(key, clock))).resolves.toMatchObject({ sub: 'user-1' });
    expect(server.requests).toBe(2);

    // Once the cooldown has passed, one more refetch is allowed.
    clock += 1 * SEC;
    await expect(verifier.verify(forgedKidToken(randomUUID(), clock))).rejects.toMatchObject({
      code: 'ERR_JWKS_NO_MATCHING_KEY',
    });
    expect(server.requests).toBe(3);
    await expect(verifier.verify(forgedKidToken(randomUUID(), clock))).rejects.toMatchObject({
      code: 'ERR_JWKS_NO_MATCHING_KEY',
    });
    expect(server.requests).toBe(3);
    expect(eventsOf(events, 'jwks.fetched')).toHaveLength(3);
  });
});

describe('Verifier.refreshKeys — a trusted signal that keys changed', () => {
  it('fetches at once, inside the unknown-kid cooldown, so a key published a moment ago verifies', async () => {
    const oldKey = createTestKey('ES256');
    const newKey = createTestKey('ES256');
    server = await JwksServer.start({ keys: [oldKey.publicJwk], cacheControl: 'max-age=300' });
    const clock = NOW_MS;
    const { verifier } = remoteVerifier(server, { now: () => clock });
    await verifier.prewarm();
    server.keys = [oldKey.publicJwk, newKey.publicJwk];
    // Without the signal: the cooldown since the prewarm holds the refetch back.
    await expect(verifier.verify(tokenAt(newKey, clock))).rejects.toMatchObject({
      code: 'ERR_JWKS_NO_MATCHING_KEY',
    });
    expect(server.requests).toBe(1);
    // The authorization server says a key was published: fetched now, whatever the clock.
    await verifier.refreshKeys();
    expect(server.requests).toBe(2);
    await expect(verifier.verify(tokenAt(newKey, clock))).resolves.toMatchObject({ sub: 'user-1' });
    // Concurrent signals share one fetch.
    await Promise.all([verifier.refreshKeys(), verifier.refreshKeys(), verifier.refreshKeys()]);
    expect(server.requests).toBe(3);
  });

  it('is a no-op for a static key set and a shared secret', async () => {
    server = await JwksServer.start({ keys: [] });
    const key = createTestKey('ES256');
    const fixed = createVerifier({
      issuer: 'https://issuer.test',
      audience: 'api',
      jwks: { keys: [key.publicJwk] },
    });
    await expect(fixed.refreshKeys()).resolves.toBeUndefined();
    const secret = createVerifier({
      issuer: 'https://issuer.test',
      audience: 'api',
      secret: 'a-shared-secret-of-at-least-32-bytes!!',
      algorithms: ['HS256'],
    });
    await expect(secret.refreshKeys()).resolves.toBeUndefined();
  });
});
