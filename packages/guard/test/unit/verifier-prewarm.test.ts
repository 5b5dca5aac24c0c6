import { afterEach, describe, expect, it, vi } from 'vitest';
import { createVerifier, type GuardEvent } from '../../src/index.js';
import { JwksServer } from '../helpers/jwks-server.js';
import { createTestKey } from '../helpers/keys.js';
import { AUDIENCE, ISSUER, NOW_MS, signToken } from '../helpers/tokens.js';
import { staticVerifier } from './support.js';

const key = createTestKey('ES256');
let server: JwksServer | undefined;

afterEach(async () => {
  await server?.close();
  server = undefined;
});

describe('createVerifier — prewarm', () => {
  it('fetches the key set at creation, so the first verification needs no fetch', async () => {
    server = await JwksServer.start({ keys: [key.publicJwk] });
    const verifier = createVerifier({
      issuer: ISSUER,
      audience: AUDIENCE,
      jwksUri: server.url,
      now: () => NOW_MS,
    });
    await verifier.prewarm(); // joins the fetch started at creation
    expect(server.requests).toBe(1);
    await expect(verifier.verify(signToken(key))).resolves.toMatchObject({ sub: 'user-1' });
    expect(server.requests).toBe(1);
    expect(verifier.stats()).toMatchObject({ jwksFetches: 1 });
  });

  it('prewarm: false waits for the first verification', async () => {
    server = await JwksServer.start({ keys: [key.publicJwk] });
    const verifier = createVerifier({
      issuer: ISSUER,
      audience: AUDIENCE,
      jwksUri: server.url,
      prewarm: false,
      now: () => NOW_MS,
    });
    expect(server.requests).toBe(0);
    await expect(verifier.verify(signToken(key))).resolves.toMatchObject({ sub: 'user-1' });
    expect(server.requests).toBe(1);
  });

  it('a failed prewarm at creation is reported as an event, never as an unhandled rejection', async () => {
    server = await JwksServer.start({ keys: [key.publicJwk] });
    const url = server.url;
    await server.down();
    const events: GuardEvent[] = [];
    createVerifier({
      issuer: ISSUER,
      audience: AUDIENCE,
      jwksUri: url,
      onEvent: (event) => events.push(event),
    });
    await vi.waitFor(() => {
      expect(events).toContainEqual({ type: 'jwks.fetch_failed', uri: url, code: 'ERR_JWKS_FETCH_FAILED' });
    });
  });

  it('prewarm() of a static key set resolves at once', async () => {
    await expect(staticVerifier().verifier.prewarm()).resolves.toBeUndefined();
  });
});
