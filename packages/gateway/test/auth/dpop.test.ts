import { createVerifier } from '@gatehouse/guard';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAuthServer, type TestAuthServer, type TestClient } from '../support/auth-server.js';
import {
  ACCOUNTS,
  API,
  PUBLIC_URL,
  ROUTE,
  createDpopKey,
  dpopProof,
  startAuthenticator,
  type Authenticator,
  type DpopKey,
} from './helpers.js';
import type { AuthRequest } from '../../src/auth/index.js';

describe('gateway auth: DPoP-bound tokens (RFC 9449) are enforced, then exchanged for unbound internal JWTs', () => {
  let as: TestAuthServer;
  let gw: Authenticator;
  let opaqueClient: TestClient;
  let jwtClient: TestClient;
  let key: DpopKey;

  beforeAll(async () => {
    as = await startAuthServer();
    opaqueClient = await as.createClient({ scopes: ['accounts:read'], resources: [API, ACCOUNTS] });
    jwtClient = await as.createClient({
      scopes: ['accounts:read'],
      resources: [API, ACCOUNTS],
      tokenFormat: 'jwt',
    });
    gw = await startAuthenticator(as, await as.createGatewayClient());
    key = createDpopKey();
  });
  afterAll(async () => {
    await gw.auth.close();
    await as.close();
  });

  /** A token bound to `key` (DPoP proof at the token endpoint, RFC 9449 §5). */
  const boundToken = (client: TestClient): Promise<string> =>
    as.tokenFor(client, {
      dpop: dpopProof(key, { htm: 'POST', htu: as.tokenEndpoint, iatMs: as.clock.now() }),
    });
  const proofFor = (token: string, overrides: Partial<Parameters<typeof dpopProof>[1]> = {}, signer = key) =>
    dpopProof(signer, { htu: PUBLIC_URL, accessToken: token, iatMs: as.clock.now(), ...overrides });
  const request = (scheme: string, token: string, dpop?: string): AuthRequest => ({
    authorization: `${scheme} ${token}`,
    dpop,
    method: 'GET',
    htu: PUBLIC_URL,
  });
  const internalVerifier = () =>
    createVerifier({
      issuer: as.issuer,
      audience: ACCOUNTS,
      jwksUri: `${as.issuer}/jwks`,
      now: as.clock.now,
    });

  for (const kind of ['opaque', 'jwt'] as const) {
    describe(`${kind} token`, () => {
      const client = (): TestClient => (kind === 'opaque' ? opaqueClient : jwtClient);

      it('with a valid proof: accepted, and the service gets an unbound internal JWT (no cnf)', async () => {
        const token = await boundToken(client());
        const outcome = await gw.auth.authenticate(request('DPoP', token, proofFor(token)), ROUTE.any);
        expect(outcome).toMatchObject({
          ok: true,
          principal: { tokenKind: kind, clientId: client().clientId },
        });
        const upstream = outcome.ok ? (outcome.upstreamAuthorization ?? '') : '';
        expect(upstream.startsWith('Bearer ')).toBe(true);
        expect(upstream).not.toContain(token);
        const principal = await internalVerifier().verify(upstream.slice(7));
        expect(principal.cnf).toBeUndefined();
        expect(principal.audience).toEqual([ACCOUNTS]);
      });

      it('the proof is checked on every request, cached token or not', async () => {
        const token = await boundToken(client());
        expect((await gw.auth.authenticate(request('DPoP', token, proofFor(token)), ROUTE.any)).ok).toBe(
          true,
        );
        expect((await gw.auth.authenticate(request('DPoP', token, proofFor(token)), ROUTE.any)).ok).toBe(
          true,
        );
        expect(await gw.auth.authenticate(request('DPoP', token), ROUTE.any)).toMatchObject({
          ok: false,
          reason: 'dpop',
          error: { code: 'ERR_DPOP_PROOF_MISSING', status: 401 },
        });
      });

      it('refuses every misuse of the binding', async () => {
        const token = await boundToken(client());
        const other = createDpopKey();
        const replayed = proofFor(token);
        expect((await gw.auth.authenticate(request('DPoP', token, replayed), ROUTE.any)).ok).toBe(true);
        const cases: [string, AuthRequest, string][] = [
          ['bound token as Bearer', request('Bearer', token), 'ERR_DPOP_BINDING_REQUIRED'],
          [
            'bound token as Bearer with a proof',
            request('Bearer', token, proofFor(token)),
            'ERR_DPOP_BINDING_REQUIRED',
          ],
          ['DPoP scheme without proof', request('DPoP', token), 'ERR_DPOP_PROOF_MISSING'],
          ['replayed proof', request('DPoP', token, replayed), 'ERR_DPOP_REPLAYED'],
          [
            'two proofs',
            request('DPoP', token, `${proofFor(token)}, ${proofFor(token)}`),
            'ERR_DPOP_MULTIPLE_PROOFS',
          ],
          [
            'proof by another key',
            request('DPoP', token, proofFor(token, {}, other)),
            'ERR_DPOP_JKT_MISMATCH',
          ],
          [
            'proof for another URL',
            request('DPoP', token, proofFor(token, { htu: 'https://gateway.example/admin' })),
            'ERR_DPOP_HTU_MISMATCH',
          ],
          [
            'proof for another method',
            request('DPoP', token, proofFor(token, { htm: 'DELETE' })),
            'ERR_DPOP_HTM_MISMATCH',
          ],
          [
            'proof without ath',
            request('DPoP', token, dpopProof(key, { htu: PUBLIC_URL, iatMs: as.clock.now() })),
            'ERR_DPOP_ATH_MISMATCH',
          ],
          ['proof for another token', request('DPoP', token, proofFor(`${token}x`)), 'ERR_DPOP_ATH_MISMATCH'],
          [
            'stale proof',
            request('DPoP', token, proofFor(token, { iatMs: as.clock.now() - 120_000 })),
            'ERR_DPOP_IAT_INVALID',
          ],
          ['garbage proof', request('DPoP', token, 'not.a.proof'), 'ERR_DPOP_PROOF_INVALID'],
        ];
        for (const [name, attack, code] of cases) {
          const outcome = await gw.auth.authenticate(attack, ROUTE.any);
          // Every refusal is 401 except two proofs, a malformed request (RFC 9449 §4.3 step 1: 400).
          const status = code === 'ERR_DPOP_MULTIPLE_PROOFS' ? 400 : 401;
          expect({ name, outcome }).toMatchObject({
            name,
            outcome: { ok: false, reason: 'dpop', error: { code, status } },
          });
        }
      });

      it('refuses the DPoP scheme with a token that is not bound', async () => {
        const token = await as.tokenFor(client());
        expect(await gw.auth.authenticate(request('DPoP', token, proofFor(token)), ROUTE.any)).toMatchObject({
          ok: false,
          reason: 'dpop',
          error: { code: 'ERR_DPOP_TOKEN_NOT_BOUND' },
        });
      });
    });
  }
});
