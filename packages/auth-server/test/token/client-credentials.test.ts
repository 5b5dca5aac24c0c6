import { createVerifier } from '@gatehouse/guard';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { describeEachStore, startAuthServer, type TestAuthServer } from '../helpers/harness.js';
import {
  API,
  OTHER_API,
  TEST_RESOURCES,
  basic,
  clientAssertion,
  createAssertionKey,
  newClient,
  postForm,
  tokenRequest,
  type AssertionKey,
  type TestClient,
} from '../helpers/oauth-client.js';

describeEachStore('token endpoint: client_credentials and client authentication', (stores) => {
  let as: TestAuthServer;
  let opaque: TestClient;
  let jwt: TestClient;
  let post: TestClient;
  let publicClient: TestClient;
  let codeOnly: TestClient;
  let unconfigured: TestClient;
  let keyClient: TestClient;
  let assertionKey: AssertionKey;

  beforeAll(async () => {
    as = await startAuthServer({ stores, config: { resources: TEST_RESOURCES } });
    opaque = await newClient(as, {
      grantTypes: ['client_credentials'],
      scopes: ['accounts:read', 'accounts:write'],
      resources: [API],
    });
    jwt = await newClient(as, {
      grantTypes: ['client_credentials'],
      scopes: ['accounts:read', 'orders:read'],
      resources: [API, OTHER_API],
      tokenFormat: 'jwt',
    });
    post = await newClient(as, {
      grantTypes: ['client_credentials'],
      authMethod: 'client_secret_post',
      scopes: ['accounts:read'],
    });
    publicClient = await newClient(as, {
      grantTypes: ['authorization_code', 'refresh_token'],
      authMethod: 'none',
      scopes: ['openid'],
    });
    codeOnly = await newClient(as, { grantTypes: ['authorization_code'], scopes: ['openid'] });
    unconfigured = await newClient(as, {
      grantTypes: ['client_credentials'],
      scopes: ['accounts:read'],
      resources: ['https://unconfigured.example'],
    });
    assertionKey = await createAssertionKey();
    keyClient = await newClient(as, {
      grantTypes: ['client_credentials'],
      authMethod: 'private_key_jwt',
      jwks: { keys: [assertionKey.publicJwk] },
      scopes: ['accounts:read'],
    });
  });
  afterAll(async () => {
    await as.close();
  });

  it('issues an opaque token with every registered scope when scope is omitted (RFC 6749 §3.3, §4.4.3)', async () => {
    const response = await tokenRequest(as, opaque, { grant_type: 'client_credentials' });
    expect(response.status).toBe(200);
    expect(response.headers.get('cache-control')).toBe('no-store');
    expect(response.headers.get('content-type')).toMatch(/^application\/json/);
    expect(response.body).toEqual({
      access_token: expect.stringMatching(/^[A-Za-z0-9_-]{43}$/) as unknown,
      token_type: 'Bearer',
      expires_in: 300,
      scope: 'accounts:read accounts:write',
    });
    const issued = as.audit.filter((e) => e.action === 'token.issue' && e.actor?.clientId === opaque.id);
    expect(issued.at(-1)).toMatchObject({
      outcome: 'success',
      details: { grant_type: 'client_credentials', format: 'opaque' },
    });
    expect(JSON.stringify(issued)).not.toContain(response.body['access_token'] as string);
  });

  it('issues an RFC 9068 JWT for the requested resource with only the standard claims', async () => {
    const response = await tokenRequest(as, jwt, {
      grant_type: 'client_credentials',
      scope: 'orders:read',
      resource: OTHER_API,
    });
    expect(response.status).toBe(200);
    const jwks = (await (await fetch(`${as.url}/jwks`)).json()) as { keys: unknown[] };
    const verifier = createVerifier({ issuer: as.url, audience: OTHER_API, jwks, now: as.clock.now });
    const principal = await verifier.verify(response.body['access_token'] as string);
    expect(principal.sub).toBe(jwt.id);
    expect(principal.scopes).toEqual(['orders:read']);
    expect(Object.keys(principal.claims).sort()).toEqual(
      ['aud', 'client_id', 'exp', 'iat', 'iss', 'jti', 'scope', 'sub'].sort(),
    );
    expect(principal.claims['aud']).toBe(OTHER_API);
  });

  it('defaults the audience to the client’s first resource (RFC 8707)', async () => {
    const response = await tokenRequest(as, jwt, { grant_type: 'client_credentials' });
    const payload = JSON.parse(
      Buffer.from((response.body['access_token'] as string).split('.')[1] as string, 'base64url').toString(),
    ) as Record<string, unknown>;
    expect(payload['aud']).toBe(API);
  });

  it('authenticates with client_secret_post', async () => {
    const response = await postForm(`${as.url}/token`, {
      grant_type: 'client_credentials',
      client_id: post.id,
      client_secret: post.secret,
    });
    expect(response.status).toBe(200);
  });

  describe('private_key_jwt (RFC 7523)', () => {
    const assertionType = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';
    const send = (assertion: string) =>
      postForm(`${as.url}/token`, {
        grant_type: 'client_credentials',
        client_assertion_type: assertionType,
        client_assertion: assertion,
      });

    it('accepts a signed assertion with aud = the token endpoint, once', async () => {
      const assertion = await clientAssertion(assertionKey, keyClient.id, as.clock.now(), {
        aud: `${as.url}/token`,
      });
      const first = await send(assertion);
      expect(first.status).toBe(200);
      expect(first.body['scope']).toBe('accounts:read');
      // RFC 7523 §3 point 7: the jti is single-use.
      const replay = await send(assertion);
      expect(replay.status).toBe(401);
      expect(replay.body['error']).toBe('invalid_client');
    });

    const refused: Array<{ name: string; source: string; claims: Record<string, unknown> }> = [
      { name: 'wrong aud', source: 'RFC 7523 §3 point 3', claims: { aud: 'https://other.example/token' } },
      { name: 'expired', source: 'RFC 7523 §3 point 4', claims: { exp: 1_000_000_000, iat: 999_999_000 } },
      { name: 'no exp', source: 'RFC 7523 §3 point 4', claims: { exp: undefined } },
      { name: 'no jti', source: 'RFC 7523 §3 point 7', claims: { jti: undefined } },
      { name: 'iss of another client', source: 'RFC 7523 §3 point 1', claims: { iss: 'someone-else' } },
    ];
    it.each(refused)('refuses an assertion with $name ($source)', async ({ claims }) => {
      const assertion = await clientAssertion(assertionKey, keyClient.id, as.clock.now(), {
        aud: `${as.url}/token`,
        ...claims,
      });
      const response = await send(assertion);
      expect(response.status).toBe(401);
      expect(response.body).toEqual({
        error: 'invalid_client',
        error_description: 'Client authentication failed',
      });
    });

    it('refuses an assertion signed by another key', async () => {
      const otherKey = await createAssertionKey();
      const assertion = await clientAssertion(otherKey, keyClient.id, as.clock.now(), {
        aud: `${as.url}/token`,
      });
      expect((await send(assertion)).status).toBe(401);
    });
  });

  const refusals: Array<{
    name: string;
    source: string;
    request: () => Promise<{ status: number; body: Record<string, unknown>; headers: Headers }>;
    status: number;
    error: string;
    basicChallenge?: boolean;
  }> = [
    {
      name: 'wrong secret with Basic',
      source: 'RFC 6749 §5.2 invalid_client + WWW-Authenticate',
      request: () =>
        postForm(
          `${as.url}/token`,
          { grant_type: 'client_credentials' },
          {
            headers: { authorization: basic(opaque.id, 'not-the-secret') },
          },
        ),
      status: 401,
      error: 'invalid_client',
      basicChallenge: true,
    },
    {
      name: 'unknown client with Basic',
      source: 'RFC 6749 §5.2',
      request: () =>
        postForm(
          `${as.url}/token`,
          { grant_type: 'client_credentials' },
          {
            headers: { authorization: basic('nobody', 'secret') },
          },
        ),
      status: 401,
      error: 'invalid_client',
      basicChallenge: true,
    },
    {
      name: 'no client authentication at all',
      source: 'RFC 6749 §3.2.1',
      request: () => postForm(`${as.url}/token`, { grant_type: 'client_credentials' }),
      status: 401,
      error: 'invalid_client',
    },
    {
      name: 'secret in the body of a Basic client',
      source: 'RFC 6749 §2.3: the registered method only',
      request: () =>
        postForm(`${as.url}/token`, {
          grant_type: 'client_credentials',
          client_id: opaque.id,
          client_secret: opaque.secret,
        }),
      status: 401,
      error: 'invalid_client',
    },
    {
      name: 'public client using client_credentials',
      source: 'RFC 6749 §4.4: confidential clients only',
      request: () =>
        postForm(`${as.url}/token`, { grant_type: 'client_credentials', client_id: publicClient.id }),
      status: 400,
      error: 'unauthorized_client',
    },
    {
      name: 'grant type the client is not registered for',
      source: 'RFC 6749 §5.2 unauthorized_client',
      request: () => tokenRequest(as, codeOnly, { grant_type: 'client_credentials' }),
      status: 400,
      error: 'unauthorized_client',
    },
    {
      name: 'password grant',
      source: 'OAuth 2.1 §10.1: ROPC removed',
      request: () => tokenRequest(as, opaque, { grant_type: 'password', username: 'a', password: 'b' }),
      status: 400,
      error: 'unsupported_grant_type',
    },
    {
      name: 'implicit grant',
      source: 'OAuth 2.1 §10.2: implicit removed',
      request: () => tokenRequest(as, opaque, { grant_type: 'implicit' }),
      status: 400,
      error: 'unsupported_grant_type',
    },
    {
      name: 'unknown grant type',
      source: 'RFC 6749 §5.2',
      request: () => tokenRequest(as, opaque, { grant_type: 'urn:example:custom' }),
      status: 400,
      error: 'unsupported_grant_type',
    },
    {
      name: 'missing grant_type',
      source: 'RFC 6749 §4.4.2',
      request: () => tokenRequest(as, opaque, {}),
      status: 400,
      error: 'invalid_request',
    },
    {
      name: 'scope outside the client’s registration',
      source: 'RFC 6749 §5.2 invalid_scope',
      request: () =>
        tokenRequest(as, opaque, { grant_type: 'client_credentials', scope: 'accounts:read admin' }),
      status: 400,
      error: 'invalid_scope',
    },
    {
      name: 'resource not registered for the client',
      source: 'RFC 8707 §2 invalid_target',
      request: () => tokenRequest(as, opaque, { grant_type: 'client_credentials', resource: OTHER_API }),
      status: 400,
      error: 'invalid_target',
    },
    {
      name: 'a default resource that is not a configured resource server',
      source: 'RFC 8707 §2 invalid_target; deny by default',
      request: () => tokenRequest(as, unconfigured, { grant_type: 'client_credentials' }),
      status: 400,
      error: 'invalid_target',
    },
    {
      name: 'resource that is not a URI',
      source: 'RFC 8707 §2',
      request: () => tokenRequest(as, opaque, { grant_type: 'client_credentials', resource: 'api' }),
      status: 400,
      error: 'invalid_target',
    },
    {
      name: 'resource with a fragment',
      source: 'RFC 8707 §2',
      request: () => tokenRequest(as, opaque, { grant_type: 'client_credentials', resource: `${API}#x` }),
      status: 400,
      error: 'invalid_target',
    },
    {
      name: 'repeated parameter',
      source: 'RFC 6749 §3.1',
      request: async () => {
        const response = await fetch(`${as.url}/token`, {
          method: 'POST',
          headers: {
            'content-type': 'application/x-www-form-urlencoded',
            authorization: basic(opaque.id, opaque.secret as string),
          },
          body: `grant_type=client_credentials&scope=accounts:read&scope=accounts:write`,
        });
        return {
          status: response.status,
          headers: response.headers,
          body: (await response.json()) as Record<string, unknown>,
        };
      },
      status: 400,
      error: 'invalid_request',
    },
    {
      name: 'JSON body',
      source: 'RFC 6749 §3.2: application/x-www-form-urlencoded',
      request: async () => {
        const response = await fetch(`${as.url}/token`, {
          method: 'POST',
          headers: {
            'content-type': 'application/json',
            authorization: basic(opaque.id, opaque.secret as string),
          },
          body: JSON.stringify({ grant_type: 'client_credentials' }),
        });
        return {
          status: response.status,
          headers: response.headers,
          body: (await response.json()) as Record<string, unknown>,
        };
      },
      status: 400,
      error: 'invalid_request',
    },
  ];

  it.each(refusals)('refuses $name ($source)', async ({ request, status, error, basicChallenge }) => {
    const before = as.audit.length;
    const response = await request();
    expect(response.status).toBe(status);
    expect(response.body['error']).toBe(error);
    expect(Object.keys(response.body).sort()).toEqual(['error', 'error_description']);
    expect(response.headers.get('cache-control')).toBe('no-store');
    if (basicChallenge === true) {
      expect(response.headers.get('www-authenticate')).toBe(`Basic realm="${as.url}"`);
    } else {
      expect(response.headers.get('www-authenticate')).toBeNull();
    }
    const refusal = as.audit.slice(before).find((e) => e.action === 'token.refuse');
    expect(refusal).toMatchObject({ outcome: 'failure' });
  });
});
