import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { CertificateAndKey } from '@gatehouse/core';
import { createVerifier, type Verifier } from '@gatehouse/guard';
import { createNodeGuard } from '@gatehouse/guard/node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectOAuthError, type AttackCase } from '../helpers/attack-table.js';
import { addUser } from '../helpers/browser-flow.js';
import { TestClock, describeEachStore, startAuthServer, type TestAuthServer } from '../helpers/harness.js';
import {
  createTestPki,
  opensslSelfSigned,
  x5tS256,
  type TestPki,
  partnerTlsListen,
} from '../helpers/mtls-pki.js';
import {
  API,
  TEST_RESOURCES,
  basic,
  issueCode,
  newClient,
  type TestClient,
} from '../helpers/oauth-client.js';
import { httpsPostForm, httpsRequest, type TlsClientOptions } from '../helpers/tls-client.js';

/**
 * RFC 8705 §3 certificate-bound access tokens, end to end over real TLS: the auth server binds
 * (`cnf.x5t#S256`, in JWTs and in introspection of opaque tokens), a resource server using guard
 * accepts the token only on a connection with that certificate, the auth server's own UserInfo
 * does the same, and a public client's refresh tokens are bound too (§4).
 */

type CertName = 'partner' | 'otherPartner' | 'selfSigned';

const claimsOf = (jwt: string): Record<string, unknown> =>
  JSON.parse(Buffer.from(jwt.split('.')[1]!, 'base64url').toString('utf8')) as Record<string, unknown>;

describeEachStore('RFC 8705 certificate-bound tokens', (stores) => {
  let pki: TestPki;
  let as: TestAuthServer;
  const certs = {} as Record<CertName, CertificateAndKey>;
  let mtlsJwt: TestClient;
  let mtlsOpaque: TestClient;
  let boundSecret: TestClient;
  let plainSecret: TestClient;
  let spa: TestClient;
  let rs: TestClient;
  let userSub: string;

  const tlsFor = (cert?: CertName, headers?: Record<string, string>): TlsClientOptions => ({
    ca: pki.serverCa.certPem,
    cert: cert === undefined ? undefined : certs[cert].certPem,
    key: cert === undefined ? undefined : certs[cert].keyPem,
    ...(headers === undefined ? {} : { headers }),
  });

  const token = (client: TestClient, cert: CertName | undefined, params: Record<string, string> = {}) =>
    httpsPostForm(
      `${as.url}/token`,
      {
        grant_type: 'client_credentials',
        ...(client.secret === undefined ? { client_id: client.id } : {}),
        ...params,
      },
      tlsFor(
        cert,
        client.secret === undefined ? undefined : { authorization: basic(client.id, client.secret) },
      ),
    );

  beforeAll(async () => {
    pki = await createTestPki();
    Object.assign(certs, {
      partner: await pki.partnerCa.issue({
        commonName: 'partner-1',
        dns: ['partner.example'],
        usage: 'client',
      }),
      otherPartner: await pki.partnerCa.issue({
        commonName: 'partner-2',
        dns: ['partner.example'],
        usage: 'client',
      }),
      selfSigned: opensslSelfSigned({ subject: '/CN=anyone' }),
    } satisfies Record<CertName, CertificateAndKey>);
    as = await startAuthServer({
      stores,
      clock: new TestClock(Date.now()),
      baseDir: pki.dir,
      config: {
        resources: TEST_RESOURCES,
        login: { delayStepMs: 0 },
        listen: partnerTlsListen(pki),
      },
    });
    const machine = {
      grantTypes: ['client_credentials'],
      scopes: ['accounts:read'],
      resources: [API],
    } as const;
    const tlsAuth = {
      authMethod: 'tls_client_auth',
      tlsClientAuth: { kind: 'san_dns', value: 'partner.example' },
    } as const;
    mtlsJwt = await newClient(as, { ...machine, ...tlsAuth, tokenFormat: 'jwt' });
    mtlsOpaque = await newClient(as, { ...machine, ...tlsAuth, tokenFormat: 'opaque' });
    boundSecret = await newClient(as, {
      ...machine,
      tokenFormat: 'jwt',
      tlsClientCertificateBoundAccessTokens: true,
    });
    plainSecret = await newClient(as, { ...machine, tokenFormat: 'jwt' });
    spa = await newClient(as, {
      grantTypes: ['authorization_code', 'refresh_token'],
      authMethod: 'none',
      scopes: ['openid', 'profile'],
      firstParty: true,
      tlsClientCertificateBoundAccessTokens: true,
    });
    rs = await newClient(as, { grantTypes: ['client_credentials'], canIntrospect: true });
    userSub = (await addUser(as, { username: 'mia', password: 'mia password 1', name: 'Mia' })).sub;
  });

  afterAll(async () => {
    await as.close();
    pki.close();
  });

  it('discovery advertises the mutual-TLS methods and bound tokens', async () => {
    const response = await httpsRequest(`${as.url}/.well-known/openid-configuration`, 'GET', tlsFor());
    expect(response.body).toMatchObject({
      tls_client_certificate_bound_access_tokens: true,
      token_endpoint_auth_methods_supported: expect.arrayContaining([
        'tls_client_auth',
        'self_signed_tls_client_auth',
      ]),
      introspection_endpoint_auth_methods_supported: expect.arrayContaining([
        'tls_client_auth',
        'self_signed_tls_client_auth',
      ]),
    });
    expect(response.body).not.toHaveProperty('mtls_endpoint_aliases');
  });

  it('introspection of a bound opaque token shows cnf.x5t#S256 (RFC 8705 §3.2)', async () => {
    const issued = await token(mtlsOpaque, 'partner');
    expect(issued.status, issued.text).toBe(200);
    const answer = await httpsPostForm(
      `${as.url}/introspect`,
      { token: issued.body['access_token'] as string },
      tlsFor(undefined, { authorization: basic(rs.id, rs.secret!) }),
    );
    expect(answer.status).toBe(200);
    expect(answer.body).toMatchObject({
      active: true,
      client_id: mtlsOpaque.id,
      token_type: 'Bearer',
      cnf: { 'x5t#S256': x5tS256(certs.partner.certPem) },
    });
  });

  it('introspection of a bound JWT shows the same confirmation as the JWT', async () => {
    const issued = await token(mtlsJwt, 'partner');
    const jwt = issued.body['access_token'] as string;
    const answer = await httpsPostForm(
      `${as.url}/introspect`,
      { token: jwt },
      tlsFor(undefined, { authorization: basic(rs.id, rs.secret!) }),
    );
    expect(answer.body['cnf']).toEqual(claimsOf(jwt)['cnf']);
  });

  describe('which token requests are bound', () => {
    it('a secret client registered for bound tokens: bound to whatever certificate it presents', async () => {
      const issued = await token(boundSecret, 'selfSigned');
      expect(issued.status, issued.text).toBe(200);
      expect(claimsOf(issued.body['access_token'] as string)['cnf']).toEqual({
        'x5t#S256': x5tS256(certs.selfSigned.certPem),
      });
    });

    it('a secret client registered for bound tokens without a certificate: 400 invalid_request', async () => {
      expectOAuthError(await token(boundSecret, undefined), 400, 'invalid_request');
    });

    it('a secret client not registered for bound tokens: unbound even with a certificate', async () => {
      const issued = await token(plainSecret, 'partner');
      expect(issued.status).toBe(200);
      expect(claimsOf(issued.body['access_token'] as string)).not.toHaveProperty('cnf');
    });
  });

  describe('a resource server with guard enforces the binding', () => {
    let resource: Server;
    let resourceUrl: string;
    let verifier: Verifier;

    beforeAll(async () => {
      const jwks = await httpsRequest(`${as.url}/jwks`, 'GET', tlsFor());
      const serverCert = await pki.serverCa.issue({
        commonName: 'api.test',
        ip: ['127.0.0.1'],
        usage: 'server',
      });
      verifier = createVerifier({ issuer: as.url, audience: API, jwks: jwks.body as { keys: unknown[] } });
      const guard = createNodeGuard({ verifier, dpop: false });
      resource = createServer(
        {
          cert: serverCert.certPem,
          key: serverCert.keyPem,
          ca: pki.partnerCa.certPem,
          requestCert: true,
          rejectUnauthorized: false,
        },
        (req, res) => {
          void guard(req, res).then((principal) => {
            if (principal === undefined) return;
            res.writeHead(200, { 'content-type': 'application/json' });
            res.end(JSON.stringify({ sub: principal.sub }));
          });
        },
      );
      await new Promise<void>((resolve) => resource.listen(0, '127.0.0.1', resolve));
      resourceUrl = `https://127.0.0.1:${(resource.address() as AddressInfo).port}/accounts`;
    });

    afterAll(async () => {
      verifier.close();
      await new Promise((resolve) => resource.close(resolve));
    });

    const cases: (AttackCase & {
      readonly client: 'mtls' | 'plain';
      readonly presented?: CertName;
      readonly ok: boolean;
    })[] = [
      {
        name: 'the bound token with its certificate',
        source: 'RFC 8705 §3',
        client: 'mtls',
        presented: 'partner',
        ok: true,
      },
      { name: 'the bound token without a certificate', source: 'RFC 8705 §3', client: 'mtls', ok: false },
      {
        name: 'the bound token with another certificate of the same CA and name',
        source: 'RFC 8705 §3.1',
        client: 'mtls',
        presented: 'otherPartner',
        ok: false,
      },
      {
        name: 'the bound token with a self-signed certificate',
        source: 'RFC 8705 §3.1',
        client: 'mtls',
        presented: 'selfSigned',
        ok: false,
      },
      {
        name: 'an unbound token without a certificate (control)',
        source: 'RFC 6750 §2.1',
        client: 'plain',
        ok: true,
      },
    ];

    it.each(cases)('$name ($source)', async (c) => {
      const issued = await token(
        c.client === 'mtls' ? mtlsJwt : plainSecret,
        c.client === 'mtls' ? 'partner' : undefined,
      );
      expect(issued.status, issued.text).toBe(200);
      const response = await httpsRequest(
        resourceUrl,
        'GET',
        tlsFor(c.presented, { authorization: `Bearer ${issued.body['access_token'] as string}` }),
      );
      if (c.ok) {
        expect(response.status, response.text).toBe(200);
      } else {
        expect(response.status).toBe(401);
        expect(response.headers.get('www-authenticate')).toMatch(/^Bearer .*error="invalid_token"/);
      }
    });
  });

  describe('a public client: access and refresh tokens bound to its certificate (RFC 8705 §4)', () => {
    let refreshToken: string;
    let accessToken: string;

    beforeAll(async () => {
      const issued = await issueCode(as, spa, { sub: userSub, scopes: ['openid', 'profile'] });
      const response = await httpsPostForm(
        `${as.url}/token`,
        {
          grant_type: 'authorization_code',
          client_id: spa.id,
          code: issued.code,
          redirect_uri: issued.redirectUri,
          code_verifier: issued.verifier,
        },
        tlsFor('selfSigned'),
      );
      expect(response.status, response.text).toBe(200);
      accessToken = response.body['access_token'] as string;
      refreshToken = response.body['refresh_token'] as string;
    });

    const refresh = (cert?: CertName) =>
      httpsPostForm(
        `${as.url}/token`,
        { grant_type: 'refresh_token', client_id: spa.id, refresh_token: refreshToken },
        tlsFor(cert),
      );

    it('UserInfo answers the bound token only on a connection with its certificate', async () => {
      const userinfo = (cert?: CertName) =>
        httpsRequest(`${as.url}/userinfo`, 'GET', tlsFor(cert, { authorization: `Bearer ${accessToken}` }));
      expect((await userinfo('selfSigned')).body).toMatchObject({ sub: userSub, name: 'Mia' });
      for (const cert of [undefined, 'partner'] as const) {
        const refused = await userinfo(cert);
        expect(refused.status).toBe(401);
        expect(refused.headers.get('www-authenticate')).toMatch(/error="invalid_token"/);
      }
    });

    it('a refresh with another certificate is invalid_grant; without one invalid_request; neither uses it up', async () => {
      expectOAuthError(await refresh('partner'), 400, 'invalid_grant');
      expectOAuthError(await refresh(undefined), 400, 'invalid_request');
      const renewed = await refresh('selfSigned');
      expect(renewed.status, renewed.text).toBe(200);
      const answer = await httpsPostForm(
        `${as.url}/introspect`,
        { token: renewed.body['access_token'] as string },
        tlsFor(undefined, { authorization: basic(rs.id, rs.secret!) }),
      );
      expect(answer.body['cnf']).toEqual({ 'x5t#S256': x5tS256(certs.selfSigned.certPem) });
    });
  });
});
