import { X509Certificate, createPublicKey } from 'node:crypto';
import { Writable } from 'node:stream';
import { reservePort } from '@gatehouse/testing';
import {
  createLogger,
  createMemorySharedState,
  openSqlDatabase,
  type AuditEvent,
  type SharedState,
} from '@gatehouse/core';
import { createVerifier } from '@gatehouse/guard';
import {
  buildAuthServerConfig,
  createAuthServer,
  type AuthServer,
  type AuthServerConfigInput,
  type AuthServerDeps,
  type CreateClientInput,
} from '@gatehouse/auth-server';
import type { Kysely } from 'kysely';

type AuthDatabase = AuthServerDeps['db'] extends Kysely<infer D> ? D : never;

/**
 * Boots a REAL authorization server (`@gatehouse/auth-server`) for gateway tests: SQLite in
 * memory, shared state given or in memory, a hand-moved clock, listening on 127.0.0.1 port 0 so
 * the issuer is the real URL. Gateway code under test shares the same `state` (revocation events)
 * and usually the same `clock`.
 */

/** The external API audience (`jwtAudience` of the gateway) and two internal service audiences. */
export const API = 'https://api.example';
export const ACCOUNTS = 'https://accounts.internal';
export const ORDERS = 'https://orders.internal';

export const TEST_RESOURCES = [
  { id: API, scopes: ['accounts:read', 'accounts:write', 'orders:read'] },
  { id: ACCOUNTS, scopes: ['accounts:read', 'accounts:write'] },
  { id: ORDERS, scopes: ['orders:read'] },
];

export const TOKEN_EXCHANGE = 'urn:ietf:params:oauth:grant-type:token-exchange';

/** A clock tests move by hand (epoch ms); shared by the auth server and the gateway. */
export class TestClock {
  ms: number;
  constructor(ms = Date.UTC(2026, 0, 1)) {
    this.ms = ms;
  }
  readonly now = (): number => this.ms;
  advance(seconds: number): void {
    this.ms += seconds * 1000;
  }
}

export interface TestClient {
  readonly clientId: string;
  readonly clientSecret: string;
}

/** Anything `CreateClientInput` takes; `grantTypes` defaults to client_credentials. */
export type TestClientInput = Partial<CreateClientInput>;

export interface TokenOptions {
  readonly scope?: string;
  readonly resource?: string;
  /** A DPoP proof for POST at the token endpoint (RFC 9449 §5): the token is then DPoP-bound. */
  readonly dpop?: string;
}

export interface StartAuthServerOptions {
  /** Shared state the gateway also uses (default: a fresh in-memory state, closed by `close()`). */
  readonly state?: SharedState;
  readonly clock?: TestClock;
  /** Overrides of the auth-server configuration (default resources: TEST_RESOURCES, DPoP without nonces). */
  readonly config?: Partial<AuthServerConfigInput>;
  /**
   * Its database (default: SQLite in memory). A gateway that reads the revocation feed opens the
   * same SQLite file or PostgreSQL schema.
   */
  readonly database?: { readonly url?: string; readonly sqliteFile?: string };
}

export interface TestAuthServer {
  /** The issuer: the bound base URL. */
  readonly issuer: string;
  readonly tokenEndpoint: string;
  readonly state: SharedState;
  readonly clock: TestClock;
  readonly server: AuthServer;
  readonly audit: readonly AuditEvent[];
  /** Registers a confidential (client_secret_basic) client with a unique id. */
  createClient(input?: TestClientInput): Promise<TestClient>;
  /** Registers the gateway's own client: token exchange + introspection. */
  createGatewayClient(): Promise<TestClient>;
  /** A client_credentials access token for `client` (opaque or JWT per the client's tokenFormat). */
  tokenFor(client: TestClient, options?: TokenOptions): Promise<string>;
  /** RFC 7009 revocation of `token` by its client. */
  revoke(client: TestClient, token: string): Promise<void>;
  /** Stops the server (idempotent); closes the state only if it created it. */
  close(): Promise<void>;
}

/** RFC 6749 §2.3.1: id and secret are form-urlencoded, then joined and base64-encoded. */
export function basicAuthorization(client: TestClient): string {
  const encode = (value: string): string => encodeURIComponent(value).replace(/%20/g, '+');
  return `Basic ${Buffer.from(`${encode(client.clientId)}:${encode(client.clientSecret)}`).toString('base64')}`;
}

/** POSTs a form with client_secret_basic; resolves the status and the JSON body. */
export async function postForm(
  url: string,
  client: TestClient,
  params: Readonly<Record<string, string | undefined>>,
  headers: Readonly<Record<string, string>> = {},
): Promise<{ status: number; body: Record<string, unknown> }> {
  const form = new URLSearchParams();
  for (const [name, value] of Object.entries(params)) if (value !== undefined) form.append(name, value);
  const response = await fetch(url, {
    method: 'POST',
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      authorization: basicAuthorization(client),
      ...headers,
    },
    body: form.toString(),
  });
  const text = await response.text();
  let body: Record<string, unknown> = {};
  try {
    body = JSON.parse(text) as Record<string, unknown>;
  } catch {
    body = {};
  }
  return { status: response.status, body };
}

/**
 * The claims of an internal JWT a gateway handed over (`authorization`: `Bearer …`), verified for
 * `audience` against the server's JWKS on its clock.
 */
export function verifyHandedOver(as: TestAuthServer, audience: string, authorization: string) {
  return createVerifier({
    issuer: as.issuer,
    audience,
    jwksUri: `${as.issuer}/jwks`,
    now: as.clock.now,
  }).verify(authorization.slice('Bearer '.length));
}

/**
 * A server on the wall clock that binds tokens to client certificates (RFC 8705) proven through a
 * trusted proxy's RFC 9440 `Client-Cert` (127.0.0.1, as the tests' requests come), for `issueBoundToken`.
 */
export function startBindingAuthServer(): Promise<TestAuthServer> {
  return startAuthServer({
    clock: new TestClock(Date.now()),
    config: { mtls: { certificateHeader: 'client-cert', trustedProxies: ['127.0.0.1/32'] } },
  });
}

/** RFC 9440 §2.2: a certificate as a structured-field byte sequence of its DER (`:MIIB…:`). */
export function clientCertField(certPem: string): string {
  return `:${new X509Certificate(certPem).raw.toString('base64')}:`;
}

export interface BoundTokenOptions {
  /** `jwt` (default) or `opaque`. */
  readonly tokenFormat?: 'jwt' | 'opaque';
  /** RFC 8707 resource (default API). */
  readonly resource?: string;
}

/**
 * An access token bound to `certPem` (RFC 8705 §3, `cnf.x5t#S256`): a new partner client
 * (`self_signed_tls_client_auth`, the certificate's key in its JWKS) proves the certificate through
 * a trusted proxy's `Client-Cert` field. The server must have been started with
 * `mtls: { certificateHeader: 'client-cert', trustedProxies: ['127.0.0.1/32'] }`.
 */
export async function issueBoundToken(
  as: TestAuthServer,
  certPem: string,
  options: BoundTokenOptions = {},
): Promise<string> {
  const { client } = await as.server.services.clients.create({
    name: 'bound partner',
    grantTypes: ['client_credentials'],
    authMethod: 'self_signed_tls_client_auth',
    jwks: { keys: [createPublicKey(certPem).export({ format: 'jwk' })] },
    scopes: ['accounts:read'],
    resources: [API, ACCOUNTS],
    tokenFormat: options.tokenFormat ?? 'jwt',
  });
  const answer = await fetch(as.tokenEndpoint, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', 'client-cert': clientCertField(certPem) },
    body: new URLSearchParams({
      grant_type: 'client_credentials',
      client_id: client.clientId,
      resource: options.resource ?? API,
    }).toString(),
  });
  const body = (await answer.json()) as { access_token?: string };
  if (answer.status !== 200 || body.access_token === undefined)
    throw new Error(`no bound token: ${answer.status} ${JSON.stringify(body)}`);
  return body.access_token;
}

let sequence = 0;

export async function startAuthServer(options: StartAuthServerOptions = {}): Promise<TestAuthServer> {
  const clock = options.clock ?? new TestClock();
  const ownState = options.state === undefined;
  const state = options.state ?? createMemorySharedState();
  const sql = openSqlDatabase<AuthDatabase>(options.database ?? { sqliteFile: ':memory:' });
  const audit: AuditEvent[] = [];
  // Logs are kept out of the test output (they are checked by the auth-server's own suites).
  const destination = new Writable({
    write(_chunk: Buffer, _encoding, done) {
      done();
    },
  });
  // Listen on a port found first, so the issuer is the URL clients really use.
  const reserved = await reservePort();
  const port = reserved.port;
  const issuer = `http://127.0.0.1:${port}`;
  const config = buildAuthServerConfig({
    issuer,
    listen: { host: '127.0.0.1', port },
    resources: TEST_RESOURCES,
    dpop: { requireNonce: false },
    ...options.config,
  });
  let server: AuthServer;
  try {
    server = await createAuthServer({
      config,
      db: sql.db,
      engine: sql.engine,
      state,
      kek: Buffer.alloc(32, 7),
      now: clock.now,
      audit: (event) => {
        audit.push(event);
      },
      logger: createLogger({ component: 'auth-server', level: 'warn', destination }),
      passwordLogN: 10,
    });
  } catch (err) {
    await reserved.release();
    await sql.close();
    if (ownState) await state.close();
    throw err;
  }
  await reserved.release();
  await server.listen();
  const tokenEndpoint = `${issuer}/token`;

  async function createClient(input: TestClientInput = {}): Promise<TestClient> {
    sequence += 1;
    const clientId = input.clientId ?? `gw-client-${sequence}-${Math.random().toString(36).slice(2, 8)}`;
    const { client, clientSecret } = await server.services.clients.create({
      name: `test ${clientId}`,
      grantTypes: ['client_credentials'],
      ...input,
      clientId,
    });
    if (clientSecret === undefined) throw new Error('test clients are confidential');
    return { clientId: client.clientId, clientSecret };
  }

  let closed = false;
  return {
    issuer,
    tokenEndpoint,
    state,
    clock,
    server,
    audit,
    createClient,
    createGatewayClient: () => createClient({ grantTypes: [TOKEN_EXCHANGE], canIntrospect: true }),
    async tokenFor(client, tokenOptions = {}) {
      const { status, body } = await postForm(
        tokenEndpoint,
        client,
        { grant_type: 'client_credentials', scope: tokenOptions.scope, resource: tokenOptions.resource },
        tokenOptions.dpop === undefined ? {} : { dpop: tokenOptions.dpop },
      );
      if (status !== 200 || typeof body['access_token'] !== 'string') {
        throw new Error(`token request failed: ${status} ${JSON.stringify(body)}`);
      }
      return body['access_token'];
    },
    async revoke(client, token) {
      const { status } = await postForm(`${issuer}/revoke`, client, { token });
      if (status !== 200) throw new Error(`revocation failed: ${status}`);
    },
    async close() {
      if (closed) return;
      closed = true;
      await server.close();
      await sql.close();
      if (ownState) await state.close();
    },
  };
}
