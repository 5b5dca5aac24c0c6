import type { X509Certificate } from 'node:crypto';
import type { GatehouseError, Logger, SharedState } from '@gatehouse/core';
import type { Kysely } from 'kysely';

export interface GatewayAuthOptions {
  /** The auth server's issuer identifier; discovery is read from it (RFC 8414 §3). */
  readonly issuer: string;
  /** Default: `jwks_uri` from discovery. */
  readonly jwksUri?: string;
  /** Audiences accepted for JWTs presented directly (and for the `aud` of opaque tokens). */
  readonly jwtAudience: readonly string[];
  /**
   * The gateway's own (external) audiences, a subset of `jwtAudience`: a JWT for one of them is
   * exchanged for the route's internal audience; a JWT for the route's audience is forwarded as is;
   * a JWT for another route's audience is refused. Default: every `jwtAudience`.
   */
  readonly externalAudience?: readonly string[];
  /** JWS allowlist for access tokens (guard's default when absent). */
  readonly algorithms?: readonly string[];
  /** The gateway's own confidential client: introspection and token exchange, client_secret_basic. */
  readonly client: { readonly clientId: string; readonly clientSecret: string };
  readonly introspectionCache: {
    readonly maxEntries: number;
    /** How long an inactive answer is remembered (short, e.g. 5000). */
    readonly negativeTtlMs: number;
    /**
     * Longest a positive answer is used before asking again (default 60 000); never past the
     * token's `exp`. While the auth server is unreachable a cached answer keeps serving until `exp`.
     */
    readonly maxTtlMs?: number;
  };
  readonly exchangeCache: { readonly maxEntries: number };
  /** Deadline of one call to the auth server (discovery, introspection, exchange, JWKS). */
  readonly timeoutMs: number;
  /** Skew allowed when checking JWT `exp`/`nbf`/`iat` (guard default 30). */
  readonly clockToleranceSec?: number;
  /**
   * How long, past its freshness, the cached key set keeps verifying JWTs while the JWKS endpoint
   * is unreachable (guard `maxStaleSec`, default 3600); after that JWTs get 503.
   */
  readonly jwksMaxStaleSec?: number;
  /**
   * How often the revocation feed is read while the shared state is down (default 1000 ms), so a
   * revocation still reaches this gateway within about that long. Needs `deps.db`.
   */
  readonly revocationPollMs?: number;
  /**
   * How often the feed is read while the shared state is up (default 30 000 ms): the safety net
   * for an event pub/sub lost without the store noticing.
   */
  readonly revocationResyncMs?: number;
}

export interface GatewayAuthDeps {
  readonly state: SharedState;
  /**
   * The deployment's database, where the auth server keeps the revocation feed (core's
   * `revocation_feed`): read at start (revocations of the last 24 h) and polled while pub/sub is
   * down. Without it, revocations arrive only over the shared state.
   */
  readonly db?: Kysely<unknown>;
  readonly logger: Logger;
  /** Clock in epoch milliseconds (tests freeze time with it). */
  readonly now?: () => number;
}

/** What the authenticator needs from a request; built by the pipeline. */
export interface AuthRequest {
  /** The `Authorization` field; several fields joined with `, ` (see `collectAuthHeaders`) are refused. */
  readonly authorization: string | undefined;
  /** The raw `DPoP` field; several proofs → invalid. */
  readonly dpop: string | undefined;
  readonly method: string;
  /** The external URL without query, for the DPoP `htu` check (RFC 9449 §4.3). */
  readonly htu: string;
  /** The TLS client certificate, for certificate-bound tokens (RFC 8705 §3). */
  readonly peerCertificate?: X509Certificate;
}

export interface RouteAuth {
  readonly mode: 'none' | 'jwt' | 'opaque' | 'any';
  /** The service's internal audience: the phantom token is exchanged for it. */
  readonly audience: string;
}

export interface AuthPrincipal {
  readonly sub: string | undefined;
  readonly clientId: string | undefined;
  readonly scopes: ReadonlySet<string>;
  readonly tokenKind: 'jwt' | 'opaque' | 'none';
}

/** A bounded metrics label (`gatehouse_auth_failures_total{reason}`). */
export type AuthFailureReason =
  'missing' | 'malformed' | 'invalid' | 'expired' | 'revoked' | 'inactive' | 'dpop' | 'mtls' | 'unavailable';

export type AuthOutcome =
  | {
      readonly ok: true;
      readonly principal: AuthPrincipal;
      /** `Bearer <jwt>` for the service; undefined for `mode: 'none'`. */
      readonly upstreamAuthorization: string | undefined;
    }
  | { readonly ok: false; readonly error: GatehouseError; readonly reason: AuthFailureReason };

export interface GatewayAuthStats {
  readonly introspectionHits: number;
  readonly introspectionMisses: number;
  readonly exchangeHits: number;
  readonly exchangeMisses: number;
  readonly verifyCacheHits?: number;
}

export interface GatewayAuthenticator {
  /**
   * Never throws, never rejects: every refusal is an `{ ok: false }` outcome. Answers synchronously
   * when its caches suffice (a verified JWT, or an introspected and exchanged opaque token, both
   * still fresh; no DPoP proof to check), with a promise when it has to wait for keys, the auth
   * server or the DPoP replay store. The checks are the same either way.
   */
  authenticate(request: AuthRequest, route: RouteAuth): AuthOutcome | Promise<AuthOutcome>;
  /**
   * Subscribes to the auth server's revocation events; with `deps.db`, also applies the
   * revocations the feed still holds and starts polling it.
   */
  start(): Promise<void>;
  close(): Promise<void>;
  stats(): GatewayAuthStats;
}
