import { createHash, randomUUID } from 'node:crypto';
import { SignJWT } from 'jose';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createUserStore } from '../../src/users/user-store.js';
import { Browser, addUser, signIn } from '../helpers/browser-flow.js';
import { createDpopKey, dpopProof, type DpopKey } from '../helpers/dpop-proof.js';
import { describeEachStore, startAuthServer, type TestAuthServer } from '../helpers/harness.js';
import { REDIRECT_URI, newClient, tokenRequest, type TestClient } from '../helpers/oauth-client.js';

const PASSWORD = 'userinfo password 1';

describeEachStore('UserInfo (OIDC Core §5.3)', (stores) => {
  let as: TestAuthServer;
  let opaque: TestClient;
  let jwt: TestClient;
  let machine: TestClient;
  let sub: string;

  beforeAll(async () => {
    as = await startAuthServer({
      stores,
      config: { dpop: { requireNonce: false }, login: { delayStepMs: 0 } },
    });
    const scopes = ['openid', 'profile', 'email'];
    opaque = await newClient(as, {
      grantTypes: ['authorization_code', 'refresh_token'],
      scopes,
      firstParty: true,
    });
    jwt = await newClient(as, {
      grantTypes: ['authorization_code'],
      scopes,
      firstParty: true,
      tokenFormat: 'jwt',
    });
    machine = await newClient(as, { grantTypes: ['client_credentials'], scopes: ['openid'] });
    sub = (
      await addUser(as, { username: 'uma', password: PASSWORD, name: 'Uma U', email: 'uma@example.com' })
    ).sub;
  });
  afterAll(async () => {
    await as.close();
  });

  async function tokens(client: TestClient, scope: string, dpop?: DpopKey, username = 'uma') {
    const result = await signIn(as, new Browser(), {
      clientId: client.id,
      redirectUri: REDIRECT_URI,
      username,
      password: PASSWORD,
      scope,
    });
    const headers =
      dpop === undefined
        ? undefined
        : { dpop: await dpopProof(dpop, as.clock.ms, { htu: `${as.url}/token` }) };
    const response = await tokenRequest(
      as,
      client,
      {
        grant_type: 'authorization_code',
        code: result.params['code'],
        redirect_uri: REDIRECT_URI,
        code_verifier: result.pkce.verifier,
      },
      headers,
    );
    expect(response.status).toBe(200);
    return response.body as { access_token: string; refresh_token?: string; token_type: string };
  }

  const userinfo = (authorization: string | undefined, init: RequestInit = {}) =>
    fetch(`${as.url}/userinfo`, {
      ...init,
      headers: {
        ...(authorization === undefined ? {} : { authorization }),
        ...(init.headers as Record<string, string>),
      },
    });

  it.each([
    { scope: 'openid', claims: () => ({ sub }) },
    { scope: 'openid profile', claims: () => ({ sub, preferred_username: 'uma', name: 'Uma U' }) },
    { scope: 'openid email', claims: () => ({ sub, email: 'uma@example.com' }) },
    {
      scope: 'openid profile email',
      claims: () => ({ sub, preferred_username: 'uma', name: 'Uma U', email: 'uma@example.com' }),
    },
  ])('returns the claims of the granted scopes: $scope (OIDC Core §5.4)', async ({ scope, claims }) => {
    const { access_token: token } = await tokens(opaque, scope);
    const response = await userinfo(`Bearer ${token}`);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^application\/json/);
    expect(response.headers.get('cache-control')).toBe('no-store');
    expect(await response.json()).toEqual(claims());
  });

  it('accepts a JWT access token and POST (OIDC Core §5.3.1)', async () => {
    const { access_token: token } = await tokens(jwt, 'openid profile');
    expect(token.split('.')).toHaveLength(3);
    const response = await userinfo(`Bearer ${token}`, { method: 'POST' });
    expect(response.status).toBe(200);
    expect(await response.json()).toMatchObject({ sub, preferred_username: 'uma' });
  });

  it('requires the openid scope: 403 insufficient_scope with a challenge (RFC 6750 §3.1)', async () => {
    const { access_token: token } = await tokens(opaque, 'profile');
    const response = await userinfo(`Bearer ${token}`);
    expect(response.status).toBe(403);
    expect(response.headers.get('www-authenticate')).toContain('error="insufficient_scope"');
    expect(response.headers.get('www-authenticate')).toContain('scope="openid"');
  });

  it('answers 401 with a bare Bearer challenge when no token is sent (RFC 6750 §3.1)', async () => {
    const response = await userinfo(undefined);
    expect(response.status).toBe(401);
    const challenge = response.headers.get('www-authenticate')!;
    expect(challenge).toMatch(/^Bearer/);
    expect(challenge).not.toContain('error=');
  });

  it.each([
    {
      name: 'an unknown opaque token',
      source: 'RFC 6750 §3.1',
      token: () => Promise.resolve('x'.repeat(43)),
    },
    {
      name: 'a JWT with a forged signature',
      source: 'RFC 7515 §5.2',
      token: async () => {
        const { access_token: t } = await tokens(jwt, 'openid');
        return `${t.slice(0, t.lastIndexOf('.'))}.${'A'.repeat(86)}`;
      },
    },
    {
      name: 'a refresh token',
      source: 'RFC 6749 §1.5',
      token: async () => (await tokens(opaque, 'openid')).refresh_token!,
    },
    {
      name: 'a client-credentials token (no user)',
      source: 'OIDC Core §5.3',
      token: async () => {
        const response = await tokenRequest(as, machine, {
          grant_type: 'client_credentials',
          scope: 'openid',
        });
        expect(response.status).toBe(200);
        return response.body['access_token'] as string;
      },
    },
    {
      name: 'an expired token',
      source: 'RFC 6750 §3.1',
      token: async () => {
        const { access_token: t } = await tokens(opaque, 'openid');
        as.clock.advance(301);
        return t;
      },
    },
  ])('refuses $name with 401 invalid_token ($source)', async ({ token }) => {
    const response = await userinfo(`Bearer ${await token()}`);
    expect(response.status).toBe(401);
    expect(response.headers.get('www-authenticate')).toContain('error="invalid_token"');
  });

  it('refuses the token of a deleted user', async () => {
    await addUser(as, { username: 'vic', password: PASSWORD });
    const { access_token: token } = await tokens(opaque, 'openid', undefined, 'vic');
    expect((await userinfo(`Bearer ${token}`)).status).toBe(200);
    await createUserStore(as.deps).delete('vic');
    expect((await userinfo(`Bearer ${token}`)).status).toBe(401);
  });

  async function resourceProof(key: DpopKey, token: string, htu = `${as.url}/userinfo`): Promise<string> {
    return new SignJWT({
      htm: 'GET',
      htu,
      jti: randomUUID(),
      ath: createHash('sha256').update(token).digest('base64url'),
    })
      .setProtectedHeader({ alg: 'ES256', typ: 'dpop+jwt', jwk: key.publicJwk })
      .setIssuedAt(Math.floor(as.clock.ms / 1000))
      .sign(key.privateKey);
  }

  it('serves a DPoP-bound token only with a proof of its key (RFC 9449 §7)', async () => {
    const key = await createDpopKey();
    const bound = await tokens(opaque, 'openid profile', key);
    expect(bound.token_type).toBe('DPoP');
    const token = bound.access_token;

    const ok = await userinfo(`DPoP ${token}`, { headers: { dpop: await resourceProof(key, token) } });
    expect(ok.status).toBe(200);
    expect(await ok.json()).toMatchObject({ sub });

    const cases: Array<{ name: string; authorization: string; dpop?: string }> = [
      { name: 'as a bearer token', authorization: `Bearer ${token}` },
      { name: 'without a proof', authorization: `DPoP ${token}` },
      {
        name: "with another key's proof",
        authorization: `DPoP ${token}`,
        dpop: await resourceProof(await createDpopKey(), token),
      },
      {
        name: 'with a proof for another URL',
        authorization: `DPoP ${token}`,
        dpop: await resourceProof(key, token, `${as.url}/token`),
      },
    ];
    for (const c of cases) {
      const response = await userinfo(c.authorization, {
        headers: c.dpop === undefined ? {} : { dpop: c.dpop },
      });
      expect({ name: c.name, status: response.status }).toEqual({ name: c.name, status: 401 });
    }
  });
});
