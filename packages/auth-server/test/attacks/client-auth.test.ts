import { createPublicKey, randomUUID } from 'node:crypto';
import { SignJWT } from 'jose';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { CLIENT_ASSERTION_TYPE } from '../../src/clients/authenticate-client.js';
import { SecretWatch, auditSince, expectOAuthError, type AttackCase } from '../helpers/attack-table.js';
import { describeEachStore, startAuthServer, type TestAuthServer } from '../helpers/harness.js';
import {
  API,
  REDIRECT_URI,
  TEST_RESOURCES,
  basic,
  clientAssertion,
  createAssertionKey,
  newClient,
  pkcePair,
  postForm,
  type AssertionKey,
  type FormResponse,
  type TestClient,
} from '../helpers/oauth-client.js';

/**
 * Client authentication attacks (RFC 6749 §2.3, §3.2.1, §5.2; RFC 7523 §3; RFC 7521 §5.2; RFC
 * 8725): exactly one method, the one the client registered; secrets compare exactly; a
 * private_key_jwt assertion is signed by the client's key with an accepted `alg`, names the client
 * in `iss` and `sub`, the server in `aud`, expires soon and is used once. Every refusal is 401
 * `invalid_client` and audited; a request that tried HTTP Basic is answered with
 * `WWW-Authenticate: Basic` (RFC 6749 §5.2).
 */

type Endpoint = 'token' | 'introspect' | 'revoke' | 'par';

interface Ctx {
  readonly as: TestAuthServer;
  readonly basicClient: TestClient;
  readonly basicOther: TestClient;
  readonly postClient: TestClient;
  readonly jwtClient: TestClient;
  readonly jwtKey: AssertionKey;
  readonly jwtOther: TestClient;
  readonly jwtOtherKey: AssertionKey;
  readonly publicClient: TestClient;
  readonly rs: TestClient;
}

interface Credentials {
  readonly headers?: Readonly<Record<string, string>>;
  readonly params?: Readonly<Record<string, string | undefined>>;
}

interface ClientAuthCase extends AttackCase {
  readonly endpoint?: Endpoint;
  readonly credentials: (ctx: Ctx) => Promise<Credentials> | Credentials;
  /** The request tried HTTP Basic: the 401 must carry `WWW-Authenticate: Basic`. */
  readonly basicAttempt: boolean;
}

const asBasic = (id: string, secret: string): Credentials => ({
  headers: { authorization: basic(id, secret) },
});
const secretOf = (client: TestClient): string => client.secret as string;

/** A client assertion for `ctx.jwtClient` at the test clock, claims overridden. */
async function assertion(
  ctx: Ctx,
  claims: Record<string, unknown> = {},
  key = ctx.jwtKey,
): Promise<Credentials> {
  const jwt = await clientAssertion(key, ctx.jwtClient.id, ctx.as.clock.now(), {
    aud: ctx.as.url,
    ...claims,
  });
  return { params: { client_assertion_type: CLIENT_ASSERTION_TYPE, client_assertion: jwt } };
}

const b64 = (value: object): string => Buffer.from(JSON.stringify(value)).toString('base64url');

function assertionClaims(ctx: Ctx): Record<string, unknown> {
  const iat = Math.floor(ctx.as.clock.now() / 1000);
  return {
    iss: ctx.jwtClient.id,
    sub: ctx.jwtClient.id,
    aud: ctx.as.url,
    jti: randomUUID(),
    iat,
    exp: iat + 60,
  };
}

const cases: ClientAuthCase[] = [
  // --- Missing or wrong secrets ---
  {
    name: 'no credentials and no client_id',
    source: 'RFC 6749 §3.2.1',
    credentials: () => ({}),
    basicAttempt: false,
  },
  {
    name: 'a confidential client_id without any secret',
    source: 'RFC 6749 §3.2.1',
    credentials: (ctx) => ({ params: { client_id: ctx.basicClient.id } }),
    basicAttempt: false,
  },
  {
    name: 'a wrong secret (Basic)',
    source: 'RFC 6749 §2.3.1, §5.2',
    credentials: (ctx) => asBasic(ctx.basicClient.id, 'not-the-secret-of-this-client'),
    basicAttempt: true,
  },
  {
    name: 'the secret of another client (Basic)',
    source: 'RFC 6749 §2.3.1',
    credentials: (ctx) => asBasic(ctx.basicClient.id, secretOf(ctx.basicOther)),
    basicAttempt: true,
  },
  {
    name: 'the secret truncated by one character',
    source: 'RFC 6749 §2.3.1',
    credentials: (ctx) => asBasic(ctx.basicClient.id, secretOf(ctx.basicClient).slice(0, -1)),
    basicAttempt: true,
  },
  {
    name: 'the secret with a trailing space',
    source: 'RFC 6749 §2.3.1',
    credentials: (ctx) => asBasic(ctx.basicClient.id, `${secretOf(ctx.basicClient)} `),
    basicAttempt: true,
  },
  {
    name: 'the secret in upper case',
    source: 'RFC 6749 §2.3.1',
    credentials: (ctx) => asBasic(ctx.basicClient.id, secretOf(ctx.basicClient).toUpperCase()),
    basicAttempt: true,
  },
  {
    name: 'an empty secret',
    source: 'RFC 6749 §2.3.1',
    credentials: (ctx) => ({
      headers: { authorization: `Basic ${Buffer.from(`${ctx.basicClient.id}:`).toString('base64')}` },
    }),
    basicAttempt: true,
  },
  {
    name: 'an unknown client (Basic)',
    source: 'RFC 6749 §5.2',
    credentials: () => asBasic('no-such-client', 'whatever-secret-value'),
    basicAttempt: true,
  },
  {
    name: 'a wrong secret (post)',
    source: 'RFC 6749 §2.3.1',
    credentials: (ctx) => ({
      params: { client_id: ctx.postClient.id, client_secret: 'not-the-secret-of-this-client' },
    }),
    basicAttempt: false,
  },
  {
    name: 'the secret of another client (post)',
    source: 'RFC 6749 §2.3.1',
    credentials: (ctx) => ({
      params: { client_id: ctx.postClient.id, client_secret: secretOf(ctx.basicOther) },
    }),
    basicAttempt: false,
  },
  // --- Malformed Authorization headers ---
  {
    name: 'a Basic value that is not base64',
    source: 'RFC 7617 §2, RFC 6749 §5.2',
    credentials: () => ({ headers: { authorization: 'Basic !!!not-base64!!!' } }),
    basicAttempt: true,
  },
  {
    name: 'a Basic value without a colon',
    source: 'RFC 7617 §2',
    credentials: (ctx) => ({
      headers: { authorization: `Basic ${Buffer.from(ctx.basicClient.id).toString('base64')}` },
    }),
    basicAttempt: true,
  },
  {
    name: 'a Bearer token instead of client credentials',
    source: 'RFC 6749 §2.3.1',
    credentials: () => ({ headers: { authorization: 'Bearer some-access-token-value' } }),
    basicAttempt: true,
  },
  {
    name: 'a client_id parameter that differs from the Basic user',
    source: 'RFC 6749 §2.3 (one client per request)',
    credentials: (ctx) => ({
      headers: { authorization: basic(ctx.basicClient.id, secretOf(ctx.basicClient)) },
      params: { client_id: ctx.basicOther.id },
    }),
    basicAttempt: true,
  },
  // --- Method confusion ---
  {
    name: 'two methods at once: Basic and client_secret (both correct)',
    source: 'RFC 6749 §2.3 (MUST NOT use more than one method)',
    credentials: (ctx) => ({
      headers: { authorization: basic(ctx.basicClient.id, secretOf(ctx.basicClient)) },
      params: { client_secret: secretOf(ctx.basicClient) },
    }),
    basicAttempt: true,
  },
  {
    name: 'two methods at once: Basic and a client assertion',
    source: 'RFC 6749 §2.3, RFC 7521 §4.2',
    credentials: async (ctx) => ({
      headers: { authorization: basic(ctx.basicClient.id, secretOf(ctx.basicClient)) },
      params: (await assertion(ctx)).params ?? {},
    }),
    basicAttempt: true,
  },
  {
    name: 'two methods at once: client_secret and a client assertion',
    source: 'RFC 6749 §2.3, RFC 7521 §4.2',
    credentials: async (ctx) => ({
      params: {
        ...(await assertion(ctx)).params,
        client_id: ctx.jwtClient.id,
        client_secret: secretOf(ctx.postClient),
      },
    }),
    basicAttempt: false,
  },
  {
    name: 'client_secret_post by a client registered for client_secret_basic',
    source: 'RFC 7591 §2 token_endpoint_auth_method, RFC 6749 §2.3',
    credentials: (ctx) => ({
      params: { client_id: ctx.basicClient.id, client_secret: secretOf(ctx.basicClient) },
    }),
    basicAttempt: false,
  },
  {
    name: 'client_secret_basic by a client registered for client_secret_post',
    source: 'RFC 7591 §2 token_endpoint_auth_method, RFC 6749 §2.3',
    credentials: (ctx) => asBasic(ctx.postClient.id, secretOf(ctx.postClient)),
    basicAttempt: true,
  },
  {
    name: 'a secret for a client registered for private_key_jwt',
    source: 'RFC 7591 §2, RFC 7523 §2.2',
    credentials: (ctx) => ({
      params: { client_id: ctx.jwtClient.id, client_secret: secretOf(ctx.basicClient) },
    }),
    basicAttempt: false,
  },
  {
    name: 'a public client presenting a secret (Basic)',
    source: 'RFC 6749 §2.3, OAuth 2.1 §2.4',
    credentials: (ctx) => asBasic(ctx.publicClient.id, secretOf(ctx.basicClient)),
    basicAttempt: true,
  },
  {
    name: 'a public client presenting a secret (post)',
    source: 'RFC 6749 §2.3, OAuth 2.1 §2.4',
    credentials: (ctx) => ({
      params: { client_id: ctx.publicClient.id, client_secret: secretOf(ctx.basicClient) },
    }),
    basicAttempt: false,
  },
  {
    name: 'a private_key_jwt client_id without an assertion',
    source: 'RFC 7523 §2.2',
    credentials: (ctx) => ({ params: { client_id: ctx.jwtClient.id } }),
    basicAttempt: false,
  },
  // --- private_key_jwt assertions (RFC 7523 §3) ---
  {
    name: 'assertion with the wrong aud (another server)',
    source: 'RFC 7523 §3 (3)',
    credentials: (ctx) => assertion(ctx, { aud: 'https://other-as.example' }),
    basicAttempt: false,
  },
  {
    name: 'assertion whose aud is the introspection endpoint, used at the token endpoint',
    source: 'RFC 7523 §3 (3)',
    credentials: (ctx) => assertion(ctx, { aud: `${ctx.as.url}/introspect` }),
    basicAttempt: false,
  },
  {
    name: 'assertion with the issuer plus a trailing slash as aud',
    source: 'RFC 7523 §3 (3), RFC 8725 §3.9 (exact audience)',
    credentials: (ctx) => assertion(ctx, { aud: `${ctx.as.url}/` }),
    basicAttempt: false,
  },
  {
    name: 'expired assertion',
    source: 'RFC 7523 §3 (4)',
    credentials: (ctx) => {
      const now = Math.floor(ctx.as.clock.now() / 1000);
      return assertion(ctx, { iat: now - 660, exp: now - 600 });
    },
    basicAttempt: false,
  },
  {
    name: 'assertion with iat far in the future',
    source: 'RFC 7523 §3 (6), RFC 7519 §4.1.6',
    credentials: (ctx) => {
      const now = Math.floor(ctx.as.clock.now() / 1000);
      return assertion(ctx, { iat: now + 3600, exp: now + 3660 });
    },
    basicAttempt: false,
  },
  {
    name: 'assertion valid for a day (replay window too long)',
    source: 'RFC 7523 §3 (4), RFC 7521 §5.2',
    credentials: (ctx) => {
      const now = Math.floor(ctx.as.clock.now() / 1000);
      return assertion(ctx, { iat: now, exp: now + 86_400 });
    },
    basicAttempt: false,
  },
  {
    name: 'assertion without exp',
    source: 'RFC 7523 §3 (4) (MUST contain exp)',
    credentials: (ctx) => assertion(ctx, { exp: undefined }),
    basicAttempt: false,
  },
  {
    name: 'assertion without jti (replay cannot be detected)',
    source: 'RFC 7523 §3 (7)',
    credentials: (ctx) => assertion(ctx, { jti: undefined }),
    basicAttempt: false,
  },
  {
    name: 'assertion signed with another key (same kid)',
    source: 'RFC 7523 §3 (9)',
    credentials: async (ctx) => assertion(ctx, {}, await createAssertionKey()),
    basicAttempt: false,
  },
  {
    name: 'assertion signed with another client’s key',
    source: 'RFC 7523 §3 (9)',
    credentials: (ctx) => assertion(ctx, {}, ctx.jwtOtherKey),
    basicAttempt: false,
  },
  {
    name: 'unsigned assertion (alg none)',
    source: 'RFC 8725 §3.1, RFC 7523 §3 (9)',
    credentials: (ctx) => ({
      params: {
        client_assertion_type: CLIENT_ASSERTION_TYPE,
        client_assertion: `${b64({ alg: 'none', kid: 'client-key-1' })}.${b64(assertionClaims(ctx))}.`,
      },
    }),
    basicAttempt: false,
  },
  {
    name: 'assertion HMAC-signed (HS256) with the client’s public key as secret',
    source: 'RFC 8725 §2.1, §3.1 (algorithm confusion), CVE-2015-9235',
    credentials: async (ctx) => {
      const pem = createPublicKey({ key: ctx.jwtKey.publicJwk as never, format: 'jwk' })
        .export({ type: 'spki', format: 'pem' })
        .toString();
      const jwt = await new SignJWT(assertionClaims(ctx))
        .setProtectedHeader({ alg: 'HS256', kid: 'client-key-1' })
        .sign(new TextEncoder().encode(pem));
      return { params: { client_assertion_type: CLIENT_ASSERTION_TYPE, client_assertion: jwt } };
    },
    basicAttempt: false,
  },
  {
    name: 'assertion for another client (sub names another client)',
    source: 'RFC 7523 §3 (2)',
    credentials: async (ctx) => ({
      params: { ...(await assertion(ctx, { sub: ctx.jwtOther.id })).params, client_id: ctx.jwtClient.id },
    }),
    basicAttempt: false,
  },
  {
    name: 'assertion whose iss names another client',
    source: 'RFC 7523 §3 (1)',
    credentials: (ctx) => assertion(ctx, { iss: ctx.jwtOther.id }),
    basicAttempt: false,
  },
  {
    name: 'another client’s valid assertion with this client_id',
    source: 'RFC 7523 §3 (2), RFC 6749 §2.3',
    credentials: async (ctx) => {
      const jwt = await clientAssertion(ctx.jwtOtherKey, ctx.jwtOther.id, ctx.as.clock.now(), {
        aud: ctx.as.url,
      });
      return {
        params: {
          client_assertion_type: CLIENT_ASSERTION_TYPE,
          client_assertion: jwt,
          client_id: ctx.jwtClient.id,
        },
      };
    },
    basicAttempt: false,
  },
  {
    name: 'a wrong client_assertion_type',
    source: 'RFC 7521 §4.2, RFC 7523 §2.2',
    credentials: async (ctx) => ({
      params: {
        ...(await assertion(ctx)).params,
        client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:saml2-bearer',
      },
    }),
    basicAttempt: false,
  },
  {
    name: 'client_assertion_type without an assertion',
    source: 'RFC 7521 §4.2',
    credentials: (ctx) => ({
      params: { client_id: ctx.jwtClient.id, client_assertion_type: CLIENT_ASSERTION_TYPE },
    }),
    basicAttempt: false,
  },
  {
    name: 'an assertion that is not a JWT',
    source: 'RFC 7523 §3',
    credentials: (ctx) => ({
      params: {
        client_id: ctx.jwtClient.id,
        client_assertion_type: CLIENT_ASSERTION_TYPE,
        client_assertion: 'not-a-jwt',
      },
    }),
    basicAttempt: false,
  },
  // --- The other endpoints that authenticate clients ---
  {
    name: 'a wrong secret at the introspection endpoint',
    source: 'RFC 7662 §2.1, RFC 6749 §5.2',
    endpoint: 'introspect',
    credentials: (ctx) => asBasic(ctx.rs.id, 'not-the-secret-of-this-client'),
    basicAttempt: true,
  },
  {
    name: 'a wrong secret at the revocation endpoint',
    source: 'RFC 7009 §2.1, RFC 6749 §5.2',
    endpoint: 'revoke',
    credentials: (ctx) => asBasic(ctx.basicClient.id, 'not-the-secret-of-this-client'),
    basicAttempt: true,
  },
  {
    name: 'a wrong secret at the pushed authorization request endpoint',
    source: 'RFC 9126 §2 (token endpoint client authentication), RFC 6749 §5.2',
    endpoint: 'par',
    credentials: (ctx) => asBasic(ctx.basicClient.id, 'not-the-secret-of-this-client'),
    basicAttempt: true,
  },
  {
    name: 'a replayed-free but wrong-audience assertion at the PAR endpoint',
    source: 'RFC 9126 §2, RFC 7523 §3 (3)',
    endpoint: 'par',
    credentials: (ctx) => assertion(ctx, { aud: 'https://other-as.example' }),
    basicAttempt: false,
  },
];

/** The client id a request names: the HTTP Basic user (RFC 6749 §2.3.1 form-encoded) or client_id. */
function claimedClientId(credentials: Credentials): string | undefined {
  const header = credentials.headers?.['authorization'];
  const match = header === undefined ? null : /^Basic ([A-Za-z0-9+/]+=*)$/.exec(header);
  const decoded = match?.[1] === undefined ? '' : Buffer.from(match[1], 'base64').toString('utf8');
  if (decoded.includes(':')) return decodeURIComponent(decoded.slice(0, decoded.indexOf(':')));
  return credentials.params?.['client_id'];
}

/** What each endpoint needs besides the client credentials. */
function requestParams(endpoint: Endpoint): Record<string, string> {
  switch (endpoint) {
    case 'token':
      return { grant_type: 'client_credentials' };
    case 'introspect':
    case 'revoke':
      return { token: 'some-token-value-that-does-not-exist' };
    case 'par':
      return {
        response_type: 'code',
        redirect_uri: REDIRECT_URI,
        code_challenge: pkcePair().challenge,
        code_challenge_method: 'S256',
        scope: 'accounts:read',
      };
  }
}

describeEachStore('attacks: client authentication', (stores) => {
  let ctx: Ctx;
  const watch = new SecretWatch();

  beforeAll(async () => {
    const as = await startAuthServer({ stores, config: { resources: TEST_RESOURCES } });
    const machine = {
      grantTypes: ['client_credentials', 'authorization_code'] as const,
      scopes: ['accounts:read'],
      resources: [API],
    };
    const jwtKey = await createAssertionKey();
    const jwtOtherKey = await createAssertionKey();
    ctx = {
      as,
      basicClient: await newClient(as, { ...machine, grantTypes: [...machine.grantTypes] }),
      basicOther: await newClient(as, { ...machine, grantTypes: [...machine.grantTypes] }),
      postClient: await newClient(as, {
        ...machine,
        grantTypes: [...machine.grantTypes],
        authMethod: 'client_secret_post',
      }),
      jwtClient: await newClient(as, {
        ...machine,
        grantTypes: [...machine.grantTypes],
        jwks: { keys: [jwtKey.publicJwk] },
      }),
      jwtKey,
      jwtOther: await newClient(as, {
        ...machine,
        grantTypes: [...machine.grantTypes],
        jwks: { keys: [jwtOtherKey.publicJwk] },
      }),
      jwtOtherKey,
      publicClient: await newClient(as, {
        grantTypes: ['authorization_code'],
        authMethod: 'none',
        scopes: ['accounts:read'],
      }),
      rs: await newClient(as, { grantTypes: ['client_credentials'], canIntrospect: true }),
    };
    for (const client of [ctx.basicClient, ctx.basicOther, ctx.postClient, ctx.rs])
      watch.add(`secret ${client.id}`, client.secret);
  });
  afterAll(async () => {
    watch.expectNoLeaks(ctx.as);
    await ctx.as.close();
  });

  const send = async (endpoint: Endpoint, credentials: Credentials): Promise<FormResponse> => {
    // The secret parts of the request (client_id and the assertion type are public).
    const { client_secret: secret, client_assertion: jwt } = credentials.params ?? {};
    if (secret !== undefined && secret.length >= 8) watch.add('client_secret', secret);
    if (jwt !== undefined && jwt.length >= 8) watch.add('client_assertion', jwt);
    for (const value of Object.values(credentials.headers ?? {}))
      watch.add('authorization header', value.replace(/^\w+ /, ''));
    return postForm(
      `${ctx.as.url}/${endpoint}`,
      { ...requestParams(endpoint), ...credentials.params },
      credentials.headers === undefined ? {} : { headers: credentials.headers },
    );
  };

  it.each(cases)('refuses $name ($source)', async (row) => {
    const endpoint = row.endpoint ?? 'token';
    const mark = ctx.as.audit.length;
    const credentials = await row.credentials(ctx);
    const response = await send(endpoint, credentials);
    expectOAuthError(response, 401, 'invalid_client');
    if (row.basicAttempt)
      expect(response.headers.get('www-authenticate')).toBe(`Basic realm="${ctx.as.url}"`);
    const failures = auditSince(ctx.as, mark).filter((event) => event.action === 'client.auth_failed');
    expect(failures).toHaveLength(1);
    expect(failures[0]).toMatchObject({
      outcome: 'failure',
      component: 'auth-server',
      sourceIp: expect.stringMatching(/127\.0\.0\.1/) as unknown,
      requestId: expect.any(String) as unknown,
      reason: expect.any(String) as unknown,
    });
    // The event names the client the request claimed to be (Basic user or client_id).
    const claimed = claimedClientId(credentials);
    if (claimed !== undefined) expect(failures[0]?.actor).toEqual({ clientId: claimed });
  });

  it('refuses a replayed assertion (same jti) after its first use succeeded (RFC 7523 §3 (7))', async () => {
    const credentials = await assertion(ctx);
    const first = await send('token', credentials);
    expect(first.status).toBe(200);
    watch.addTokens('cc', first);
    const mark = ctx.as.audit.length;
    const replayed = await send('token', credentials);
    expectOAuthError(replayed, 401, 'invalid_client');
    expect(auditSince(ctx.as, mark)).toContainEqual(
      expect.objectContaining({ action: 'client.auth_failed', outcome: 'failure' }),
    );
  });

  it('refuses an assertion replayed at another endpoint (one jti, one use, RFC 7523 §3 (7))', async () => {
    const jwt = await clientAssertion(ctx.jwtKey, ctx.jwtClient.id, ctx.as.clock.now(), { aud: ctx.as.url });
    const credentials = { params: { client_assertion_type: CLIENT_ASSERTION_TYPE, client_assertion: jwt } };
    expect((await send('revoke', credentials)).status).toBe(200);
    expectOAuthError(await send('token', credentials), 401, 'invalid_client');
  });

  // Positive controls: each registered method works with correct credentials.
  it.each([
    {
      name: 'client_secret_basic',
      credentials: (c: Ctx): Credentials => asBasic(c.basicClient.id, secretOf(c.basicClient)),
    },
    {
      name: 'client_secret_post',
      credentials: (c: Ctx): Credentials => ({
        params: { client_id: c.postClient.id, client_secret: secretOf(c.postClient) },
      }),
    },
    { name: 'private_key_jwt, aud = issuer', credentials: (c: Ctx) => assertion(c) },
    {
      name: 'private_key_jwt, aud = token endpoint',
      credentials: (c: Ctx) => assertion(c, { aud: `${c.as.url}/token` }),
    },
  ])('authenticates $name (positive control)', async ({ credentials }) => {
    const response = await send('token', await credentials(ctx));
    expect(response.status).toBe(200);
    watch.addTokens('cc', response);
  });

  it.each(['introspect', 'revoke', 'par'] as const)(
    'authenticates a correct Basic client at /%s (positive control)',
    async (endpoint) => {
      const client = endpoint === 'introspect' ? ctx.rs : ctx.basicClient;
      const response = await send(endpoint, asBasic(client.id, secretOf(client)));
      expect(response.status).toBe(endpoint === 'par' ? 201 : 200);
    },
  );
});
