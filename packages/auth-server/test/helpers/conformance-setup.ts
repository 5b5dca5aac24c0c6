import { createHash } from 'node:crypto';
import { calculateJwkThumbprint, exportJWK, type CryptoKey } from 'jose';
import type { User } from '../../src/users/user-store.js';
import { addUser, parseForm, type Browser } from './browser-flow.js';
import { TestClock, startAuthServer, type StoreSetup, type TestAuthServer } from './harness.js';
import {
  API,
  REDIRECT_URI,
  TEST_RESOURCES,
  createAssertionKey,
  newClient,
  type AssertionKey,
  type TestClient,
} from './oauth-client.js';

/**
 * The server's clock for conformance suites. The certified libraries read the real clock (the
 * `iat` of their DPoP proofs and client assertions, the `exp` of the ID tokens they validate) and
 * offer no clock injection, only a fixed skew; so here the server follows wall time, and
 * `advance()` still moves it ahead of the wall (e.g. past the refresh grace window). `sync()`
 * takes it back to the wall clock.
 */
export class WallClock extends TestClock {
  #origin = 0;

  constructor() {
    super();
    this.sync();
  }

  override readonly now = (): number => this.ms + (Date.now() - this.#origin);

  sync(): void {
    this.#origin = Date.now();
    this.ms = this.#origin;
  }
}

/** Where the public client's users land after RP-initiated logout. */
export const AFTER_LOGOUT = 'https://client.example/signed-out';

export const ALICE = {
  username: 'alice',
  password: 'conformance password 1',
  name: 'Alice Example',
  email: 'alice@example.com',
} as const;

/** The registered clients of a conformance server, one per flow the libraries drive. */
export interface ConformanceClients {
  /** Public, first-party (no consent): code + PKCE, refresh, logout. */
  readonly spa: TestClient;
  /** Confidential (`client_secret_basic`), third-party (consent), RFC 9068 JWT access tokens for API. */
  readonly web: TestClient;
  /** Confidential (`client_secret_post`): client credentials. */
  readonly service: TestClient;
  /** `private_key_jwt` (RFC 7523), third-party, PAR required (RFC 9126 §6): code and client credentials. */
  readonly signed: TestClient;
  /** Public, first-party, JWT access tokens for API: DPoP-bound tokens (RFC 9449). */
  readonly dpop: TestClient;
  /** A resource server allowed to introspect (`client_secret_basic`); also a client-credentials client. */
  readonly rs: TestClient;
}

export interface Conformance {
  readonly as: TestAuthServer;
  readonly clock: WallClock;
  readonly user: User;
  readonly clients: ConformanceClients;
  /** The private_key_jwt client's key (its public JWK is registered, kid `client-key-1`). */
  readonly assertionKey: AssertionKey;
}

/** The secret of a confidential client (shown once at registration). */
export function secretOf(who: TestClient): string {
  if (who.secret === undefined) throw new Error(`${who.id} is a public client`);
  return who.secret;
}

/** A running server with one user and the clients above, on the given stores. */
export async function startConformance(stores: StoreSetup): Promise<Conformance> {
  const clock = new WallClock();
  const as = await startAuthServer({
    stores,
    clock,
    config: { resources: TEST_RESOURCES, login: { delayStepMs: 0 } },
  });
  try {
    const user = await addUser(as, {
      username: ALICE.username,
      password: ALICE.password,
      name: ALICE.name,
      email: ALICE.email,
    });
    const assertionKey = await createAssertionKey();
    const code = ['authorization_code', 'refresh_token'] as const;
    const clients: ConformanceClients = {
      spa: await newClient(as, {
        authMethod: 'none',
        grantTypes: [...code],
        scopes: ['openid', 'profile', 'email'],
        postLogoutRedirectUris: [AFTER_LOGOUT],
        firstParty: true,
      }),
      web: await newClient(as, {
        authMethod: 'client_secret_basic',
        grantTypes: [...code],
        scopes: ['openid', 'profile', 'email', 'accounts:read'],
        resources: [API],
        tokenFormat: 'jwt',
      }),
      service: await newClient(as, {
        authMethod: 'client_secret_post',
        grantTypes: ['client_credentials'],
        scopes: ['accounts:read', 'accounts:write'],
        resources: [API],
      }),
      signed: await newClient(as, {
        authMethod: 'private_key_jwt',
        grantTypes: ['authorization_code', 'client_credentials'],
        scopes: ['openid', 'accounts:read'],
        resources: [API],
        jwks: { keys: [assertionKey.publicJwk] },
        requirePar: true,
      }),
      dpop: await newClient(as, {
        authMethod: 'none',
        grantTypes: [...code],
        scopes: ['openid', 'profile', 'accounts:read'],
        resources: [API],
        tokenFormat: 'jwt',
        firstParty: true,
      }),
      rs: await newClient(as, {
        authMethod: 'client_secret_basic',
        grantTypes: ['client_credentials'],
        scopes: ['accounts:read'],
        resources: [API],
        canIntrospect: true,
      }),
    };
    return { as, clock, user, clients, assertionKey };
  } catch (err) {
    await as.close();
    throw err;
  }
}

export interface BrowserOutcome {
  /** The authorization response as the client's redirect URI receives it. */
  readonly callback: URL;
  readonly loginShown: boolean;
  readonly consentShown: boolean;
}

/**
 * What a user does with an authorization URL a library built: the browser opens it, the login
 * form is filled in (its hidden CSRF input comes along), the consent form approved when shown,
 * and the redirect back to the client is captured (never followed: client.example is not real).
 */
export async function authorizeInBrowser(
  as: TestAuthServer,
  browser: Browser,
  url: URL,
  credentials: { readonly username: string; readonly password: string } = ALICE,
): Promise<BrowserOutcome> {
  let page = await browser.get(url.href);
  let loginShown = false;
  let consentShown = false;
  if (page.status === 200 && parseForm(page.text).inputs.includes('password')) {
    loginShown = true;
    page = await browser.submit(as.url, page, {
      username: credentials.username,
      password: credentials.password,
    });
  }
  if (page.status === 303 && page.location === `${as.url}/consent`) page = await browser.get(page.location);
  if (page.status === 200 && parseForm(page.text).buttons.includes('decision=approve')) {
    consentShown = true;
    page = await browser.submit(as.url, page, { decision: 'approve' });
  }
  if ((page.status !== 302 && page.status !== 303) || page.location?.startsWith(REDIRECT_URI) !== true) {
    throw new Error(`the authorization did not come back to the client (status ${page.status})`);
  }
  return { callback: new URL(page.location), loginShown, consentShown };
}

/** Whether the browser's session is still alive: an authorization request then needs no login. */
export async function showsLoginForm(browser: Browser, url: URL): Promise<boolean> {
  const page = await browser.get(url.href);
  return page.status === 200 && parseForm(page.text).inputs.includes('password');
}

/**
 * OIDC Core §3.1.3.6 `at_hash`, computed here independently of the server (the libraries do not
 * check it in the code flow, where it is OPTIONAL to validate: §3.1.3.8).
 */
export function expectedAtHash(accessToken: string): string {
  const digest = createHash('sha256').update(accessToken, 'ascii').digest();
  return digest.subarray(0, digest.length / 2).toString('base64url');
}

/** RFC 7638 thumbprint of a DPoP public key: the `cnf.jkt` a bound token must carry. */
export async function thumbprintOf(publicKey: CryptoKey): Promise<string> {
  return calculateJwkThumbprint(await exportJWK(publicKey), 'sha256');
}

/** Audit actions (with their reason) of one client since a mark, in order. */
export function auditTrail(as: TestAuthServer, clientId: string, since: number): string[] {
  return as.audit
    .slice(since)
    .filter((event) => event.actor?.clientId === clientId)
    .map((event) => (event.reason === undefined ? event.action : `${event.action}:${event.reason}`));
}
