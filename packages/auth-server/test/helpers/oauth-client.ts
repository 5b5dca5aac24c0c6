import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { SignJWT, exportJWK, generateKeyPair, type CryptoKey, type JWK } from 'jose';
import type { CreateClientInput } from '../../src/clients/client-store.js';
import type { Client } from '../../src/clients/client.js';
import {
  createAuthorizationCode,
  type AuthorizationCodeInput,
} from '../../src/grants/authorization-code-store.js';
import type { TestAuthServer } from './harness.js';

/** How a test client authenticates: its id and, for confidential clients, the secret. */
export interface TestClient {
  readonly client: Client;
  readonly id: string;
  readonly secret: string | undefined;
}

export const REDIRECT_URI = 'https://client.example/callback';
export const API = 'https://api.example';
export const OTHER_API = 'https://other-api.example';

/** Resource servers most token tests configure (RFC 8707 audiences with their scopes). */
export const TEST_RESOURCES = [
  { id: API, scopes: ['accounts:read', 'accounts:write'] },
  { id: OTHER_API, scopes: ['orders:read'] },
];

let sequence = 0;

/** Registers a client (confidential `client_secret_basic` by default) with a unique id. */
export async function newClient(
  as: TestAuthServer,
  input: Partial<CreateClientInput> & Pick<CreateClientInput, 'grantTypes'>,
): Promise<TestClient> {
  sequence += 1;
  const clientId = input.clientId ?? `client-${sequence}-${randomBytes(4).toString('hex')}`;
  const { client, clientSecret } = await as.server.services.clients.create({
    name: `test ${clientId}`,
    clientId,
    redirectUris: input.grantTypes.includes('authorization_code') ? [REDIRECT_URI] : [],
    ...input,
  });
  return { client, id: client.clientId, secret: clientSecret };
}

/** RFC 6749 §2.3.1: id and secret are form-urlencoded, then joined and base64-encoded. */
export function basic(id: string, secret: string): string {
  const encode = (value: string): string => encodeURIComponent(value).replace(/%20/g, '+');
  return `Basic ${Buffer.from(`${encode(id)}:${encode(secret)}`).toString('base64')}`;
}

export interface FormResponse {
  readonly status: number;
  readonly headers: Headers;
  readonly text: string;
  /** The JSON body (empty object when the body is not JSON). */
  readonly body: Record<string, unknown>;
}

export interface PostOptions {
  /** Authenticate with client_secret_basic. */
  readonly client?: TestClient;
  readonly headers?: Readonly<Record<string, string>>;
}

/** POSTs an `application/x-www-form-urlencoded` body (absent values are left out). */
export async function postForm(
  url: string,
  params: Readonly<Record<string, string | undefined>>,
  options: PostOptions = {},
): Promise<FormResponse> {
  const form = new URLSearchParams();
  for (const [name, value] of Object.entries(params)) if (value !== undefined) form.append(name, value);
  const headers: Record<string, string> = {
    'content-type': 'application/x-www-form-urlencoded',
    ...options.headers,
  };
  if (options.client?.secret !== undefined)
    headers['authorization'] = basic(options.client.id, options.client.secret);
  const response = await fetch(url, { method: 'POST', headers, body: form.toString() });
  const text = await response.text();
  let body: Record<string, unknown> = {};
  try {
    const parsed: unknown = JSON.parse(text);
    if (typeof parsed === 'object' && parsed !== null) body = parsed as Record<string, unknown>;
  } catch {
    body = {};
  }
  return { status: response.status, headers: response.headers, text, body };
}

/** A token request authenticated with client_secret_basic (or `client_id` for a public client). */
export function tokenRequest(
  as: TestAuthServer,
  client: TestClient,
  params: Readonly<Record<string, string | undefined>>,
  headers?: Readonly<Record<string, string>>,
): Promise<FormResponse> {
  return postForm(
    `${as.url}/token`,
    client.secret === undefined ? { client_id: client.id, ...params } : params,
    { client, ...(headers === undefined ? {} : { headers }) },
  );
}

export function introspect(
  as: TestAuthServer,
  caller: TestClient,
  token: string,
  extra: Readonly<Record<string, string>> = {},
  headers?: Readonly<Record<string, string>>,
): Promise<FormResponse> {
  return postForm(
    `${as.url}/introspect`,
    { token, ...extra },
    { client: caller, ...(headers === undefined ? {} : { headers }) },
  );
}

export function revoke(
  as: TestAuthServer,
  client: TestClient,
  token: string,
  extra: Readonly<Record<string, string>> = {},
): Promise<FormResponse> {
  return postForm(
    `${as.url}/revoke`,
    client.secret === undefined ? { client_id: client.id, token, ...extra } : { token, ...extra },
    { client },
  );
}

/** RFC 7636 §4.1-4.2: a 43-character verifier and its S256 challenge. */
export function pkcePair(): { verifier: string; challenge: string } {
  const verifier = randomBytes(32).toString('base64url');
  return { verifier, challenge: createHash('sha256').update(verifier).digest('base64url') };
}

export interface IssuedCode {
  readonly code: string;
  readonly verifier: string;
  readonly redirectUri: string;
  readonly sid: string;
  readonly sub: string;
}

/**
 * An authorization code as the authorization endpoint would create it (the endpoint itself is
 * tested elsewhere): PKCE S256, the registered redirect URI, scope and resource of the client.
 */
export async function issueCode(
  as: TestAuthServer,
  test: TestClient,
  overrides: Partial<Omit<AuthorizationCodeInput, 'client'>> = {},
): Promise<IssuedCode> {
  const { verifier, challenge } = pkcePair();
  const input: AuthorizationCodeInput = {
    client: test.client,
    sub: 'user-alice',
    redirectUri: REDIRECT_URI,
    scopes: test.client.scopes,
    resource: null,
    codeChallenge: challenge,
    nonce: 'n-0S6_WzA2Mj',
    sid: `sid-${randomUUID()}`,
    authTime: as.clock.now() - 1000,
    dpopJkt: null,
    ...overrides,
  };
  const code = await createAuthorizationCode(as.deps, input);
  return { code, verifier, redirectUri: input.redirectUri, sid: input.sid, sub: input.sub };
}

/** Redeems a code with its verifier (RFC 6749 §4.1.3). */
export function redeem(
  as: TestAuthServer,
  client: TestClient,
  issued: IssuedCode,
  extra: Readonly<Record<string, string | undefined>> = {},
  headers?: Readonly<Record<string, string>>,
): Promise<FormResponse> {
  return tokenRequest(
    as,
    client,
    {
      grant_type: 'authorization_code',
      code: issued.code,
      redirect_uri: issued.redirectUri,
      code_verifier: issued.verifier,
      ...extra,
    },
    headers,
  );
}

/** A private_key_jwt client's key pair (RFC 7523), its public JWK to register. */
export interface AssertionKey {
  readonly privateKey: CryptoKey;
  readonly publicJwk: JWK;
}

export async function createAssertionKey(): Promise<AssertionKey> {
  const { privateKey, publicKey } = await generateKeyPair('ES256');
  const publicJwk = { ...(await exportJWK(publicKey)), kid: 'client-key-1', alg: 'ES256', use: 'sig' };
  return { privateKey, publicJwk };
}

/** An RFC 7523 §3 client assertion at the test clock; claims may be overridden or removed (undefined). */
export async function clientAssertion(
  key: AssertionKey,
  clientId: string,
  nowMs: number,
  claims: Readonly<Record<string, unknown>>,
): Promise<string> {
  const iat = Math.floor(nowMs / 1000);
  const defaults: Record<string, unknown> = {
    iss: clientId,
    sub: clientId,
    jti: randomUUID(),
    iat,
    exp: iat + 60,
  };
  const payload = Object.fromEntries(
    Object.entries({ ...defaults, ...claims }).filter(([, value]) => value !== undefined),
  );
  return new SignJWT(payload).setProtectedHeader({ alg: 'ES256', kid: 'client-key-1' }).sign(key.privateKey);
}
