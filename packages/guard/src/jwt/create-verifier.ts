import { hash } from 'node:crypto';
import { GatehouseError } from '@gatehouse/core';
import { LruCache } from '../cache/lru-cache.js';
import { GuardError, fail } from '../errors.js';
import { createStats, type GuardEventListener, type VerifierStats } from '../events.js';
import { checkHeader, type HeaderPolicy } from '../jws/check-header.js';
import {
  ALGORITHMS,
  DEFAULT_ALGORITHMS,
  isAlgorithm,
  isSymmetric,
  type Algorithm,
} from '../jws/algorithms.js';
import { parseCompactJws } from '../jws/parse-compact.js';
import { verifySignature } from '../jws/verify-signature.js';
import type { KeyRecord } from '../jwks/import-jwk.js';
import type { KeySource } from '../jwks/key-source.js';
import { RemoteKeySet, isAllowedJwksUri, type RemoteKeySetOptions } from '../jwks/remote-key-set.js';
import { createSecretKeySource, createStaticKeySource } from '../jwks/static-key-set.js';
import { parseJsonObject } from '../lib/strict-json.js';
import {
  RevocationList,
  type RevocationSource,
  type RevocationTarget,
} from '../revocation/revocation-list.js';
import type { Principal } from './principal.js';
import { validateClaims, type ClaimsPolicy } from './validate-claims.js';

export interface VerificationCacheOptions {
  /** Most results kept (default 10 000); the least recently used goes first. */
  readonly maxEntries?: number;
}

export interface VerifierOptions {
  /** Accepted `iss` values, compared exactly. */
  readonly issuer: string | readonly string[];
  /** This resource's identifiers; a token must carry at least one in `aud`. */
  readonly audience: string | readonly string[];
  /** Key set URL (HTTPS, or HTTP on loopback). Exactly one of jwksUri, jwks and secret. */
  readonly jwksUri?: string;
  /** A static key set. */
  readonly jwks?: { readonly keys: readonly unknown[] };
  /** Shared secret for HS256/384/512; only with `algorithms` all HMAC. */
  readonly secret?: string | Uint8Array;
  /** Allowlist; default ES256, EdDSA, RS256, PS256. */
  readonly algorithms?: readonly Algorithm[];
  /** Required `typ` (RFC 9068 §2.1 `at+jwt`); null disables the check. */
  readonly typ?: string | null;
  readonly clockToleranceSec?: number;
  /** Refuse tokens whose `exp - iat` exceeds this (default 86400). */
  readonly maxTokenAgeSec?: number;
  /** Refuse longer tokens before parsing (default 8192). */
  readonly maxTokenBytes?: number;
  /** Default iss, aud, exp, iat, sub. */
  readonly requiredClaims?: readonly string[];
  /** Clock in epoch milliseconds (tests freeze time with it). */
  readonly now?: () => number;
  /** Verification-result cache; false disables it. */
  readonly cache?: VerificationCacheOptions | false;
  /** Fetching and caching of `jwksUri`. */
  readonly jwksOptions?: RemoteKeySetOptions;
  /** Start fetching `jwksUri` at creation (default true). */
  readonly prewarm?: boolean;
  readonly revocation?: RevocationSource;
  /** Claim holding the roles array (default `roles`). */
  readonly rolesClaim?: string;
  /** Claim holding the tenant id (default `tenant`). */
  readonly tenantClaim?: string;
  readonly onEvent?: GuardEventListener;
}

export interface Verifier {
  /** Validates an access token; throws `GuardError` with a stable code. */
  verify(token: string): Promise<Principal>;
  /**
   * The principal of a token verified before, when the cache alone can vouch for it now (unexpired,
   * key still published, key set current, not revoked, no revocation source to ask); undefined
   * otherwise, and the caller calls `verify`. Never throws and never refuses: a token it cannot
   * vouch for synchronously is left to `verify`, which decides. Lets a hot path skip a promise.
   */
  verifyFromCache?(token: string): Principal | undefined;
  /** Rejects, from now on, every token the target covers (and drops their cached results). */
  revoke(target: RevocationTarget): void;
  /** Loads the key set now (resolves when keys are usable). */
  prewarm(): Promise<void>;
  /**
   * Fetches the key set again now, bypassing its cache and cooldown: call it on a trusted signal
   * that keys changed (the authorization server's key event), so a key published a moment ago is
   * known before the first token it signs arrives. A no-op for static keys and secrets.
   */
  refreshKeys(): Promise<void>;
  stats(): Readonly<VerifierStats>;
  /** Stops listening to the revocation source. */
  close(): void;
  readonly algorithms: readonly Algorithm[];
}

interface CacheEntry {
  readonly principal: Principal;
  readonly expiresAtMs: number;
  readonly key: KeyRecord;
}

const DEFAULTS = {
  typ: 'at+jwt',
  clockToleranceSec: 30,
  maxTokenAgeSec: 86_400,
  maxTokenBytes: 8192,
  requiredClaims: ['iss', 'aud', 'exp', 'iat', 'sub'],
  cacheEntries: 10_000,
} as const;

function asList(value: string | readonly string[] | undefined): readonly string[] {
  return value === undefined ? [] : typeof value === 'string' ? [value] : value;
}

function isNonNegative(value: number | undefined): boolean {
  return value === undefined || (Number.isFinite(value) && value >= 0);
}

/** The configured allowlist, or the default for the key source (HS256 for a secret). */
function allowlistOf(options: VerifierOptions): readonly Algorithm[] {
  return options.algorithms ?? (options.secret === undefined ? DEFAULT_ALGORITHMS : ['HS256']);
}

/** Every configuration mistake at once, so an operator fixes them in one go. */
function checkOptions(options: VerifierOptions): string[] {
  const problems: string[] = [];
  const issuers = asList(options.issuer);
  if (issuers.length === 0 || issuers.some((i) => typeof i !== 'string' || i === '')) {
    problems.push('issuer: one or more non-empty strings required');
  }
  const audiences = asList(options.audience);
  if (audiences.length === 0 || audiences.some((a) => typeof a !== 'string' || a === '')) {
    problems.push('audience: one or more non-empty strings required');
  }
  const sources = [options.jwksUri, options.jwks, options.secret].filter((s) => s !== undefined);
  if (sources.length !== 1) problems.push('exactly one of jwksUri, jwks and secret is required');
  if (options.jwksUri !== undefined && !isAllowedJwksUri(options.jwksUri)) {
    problems.push('jwksUri: must be https (plain http only on loopback)');
  }
  if (options.jwks !== undefined && !Array.isArray(options.jwks.keys))
    problems.push('jwks: keys array required');

  // Same default as createVerifier: checking `[]` here refused every secret-only configuration.
  const algorithms = allowlistOf(options);
  if (algorithms.length === 0) problems.push('algorithms: at least one required');
  for (const alg of algorithms) {
    if (typeof alg !== 'string' || !isAlgorithm(alg)) {
      problems.push(`algorithms: ${String(alg)} is not supported`);
    } else if (isSymmetric(alg) !== (options.secret !== undefined)) {
      problems.push(
        `algorithms: ${alg} ${isSymmetric(alg) ? 'needs a secret' : 'cannot be mixed with a secret'}`,
      );
    }
  }
  if (options.secret !== undefined) {
    const bytes =
      typeof options.secret === 'string' ? Buffer.byteLength(options.secret) : options.secret.length;
    const needed = Math.max(0, ...algorithms.filter(isAlgorithm).map((a) => ALGORITHMS[a].hashBytes));
    // RFC 7518 §3.2: a key at least as long as the hash output.
    if (bytes < needed) problems.push(`secret: at least ${needed} bytes required`);
  }
  if (
    options.typ !== undefined &&
    options.typ !== null &&
    (typeof options.typ !== 'string' || options.typ === '')
  ) {
    problems.push('typ: a media type or null');
  }
  for (const name of ['clockToleranceSec', 'maxTokenAgeSec', 'maxTokenBytes'] as const) {
    if (!isNonNegative(options[name])) problems.push(`${name}: a non-negative number`);
  }
  if (options.cache !== undefined && options.cache !== false) {
    const max = options.cache.maxEntries;
    if (max !== undefined && (!Number.isSafeInteger(max) || max < 1))
      problems.push('cache.maxEntries: a positive integer');
  }
  return problems;
}

/**
 * Creates the access-token verifier every Gatehouse service uses (RFC 9068 JWT access tokens
 * checked per RFC 8725). Options are checked here, once; `verify` only does per-token work.
 */
export function createVerifier(options: VerifierOptions): Verifier {
  const problems = checkOptions(options);
  if (problems.length > 0) throw new GatehouseError('ERR_CONFIG_INVALID', { detail: problems.join('; ') });

  const now = options.now ?? Date.now;
  const onEvent: GuardEventListener = options.onEvent ?? (() => undefined);
  const stats = createStats();
  const algorithms = allowlistOf(options);
  const allowed = new Set(algorithms);
  const headerPolicy: HeaderPolicy = {
    algorithms: allowed,
    keyMode: options.secret === undefined ? 'asymmetric' : 'symmetric',
    typ: options.typ === undefined ? DEFAULTS.typ : options.typ,
  };
  const clockToleranceSec = options.clockToleranceSec ?? DEFAULTS.clockToleranceSec;
  const claimsPolicy: ClaimsPolicy = {
    issuers: new Set(asList(options.issuer)),
    audiences: new Set(asList(options.audience)),
    requiredClaims: options.requiredClaims ?? DEFAULTS.requiredClaims,
    clockToleranceSec,
    maxTokenAgeSec: options.maxTokenAgeSec ?? DEFAULTS.maxTokenAgeSec,
    rolesClaim: options.rolesClaim ?? 'roles',
    tenantClaim: options.tenantClaim ?? 'tenant',
  };
  const maxTokenBytes = options.maxTokenBytes ?? DEFAULTS.maxTokenBytes;

  let keys: KeySource;
  if (options.jwksUri !== undefined) {
    keys = new RemoteKeySet(options.jwksUri, options.jwksOptions ?? {}, {
      algorithms: allowed,
      now,
      onEvent,
      stats,
    });
  } else if (options.jwks !== undefined) {
    keys = createStaticKeySource(options.jwks, allowed, onEvent);
  } else {
    const secret = options.secret as string | Uint8Array;
    keys = createSecretKeySource(typeof secret === 'string' ? Buffer.from(secret) : secret);
  }

  const cache =
    options.cache === false
      ? undefined
      : new LruCache<string, CacheEntry>(options.cache?.maxEntries ?? DEFAULTS.cacheEntries);
  const revoked = new RevocationList(claimsPolicy.maxTokenAgeSec + clockToleranceSec, now);
  const source = options.revocation;
  const unsubscribe = source?.subscribe?.((target) => revoked.add(target));

  async function checkRevocation(principal: Principal): Promise<void> {
    if (revoked.covers(principal)) fail('ERR_JWT_REVOKED');
    if (source?.isRevoked === undefined) return;
    let isRevoked: boolean;
    try {
      isRevoked = await source.isRevoked(principal);
    } catch (err) {
      // Deny by default: an unknown revocation status is not a valid token.
      onEvent({ type: 'revocation.source_failed' });
      throw new GuardError('ERR_JWT_REVOCATION_UNAVAILABLE', { cause: err });
    }
    if (isRevoked) fail('ERR_JWT_REVOKED');
  }

  async function verifyUncached(token: string, cacheKey: string | undefined): Promise<Principal> {
    const jws = parseCompactJws(token);
    const alg = checkHeader(jws.header, headerPolicy);
    const key = await keys.select(alg, jws.header['kid'] as string | undefined);
    verifySignature(alg, key.key, jws.signingInput, jws.signature);
    const principal = validateClaims(parseJsonObject(jws.payload), claimsPolicy, now());
    await checkRevocation(principal);
    if (cache !== undefined && cacheKey !== undefined) {
      cache.set(cacheKey, { principal, expiresAtMs: principal.expiresAt * 1000, key });
    }
    return principal;
  }

  async function verifyCachedEntry(cacheKey: string, entry: CacheEntry): Promise<Principal> {
    await checkRevocation(entry.principal);
    return entry.principal;
  }

  function counted(promise: Promise<Principal>): Promise<Principal> {
    return promise.then(
      (principal) => {
        stats.verified++;
        return principal;
      },
      (err: unknown) => {
        stats.refused++;
        throw err;
      },
    );
  }

  function verify(token: string): Promise<Principal> {
    if (typeof token !== 'string' || token.length === 0)
      return counted(Promise.reject(new GuardError('ERR_JWT_MALFORMED')));
    if (token.length > maxTokenBytes) return counted(Promise.reject(new GuardError('ERR_JWT_TOO_LARGE')));
    if (cache === undefined) return counted(verifyUncached(token, undefined));
    // The cache is keyed by a digest: no bearer token is kept in memory, and a hit means the same token.
    const cacheKey = hash('sha256', token, 'base64');
    const entry = cache.get(cacheKey);
    if (entry !== undefined) {
      // A hit needs the token unexpired, its key still published and the key set current.
      if (entry.expiresAtMs > now() && entry.key.active && keys.isCurrent?.() !== false) {
        stats.cacheHits++;
        if (source?.isRevoked === undefined && !revoked.covers(entry.principal)) {
          stats.verified++;
          return Promise.resolve(entry.principal);
        }
        return counted(
          verifyCachedEntry(cacheKey, entry).catch((err: unknown) => {
            cache.delete(cacheKey);
            throw err;
          }),
        );
      }
      cache.delete(cacheKey);
    }
    stats.cacheMisses++;
    return counted(verifyUncached(token, cacheKey));
  }

  function verifyFromCache(token: string): Principal | undefined {
    // Exactly the conditions under which `verify` answers a hit without awaiting anything.
    if (cache === undefined || source?.isRevoked !== undefined) return undefined;
    if (typeof token !== 'string' || token.length === 0 || token.length > maxTokenBytes) return undefined;
    const entry = cache.get(hash('sha256', token, 'base64'));
    if (
      entry === undefined ||
      entry.expiresAtMs <= now() ||
      !entry.key.active ||
      keys.isCurrent?.() === false ||
      revoked.covers(entry.principal)
    )
      return undefined;
    stats.cacheHits++;
    stats.verified++;
    return entry.principal;
  }

  if (options.jwksUri !== undefined && options.prewarm !== false) {
    // Errors are reported through onEvent and retried by the first verification.
    keys.prewarm().catch(() => undefined);
  }

  return {
    verify,
    verifyFromCache,
    revoke: (target) => revoked.add(target),
    prewarm: () => keys.prewarm(),
    refreshKeys: async () => {
      await keys.refresh?.();
    },
    stats: () => ({ ...stats, cacheEntries: cache?.size ?? 0 }),
    close: () => unsubscribe?.(),
    algorithms: Object.freeze([...algorithms]),
  };
}
