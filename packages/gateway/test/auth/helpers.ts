import { createHash, generateKeyPairSync, randomUUID, sign, type KeyObject } from 'node:crypto';
import { Writable } from 'node:stream';
import { createLogger, type Logger, type SharedState } from '@gatehouse/core';
import { createGatewayAuthenticator } from '../../src/auth/index.js';
import type {
  AuthRequest,
  GatewayAuthOptions,
  GatewayAuthenticator,
  RouteAuth,
} from '../../src/auth/index.js';
import { API, ACCOUNTS, ORDERS, type TestAuthServer, type TestClient } from '../support/auth-server.js';

export { API, ACCOUNTS, ORDERS };

/** The external URL clients address (DPoP `htu`). */
export const PUBLIC_URL = 'https://gateway.example/accounts/42';

export const ROUTE = {
  opaque: { mode: 'opaque', audience: ACCOUNTS },
  jwt: { mode: 'jwt', audience: ACCOUNTS },
  any: { mode: 'any', audience: ACCOUNTS },
  none: { mode: 'none', audience: ACCOUNTS },
  orders: { mode: 'any', audience: ORDERS },
} as const satisfies Record<string, RouteAuth>;

/** A logger that keeps its lines (checked for tokens) instead of printing them. */
export function captureLogger(): { logger: Logger; lines: string[] } {
  const lines: string[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(chunk.toString('utf8'));
      done();
    },
  });
  return { logger: createLogger({ component: 'gateway', level: 'debug', destination }), lines };
}

export function bearer(token: string, request: Partial<AuthRequest> = {}): AuthRequest {
  return { authorization: `Bearer ${token}`, dpop: undefined, method: 'GET', htu: PUBLIC_URL, ...request };
}

export interface Authenticator {
  readonly auth: GatewayAuthenticator;
  readonly lines: string[];
}

/** A gateway authenticator against `as`, on `state`, at the auth server's clock. */
export async function startAuthenticator(
  as: TestAuthServer,
  gateway: TestClient,
  options: Partial<GatewayAuthOptions> & { state?: SharedState; start?: boolean } = {},
): Promise<Authenticator> {
  const { logger, lines } = captureLogger();
  const { state = as.state, start = true, ...overrides } = options;
  const auth = await createGatewayAuthenticator(
    {
      issuer: as.issuer,
      // As createGateway builds it: its own audience, then every route audience.
      jwtAudience: [API, ACCOUNTS, ORDERS],
      externalAudience: [API],
      client: gateway,
      introspectionCache: { maxEntries: 1000, negativeTtlMs: 5000, maxTtlMs: 3_600_000 },
      exchangeCache: { maxEntries: 1000 },
      timeoutMs: 2000,
      ...overrides,
    },
    { state, logger, now: as.clock.now },
  );
  if (start) {
    await auth.start();
    await auth.start(); // idempotent: one subscription
  }
  return { auth, lines };
}

/** How many times the auth server did something (audited), e.g. `token.introspect`. */
export function countAudit(as: TestAuthServer, action: string, grantType?: string): number {
  return as.audit.filter(
    (event) =>
      event.action === action &&
      (grantType === undefined ||
        (event.details as Record<string, unknown> | undefined)?.['grant_type'] === grantType),
  ).length;
}

// ---- JWS and DPoP with node:crypto (RFC 7515, RFC 9449) ------------------------------------------

const b64 = (value: unknown): string => Buffer.from(JSON.stringify(value)).toString('base64url');

/** A compact JWS; ES256 with `key`, or unsigned (`alg: none`, empty signature) without. */
export function signJws(
  header: Record<string, unknown>,
  payload: Record<string, unknown>,
  key?: KeyObject,
): string {
  const input = `${b64(header)}.${b64(payload)}`;
  if (key === undefined) return `${input}.`;
  return `${input}.${sign('sha256', Buffer.from(input), { key, dsaEncoding: 'ieee-p1363' }).toString('base64url')}`;
}

export interface DpopKey {
  readonly privateKey: KeyObject;
  readonly publicJwk: Record<string, string>;
  /** RFC 7638 thumbprint. */
  readonly jkt: string;
}

export function createDpopKey(): DpopKey {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const jwk = publicKey.export({ format: 'jwk' }) as Record<string, string>;
  const publicJwk = { kty: 'EC', crv: 'P-256', x: jwk['x'] as string, y: jwk['y'] as string };
  // RFC 7638 §3.2: the required members in lexicographic order, no whitespace.
  const jkt = createHash('sha256')
    .update(JSON.stringify({ crv: publicJwk.crv, kty: publicJwk.kty, x: publicJwk.x, y: publicJwk.y }))
    .digest('base64url');
  return { privateKey, publicJwk, jkt };
}

export interface ProofOptions {
  readonly htu: string;
  readonly htm?: string;
  /** The access token, for `ath` (RFC 9449 §4.2). */
  readonly accessToken?: string;
  readonly iatMs: number;
  readonly jti?: string;
}

/** A DPoP proof JWT (RFC 9449 §4.2). */
export function dpopProof(key: DpopKey, options: ProofOptions): string {
  return signJws(
    { typ: 'dpop+jwt', alg: 'ES256', jwk: key.publicJwk },
    {
      jti: options.jti ?? randomUUID(),
      htm: options.htm ?? 'GET',
      htu: options.htu,
      iat: Math.floor(options.iatMs / 1000),
      ...(options.accessToken === undefined
        ? {}
        : { ath: createHash('sha256').update(options.accessToken).digest('base64url') }),
    },
    key.privateKey,
  );
}
