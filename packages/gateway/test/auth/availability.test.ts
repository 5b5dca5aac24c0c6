import { createServer as createHttpServer } from 'node:http';
import { createServer, type Server, type Socket } from 'node:net';
import { createMemorySharedState } from '@gatehouse/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createGatewayAuthenticator } from '../../src/auth/index.js';
import { startAuthServer, type TestAuthServer, type TestClient } from '../support/auth-server.js';
import {
  ACCOUNTS,
  API,
  ROUTE,
  bearer,
  captureLogger,
  startAuthenticator,
  type Authenticator,
} from './helpers.js';

describe('gateway auth: auth server unreachable → fail closed, cached results serve until exp', () => {
  let as: TestAuthServer;
  let gw: Authenticator;
  let opaqueClient: TestClient;
  let jwtClient: TestClient;
  const tokens: Record<'cached' | 'uncached' | 'jwt' | 'jwtUncached', string> = {
    cached: '',
    uncached: '',
    jwt: '',
    jwtUncached: '',
  };

  beforeAll(async () => {
    as = await startAuthServer();
    opaqueClient = await as.createClient({ scopes: ['accounts:read'], resources: [API, ACCOUNTS] });
    jwtClient = await as.createClient({
      scopes: ['accounts:read'],
      resources: [API, ACCOUNTS],
      tokenFormat: 'jwt',
    });
    // A short freshness: past it the gateway asks again, and then serves the stale answer.
    gw = await startAuthenticator(as, await as.createGatewayClient(), {
      introspectionCache: { maxEntries: 100, negativeTtlMs: 5000, maxTtlMs: 1000 },
    });
    tokens.cached = await as.tokenFor(opaqueClient);
    tokens.uncached = await as.tokenFor(opaqueClient);
    // Minted for the route's service: verified locally and forwarded, no exchange needed.
    tokens.jwt = await as.tokenFor(jwtClient, { resource: ACCOUNTS });
    tokens.jwtUncached = await as.tokenFor(jwtClient, { resource: ACCOUNTS });
    expect((await gw.auth.authenticate(bearer(tokens.cached), ROUTE.opaque)).ok).toBe(true);
    expect((await gw.auth.authenticate(bearer(tokens.jwt), ROUTE.jwt)).ok).toBe(true);
    await as.close();
  });
  afterAll(async () => {
    await gw.auth.close();
    await as.close();
  });

  it('an uncached opaque token gets 503 ERR_GATEWAY_AUTH_UNAVAILABLE', async () => {
    expect(await gw.auth.authenticate(bearer(tokens.uncached), ROUTE.opaque)).toMatchObject({
      ok: false,
      reason: 'unavailable',
      error: { code: 'ERR_GATEWAY_AUTH_UNAVAILABLE', status: 503 },
    });
    expect(gw.lines.some((line) => line.includes('auth server unavailable'))).toBe(true);
  });

  it('a cached opaque token keeps working, past its freshness, until the internal JWT is about to expire', async () => {
    expect((await gw.auth.authenticate(bearer(tokens.cached), ROUTE.opaque)).ok).toBe(true);
    as.clock.advance(5); // introspection answer stale (maxTtlMs 1 s): served while the server is down
    expect((await gw.auth.authenticate(bearer(tokens.cached), ROUTE.opaque)).ok).toBe(true);
    as.clock.advance(50); // internal JWT (60 s) past its refresh point, still valid: served
    expect((await gw.auth.authenticate(bearer(tokens.cached), ROUTE.opaque)).ok).toBe(true);
    as.clock.advance(5); // internal JWT expired: nothing to forward
    expect(await gw.auth.authenticate(bearer(tokens.cached), ROUTE.opaque)).toMatchObject({
      ok: false,
      reason: 'unavailable',
    });
  });

  it('JWTs keep being verified locally with the cached key set', async () => {
    expect((await gw.auth.authenticate(bearer(tokens.jwt), ROUTE.jwt)).ok).toBe(true);
    expect((await gw.auth.authenticate(bearer(tokens.jwtUncached), ROUTE.jwt)).ok).toBe(true);
  });
});

describe('gateway auth: creation', () => {
  let silent: Server;
  const sockets = new Set<Socket>();
  let silentUrl = '';

  beforeAll(async () => {
    // Accepts connections and never answers: a hung auth server.
    silent = createServer((socket) => {
      sockets.add(socket);
    });
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    silentUrl = `http://127.0.0.1:${(silent.address() as { port: number }).port}`;
  });
  afterAll(async () => {
    for (const socket of sockets) socket.destroy();
    await new Promise((resolve) => silent.close(resolve));
  });

  const options = (issuer: string) => ({
    issuer,
    jwtAudience: [API],
    client: { clientId: 'gateway', clientSecret: 'secret' },
    introspectionCache: { maxEntries: 10, negativeTtlMs: 1000 },
    exchangeCache: { maxEntries: 10 },
    timeoutMs: 200,
  });

  it('rejects with ERR_GATEWAY_AUTH_UNAVAILABLE when discovery does not answer in time', async () => {
    const state = createMemorySharedState();
    await expect(
      createGatewayAuthenticator(options(silentUrl), { state, logger: captureLogger().logger }),
    ).rejects.toMatchObject({ code: 'ERR_GATEWAY_AUTH_UNAVAILABLE' });
    await state.close();
  });

  it('rejects with ERR_CONFIG_INVALID, listing every problem, before any network call', async () => {
    const state = createMemorySharedState();
    const bad = {
      ...options('http://auth.example'),
      jwksUri: 'http://keys.example/jwks',
      jwtAudience: [],
      client: { clientId: '', clientSecret: '' },
      introspectionCache: { maxEntries: 0, negativeTtlMs: -1, maxTtlMs: 0.5 },
      exchangeCache: { maxEntries: 1.5 },
      timeoutMs: 0,
      clockToleranceSec: -1,
    };
    const error = await createGatewayAuthenticator(bad, { state, logger: captureLogger().logger }).catch(
      (err: unknown) => err,
    );
    expect(error).toMatchObject({ code: 'ERR_CONFIG_INVALID' });
    const detail = (error as { detail: string }).detail;
    for (const name of [
      'issuer',
      'jwksUri',
      'jwtAudience',
      'client.clientId',
      'client.clientSecret',
      'introspectionCache.maxEntries',
      'negativeTtlMs',
      'maxTtlMs',
      'exchangeCache.maxEntries',
      'timeoutMs',
      'clockToleranceSec',
    ])
      expect(detail).toContain(name);
    await state.close();
  });

  it.each([
    ['discovery answers 404', 404, {}],
    [
      'discovery lacks the introspection endpoint',
      200,
      { issuer: 'SELF', token_endpoint: 'SELF/token', jwks_uri: 'SELF/jwks' },
    ],
    [
      'an endpoint over plain http off loopback',
      200,
      {
        issuer: 'SELF',
        introspection_endpoint: 'http://auth.example/i',
        token_endpoint: 'SELF/token',
        jwks_uri: 'SELF/jwks',
      },
    ],
  ])('rejects when %s', async (_name, status, document) => {
    let issuer = '';
    const server = createHttpServer((_req, res) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(document).replaceAll('SELF', issuer));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    issuer = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
    const state = createMemorySharedState();
    try {
      await expect(
        createGatewayAuthenticator(options(issuer), { state, logger: captureLogger().logger }),
      ).rejects.toMatchObject({
        code: status === 404 ? 'ERR_GATEWAY_AUTH_UNAVAILABLE' : 'ERR_CONFIG_INVALID',
      });
    } finally {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
      await state.close();
    }
  });

  it('rejects an algorithm allowlist guard refuses (no symmetric algorithms with a key set)', async () => {
    const as = await startAuthServer();
    const state = createMemorySharedState();
    try {
      await expect(
        createGatewayAuthenticator(
          { ...options(as.issuer), algorithms: ['HS256'] },
          { state, logger: captureLogger().logger },
        ),
      ).rejects.toMatchObject({ code: 'ERR_CONFIG_INVALID' });
    } finally {
      await state.close();
      await as.close();
    }
  });

  it('rejects a discovery document naming another issuer', async () => {
    const as = await startAuthServer();
    try {
      const state = createMemorySharedState();
      // Same server, but configured with a trailing slash: RFC 8414 §3.3 compares exactly.
      await expect(
        createGatewayAuthenticator(options(`${as.issuer}/`), { state, logger: captureLogger().logger }),
      ).rejects.toMatchObject({ code: 'ERR_CONFIG_INVALID' });
      await state.close();
    } finally {
      await as.close();
    }
  });
});
