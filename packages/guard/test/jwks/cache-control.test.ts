import { afterEach, describe, expect, it } from 'vitest';
import { JwksServer } from '../helpers/jwks-server.js';
import { createTestKey } from '../helpers/keys.js';
import { NOW_MS } from '../helpers/tokens.js';
import { eventsOf, remoteVerifier, tokenAt } from './support.js';

const SEC = 1000;
const key = createTestKey('ES256');
let server: JwksServer;

afterEach(async () => {
  await server.close();
});

const BOUNDS = { minCacheSec: 60, maxCacheSec: 3600, defaultCacheSec: 300 } as const;

const cases: Array<{ name: string; source: string; cacheControl: string | undefined; lifetimeSec: number }> =
  [
    { name: 'max-age honoured', source: 'RFC 9111 §5.2.2.1', cacheControl: 'max-age=600', lifetimeSec: 600 },
    {
      name: 'max-age among other directives',
      source: 'RFC 9111 §5.2',
      cacheControl: 'public, Max-Age=900, must-revalidate',
      lifetimeSec: 900,
    },
    {
      name: 'max-age below the minimum is raised',
      source: 'minCacheSec',
      cacheControl: 'max-age=1',
      lifetimeSec: 60,
    },
    {
      name: 'max-age above the maximum is lowered',
      source: 'maxCacheSec',
      cacheControl: 'max-age=31536000',
      lifetimeSec: 3600,
    },
    {
      name: 'no-store still caches for the minimum',
      source: 'RFC 9111 §5.2.2.5',
      cacheControl: 'no-store',
      lifetimeSec: 60,
    },
    {
      name: 'no-cache still caches for the minimum',
      source: 'RFC 9111 §5.2.2.4',
      cacheControl: 'no-cache',
      lifetimeSec: 60,
    },
    {
      name: 'of two max-age directives the first counts',
      source: 'RFC 9111 §4.2.1',
      cacheControl: 'max-age=120, max-age=3000',
      lifetimeSec: 120,
    },
    {
      name: 'malformed max-age is ignored',
      source: 'RFC 9111 §1.2.2',
      cacheControl: 'max-age=-5',
      lifetimeSec: 300,
    },
    {
      name: 'absent Cache-Control uses the default',
      source: 'defaultCacheSec',
      cacheControl: undefined,
      lifetimeSec: 300,
    },
  ];

describe('RemoteKeySet — Cache-Control freshness within bounds', () => {
  it.each(cases)('$name ($source)', async ({ cacheControl, lifetimeSec }) => {
    server = await JwksServer.start({ keys: [key.publicJwk], cacheControl });
    let clock = NOW_MS;
    // No verification cache: every verify asks the key set.
    const { verifier, events } = remoteVerifier(server, {
      now: () => clock,
      cache: false,
      jwksOptions: BOUNDS,
    });
    await verifier.prewarm();
    expect(server.requests).toBe(1);
    expect(eventsOf(events, 'jwks.fetched')[0]).toMatchObject({ cacheSec: lifetimeSec });

    // Fresh until the last millisecond of its lifetime.
    clock = NOW_MS + lifetimeSec * SEC - 1;
    await expect(verifier.verify(tokenAt(key, clock))).resolves.toMatchObject({ sub: 'user-1' });
    expect(server.requests).toBe(1);

    // Expired at the boundary: one refetch, then fresh again for a full lifetime.
    clock = NOW_MS + lifetimeSec * SEC;
    await expect(verifier.verify(tokenAt(key, clock))).resolves.toMatchObject({ sub: 'user-1' });
    expect(server.requests).toBe(2);
    clock += lifetimeSec * SEC - 1;
    await expect(verifier.verify(tokenAt(key, clock))).resolves.toMatchObject({ sub: 'user-1' });
    expect(server.requests).toBe(2);
    expect(verifier.stats()).toMatchObject({ jwksFetches: 2, jwksStaleServed: 0 });
  });
});
