import type { CertificateAndKey } from '@gatehouse/core';
import { NOW, unsecuredToken, type TestPki } from '@gatehouse/example-service-kit/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AUDIENCE, startAccounts, type AccountsHarness } from './support/start-accounts.js';

let harness: AccountsHarness;
const user = { sub: 'user-alice', client_id: 'bff', aud: AUDIENCE, scope: 'accounts:read' };

beforeAll(async () => {
  harness = await startAccounts();
});
afterAll(() => harness.close());

describe('mTLS: only the gateway reaches the service', () => {
  // A caller that bypasses the gateway has no certificate of the development CA: the handshake fails.
  const refusedAtHandshake: { name: string; client: (pki: TestPki) => CertificateAndKey | undefined }[] = [
    { name: 'no client certificate', client: () => undefined },
    { name: "the gateway's SAN URI from an untrusted CA", client: (pki) => pki.rogue },
    { name: "the gateway's certificate, expired", client: (pki) => pki.expired },
  ];
  it.each(refusedAtHandshake)('$name → handshake refused', async ({ client }) => {
    const token = await harness.signer.sign(user);
    // TLS 1.3 alerts the missing certificate (116); an untrusted or expired one ends the handshake.
    await expect(harness.call('/api/accounts', { token, client: client(harness.pki) })).rejects.toMatchObject(
      {
        code: expect.stringMatching(/^(ECONNRESET|ERR_SSL_)/),
      },
    );
  });

  // A certificate of the right CA but another workload's identity: TLS passes, HTTP refuses.
  const wrongIdentity: { name: string; client: (pki: TestPki) => CertificateAndKey }[] = [
    { name: "another workload's SAN URI", client: (pki) => pki.otherIdentity },
    { name: "the gateway's identity as CN only (no SAN URI)", client: (pki) => pki.commonNameOnly },
  ];
  it.each(wrongIdentity)('$name → 403 before the token is looked at', async ({ client }) => {
    const token = await harness.signer.sign(user);
    const before = harness.events.length;
    const res = await harness.call('/api/accounts', { token, client: client(harness.pki) });
    expect(res.status).toBe(403);
    expect(res.headers['content-type']).toBe('application/problem+json');
    expect(res.json).toMatchObject({ status: 403, code: 'ERR_MTLS_PEER_IDENTITY' });
    const events = harness.events.slice(before);
    expect(events.map((e) => e.action)).toEqual(['mtls.peer_identity']);
    expect(events[0]).toMatchObject({
      outcome: 'failure',
      decision: 'deny',
      reason: 'ERR_MTLS_PEER_IDENTITY',
    });
  });

  it('refuses a wrong identity on public routes too', async () => {
    const res = await harness.call('/public/status', { client: harness.pki.otherIdentity });
    expect(res.status).toBe(403);
  });

  it('serves the gateway', async () => {
    const res = await harness.call('/public/status');
    expect(res.status).toBe(200);
    expect(res.json).toEqual({ status: 'ok' });
  });
});

describe('tokens: only internal JWTs for this audience', () => {
  interface TokenCase {
    readonly name: string;
    readonly token: () => Promise<string | undefined>;
    readonly header?: string;
    readonly reason: string;
  }
  const sign = (claims: Record<string, unknown>, header?: Record<string, unknown>): Promise<string> =>
    harness.signer.sign(claims, header);
  const cases: TokenCase[] = [
    {
      name: 'wrong audience (another service)',
      token: () => sign({ ...user, aud: 'https://orders.internal' }),
      reason: 'ERR_JWT_AUDIENCE_INVALID',
    },
    {
      name: "the auth server's own audience (an access token not exchanged by the gateway)",
      token: () => sign({ ...user, aud: 'http://127.0.0.1:4000' }),
      reason: 'ERR_JWT_AUDIENCE_INVALID',
    },
    { name: 'expired', token: () => sign({ ...user, exp: NOW - 120 }), reason: 'ERR_JWT_EXPIRED' },
    {
      name: 'alg none',
      token: () => Promise.resolve(unsecuredToken(user)),
      reason: 'ERR_JWT_ALG_NONE',
    },
    {
      name: 'another issuer',
      token: () => sign({ ...user, iss: 'https://evil.example' }),
      reason: 'ERR_JWT_ISSUER_INVALID',
    },
    {
      name: 'an ID token / plain JWT (typ JWT)',
      token: () => sign(user, { typ: 'JWT' }),
      reason: 'ERR_JWT_TYP_INVALID',
    },
    {
      name: 'no client_id (RFC 9068 §2.2)',
      token: () => sign({ ...user, client_id: undefined }),
      reason: 'ERR_JWT_CLAIM_MISSING',
    },
    {
      name: 'signature of another token',
      token: async () => {
        const [header, payload] = (await sign({ ...user, scope: 'accounts:read admin' })).split('.');
        const signature = (await sign(user)).split('.')[2];
        return `${header!}.${payload!}.${signature!}`;
      },
      reason: 'ERR_JWT_SIGNATURE_INVALID',
    },
  ];

  it.each(cases)('$name → 401 invalid_token', async ({ token, reason }) => {
    const before = harness.events.length;
    const res = await harness.call('/api/accounts', { token: (await token())! });
    expect(res.status).toBe(401);
    expect(res.headers['www-authenticate']).toBe(
      'Bearer error="invalid_token", error_description="The access token is invalid"',
    );
    expect(res.json).toEqual({ error: 'invalid_token', error_description: 'The access token is invalid' });
    // The client learns only that the token failed; the audit event says why.
    expect(harness.events.slice(before)).toMatchObject([
      { action: 'token.verify', outcome: 'failure', reason, component: 'accounts' },
    ]);
  });

  const missing: { name: string; headers: Record<string, string> }[] = [
    { name: 'no Authorization', headers: {} },
    { name: 'Basic credentials', headers: { authorization: 'Basic dXNlcjpwYXNz' } },
  ];
  it.each(missing)('$name → 401 with a bare challenge', async ({ headers }) => {
    const res = await harness.call('/api/accounts', { headers });
    expect(res.status).toBe(401);
    expect(res.headers['www-authenticate']).toBe('Bearer');
  });

  it('refuses a token in the query string (RFC 9700 §2.1)', async () => {
    const token = await sign(user);
    const res = await harness.call(`/api/accounts?access_token=${token}`);
    expect(res.status).toBe(401);
  });

  it('accepts a valid token', async () => {
    const res = await harness.call('/api/accounts', { token: await sign(user) });
    expect(res.status).toBe(200);
  });
});
