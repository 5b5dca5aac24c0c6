import { toErrorResponse } from '@gatehouse/core';
import { afterEach, describe, expect, it } from 'vitest';
import { JwksServer } from '../helpers/jwks-server.js';
import { createTestKey } from '../helpers/keys.js';
import { NOW, NOW_MS, signToken } from '../helpers/tokens.js';
import { eventsOf, remoteVerifier, timed, tokenAt } from './support.js';

const SEC = 1000;
const key = createTestKey('ES256');
let server: JwksServer;

afterEach(async () => {
  await server.close();
});

const OPTIONS = { cooldownSec: 10, maxStaleSec: 600 } as const;

describe('RemoteKeySet — endpoint down after keys were loaded', () => {
  it('serves stale keys up to maxStaleSec (500, then connection refused), then ERR_JWKS_STALE, then recovers', async () => {
    server = await JwksServer.start({ keys: [key.publicJwk], cacheControl: 'max-age=60' });
    let clock = NOW_MS;
    const { verifier, events } = remoteVerifier(server, {
      now: () => clock,
      cache: false,
      jwksOptions: OPTIONS,
    });
    await verifier.prewarm();
    const expiry = NOW_MS + 60 * SEC;

    // Expired and the endpoint answers 500: the refetch fails, the stale keys still verify.
    server.behave({ kind: 'status', status: 500 });
    clock = expiry;
    await expect(verifier.verify(tokenAt(key, clock))).resolves.toMatchObject({ sub: 'user-1' });
    expect(server.requests).toBe(2);
    expect(eventsOf(events, 'jwks.fetch_failed')).toEqual([
      { type: 'jwks.fetch_failed', uri: server.url, code: 'ERR_JWKS_FETCH_FAILED' },
    ]);
    expect(eventsOf(events, 'jwks.stale_served')).toEqual([
      { type: 'jwks.stale_served', uri: server.url, ageSec: 0 },
    ]);

    // Within the cooldown: stale keys without a new attempt.
    clock = expiry + 5 * SEC;
    await expect(verifier.verify(tokenAt(key, clock))).resolves.toMatchObject({ sub: 'user-1' });
    expect(verifier.stats()).toMatchObject({ jwksFetches: 2, jwksFetchFailures: 1, jwksStaleServed: 2 });

    // The endpoint disappears entirely (connection refused): same stale serving.
    await server.down();
    clock = expiry + 15 * SEC;
    await expect(verifier.verify(tokenAt(key, clock))).resolves.toMatchObject({ sub: 'user-1' });
    expect(verifier.stats()).toMatchObject({ jwksFetches: 3, jwksFetchFailures: 2, jwksStaleServed: 3 });
    expect(eventsOf(events, 'jwks.fetch_failed').at(-1)).toMatchObject({ code: 'ERR_JWKS_FETCH_FAILED' });

    // Last moment of allowed staleness.
    clock = expiry + 600 * SEC;
    await expect(verifier.verify(tokenAt(key, clock))).resolves.toMatchObject({ sub: 'user-1' });
    expect(eventsOf(events, 'jwks.stale_served').at(-1)).toMatchObject({ ageSec: 600 });

    // Beyond it: refused, service unavailable rather than trusting old keys forever.
    clock = expiry + 601 * SEC;
    await expect(verifier.verify(tokenAt(key, clock))).rejects.toMatchObject({ code: 'ERR_JWKS_STALE' });
    const staleServed = verifier.stats().jwksStaleServed;

    // The endpoint is back, but within the cooldown of the last attempt nothing is fetched.
    await server.up();
    server.behave({ kind: 'jwks' });
    await expect(verifier.verify(tokenAt(key, clock))).rejects.toMatchObject({ code: 'ERR_JWKS_STALE' });
    expect(server.requests).toBe(2);

    // After the cooldown: one fetch, fresh keys, no more stale serving.
    clock += 10 * SEC;
    await expect(verifier.verify(tokenAt(key, clock))).resolves.toMatchObject({ sub: 'user-1' });
    expect(server.requests).toBe(3);
    clock += 30 * SEC;
    await expect(verifier.verify(tokenAt(key, clock))).resolves.toMatchObject({ sub: 'user-1' });
    expect(server.requests).toBe(3);
    expect(verifier.stats().jwksStaleServed).toBe(staleServed);
  });

  it('does not serve a cached result past maxStaleSec either', async () => {
    server = await JwksServer.start({ keys: [key.publicJwk], cacheControl: 'max-age=60' });
    let clock = NOW_MS;
    const { verifier } = remoteVerifier(server, { now: () => clock, jwksOptions: OPTIONS });
    await verifier.prewarm();
    // Valid for an hour, well past the staleness limit, and cached.
    const token = signToken(key, { iat: NOW - 10, exp: NOW + 3600 });
    await expect(verifier.verify(token)).resolves.toMatchObject({ sub: 'user-1' });
    expect(verifier.stats().cacheEntries).toBe(1);

    await server.down();
    clock = NOW_MS + (60 + 601) * SEC;
    // An uncached token is refused here; the cached result must not outlive the keys either.
    await expect(verifier.verify(tokenAt(key, clock))).rejects.toMatchObject({ code: 'ERR_JWKS_STALE' });
    await expect(verifier.verify(token)).rejects.toMatchObject({ code: 'ERR_JWKS_STALE' });
  });

  it('ERR_JWKS_STALE maps to 503 problem+json with Retry-After', async () => {
    server = await JwksServer.start({ keys: [key.publicJwk], cacheControl: 'max-age=60' });
    let clock = NOW_MS;
    const { verifier } = remoteVerifier(server, { now: () => clock, cache: false, jwksOptions: OPTIONS });
    await verifier.prewarm();
    await server.down();
    clock += (60 + 601) * SEC;

    const error: unknown = await verifier.verify(tokenAt(key, clock)).catch((err: unknown) => err);

    expect(error).toMatchObject({ code: 'ERR_JWKS_STALE' });
    const response = toErrorResponse(error);
    expect(response.status).toBe(503);
    expect(response.headers).toMatchObject({
      'retry-after': '5',
      'content-type': 'application/problem+json',
    });
    expect(JSON.parse(response.body)).toMatchObject({ status: 503, title: 'Service Unavailable' });
  });
});

describe('RemoteKeySet — endpoint down at start', () => {
  it('fails fast with ERR_JWKS_FETCH_FAILED during the cooldown, then retries and recovers', async () => {
    server = await JwksServer.start({ keys: [key.publicJwk] });
    const url = server.url;
    await server.down();
    let clock = NOW_MS;
    const { verifier, events } = remoteVerifier(server, { now: () => clock, jwksOptions: OPTIONS });
    expect(server.url).toBe(url);

    // The prewarm fails (connection refused) and so does the first verification, without a new fetch.
    await expect(verifier.prewarm()).rejects.toMatchObject({ code: 'ERR_JWKS_FETCH_FAILED' });
    await expect(verifier.verify(tokenAt(key, clock))).rejects.toMatchObject({
      code: 'ERR_JWKS_FETCH_FAILED',
    });
    expect(verifier.stats()).toMatchObject({ jwksFetches: 1, jwksFetchFailures: 1, refused: 1 });

    // Back up, but still within the cooldown: fast fail, the server sees nothing.
    await server.up();
    clock += 9 * SEC;
    const { ms, result } = await timed(() => verifier.verify(tokenAt(key, clock)));
    expect(result).toMatchObject({ status: 'rejected', reason: { code: 'ERR_JWKS_FETCH_FAILED' } });
    expect(ms).toBeLessThan(500);
    expect(server.requests).toBe(0);

    // After the cooldown, one retry loads the keys.
    clock += 1 * SEC;
    await expect(verifier.verify(tokenAt(key, clock))).resolves.toMatchObject({ sub: 'user-1' });
    expect(server.requests).toBe(1);
    expect(verifier.stats()).toMatchObject({ jwksFetches: 2, jwksFetchFailures: 1 });
    expect(eventsOf(events, 'jwks.fetched')).toHaveLength(1);
  });
});

describe('RemoteKeySet — slow endpoint', () => {
  const slowCases = [
    { name: 'headers delayed beyond the timeout', behaviour: { kind: 'delay-headers', ms: 3000 } },
    { name: 'body trickled beyond the timeout', behaviour: { kind: 'trickle', intervalMs: 100, chunks: 30 } },
  ] as const;

  it.each(slowCases)('$name -> ERR_JWKS_TIMEOUT within a bound', async ({ behaviour }) => {
    server = await JwksServer.start({ keys: [key.publicJwk] });
    server.behave(behaviour);
    const clock = NOW_MS;
    const { verifier, events } = remoteVerifier(server, {
      now: () => clock,
      prewarm: false,
      jwksOptions: { timeoutMs: 200 },
    });

    const { ms, result } = await timed(() => verifier.verify(tokenAt(key, clock)));

    expect(result).toMatchObject({ status: 'rejected', reason: { code: 'ERR_JWKS_TIMEOUT' } });
    expect(ms).toBeGreaterThanOrEqual(150);
    expect(ms).toBeLessThan(2000);
    expect(server.requests).toBe(1);
    expect(eventsOf(events, 'jwks.fetch_failed')).toEqual([
      { type: 'jwks.fetch_failed', uri: server.url, code: 'ERR_JWKS_TIMEOUT' },
    ]);
  });

  it('a slow but timely body is accepted', async () => {
    server = await JwksServer.start({ keys: [key.publicJwk] });
    server.behave({ kind: 'trickle', intervalMs: 10, chunks: 5 });
    const clock = NOW_MS;
    const { verifier } = remoteVerifier(server, {
      now: () => clock,
      prewarm: false,
      jwksOptions: { timeoutMs: 2000 },
    });
    await expect(verifier.verify(tokenAt(key, clock))).resolves.toMatchObject({ sub: 'user-1' });
  });
});
