import { randomBytes } from 'node:crypto';
import { createRedisSharedState, type SharedState } from '@gatehouse/core';
import { requireService, serviceUrl } from '@gatehouse/testing';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { startAuthServer, type TestAuthServer, type TestClient } from '../support/auth-server.js';
import {
  ACCOUNTS,
  API,
  PUBLIC_URL,
  ROUTE,
  bearer,
  createDpopKey,
  dpopProof,
  startAuthenticator,
  type Authenticator,
} from './helpers.js';

const redis = await requireService('redis', 'gateway auth over Redis shared state');

/**
 * Two gateway instances and the auth server, each with its own Redis connection on one prefix:
 * what separate processes see. Revocations travel over Redis pub/sub, DPoP proof ids are shared.
 */
describe.skipIf(!redis.available)('gateway auth: revocation and DPoP replay across instances (Redis)', () => {
  const prefix = `test:gw-auth:${randomBytes(6).toString('hex')}:`;
  const states: SharedState[] = [];
  let as: TestAuthServer;
  let first: Authenticator;
  let second: Authenticator;
  let opaqueClient: TestClient;
  let jwtClient: TestClient;

  const openState = async (): Promise<SharedState> => {
    const state = await createRedisSharedState({ url: serviceUrl('redis'), prefix });
    states.push(state);
    return state;
  };

  beforeAll(async () => {
    as = await startAuthServer({ state: await openState() });
    const gateway = await as.createGatewayClient();
    opaqueClient = await as.createClient({ scopes: ['accounts:read'], resources: [API, ACCOUNTS] });
    jwtClient = await as.createClient({
      scopes: ['accounts:read'],
      resources: [API, ACCOUNTS],
      tokenFormat: 'jwt',
    });
    first = await startAuthenticator(as, gateway, { state: await openState() });
    second = await startAuthenticator(as, gateway, { state: await openState() });
  });
  afterAll(async () => {
    await first.auth.close();
    await second.auth.close();
    await as.close();
    await Promise.all(states.map((state) => state.close()));
  });

  it('a revocation evicts the caches of every instance within 1 s', async () => {
    const opaque = await as.tokenFor(opaqueClient);
    const jwt = await as.tokenFor(jwtClient);
    for (const gw of [first, second]) {
      expect((await gw.auth.authenticate(bearer(opaque), ROUTE.opaque)).ok).toBe(true);
      expect((await gw.auth.authenticate(bearer(jwt), ROUTE.jwt)).ok).toBe(true);
    }
    await as.revoke(opaqueClient, opaque);
    await as.revoke(jwtClient, jwt);
    await vi.waitFor(
      async () => {
        for (const gw of [first, second]) {
          expect((await gw.auth.authenticate(bearer(opaque), ROUTE.opaque)).ok).toBe(false);
          expect(await gw.auth.authenticate(bearer(jwt), ROUTE.jwt)).toMatchObject({
            ok: false,
            reason: 'revoked',
          });
        }
      },
      { timeout: 1000, interval: 10 },
    );
  });

  it('a DPoP proof accepted by one instance is a replay at the other (shared replay store)', async () => {
    const key = createDpopKey();
    const token = await as.tokenFor(opaqueClient, {
      dpop: dpopProof(key, { htm: 'POST', htu: as.tokenEndpoint, iatMs: as.clock.now() }),
    });
    const proof = dpopProof(key, { htu: PUBLIC_URL, accessToken: token, iatMs: as.clock.now() });
    const request = { authorization: `DPoP ${token}`, dpop: proof, method: 'GET', htu: PUBLIC_URL };
    expect((await first.auth.authenticate(request, ROUTE.opaque)).ok).toBe(true);
    expect(await second.auth.authenticate(request, ROUTE.opaque)).toMatchObject({
      ok: false,
      error: { code: 'ERR_DPOP_REPLAYED' },
    });
  });
});
