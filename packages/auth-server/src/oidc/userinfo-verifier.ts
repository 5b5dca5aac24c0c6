import { isGatehouseError, sharedReplayStore } from '@gatehouse/core';
import {
  GuardError,
  createDpopVerifier,
  createGuard,
  type Confirmation,
  type Guard,
  type Principal,
  type Verifier,
} from '@gatehouse/guard';
import type { AuthServerServices } from '../services.js';
import { findToken } from '../tokens/find-token.js';
import { CLIENT_SIGNING_ALGORITHMS } from '../clients/client-algorithms.js';

/** The token's bindings as guard reads them: RFC 9449 `jkt`, RFC 8705 `x5t#S256`. */
function confirmationOf(jkt: string | null, x5tS256: string | null): Confirmation | undefined {
  if (jkt === null && x5tS256 === null) return undefined;
  return Object.freeze({
    ...(jkt === null ? {} : { jkt }),
    ...(x5tS256 === null ? {} : { 'x5t#S256': x5tS256 }),
  });
}

/**
 * Guard's verifier contract over this server's own access tokens: the token is found the way
 * introspection finds it (opaque by hash; JWT verified, then by `jti`), must be an active access
 * token (not a refresh token; not expired, revoked or of a revoked grant), and becomes a principal
 * whose `cnf` carries its DPoP and certificate bindings.
 */
function ownTokenVerifier(services: AuthServerServices): Verifier {
  const { config } = services.deps;
  let verified = 0;
  let refused = 0;
  return {
    async verify(token: string): Promise<Principal> {
      let found;
      try {
        found = await findToken(services, token, 'access_token');
      } catch (err) {
        // A store that is down stays a 503 (Retry-After); as a GuardError its code, not
        // ERR_INTERNAL, is what guard logs and audits for the refusal.
        if (isGatehouseError(err) && err.status === 503)
          throw new GuardError(err.code, {
            ...(err.detail === undefined ? {} : { detail: err.detail }),
            cause: err,
          });
        throw err;
      }
      if (found?.kind !== 'access_token' || !found.active) {
        refused += 1;
        throw new GuardError('ERR_JWT_REVOKED', { detail: 'unknown, expired or revoked access token' });
      }
      verified += 1;
      const { row } = found;
      const scopes = row.scope === '' ? [] : row.scope.split(' ');
      return Object.freeze({
        sub: row.sub,
        clientId: row.client_id,
        scopes: Object.freeze(scopes),
        audience: Object.freeze(row.audience === null ? [] : [row.audience]),
        issuer: config.issuer,
        expiresAt: Math.floor(row.expires_at / 1000),
        issuedAt: Math.floor(row.created_at / 1000),
        jti: row.jti,
        sid: undefined,
        roles: Object.freeze([]),
        tenant: undefined,
        cnf: confirmationOf(row.dpop_jkt, row.x5t_s256),
        claims: Object.freeze({}),
      });
    },
    revoke() {
      // Revocation is read from the database on every request; nothing is cached here.
    },
    prewarm: () => Promise.resolve(),
    // Tokens are looked up in the database: there is no key set to refresh.
    refreshKeys: () => Promise.resolve(),
    stats: () => ({
      verified,
      refused,
      cacheHits: 0,
      cacheMisses: 0,
      cacheEntries: 0,
      jwksFetches: 0,
      jwksFetchFailures: 0,
      jwksStaleServed: 0,
      jwksRefetchSuppressed: 0,
    }),
    close() {
      // Nothing to release.
    },
    algorithms: [config.keys.algorithm],
  };
}

/**
 * The UserInfo endpoint's request authentication (OIDC Core §5.3.1): guard's framework-neutral
 * core, so Bearer and DPoP (RFC 9449 §7) follow exactly the rules every Gatehouse resource applies
 * (a DPoP-bound token never works as Bearer, proof bound to method, URL and token), the `openid`
 * scope is required, and refusals carry RFC 6750 challenges.
 */
export function createUserinfoGuard(services: AuthServerServices): Guard {
  const { deps } = services;
  return createGuard({
    verifier: ownTokenVerifier(services),
    scopes: ['openid'],
    dpop: createDpopVerifier({
      algorithms: CLIENT_SIGNING_ALGORITHMS,
      replayStore: sharedReplayStore(deps.state, 'dpop:', deps.now),
      maxAgeSec: deps.config.dpop.maxAgeSec,
      now: deps.now,
    }),
    publicOrigin: new URL(deps.config.issuer).origin,
    logger: deps.logger,
    audit: deps.audit,
    component: 'auth-server',
    now: deps.now,
  });
}
