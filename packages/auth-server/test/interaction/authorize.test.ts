import { afterAll, beforeAll, expect, it } from 'vitest';
import { Browser, authorizeUrl, callbackParams, parseForm, pkce } from '../helpers/browser-flow.js';
import { describeEachStore, startAuthServer, type TestAuthServer } from '../helpers/harness.js';
import { API, REDIRECT_URI, TEST_RESOURCES, newClient, type TestClient } from '../helpers/oauth-client.js';

const WITH_QUERY = 'https://client.example/cb?x=1';
const NATIVE_LOOPBACK = 'http://127.0.0.1:8765/callback';
const NATIVE_IPV6 = 'http://[::1]/cb';
const NATIVE_LOCALHOST = 'http://localhost:8765/callback';
const CHALLENGE = pkce().challenge;

describeEachStore('authorization endpoint: request validation', (stores) => {
  let as: TestAuthServer;
  let web: TestClient;
  let native: TestClient;
  let confidentialLoopback: TestClient;
  let machine: TestClient;

  beforeAll(async () => {
    as = await startAuthServer({ stores, config: { resources: TEST_RESOURCES } });
    web = await newClient(as, {
      grantTypes: ['authorization_code', 'refresh_token'],
      redirectUris: [REDIRECT_URI, WITH_QUERY],
      scopes: ['openid', 'profile', 'accounts:read'],
      resources: [API],
      firstParty: true,
    });
    native = await newClient(as, {
      authMethod: 'none',
      grantTypes: ['authorization_code'],
      redirectUris: [NATIVE_LOOPBACK, NATIVE_IPV6, NATIVE_LOCALHOST],
      scopes: ['openid'],
    });
    confidentialLoopback = await newClient(as, {
      grantTypes: ['authorization_code'],
      redirectUris: [NATIVE_LOOPBACK],
      scopes: ['openid'],
    });
    machine = await newClient(as, {
      grantTypes: ['client_credentials'],
      redirectUris: [REDIRECT_URI],
      scopes: ['accounts:read'],
    });
  });
  afterAll(async () => {
    await as.close();
  });

  const base = (client: TestClient, redirectUri: string | undefined): Record<string, string | undefined> => ({
    response_type: 'code',
    client_id: client.id,
    redirect_uri: redirectUri,
    scope: 'openid',
    state: 'st-1',
    code_challenge: CHALLENGE,
    code_challenge_method: 'S256',
  });

  // RFC 9700 §4.1.3 exact matching; RFC 8252 §7.3 port variance for native loopback only.
  const refusedRedirects: Array<{
    name: string;
    source: string;
    client: () => TestClient;
    uri: string | undefined;
  }> = [
    {
      name: 'unregistered host',
      source: 'RFC 9700 §4.1.3',
      client: () => web,
      uri: 'https://evil.example/callback',
    },
    { name: 'path appended', source: 'RFC 9700 §4.1.3', client: () => web, uri: `${REDIRECT_URI}/evil` },
    { name: 'trailing slash', source: 'RFC 9700 §4.1.3', client: () => web, uri: `${REDIRECT_URI}/` },
    {
      name: 'host case changed',
      source: 'RFC 9700 §4.1.3',
      client: () => web,
      uri: 'https://CLIENT.example/callback',
    },
    {
      name: 'path case changed',
      source: 'RFC 9700 §4.1.3',
      client: () => web,
      uri: 'https://client.example/Callback',
    },
    {
      name: 'userinfo@ before another host',
      source: 'RFC 9700 §4.1.3',
      client: () => web,
      uri: 'https://client.example@evil.example/callback',
    },
    {
      name: 'percent-encoded path',
      source: 'RFC 9700 §4.1.3',
      client: () => web,
      uri: 'https://client.example/%63allback',
    },
    { name: 'fragment added', source: 'RFC 6749 §3.1.2', client: () => web, uri: `${REDIRECT_URI}#frag` },
    {
      name: 'query added',
      source: 'RFC 9700 §4.1.3',
      client: () => web,
      uri: `${REDIRECT_URI}?next=https://evil.example`,
    },
    {
      name: 'registered query changed',
      source: 'RFC 9700 §4.1.3',
      client: () => web,
      uri: 'https://client.example/cb?x=2',
    },
    {
      name: 'http instead of https',
      source: 'RFC 9700 §4.1.3',
      client: () => web,
      uri: 'http://client.example/callback',
    },
    {
      name: 'explicit default port',
      source: 'RFC 9700 §4.1.3',
      client: () => web,
      uri: 'https://client.example:443/callback',
    },
    { name: 'missing redirect_uri', source: 'OIDC Core §3.1.2.1', client: () => web, uri: undefined },
    {
      name: 'loopback port changed for a confidential client',
      source: 'RFC 8252 §7.3',
      client: () => confidentialLoopback,
      uri: 'http://127.0.0.1:9999/callback',
    },
    {
      name: 'localhost registration on another port',
      source: 'RFC 8252 §8.3',
      client: () => native,
      uri: 'http://localhost:9999/callback',
    },
    {
      name: 'localhost for a 127.0.0.1 registration',
      source: 'RFC 8252 §8.3',
      client: () => confidentialLoopback,
      uri: 'http://localhost:8765/callback',
    },
    {
      name: 'another loopback address',
      source: 'RFC 8252 §7.3',
      client: () => native,
      uri: 'http://127.0.0.2:8765/callback',
    },
    {
      name: '[::1] for a 127.0.0.1 registration',
      source: 'RFC 8252 §7.3',
      client: () => native,
      uri: 'http://[::1]:8765/callback',
    },
    {
      name: 'loopback path appended',
      source: 'RFC 8252 §7.3',
      client: () => native,
      uri: 'http://127.0.0.1:9999/callback/x',
    },
    {
      name: 'loopback with userinfo',
      source: 'RFC 8252 §7.3',
      client: () => native,
      uri: 'http://u@127.0.0.1:9999/callback',
    },
    {
      name: 'loopback port 0',
      source: 'RFC 8252 §7.3',
      client: () => native,
      uri: 'http://127.0.0.1:0/callback',
    },
    {
      name: 'loopback port 65536',
      source: 'RFC 8252 §7.3',
      client: () => native,
      uri: 'http://127.0.0.1:65536/callback',
    },
    {
      name: 'loopback port with a leading zero',
      source: 'RFC 8252 §7.3',
      client: () => native,
      uri: 'http://127.0.0.1:08765/callback',
    },
    {
      name: 'loopback https scheme',
      source: 'RFC 8252 §7.3',
      client: () => native,
      uri: 'https://127.0.0.1:9999/callback',
    },
    {
      name: 'loopback fragment',
      source: 'RFC 6749 §3.1.2',
      client: () => native,
      uri: 'http://127.0.0.1:9999/callback#x',
    },
  ];

  it.each(refusedRedirects)('shows a page, never redirects: $name ($source)', async ({ client, uri }) => {
    const events = as.audit.length;
    const response = await fetch(authorizeUrl(as, base(client(), uri)), { redirect: 'manual' });
    expect(response.status).toBe(400);
    expect(response.headers.get('location')).toBeNull();
    expect(response.headers.get('content-type')).toBe('text/html; charset=utf-8');
    const html = await response.text();
    expect(html).not.toContain('evil.example');
    expect(as.audit.slice(events)).toContainEqual(
      expect.objectContaining({
        action: 'authorization.refuse',
        outcome: 'failure',
        reason: 'ERR_OAUTH_INVALID_REQUEST',
      }),
    );
  });

  it.each([
    { name: 'unknown client_id', params: { client_id: 'no-such-client', redirect_uri: REDIRECT_URI } },
    { name: 'missing client_id', params: { client_id: undefined, redirect_uri: REDIRECT_URI } },
  ])('shows a page for an $name (RFC 6749 §4.1.2.1)', async ({ params }) => {
    const response = await fetch(authorizeUrl(as, { ...base(web, REDIRECT_URI), ...params }), {
      redirect: 'manual',
    });
    expect(response.status).toBe(400);
    expect(response.headers.get('location')).toBeNull();
  });

  it('shows a page for a repeated parameter: parameter pollution (RFC 6749 §3.1)', async () => {
    const url = `${authorizeUrl(as, base(web, REDIRECT_URI))}&redirect_uri=${encodeURIComponent('https://evil.example/cb')}`;
    const response = await fetch(url, { redirect: 'manual' });
    expect(response.status).toBe(400);
    expect(response.headers.get('location')).toBeNull();
  });

  it.each([
    { name: 'the exact registered URI', client: () => web, uri: REDIRECT_URI },
    { name: 'the exact registered URI with its query', client: () => web, uri: WITH_QUERY },
    {
      name: 'the exact registered loopback URI of a confidential client',
      client: () => confidentialLoopback,
      uri: NATIVE_LOOPBACK,
    },
    {
      name: 'a native client on another loopback port',
      client: () => native,
      uri: 'http://127.0.0.1:51000/callback',
    },
    { name: 'a native client on its registered port', client: () => native, uri: NATIVE_LOOPBACK },
    {
      name: 'a native client with a port on a port-less [::1] registration',
      client: () => native,
      uri: 'http://[::1]:40000/cb',
    },
    {
      name: 'a native client on its exact localhost registration',
      client: () => native,
      uri: NATIVE_LOCALHOST,
    },
  ])('accepts $name and shows the login form', async ({ client, uri }) => {
    const response = await fetch(authorizeUrl(as, base(client(), uri)), { redirect: 'manual' });
    expect(response.status).toBe(200);
    expect(parseForm(await response.text()).inputs).toEqual(['csrf', 'username', 'password']);
  });

  // After the client and redirect URI are known good, errors go back to the client (RFC 6749 §4.1.2.1).
  const redirectedErrors: Array<{
    name: string;
    source: string;
    params: Record<string, string | undefined>;
    error: string;
    client?: () => TestClient;
  }> = [
    {
      name: 'response_type missing',
      source: 'RFC 6749 §4.1.1',
      params: { response_type: undefined },
      error: 'invalid_request',
    },
    {
      name: 'implicit response_type token',
      source: 'OAuth 2.1 §4.1.1',
      params: { response_type: 'token' },
      error: 'unsupported_response_type',
    },
    {
      name: 'hybrid response_type',
      source: 'RFC 9700 §2.1.2',
      params: { response_type: 'code id_token' },
      error: 'unsupported_response_type',
    },
    {
      name: 'code_challenge missing',
      source: 'OAuth 2.1 §4.1.1',
      params: { code_challenge: undefined },
      error: 'invalid_request',
    },
    {
      name: 'code_challenge_method missing (plain by default)',
      source: 'RFC 7636 §4.3',
      params: { code_challenge_method: undefined },
      error: 'invalid_request',
    },
    {
      name: 'code_challenge_method plain',
      source: 'RFC 9700 §2.1.1',
      params: { code_challenge_method: 'plain' },
      error: 'invalid_request',
    },
    {
      name: 'unknown code_challenge_method',
      source: 'RFC 7636 §4.3',
      params: { code_challenge_method: 'S512' },
      error: 'invalid_request',
    },
    {
      name: 'code_challenge not a SHA-256',
      source: 'RFC 7636 §4.2',
      params: { code_challenge: 'short' },
      error: 'invalid_request',
    },
    {
      name: 'scope not registered',
      source: 'RFC 6749 §4.1.2.1',
      params: { scope: 'openid admin' },
      error: 'invalid_scope',
    },
    {
      name: 'scope with an empty token',
      source: 'RFC 6749 §3.3',
      params: { scope: 'openid  profile' },
      error: 'invalid_scope',
    },
    {
      name: 'resource not registered',
      source: 'RFC 8707 §2',
      params: { resource: 'https://other.example' },
      error: 'invalid_target',
    },
    {
      name: 'resource with a fragment',
      source: 'RFC 8707 §2',
      params: { resource: `${API}#x` },
      error: 'invalid_target',
    },
    {
      name: 'relative resource',
      source: 'RFC 8707 §2',
      params: { resource: '/api' },
      error: 'invalid_target',
    },
    {
      name: 'request object',
      source: 'OIDC Core §6.1',
      params: { request: 'eyJhbGciOiJub25lIn0.e30.' },
      error: 'request_not_supported',
    },
    {
      name: 'prompt none with login',
      source: 'OIDC Core §3.1.2.1',
      params: { prompt: 'none login' },
      error: 'invalid_request',
    },
    {
      name: 'max_age not a number',
      source: 'OIDC Core §3.1.2.1',
      params: { max_age: '-1' },
      error: 'invalid_request',
    },
    {
      name: 'dpop_jkt not a thumbprint',
      source: 'RFC 9449 §10',
      params: { dpop_jkt: 'abc' },
      error: 'invalid_request',
    },
    {
      name: 'response_mode fragment',
      source: 'OAuth 2.0 Multiple Response Types §2',
      params: { response_mode: 'fragment' },
      error: 'invalid_request',
    },
    {
      name: 'nonce over 512 characters',
      source: 'OIDC Core §3.1.2.1',
      params: { nonce: 'n'.repeat(513) },
      error: 'invalid_request',
    },
    {
      name: 'client without the authorization_code grant',
      source: 'RFC 6749 §4.1.2.1',
      params: { scope: undefined },
      error: 'unauthorized_client',
      client: () => machine,
    },
  ];

  it.each(redirectedErrors)(
    'redirects $error to the client: $name ($source)',
    async ({ params, error, client }) => {
      const c = client?.() ?? web;
      const response = await fetch(authorizeUrl(as, { ...base(c, REDIRECT_URI), ...params }), {
        redirect: 'manual',
      });
      expect(response.status).toBe(302);
      const location = response.headers.get('location')!;
      expect(location.startsWith(`${REDIRECT_URI}?`)).toBe(true);
      expect(callbackParams(location)).toEqual({
        error,
        error_description: expect.any(String),
        state: 'st-1',
        iss: as.url,
      });
    },
  );

  it('appends error parameters to a redirect URI that has a query, keeping it (RFC 6749 §3.1.2)', async () => {
    const response = await fetch(authorizeUrl(as, { ...base(web, WITH_QUERY), scope: 'nope' }), {
      redirect: 'manual',
    });
    const location = response.headers.get('location')!;
    expect(location.startsWith(`${WITH_QUERY}&error=invalid_scope`)).toBe(true);
    expect(callbackParams(location)).toMatchObject({ x: '1', state: 'st-1', iss: as.url });
  });

  it('omits state from an error when the request had none', async () => {
    const response = await fetch(
      authorizeUrl(as, { ...base(web, REDIRECT_URI), state: undefined, scope: 'nope' }),
      {
        redirect: 'manual',
      },
    );
    expect(callbackParams(response.headers.get('location')!)).toEqual({
      error: 'invalid_scope',
      error_description: expect.any(String),
      iss: as.url,
    });
  });

  it('accepts the request as a POST form (OIDC Core §3.1.2.1) and refuses a repeated form field on a page', async () => {
    const browser = new Browser();
    const ok = await browser.post(`${as.url}/authorize`, base(web, REDIRECT_URI));
    expect(ok.status).toBe(200);
    expect(parseForm(ok.text).inputs).toContain('password');
    const polluted = await fetch(`${as.url}/authorize`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: `${new URLSearchParams(base(web, REDIRECT_URI) as Record<string, string>).toString()}&scope=profile`,
      redirect: 'manual',
    });
    expect(polluted.status).toBe(400);
    expect(polluted.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(polluted.headers.get('location')).toBeNull();
  });
});
