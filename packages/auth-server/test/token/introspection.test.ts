import {
  SignJWT,
  createLocalJWKSet,
  decodeProtectedHeader,
  generateKeyPair,
  jwtVerify,
  type JSONWebKeySet,
} from 'jose';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { describeEachStore, startAuthServer, type TestAuthServer } from '../helpers/harness.js';
import {
  API,
  TEST_RESOURCES,
  basic,
  introspect,
  issueCode,
  newClient,
  postForm,
  redeem,
  revoke,
  tokenRequest,
  type TestClient,
} from '../helpers/oauth-client.js';

const JWT_ACCEPT = 'application/token-introspection+jwt';

describeEachStore('introspection (RFC 7662, RFC 9701)', (stores) => {
  let as: TestAuthServer;
  let rs: TestClient;
  let nosy: TestClient;
  let publicClient: TestClient;
  let service: TestClient;
  let jwtService: TestClient;
  let webWithIntrospection: TestClient;

  beforeAll(async () => {
    as = await startAuthServer({ stores, config: { resources: TEST_RESOURCES } });
    rs = await newClient(as, { grantTypes: ['client_credentials'], canIntrospect: true });
    nosy = await newClient(as, { grantTypes: ['client_credentials'], scopes: ['accounts:read'] });
    publicClient = await newClient(as, {
      grantTypes: ['authorization_code'],
      authMethod: 'none',
      scopes: ['openid'],
    });
    service = await newClient(as, {
      grantTypes: ['client_credentials'],
      scopes: ['accounts:read'],
      resources: [API],
    });
    jwtService = await newClient(as, {
      grantTypes: ['client_credentials'],
      scopes: ['accounts:read'],
      resources: [API],
      tokenFormat: 'jwt',
    });
    webWithIntrospection = await newClient(as, {
      grantTypes: ['authorization_code', 'refresh_token'],
      scopes: ['accounts:read'],
      canIntrospect: true,
    });
  });
  afterAll(async () => {
    await as.close();
  });

  const accessToken = async (client: TestClient = service): Promise<string> =>
    (await tokenRequest(as, client, { grant_type: 'client_credentials' })).body['access_token'] as string;

  it('describes an active opaque token (RFC 7662 §2.2)', async () => {
    const token = await accessToken();
    const response = await introspect(as, rs, token);
    expect(response.status).toBe(200);
    expect(response.headers.get('cache-control')).toBe('no-store');
    const now = Math.floor(as.clock.now() / 1000);
    expect(response.body).toEqual({
      active: true,
      scope: 'accounts:read',
      client_id: service.id,
      sub: service.id,
      aud: API,
      exp: now + 300,
      iat: now,
      iss: as.url,
      jti: expect.any(String) as unknown,
      token_type: 'Bearer',
    });
  });

  it('verifies a JWT access token and looks it up by jti', async () => {
    const response = await introspect(as, rs, await accessToken(jwtService));
    expect(response.body).toMatchObject({ active: true, client_id: jwtService.id, aud: API });
  });

  it('treats token_type_hint as a hint only (RFC 7662 §2.1)', async () => {
    const token = await accessToken();
    for (const hint of ['refresh_token', 'access_token', 'id_token']) {
      expect((await introspect(as, rs, token, { token_type_hint: hint })).body['active']).toBe(true);
    }
  });

  it('describes a refresh token to its own client only', async () => {
    const tokens = await redeem(as, webWithIntrospection, await issueCode(as, webWithIntrospection));
    const refreshToken = tokens.body['refresh_token'] as string;
    const own = await introspect(as, webWithIntrospection, refreshToken, {
      token_type_hint: 'refresh_token',
    });
    expect(own.body).toMatchObject({ active: true, client_id: webWithIntrospection.id, sub: 'user-alice' });
    expect((await introspect(as, rs, refreshToken)).body).toEqual({ active: false });
  });

  const inactive: Array<{ name: string; source: string; token: () => Promise<string> }> = [
    {
      name: 'an unknown opaque token',
      source: 'RFC 7662 §2.2',
      token: () => Promise.resolve('z'.repeat(43)),
    },
    {
      name: 'a revoked token',
      source: 'RFC 7662 §2.2',
      token: async () => {
        const token = await accessToken();
        await revoke(as, service, token);
        return token;
      },
    },
    {
      name: 'a revoked JWT',
      source: 'RFC 7662 §2.2, revoked jtis kept until exp',
      token: async () => {
        const token = await accessToken(jwtService);
        await revoke(as, jwtService, token);
        return token;
      },
    },
    {
      name: 'a JWT signed by a foreign key',
      source: 'RFC 7662 §2.2',
      token: async () => {
        const { privateKey } = await generateKeyPair('ES256');
        const iat = Math.floor(as.clock.now() / 1000);
        return new SignJWT({ iss: as.url, aud: API, sub: 'x', jti: 'forged', iat, exp: iat + 60 })
          .setProtectedHeader({ alg: 'ES256', typ: 'at+jwt' })
          .sign(privateKey);
      },
    },
    {
      name: 'an ID token',
      source: 'RFC 9068 §4: typ at+jwt',
      token: async () =>
        (
          await redeem(
            as,
            webWithIntrospection,
            await issueCode(as, webWithIntrospection, { scopes: ['openid'] }),
          )
        ).body['id_token'] as string,
    },
  ];

  it.each(inactive)('answers exactly { active: false } for $name ($source)', async ({ token }) => {
    const response = await introspect(as, rs, await token());
    expect(response.status).toBe(200);
    expect(response.body).toEqual({ active: false });
  });

  it('answers { active: false } for expired tokens', async () => {
    const opaque = await accessToken();
    const jwt = await accessToken(jwtService);
    as.clock.advance(301);
    expect((await introspect(as, rs, opaque)).body).toEqual({ active: false });
    expect((await introspect(as, rs, jwt)).body).toEqual({ active: false });
  });

  it('answers a caller without can_introspect { active: false } for every token, and audits it', async () => {
    const token = await accessToken(nosy);
    const response = await introspect(as, nosy, token);
    expect(response.status).toBe(200);
    expect(response.body).toEqual({ active: false });
    expect(as.audit.at(-1)).toMatchObject({
      action: 'token.introspect',
      outcome: 'failure',
      actor: { clientId: nosy.id },
    });
  });

  const unauthorized: Array<{
    name: string;
    source: string;
    send: (token: string) => ReturnType<typeof postForm>;
    basicChallenge: boolean;
  }> = [
    {
      name: 'no client authentication',
      source: 'RFC 7662 §2.1',
      send: (token) => postForm(`${as.url}/introspect`, { token }),
      basicChallenge: false,
    },
    {
      name: 'a public client',
      source: 'RFC 7662 §2.1: authorization required',
      send: (token) => postForm(`${as.url}/introspect`, { token, client_id: publicClient.id }),
      basicChallenge: false,
    },
    {
      name: 'a wrong secret',
      source: 'RFC 7662 §2.3 → 401',
      send: (token) =>
        postForm(`${as.url}/introspect`, { token }, { headers: { authorization: basic(rs.id, 'wrong') } }),
      basicChallenge: true,
    },
  ];

  it.each(unauthorized)(
    'refuses $name with 401 invalid_client ($source)',
    async ({ send, basicChallenge }) => {
      const response = await send(await accessToken());
      expect(response.status).toBe(401);
      expect(response.body['error']).toBe('invalid_client');
      expect(response.headers.get('www-authenticate')).toBe(
        basicChallenge ? `Basic realm="${as.url}"` : null,
      );
    },
  );

  it('refuses a request without token as invalid_request', async () => {
    const response = await postForm(`${as.url}/introspect`, {}, { client: rs });
    expect(response.status).toBe(400);
    expect(response.body['error']).toBe('invalid_request');
  });

  it('answers a signed JWT when asked (RFC 9701 §4-5)', async () => {
    const token = await accessToken();
    const response = await introspect(as, rs, token, {}, { accept: JWT_ACCEPT });
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^application\/token-introspection\+jwt/);
    expect(decodeProtectedHeader(response.text).typ).toBe('token-introspection+jwt');
    const jwks = createLocalJWKSet((await (await fetch(`${as.url}/jwks`)).json()) as JSONWebKeySet);
    const { payload } = await jwtVerify(response.text, jwks, {
      issuer: as.url,
      audience: rs.id,
      typ: 'token-introspection+jwt',
      currentDate: new Date(as.clock.now()),
    });
    expect(payload.iat).toBe(Math.floor(as.clock.now() / 1000));
    expect(payload['token_introspection']).toMatchObject({ active: true, client_id: service.id, aud: API });

    const unknown = await introspect(
      as,
      rs,
      'q'.repeat(43),
      {},
      { accept: `application/json;q=0.5, ${JWT_ACCEPT}` },
    );
    const inactive = await jwtVerify(unknown.text, jwks, { currentDate: new Date(as.clock.now()) });
    expect(inactive.payload['token_introspection']).toEqual({ active: false });

    const notWanted = await introspect(as, rs, token, {}, { accept: `${JWT_ACCEPT};q=0, application/json` });
    expect(notWanted.body['active']).toBe(true);
  });
});
