import { afterEach, describe, expect, it } from 'vitest';
import type { ErrorCode } from '@gatehouse/core';
import { JwksServer, type JwksBehaviour } from '../helpers/jwks-server.js';
import { createTestKey } from '../helpers/keys.js';
import { NOW_MS } from '../helpers/tokens.js';
import { eventsOf, remoteVerifier, tokenAt } from './support.js';

const key = createTestKey('ES256');
const servers: JwksServer[] = [];

async function startServer(): Promise<JwksServer> {
  const server = await JwksServer.start({ keys: [key.publicJwk] });
  servers.push(server);
  return server;
}

afterEach(async () => {
  await Promise.all(servers.splice(0).map((server) => server.close()));
});

/** Verifies one token against a server answering with `behaviour`; returns the refusal. */
async function refusalFor(
  server: JwksServer,
  jwksOptions: { maxBytes?: number } = {},
): Promise<{ error: unknown; failed: readonly ErrorCode[] }> {
  const clock = NOW_MS;
  const { verifier, events } = remoteVerifier(server, { now: () => clock, prewarm: false, jwksOptions });
  const error = await verifier.verify(tokenAt(key, clock)).then(
    () => undefined,
    (err: unknown) => err,
  );
  return { error, failed: eventsOf(events, 'jwks.fetch_failed').map((event) => event.code) };
}

describe('RemoteKeySet — response size limit', () => {
  const cases: Array<{ name: string; behaviour: JwksBehaviour }> = [
    { name: 'Content-Length over maxBytes', behaviour: { kind: 'oversize', bytes: 4096, chunked: false } },
    {
      name: 'chunked body over maxBytes without Content-Length',
      behaviour: { kind: 'oversize', bytes: 4096, chunked: true },
    },
  ];

  it.each(cases)('$name -> ERR_JWKS_TOO_LARGE', async ({ behaviour }) => {
    const server = await startServer();
    server.behave(behaviour);
    const { error, failed } = await refusalFor(server, { maxBytes: 1024 });
    expect(error).toMatchObject({ code: 'ERR_JWKS_TOO_LARGE' });
    expect(failed).toEqual(['ERR_JWKS_TOO_LARGE']);
    expect(server.requests).toBe(1);
  });

  it('a key set within maxBytes is accepted', async () => {
    const server = await startServer();
    const size = JSON.stringify({ keys: [key.publicJwk] }).length;
    const clock = NOW_MS;
    const { verifier } = remoteVerifier(server, {
      now: () => clock,
      prewarm: false,
      jwksOptions: { maxBytes: size },
    });
    await expect(verifier.verify(tokenAt(key, clock))).resolves.toMatchObject({ sub: 'user-1' });
  });
});

describe('RemoteKeySet — invalid documents and HTTP errors', () => {
  const cases: Array<{ name: string; source: string; behaviour: JwksBehaviour; code: ErrorCode }> = [
    {
      name: 'not JSON',
      source: 'RFC 7517 §5',
      behaviour: { kind: 'body', body: '<html>keys</html>' },
      code: 'ERR_JWKS_INVALID',
    },
    {
      name: 'JSON null',
      source: 'RFC 7517 §5',
      behaviour: { kind: 'body', body: 'null' },
      code: 'ERR_JWKS_INVALID',
    },
    {
      name: 'JSON without keys',
      source: 'RFC 7517 §5.1',
      behaviour: { kind: 'body', body: '{"jwks":[]}' },
      code: 'ERR_JWKS_INVALID',
    },
    {
      name: 'keys not an array',
      source: 'RFC 7517 §5.1',
      behaviour: { kind: 'body', body: '{"keys":{"0":{}}}' },
      code: 'ERR_JWKS_INVALID',
    },
    {
      name: 'a bare array of keys',
      source: 'RFC 7517 §5',
      behaviour: { kind: 'body', body: '[]' },
      code: 'ERR_JWKS_INVALID',
    },
    {
      name: 'HTTP 404',
      source: 'RFC 9110 §15.5.5',
      behaviour: { kind: 'status', status: 404 },
      code: 'ERR_JWKS_FETCH_FAILED',
    },
    {
      name: 'HTTP 503',
      source: 'RFC 9110 §15.6.4',
      behaviour: { kind: 'status', status: 503 },
      code: 'ERR_JWKS_FETCH_FAILED',
    },
    {
      name: 'HTTP 204',
      source: 'RFC 9110 §15.3.5',
      behaviour: { kind: 'status', status: 204 },
      code: 'ERR_JWKS_INVALID',
    },
  ];

  it.each(cases)('$name ($source) -> $code', async ({ behaviour, code }) => {
    const server = await startServer();
    server.behave(behaviour);
    const { error, failed } = await refusalFor(server);
    expect(error).toMatchObject({ code });
    expect(failed).toEqual([code]);
  });

  it('an empty key set is valid but has no key for the token', async () => {
    const server = await startServer();
    server.keys = [];
    const { error, failed } = await refusalFor(server);
    expect(error).toMatchObject({ code: 'ERR_JWKS_NO_MATCHING_KEY' });
    expect(failed).toEqual([]);
  });
});

describe('RemoteKeySet — redirects are never followed', () => {
  // A redirect would let whoever controls the first hop choose the trust anchor (RFC 8414 §3.2 pins jwks_uri).
  for (const status of [301, 302, 303, 307, 308]) {
    it(`HTTP ${String(status)} to another valid key set -> ERR_JWKS_FETCH_FAILED`, async () => {
      const target = await startServer();
      const server = await startServer();
      server.behave({ kind: 'redirect', status, location: target.url });
      const { error, failed } = await refusalFor(server);
      expect(error).toMatchObject({ code: 'ERR_JWKS_FETCH_FAILED' });
      expect(failed).toEqual(['ERR_JWKS_FETCH_FAILED']);
      expect(server.requests).toBe(1);
      expect(target.requests).toBe(0);
    });
  }
});
