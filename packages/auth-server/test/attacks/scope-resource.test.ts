import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createUserStore } from '../../src/users/user-store.js';
import {
  SecretWatch,
  auditSince,
  expectErrorPage,
  expectErrorRedirect,
  expectLoginPage,
  expectOAuthError,
  rawAuthorizeUrl,
  type AttackCase,
} from '../helpers/attack-table.js';
import { Browser, addUser, pkce } from '../helpers/browser-flow.js';
import { describeEachStore, startAuthServer, type TestAuthServer } from '../helpers/harness.js';
import {
  API,
  OTHER_API,
  REDIRECT_URI,
  TEST_RESOURCES,
  introspect,
  issueCode,
  newClient,
  postForm,
  redeem,
  revoke,
  tokenRequest,
  type FormResponse,
  type TestClient,
} from '../helpers/oauth-client.js';

/**
 * Scope and resource attacks (RFC 6749 §3.3, RFC 8707, RFC 8693, RFC 9700 §4.10): a client gets
 * only scopes it is registered for, only audiences registered for it AND configured at the server,
 * one audience per token, compared exactly; a token exchange only turns a live token issued here
 * into a token its own client could have obtained.
 */

const EXCHANGE = 'urn:ietf:params:oauth:grant-type:token-exchange';
const ACCESS_TOKEN_TYPE = 'urn:ietf:params:oauth:token-type:access_token';
/** Registered for a client, but no resource server of that name is configured. */
const UNCONFIGURED = 'https://unconfigured.example';
const CHALLENGE = pkce().challenge;

// --- The authorization request -----------------------------------------------------------------

interface AuthorizeCase extends AttackCase {
  readonly params: Readonly<Record<string, string>>;
  readonly append?: ReadonlyArray<readonly [string, string]>;
  readonly expected: 'invalid_scope' | 'invalid_target' | 'error page';
}

const authorizeCases: AuthorizeCase[] = [
  {
    name: 'a scope the client is not registered for',
    source: 'RFC 6749 §3.3, §4.1.2.1 invalid_scope',
    params: { scope: 'openid accounts:write' },
    expected: 'invalid_scope',
  },
  {
    name: 'an unknown scope',
    source: 'RFC 6749 §4.1.2.1 invalid_scope',
    params: { scope: 'openid admin' },
    expected: 'invalid_scope',
  },
  {
    name: 'a scope of another resource server',
    source: 'RFC 6749 §3.3',
    params: { scope: 'orders:read' },
    expected: 'invalid_scope',
  },
  {
    name: 'two spaces between scopes (empty scope token)',
    source: 'RFC 6749 §3.3 (scope-token *( SP scope-token ))',
    params: { scope: 'openid  accounts:read' },
    expected: 'invalid_scope',
  },
  {
    name: 'a double quote in a scope',
    source: 'RFC 6749 §3.3 (%x21 / %x23-5B / %x5D-7E)',
    params: { scope: 'openid "accounts:read"' },
    expected: 'invalid_scope',
  },
  {
    name: 'a backslash in a scope',
    source: 'RFC 6749 §3.3',
    params: { scope: 'accounts\\:read' },
    expected: 'invalid_scope',
  },
  {
    name: 'a non-ASCII scope',
    source: 'RFC 6749 §3.3',
    params: { scope: 'acc\u00f6unts:read' },
    expected: 'invalid_scope',
  },
  {
    name: 'a resource not registered for the client',
    source: 'RFC 8707 §2 invalid_target',
    params: { resource: OTHER_API },
    expected: 'invalid_target',
  },
  {
    name: 'a resource with a fragment',
    source: 'RFC 8707 §2 (no fragment)',
    params: { resource: `${API}#frag` },
    expected: 'invalid_target',
  },
  {
    name: 'a relative resource',
    source: 'RFC 8707 §2 (absolute URI)',
    params: { resource: '/api' },
    expected: 'invalid_target',
  },
  {
    name: 'a resource with a trailing slash',
    source: 'RFC 8707 §2, RFC 9700 §4.10 (exact audience)',
    params: { resource: `${API}/` },
    expected: 'invalid_target',
  },
  {
    name: 'a resource with its host upper-cased',
    source: 'RFC 8707 §2, RFC 9700 §4.10 (exact audience)',
    params: { resource: 'https://API.example' },
    expected: 'invalid_target',
  },
  {
    name: 'an attacker resource',
    source: 'RFC 8707 §2, RFC 9700 §4.10',
    params: { resource: 'https://attacker.example' },
    expected: 'invalid_target',
  },
  {
    name: 'two resource parameters',
    source: 'RFC 6749 §3.1 (one audience per token here)',
    params: { resource: API },
    append: [['resource', OTHER_API]],
    expected: 'error page',
  },
  {
    name: 'two scope parameters',
    source: 'RFC 6749 §3.1',
    params: { scope: 'openid' },
    append: [['scope', 'accounts:write']],
    expected: 'error page',
  },
];

// --- Client credentials ------------------------------------------------------------------------

interface TokenCase extends AttackCase {
  readonly params: Readonly<Record<string, string>>;
  readonly client?: 'machine' | 'unconfigured';
  readonly expected: { readonly status: number; readonly error: string };
}

const clientCredentialsCases: TokenCase[] = [
  {
    name: 'a scope the client is not registered for',
    source: 'RFC 6749 §4.4.2, §5.2 invalid_scope',
    params: { scope: 'accounts:read accounts:write' },
    expected: { status: 400, error: 'invalid_scope' },
  },
  {
    name: 'an unknown scope',
    source: 'RFC 6749 §5.2 invalid_scope',
    params: { scope: 'admin' },
    expected: { status: 400, error: 'invalid_scope' },
  },
  {
    name: 'the openid scope, not registered for a machine client',
    source: 'RFC 6749 §5.2, OIDC Core §3.1.2.1',
    params: { scope: 'openid' },
    expected: { status: 400, error: 'invalid_scope' },
  },
  {
    name: 'a scope token with a forbidden character',
    source: 'RFC 6749 §3.3',
    params: { scope: 'accounts:read"' },
    expected: { status: 400, error: 'invalid_scope' },
  },
  {
    name: 'a resource not registered for the client',
    source: 'RFC 8707 §2 invalid_target',
    params: { resource: OTHER_API },
    expected: { status: 400, error: 'invalid_target' },
  },
  {
    name: 'a resource with a fragment',
    source: 'RFC 8707 §2 (no fragment)',
    params: { resource: `${API}#frag` },
    expected: { status: 400, error: 'invalid_target' },
  },
  {
    name: 'a relative resource',
    source: 'RFC 8707 §2 (absolute URI)',
    params: { resource: 'api.example' },
    expected: { status: 400, error: 'invalid_target' },
  },
  {
    name: 'a resource with a trailing slash',
    source: 'RFC 8707 §2, RFC 9700 §4.10',
    params: { resource: `${API}/` },
    expected: { status: 400, error: 'invalid_target' },
  },
  {
    name: 'a resource registered for the client but not configured at the server',
    source: 'RFC 8707 §2 invalid_target (deny by default)',
    params: { resource: UNCONFIGURED },
    client: 'unconfigured',
    expected: { status: 400, error: 'invalid_target' },
  },
  {
    name: 'the default audience of a client whose only resource is not configured',
    source: 'RFC 8707 §2 invalid_target (deny by default)',
    params: {},
    client: 'unconfigured',
    expected: { status: 400, error: 'invalid_target' },
  },
];

// --- Token exchange ----------------------------------------------------------------------------

type Subject =
  | 'live'
  | 'apiOnly'
  | 'revoked'
  | 'expired'
  | 'foreign'
  | 'garbage'
  | 'refresh'
  | 'exchanged'
  | 'deletedUser'
  | 'algNone';

interface ExchangeCase extends AttackCase {
  readonly subject: Subject;
  readonly params: Readonly<Record<string, string | undefined>>;
  readonly exchanger?: 'gateway' | 'machine';
  readonly expected: { readonly status: number; readonly error: string };
}

const exchangeCases: ExchangeCase[] = [
  {
    name: 'a resource that is not configured',
    source: 'RFC 8693 §2.2.2 invalid_target',
    subject: 'live',
    params: { resource: 'https://attacker.example' },
    expected: { status: 400, error: 'invalid_target' },
  },
  {
    name: 'a resource with a fragment',
    source: 'RFC 8693 §2.1, RFC 8707 §2',
    subject: 'live',
    params: { resource: `${API}#frag` },
    expected: { status: 400, error: 'invalid_target' },
  },
  {
    name: 'an audience the subject token’s client may not target (audience hopping)',
    source: 'RFC 8693 §2.2.2 invalid_target, RFC 9700 §4.10',
    subject: 'apiOnly',
    params: { resource: OTHER_API },
    expected: { status: 400, error: 'invalid_target' },
  },
  {
    name: 'a scope the subject token does not carry',
    source: 'RFC 8693 §2.1 scope, RFC 6749 §3.3',
    subject: 'apiOnly',
    params: { resource: API, scope: 'accounts:write' },
    expected: { status: 400, error: 'invalid_scope' },
  },
  {
    name: 'a revoked subject token',
    source: 'RFC 8693 §2.2.2, RFC 7009 §2',
    subject: 'revoked',
    params: { resource: API },
    expected: { status: 400, error: 'invalid_grant' },
  },
  {
    name: 'an expired subject token',
    source: 'RFC 8693 §2.2.2',
    subject: 'expired',
    params: { resource: API },
    expected: { status: 400, error: 'invalid_grant' },
  },
  {
    name: 'a subject token issued by another authorization server',
    source: 'RFC 8693 §2.2.2, RFC 9700 §4.4',
    subject: 'foreign',
    params: { resource: API },
    expected: { status: 400, error: 'invalid_grant' },
  },
  {
    name: 'a forged subject token',
    source: 'RFC 8693 §2.2.2',
    subject: 'garbage',
    params: { resource: API },
    expected: { status: 400, error: 'invalid_grant' },
  },
  {
    name: 'an unsigned (alg none) JWT subject token naming this issuer',
    source: 'RFC 8725 §3.1, RFC 8693 §2.2.2',
    subject: 'algNone',
    params: { resource: API },
    expected: { status: 400, error: 'invalid_grant' },
  },
  {
    name: 'a refresh token as access-token subject',
    source: 'RFC 8693 §2.1 subject_token_type',
    subject: 'refresh',
    params: { resource: API },
    expected: { status: 400, error: 'invalid_grant' },
  },
  {
    name: 'an exchanged token as subject (no second hop)',
    source: 'RFC 8693 §2.2.2, RFC 9700 §4.10',
    subject: 'exchanged',
    params: { resource: API },
    expected: { status: 400, error: 'invalid_grant' },
  },
  {
    name: 'a subject token of a deleted user',
    source: 'RFC 8693 §2.2.2, RFC 7009 §2.1',
    subject: 'deletedUser',
    params: { resource: API },
    expected: { status: 400, error: 'invalid_grant' },
  },
  {
    name: 'an exchange by a client without the token-exchange grant',
    source: 'RFC 6749 §5.2 unauthorized_client',
    subject: 'live',
    params: { resource: API },
    exchanger: 'machine',
    expected: { status: 400, error: 'unauthorized_client' },
  },
];

describeEachStore('attacks: scope and resource', (stores) => {
  let as: TestAuthServer;
  let otherAs: TestAuthServer;
  let web: TestClient;
  let machine: TestClient;
  let unconfigured: TestClient;
  let partner: TestClient;
  let apiOnly: TestClient;
  let quick: TestClient;
  let gateway: TestClient;
  let rs: TestClient;
  let foreignClient: TestClient;
  const watch = new SecretWatch();

  beforeAll(async () => {
    const config = { resources: TEST_RESOURCES };
    as = await startAuthServer({ stores, config });
    otherAs = await startAuthServer({ stores, config });
    web = await newClient(as, {
      grantTypes: ['authorization_code', 'refresh_token'],
      scopes: ['openid', 'accounts:read'],
      resources: [API],
    });
    machine = await newClient(as, {
      grantTypes: ['client_credentials'],
      scopes: ['accounts:read'],
      resources: [API],
    });
    unconfigured = await newClient(as, {
      grantTypes: ['client_credentials'],
      scopes: ['accounts:read'],
      resources: [UNCONFIGURED],
    });
    partner = await newClient(as, {
      grantTypes: ['client_credentials'],
      scopes: ['accounts:read', 'orders:read'],
      resources: [API, OTHER_API],
    });
    apiOnly = await newClient(as, {
      grantTypes: ['client_credentials'],
      scopes: ['accounts:read'],
      resources: [API],
      tokenFormat: 'jwt',
    });
    quick = await newClient(as, {
      grantTypes: ['client_credentials'],
      scopes: ['accounts:read'],
      resources: [API],
      accessTokenTtlSec: 20,
    });
    gateway = await newClient(as, { grantTypes: [EXCHANGE] });
    rs = await newClient(as, { grantTypes: ['client_credentials'], canIntrospect: true });
    foreignClient = await newClient(otherAs, {
      grantTypes: ['client_credentials'],
      scopes: ['accounts:read'],
      resources: [API],
      tokenFormat: 'jwt',
    });
    for (const client of [web, machine, unconfigured, partner, apiOnly, quick, gateway, rs, foreignClient])
      watch.add(`secret ${client.id}`, client.secret);
  });
  afterAll(async () => {
    watch.expectNoLeaks(as);
    await Promise.all([as.close(), otherAs.close()]);
  });

  const cc = async (
    server: TestAuthServer,
    client: TestClient,
    params: Readonly<Record<string, string>> = {},
  ): Promise<FormResponse> => {
    const response = await tokenRequest(server, client, { grant_type: 'client_credentials', ...params });
    watch.addTokens('cc', response);
    return response;
  };
  const accessToken = async (server: TestAuthServer, client: TestClient): Promise<string> => {
    const response = await cc(server, client);
    expect(response.status).toBe(200);
    return response.body['access_token'] as string;
  };

  const authorizePairs = (extra: Readonly<Record<string, string>>): Array<[string, string]> =>
    Object.entries({
      response_type: 'code',
      client_id: web.id,
      redirect_uri: REDIRECT_URI,
      scope: 'openid accounts:read',
      state: 'st-scope',
      resource: API,
      code_challenge: CHALLENGE,
      code_challenge_method: 'S256',
      ...extra,
    });

  it.each(authorizeCases)('refuses at authorization: $name ($source)', async (row) => {
    const mark = as.audit.length;
    const response = await new Browser().get(
      rawAuthorizeUrl(as, [...authorizePairs(row.params), ...(row.append ?? [])]),
    );
    if (row.expected === 'error page') expectErrorPage(response);
    else
      expectErrorRedirect(response, as, {
        redirectUri: REDIRECT_URI,
        error: row.expected,
        state: 'st-scope',
      });
    expect(auditSince(as, mark)).toContainEqual(expect.objectContaining({ action: 'authorization.refuse' }));
  });

  it('accepts the registered scopes and resource at authorization (positive control)', async () => {
    expectLoginPage(await new Browser().get(rawAuthorizeUrl(as, authorizePairs({}))));
  });

  it.each(clientCredentialsCases)('refuses client credentials with $name ($source)', async (row) => {
    const client = row.client === 'unconfigured' ? unconfigured : machine;
    const mark = as.audit.length;
    const response = await cc(as, client, row.params);
    expectOAuthError(response, row.expected.status, row.expected.error);
    expect(response.body).not.toHaveProperty('access_token');
    expect(auditSince(as, mark)).toContainEqual(
      expect.objectContaining({
        action: 'token.refuse',
        reason: expect.stringMatching(/^ERR_OAUTH_/) as unknown,
      }),
    );
  });

  it('refuses two resource parameters in a token request (RFC 6749 §3.1, one audience per token)', async () => {
    const response = await postForm(
      `${as.url}/token`,
      { grant_type: 'client_credentials' },
      { client: machine },
    );
    expect(response.status).toBe(200);
    watch.addTokens('cc', response);
    const body = `grant_type=client_credentials&resource=${encodeURIComponent(API)}&resource=${encodeURIComponent(OTHER_API)}`;
    const twice = await fetch(`${as.url}/token`, {
      method: 'POST',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        authorization: `Basic ${Buffer.from(`${machine.id}:${machine.secret as string}`).toString('base64')}`,
      },
      body,
    });
    expect(twice.status).toBe(400);
    expect(await twice.json()).toEqual(expect.objectContaining({ error: 'invalid_request' }));
  });

  it('issues client credentials for a registered scope and resource, audience exact (positive control)', async () => {
    const response = await cc(as, machine, { scope: 'accounts:read', resource: API });
    expect(response.status).toBe(200);
    expect(response.body['scope']).toBe('accounts:read');
    const introspected = await introspect(as, rs, response.body['access_token'] as string);
    expect(introspected.body).toMatchObject({ active: true, aud: API, scope: 'accounts:read' });
  });

  const subjectToken = async (kind: Subject): Promise<string> => {
    switch (kind) {
      case 'live':
        return accessToken(as, partner);
      case 'apiOnly':
        return accessToken(as, apiOnly);
      case 'revoked': {
        const token = await accessToken(as, partner);
        expect((await revoke(as, partner, token)).status).toBe(200);
        return token;
      }
      case 'expired': {
        const token = await accessToken(as, quick);
        as.clock.advance(21);
        return token;
      }
      case 'foreign':
        return accessToken(otherAs, foreignClient);
      case 'garbage':
        return randomBytes(32).toString('base64url');
      case 'algNone': {
        const now = Math.floor(as.clock.now() / 1000);
        const encode = (value: object): string => Buffer.from(JSON.stringify(value)).toString('base64url');
        const header = encode({ alg: 'none', typ: 'at+jwt' });
        const payload = encode({
          iss: as.url,
          sub: partner.id,
          aud: API,
          client_id: partner.id,
          iat: now,
          exp: now + 60,
          jti: 'forged-jti-1',
        });
        return `${header}.${payload}.`;
      }
      case 'refresh': {
        const issued = await issueCode(as, web);
        const response = await redeem(as, web, issued);
        watch.addTokens('code flow', response);
        return response.body['refresh_token'] as string;
      }
      case 'exchanged': {
        const first = await exchange(await accessToken(as, partner), { resource: API });
        expect(first.status).toBe(200);
        return first.body['access_token'] as string;
      }
      case 'deletedUser': {
        const user = await addUser(as, {
          username: `u${randomBytes(6).toString('hex')}`,
          password: 'user password 1',
        });
        const response = await redeem(as, web, await issueCode(as, web, { sub: user.sub }));
        watch.addTokens('code flow', response);
        expect(await createUserStore(as.deps).delete(user.sub)).toBe(true);
        return response.body['access_token'] as string;
      }
    }
  };

  const exchange = async (
    subject: string,
    params: Readonly<Record<string, string | undefined>>,
    exchanger: TestClient = gateway,
  ): Promise<FormResponse> => {
    const response = await tokenRequest(as, exchanger, {
      grant_type: EXCHANGE,
      subject_token: subject,
      subject_token_type: ACCESS_TOKEN_TYPE,
      ...params,
    });
    watch.addTokens('exchanged', response);
    return response;
  };

  it.each(exchangeCases)('refuses a token exchange with $name ($source)', async (row) => {
    const subject = await subjectToken(row.subject);
    const mark = as.audit.length;
    const response = await exchange(subject, row.params, row.exchanger === 'machine' ? machine : gateway);
    expectOAuthError(response, row.expected.status, row.expected.error);
    expect(response.body).not.toHaveProperty('access_token');
    expect(auditSince(as, mark)).toContainEqual(
      expect.objectContaining({ action: 'token.refuse', details: { grant_type: EXCHANGE } }),
    );
  });

  it.each([
    { name: 'a live token to its own audience', subject: 'apiOnly' as const, resource: API },
    {
      name: 'a token of a client registered for both audiences, to the other one',
      subject: 'live' as const,
      resource: OTHER_API,
    },
  ])('exchanges $name (positive control)', async ({ subject, resource }) => {
    const response = await exchange(await subjectToken(subject), { resource });
    expect(response.status).toBe(200);
    const introspected = await introspect(as, rs, response.body['access_token'] as string);
    expect(introspected.body).toMatchObject({ active: true, aud: resource });
  });
});
