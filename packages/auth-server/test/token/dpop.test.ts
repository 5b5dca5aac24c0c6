import { randomUUID } from 'node:crypto';
import { decodeJwt } from 'jose';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createDpopKey, dpopProof, type DpopKey, type ProofOptions } from '../helpers/dpop-proof.js';
import { describeEachStore, startAuthServer, type TestAuthServer } from '../helpers/harness.js';
import {
  API,
  REDIRECT_URI,
  TEST_RESOURCES,
  introspect,
  newClient,
  postForm,
  tokenRequest,
  type TestClient,
} from '../helpers/oauth-client.js';

describeEachStore('token endpoint: DPoP (RFC 9449) with server nonces', (stores) => {
  let as: TestAuthServer;
  let second: TestAuthServer;
  let client: TestClient;
  let jwtClient: TestClient;
  let rs: TestClient;
  let key: DpopKey;
  let htu: string;

  beforeAll(async () => {
    as = await startAuthServer({ stores, config: { resources: TEST_RESOURCES, dpop: { nonceTtlSec: 300 } } });
    // A second instance on the same stores behind the same issuer (a load balancer's view).
    second = await startAuthServer({ shareWith: as, config: { issuer: as.url, resources: TEST_RESOURCES } });
    client = await newClient(as, {
      grantTypes: ['client_credentials'],
      scopes: ['accounts:read'],
      resources: [API],
    });
    jwtClient = await newClient(as, {
      grantTypes: ['client_credentials'],
      scopes: ['accounts:read'],
      resources: [API],
      tokenFormat: 'jwt',
    });
    rs = await newClient(as, { grantTypes: ['client_credentials'], canIntrospect: true });
    key = await createDpopKey();
    htu = `${as.url}/token`;
  });
  afterAll(async () => {
    await second.close();
    await as.close();
  });

  const request = (proof: string, target: TestAuthServer = as, who: TestClient = client) =>
    tokenRequest(target, who, { grant_type: 'client_credentials' }, { dpop: proof });
  const proof = (options: Partial<ProofOptions> = {}, k: DpopKey = key) =>
    dpopProof(k, as.clock.now(), { htu, ...options });
  const freshNonce = async (): Promise<string> => {
    const response = await request(await proof());
    expect(response.body['error']).toBe('use_dpop_nonce');
    return response.headers.get('dpop-nonce') as string;
  };

  it('asks for a nonce, then binds the token to the proof key (RFC 9449 §8, §5)', async () => {
    const challenge = await request(await proof());
    expect(challenge.status).toBe(400);
    expect(challenge.body).toEqual({
      error: 'use_dpop_nonce',
      error_description: 'Authorization server requires nonce in DPoP proof',
    });
    const nonce = challenge.headers.get('dpop-nonce');
    expect(nonce).toMatch(/^[A-Za-z0-9_-]{32}$/);
    expect(as.audit.at(-1)).toMatchObject({ action: 'token.refuse', reason: 'ERR_OAUTH_USE_DPOP_NONCE' });

    const response = await request(await proof({ nonce: nonce as string }));
    expect(response.status).toBe(200);
    expect(response.body['token_type']).toBe('DPoP');
    // §8.2: a fresh nonce with every answer, for the next proof.
    expect(response.headers.get('dpop-nonce')).toMatch(/^[A-Za-z0-9_-]{32}$/);
    const introspected = await introspect(as, rs, response.body['access_token'] as string);
    expect(introspected.body).toMatchObject({ active: true, token_type: 'DPoP', cnf: { jkt: key.jkt } });
    expect(as.audit.at(-2)).toMatchObject({ action: 'token.issue', details: { dpop: true } });
  });

  it('puts cnf.jkt in a JWT access token (RFC 9449 §6.1)', async () => {
    const nonce = await freshNonce();
    const response = await request(await proof({ nonce }), as, jwtClient);
    expect(decodeJwt(response.body['access_token'] as string).cnf).toEqual({ jkt: key.jkt });
  });

  it('accepts a nonce issued by another instance of the server', async () => {
    const nonce = await freshNonce();
    const response = await request(await proof({ nonce }), second);
    expect(response.status).toBe(200);
  });

  it('refuses a replayed proof, also at another instance (RFC 9449 §11.1)', async () => {
    const nonce = await freshNonce();
    const once = await proof({ nonce });
    expect((await request(once)).status).toBe(200);
    const again = await request(once, second);
    expect(again.status).toBe(400);
    expect(again.body['error']).toBe('invalid_dpop_proof');
  });

  it('asks again when the nonce is stale or forged', async () => {
    const nonce = await freshNonce();
    as.clock.advance(301);
    const stale = await request(await proof({ nonce }));
    expect(stale.body['error']).toBe('use_dpop_nonce');
    const forged = await request(
      await proof({ nonce: `${nonce.slice(0, 31)}${nonce.endsWith('A') ? 'B' : 'A'}` }),
    );
    expect(forged.body['error']).toBe('use_dpop_nonce');
  });

  it('answers the PAR endpoint with the same nonces (RFC 9449 §8, §10.1)', async () => {
    const spa = await newClient(as, {
      grantTypes: ['authorization_code'],
      authMethod: 'none',
      scopes: ['accounts:read'],
    });
    const par = `${as.url}/par`;
    const params = { client_id: spa.id, response_type: 'code', redirect_uri: REDIRECT_URI };
    const challenge = await postForm(par, params, { headers: { dpop: await proof({ htu: par }) } });
    expect(challenge.status).toBe(400);
    expect(challenge.body['error']).toBe('use_dpop_nonce');
    const nonce = challenge.headers.get('dpop-nonce') as string;
    // The nonce is the token endpoint's too: one nonce space per server (§8).
    const response = await request(await proof({ nonce }));
    expect(response.status).toBe(200);
  });

  it('issues a Bearer token when no proof is sent (DPoP is optional per client)', async () => {
    const response = await tokenRequest(as, client, { grant_type: 'client_credentials' });
    expect(response.body['token_type']).toBe('Bearer');
    expect(response.headers.get('dpop-nonce')).toBeNull();
  });

  const invalid: Array<{ name: string; source: string; make: (nonce: string) => Promise<string> }> = [
    {
      name: 'wrong htu',
      source: 'RFC 9449 §4.3 step 9',
      make: (nonce) => proof({ nonce, htu: `${as.url}/other` }),
    },
    { name: 'wrong htm', source: 'RFC 9449 §4.3 step 8', make: (nonce) => proof({ nonce, htm: 'GET' }) },
    { name: 'typ JWT', source: 'RFC 9449 §4.3 step 4', make: (nonce) => proof({ nonce, typ: 'JWT' }) },
    {
      name: 'iat too old',
      source: 'RFC 9449 §4.3 step 11',
      make: (nonce) => proof({ nonce, iat: Math.floor(as.clock.now() / 1000) - 3600 }),
    },
    {
      name: 'iat in the future',
      source: 'RFC 9449 §4.3 step 11',
      make: (nonce) => proof({ nonce, iat: Math.floor(as.clock.now() / 1000) + 3600 }),
    },
    {
      name: 'signature by another key than the header jwk',
      source: 'RFC 9449 §4.3 step 7',
      make: async (nonce) => proof({ nonce, headerJwk: (await createDpopKey()).publicJwk }),
    },
    { name: 'not a JWT', source: 'RFC 9449 §4.3 step 2', make: () => Promise.resolve('not-a-jwt') },
    {
      name: 'two proofs in one header',
      source: 'RFC 9449 §4.3 step 1',
      make: async (nonce) => `${await proof({ nonce })}, ${await proof({ nonce, jti: randomUUID() })}`,
    },
  ];

  it.each(invalid)('refuses a proof with $name ($source) as invalid_dpop_proof', async ({ make }) => {
    const nonce = await freshNonce();
    const response = await request(await make(nonce));
    expect(response.status).toBe(400);
    expect(response.body).toEqual({
      error: 'invalid_dpop_proof',
      error_description: 'The DPoP proof is invalid',
    });
    expect(response.headers.get('dpop-nonce')).not.toBeNull();
    expect(as.audit.at(-1)).toMatchObject({ action: 'token.refuse', reason: 'ERR_OAUTH_INVALID_DPOP_PROOF' });
  });
});
