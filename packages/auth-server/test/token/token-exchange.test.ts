import { createVerifier } from '@gatehouse/guard';
import { decodeProtectedHeader } from 'jose';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createDpopKey, dpopProof } from '../helpers/dpop-proof.js';
import { describeEachStore, startAuthServer, type TestAuthServer } from '../helpers/harness.js';
import {
  API,
  OTHER_API,
  TEST_RESOURCES,
  introspect,
  newClient,
  revoke,
  tokenRequest,
  type TestClient,
} from '../helpers/oauth-client.js';

const EXCHANGE = 'urn:ietf:params:oauth:grant-type:token-exchange';
const ACCESS_TOKEN_TYPE = 'urn:ietf:params:oauth:token-type:access_token';
const JWT_TYPE = 'urn:ietf:params:oauth:token-type:jwt';

describeEachStore('token endpoint: token exchange (RFC 8693, phantom tokens)', (stores) => {
  let as: TestAuthServer;
  let gateway: TestClient;
  let partner: TestClient;
  let jwtPartner: TestClient;
  let quick: TestClient;
  let notGateway: TestClient;
  let rs: TestClient;

  beforeAll(async () => {
    as = await startAuthServer({
      stores,
      config: {
        resources: TEST_RESOURCES,
        dpop: { requireNonce: false },
        tokens: { exchangeTtlSec: 60 },
      },
    });
    gateway = await newClient(as, { grantTypes: [EXCHANGE], canIntrospect: true });
    partner = await newClient(as, {
      grantTypes: ['client_credentials'],
      scopes: ['accounts:read', 'accounts:write', 'orders:read'],
      resources: [API, OTHER_API],
    });
    jwtPartner = await newClient(as, {
      grantTypes: ['client_credentials'],
      scopes: ['orders:read'],
      resources: [OTHER_API],
      tokenFormat: 'jwt',
    });
    quick = await newClient(as, {
      grantTypes: ['client_credentials'],
      scopes: ['accounts:read'],
      resources: [API],
      accessTokenTtlSec: 20,
    });
    notGateway = await newClient(as, { grantTypes: ['client_credentials'], scopes: ['accounts:read'] });
    rs = await newClient(as, { grantTypes: ['client_credentials'], canIntrospect: true });
  });
  afterAll(async () => {
    await as.close();
  });

  const subjectOf = async (
    client: TestClient,
    extra: Record<string, string> = {},
    headers?: Record<string, string>,
  ) => {
    const response = await tokenRequest(as, client, { grant_type: 'client_credentials', ...extra }, headers);
    expect(response.status).toBe(200);
    return response.body['access_token'] as string;
  };
  const exchange = (subjectToken: string | undefined, extra: Record<string, string | undefined> = {}) =>
    tokenRequest(as, gateway, {
      grant_type: EXCHANGE,
      subject_token: subjectToken,
      subject_token_type: ACCESS_TOKEN_TYPE,
      resource: API,
      ...extra,
    });
  const verifierFor = async (audience: string) =>
    createVerifier({
      issuer: as.url,
      audience,
      jwks: (await (await fetch(`${as.url}/jwks`)).json()) as { keys: unknown[] },
      now: as.clock.now,
    });

  it('swaps an opaque token for a short JWT for one audience, keeping sub and client_id (RFC 8693 §2.2.1)', async () => {
    const subject = await subjectOf(partner);
    const response = await exchange(subject);
    expect(response.status).toBe(200);
    expect(response.body).toEqual({
      access_token: expect.any(String) as unknown,
      issued_token_type: JWT_TYPE,
      token_type: 'Bearer',
      expires_in: 60,
      // Only the target resource's scopes survive.
      scope: 'accounts:read accounts:write',
    });
    const token = response.body['access_token'] as string;
    expect(decodeProtectedHeader(token).typ).toBe('at+jwt');
    const principal = await (await verifierFor(API)).verify(token);
    expect(principal).toMatchObject({ sub: partner.id, clientId: partner.id, audience: [API] });
    expect(principal.cnf).toBeUndefined();
    expect(as.audit.findLast((e) => e.action === 'token.issue')).toMatchObject({
      actor: { sub: partner.id, clientId: gateway.id },
      details: { grant_type: EXCHANGE, format: 'jwt', subject_client: partner.id, audience: API },
    });
  });

  it('accepts a JWT subject token and the audience parameter', async () => {
    const subject = await subjectOf(jwtPartner);
    const response = await exchange(subject, { resource: undefined, audience: OTHER_API });
    expect(response.status).toBe(200);
    expect(response.body['scope']).toBe('orders:read');
    await expect(
      (await verifierFor(OTHER_API)).verify(response.body['access_token'] as string),
    ).resolves.toMatchObject({
      sub: jwtPartner.id,
    });
  });

  it('narrows by scope, and never outlives the subject token', async () => {
    const narrow = await exchange(await subjectOf(partner), { scope: 'accounts:read' });
    expect(narrow.body['scope']).toBe('accounts:read');
    const short = await exchange(await subjectOf(quick));
    expect(short.body['expires_in']).toBe(20);
  });

  it('does not copy the DPoP binding of the subject token (service-to-service token)', async () => {
    const key = await createDpopKey();
    const subject = await subjectOf(
      partner,
      {},
      {
        dpop: await dpopProof(key, as.clock.now(), { htu: `${as.url}/token` }),
      },
    );
    expect((await introspect(as, rs, subject)).body['cnf']).toEqual({ jkt: key.jkt });
    const response = await exchange(subject);
    expect(response.body['token_type']).toBe('Bearer');
    const introspected = await introspect(as, rs, response.body['access_token'] as string);
    expect(introspected.body).toMatchObject({
      active: true,
      sub: partner.id,
      client_id: partner.id,
      aud: API,
    });
    expect(introspected.body).not.toHaveProperty('cnf');
  });

  it('revokes the exchanged token with its subject token (parent_jti)', async () => {
    const subject = await subjectOf(partner);
    const exchanged = (await exchange(subject)).body['access_token'] as string;
    expect((await introspect(as, rs, exchanged)).body['active']).toBe(true);
    expect((await revoke(as, partner, subject)).status).toBe(200);
    expect((await introspect(as, rs, exchanged)).body).toEqual({ active: false });
  });

  const refused: Array<{
    name: string;
    source: string;
    subject?: 'revoked' | 'expired' | 'exchanged' | 'unknown';
    extra?: Record<string, string | undefined>;
    client?: () => TestClient;
    error: string;
  }> = [
    {
      name: 'missing subject_token',
      source: 'RFC 8693 §2.1',
      extra: { subject_token: undefined },
      error: 'invalid_request',
    },
    {
      name: 'an unsupported subject_token_type',
      source: 'RFC 8693 §2.2.2',
      extra: { subject_token_type: 'urn:ietf:params:oauth:token-type:id_token' },
      error: 'invalid_request',
    },
    {
      name: 'an actor_token (delegation)',
      source: 'RFC 8693 §1.1: impersonation only',
      extra: { actor_token: 'x', actor_token_type: ACCESS_TOKEN_TYPE },
      error: 'invalid_request',
    },
    {
      name: 'an unsupported requested_token_type',
      source: 'RFC 8693 §2.2.2',
      extra: { requested_token_type: 'urn:ietf:params:oauth:token-type:saml2' },
      error: 'invalid_request',
    },
    {
      name: 'both resource and audience',
      source: 'one audience per token',
      extra: { audience: OTHER_API },
      error: 'invalid_request',
    },
    {
      name: 'neither resource nor audience',
      source: 'one audience per token',
      extra: { resource: undefined },
      error: 'invalid_request',
    },
    {
      name: 'a resource that is not configured',
      source: 'RFC 8693 §2.2.2 invalid_target',
      extra: { resource: 'https://evil.example' },
      error: 'invalid_target',
    },
    {
      name: 'a scope outside the target resource',
      source: 'RFC 8693 §2.1 scope',
      extra: { scope: 'orders:read' },
      error: 'invalid_scope',
    },
    {
      name: 'an unknown subject token',
      source: 'RFC 8693 §2.2.2',
      subject: 'unknown',
      error: 'invalid_grant',
    },
    {
      name: 'a revoked subject token',
      source: 'RFC 8693 §2.2.2',
      subject: 'revoked',
      error: 'invalid_grant',
    },
    {
      name: 'an expired subject token',
      source: 'RFC 8693 §2.2.2',
      subject: 'expired',
      error: 'invalid_grant',
    },
    {
      name: 'an exchanged token as subject',
      source: 'no audience hopping',
      subject: 'exchanged',
      error: 'invalid_grant',
    },
    {
      name: 'a client not registered for token exchange',
      source: 'RFC 6749 §5.2 unauthorized_client',
      client: () => notGateway,
      error: 'unauthorized_client',
    },
  ];

  it.each(refused)('refuses $name ($source)', async ({ subject, extra, client, error }) => {
    let token = await subjectOf(subject === 'expired' ? quick : partner);
    if (subject === 'unknown') token = 'u'.repeat(43);
    if (subject === 'revoked') await revoke(as, partner, token);
    if (subject === 'expired') as.clock.advance(21);
    if (subject === 'exchanged') token = (await exchange(token)).body['access_token'] as string;
    const params = {
      grant_type: EXCHANGE,
      subject_token: token,
      subject_token_type: ACCESS_TOKEN_TYPE,
      resource: API,
      ...extra,
    };
    const response = await tokenRequest(as, client?.() ?? gateway, params);
    expect(response.status).toBe(400);
    expect(response.body['error']).toBe(error);
    expect(as.audit.at(-1)).toMatchObject({ action: 'token.refuse', details: { grant_type: EXCHANGE } });
  });
});
