import { afterEach, describe, expect, it } from 'vitest';
import { JwksServer } from '../helpers/jwks-server.js';
import { createTestKey } from '../helpers/keys.js';
import { NOW_MS } from '../helpers/tokens.js';
import { eventsOf, remoteVerifier, tokenAt } from './support.js';

const key = createTestKey('ES256');
let server: JwksServer;

afterEach(async () => {
  await server.close();
});

describe('RemoteKeySet — prewarm, single flight and custom fetch', () => {
  it('fetches the key set once at creation, before any verification', async () => {
    server = await JwksServer.start({ keys: [key.publicJwk] });
    const clock = NOW_MS;
    const { verifier, events } = remoteVerifier(server, { now: () => clock });
    // The fetch starts synchronously in createVerifier.
    expect(verifier.stats().jwksFetches).toBe(1);
    // An explicit prewarm while the first is in flight shares it.
    await verifier.prewarm();
    expect(server.requests).toBe(1);
    expect(eventsOf(events, 'jwks.fetched')).toEqual([
      { type: 'jwks.fetched', uri: server.url, keys: 1, cacheSec: 300 },
    ]);

    await expect(verifier.verify(tokenAt(key, clock))).resolves.toMatchObject({ sub: 'user-1' });
    expect(server.requests).toBe(1);
    expect(verifier.stats()).toMatchObject({ jwksFetches: 1, verified: 1, refused: 0 });
  });

  it('with prewarm: false, the first verification fetches', async () => {
    server = await JwksServer.start({ keys: [key.publicJwk] });
    const clock = NOW_MS;
    const { verifier } = remoteVerifier(server, { now: () => clock, prewarm: false });
    expect(verifier.stats().jwksFetches).toBe(0);
    // A round trip to the server proves no request was merely in flight.
    await fetch(server.url).then((res) => res.arrayBuffer());
    expect(server.requests).toBe(1);

    await expect(verifier.verify(tokenAt(key, clock))).resolves.toMatchObject({ sub: 'user-1' });
    expect(server.requests).toBe(2);
    expect(verifier.stats().jwksFetches).toBe(1);
  });

  it('50 concurrent verifications at cold start share one fetch (single flight)', async () => {
    server = await JwksServer.start({ keys: [key.publicJwk] });
    // Slow headers keep the fetch in flight while every caller arrives.
    server.behave({ kind: 'delay-headers', ms: 50 });
    const clock = NOW_MS;
    const { verifier } = remoteVerifier(server, { now: () => clock, prewarm: false, cache: false });
    const tokens = Array.from({ length: 50 }, () => tokenAt(key, clock));

    const results = await Promise.allSettled(tokens.map((token) => verifier.verify(token)));

    expect(results.every((result) => result.status === 'fulfilled')).toBe(true);
    expect(server.requests).toBe(1);
    expect(verifier.stats()).toMatchObject({ jwksFetches: 1, verified: 50, refused: 0 });
  });

  it('uses jwksOptions.fetch when given', async () => {
    server = await JwksServer.start({ keys: [key.publicJwk] });
    const clock = NOW_MS;
    const calls: Array<{ url: string; redirect: RequestRedirect | undefined }> = [];
    const countingFetch: typeof fetch = (input, init) => {
      calls.push({ url: input instanceof Request ? input.url : input.toString(), redirect: init?.redirect });
      return fetch(input, init);
    };
    const { verifier } = remoteVerifier(server, {
      now: () => clock,
      prewarm: false,
      jwksOptions: { fetch: countingFetch },
    });

    await expect(verifier.verify(tokenAt(key, clock))).resolves.toMatchObject({ sub: 'user-1' });

    // Redirects are never followed, whatever fetch is plugged in.
    expect(calls).toEqual([{ url: server.url, redirect: 'error' }]);
    expect(server.requests).toBe(1);
  });

  const throwingFetches: Array<{ name: string; fetch: typeof fetch }> = [
    { name: 'an Error', fetch: () => Promise.reject(new TypeError('network down')) },
    {
      // A wrapper aborting with a string reason: fetch rejects with that string, not an Error.
      name: 'a non-Error value',
      fetch: (input, init) => {
        const controller = new AbortController();
        controller.abort('shutting down');
        return fetch(input, { ...init, signal: controller.signal });
      },
    },
  ];

  it.each(throwingFetches)(
    'a custom fetch rejecting with $name -> ERR_JWKS_FETCH_FAILED',
    async ({ fetch }) => {
      server = await JwksServer.start({ keys: [key.publicJwk] });
      const clock = NOW_MS;
      const { verifier, events } = remoteVerifier(server, {
        now: () => clock,
        prewarm: false,
        jwksOptions: { fetch },
      });
      await expect(verifier.verify(tokenAt(key, clock))).rejects.toMatchObject({
        code: 'ERR_JWKS_FETCH_FAILED',
      });
      expect(eventsOf(events, 'jwks.fetch_failed')).toEqual([
        { type: 'jwks.fetch_failed', uri: server.url, code: 'ERR_JWKS_FETCH_FAILED' },
      ]);
      expect(server.requests).toBe(0);
    },
  );
});
