import { GatehouseError, hashToken, isGatehouseError, sharedReplayStore } from '@gatehouse/core';
import {
  createDpopVerifier,
  createVerifier,
  type Algorithm,
  type Principal,
  type Verifier,
} from '@gatehouse/guard';
import { createAuthServerHttp } from './auth-server-http.js';
import { classifyFailure, refuse, type AuthFailure } from './classify-failure.js';
import { confirmBinding } from './confirm-binding.js';
import { discoverEndpoints, isAllowedEndpoint, type AuthServerEndpoints } from './discover-endpoints.js';
import { exchangeToken, type ExchangedToken } from './exchange-token.js';
import { extractCredentials, looksLikeJwt, type Credentials } from './extract-credentials.js';
import { introspectToken, type ActiveToken } from './introspect-token.js';
import { createRevocationFeedPoller, type RevocationFeedPoller } from './poll-revocation-feed.js';
import { followKeyEvents } from './follow-key-events.js';
import { RecentRevocations } from './recent-revocations.js';
import { REVOCATION_CHANNEL, parseRevocationEvent, type RevocationEvent } from './revocation-events.js';
import { MAX_TOKEN_AGE_MS, RevokedTargets } from './revoked-targets.js';
import { ExpiryCache, TokenCache, type RevocableEntry } from './token-cache.js';
import type {
  AuthOutcome,
  AuthPrincipal,
  AuthRequest,
  GatewayAuthDeps,
  GatewayAuthOptions,
  GatewayAuthenticator,
  RouteAuth,
} from './types.js';

type Success = Extract<AuthOutcome, { ok: true }>;

/** Who the external token speaks for, whatever its kind. */
interface Subject extends RevocableEntry {
  readonly clientId: string | undefined;
}

interface IntrospectionEntry extends Subject {
  readonly token: ActiveToken;
  /** Until when the answer is used without asking again (min(exp, now + maxTtlMs)). */
  readonly freshUntilMs: number;
  /** The token's `exp`: while the auth server is unreachable the answer serves until then. */
  readonly expiresAtMs: number;
}

interface ExchangeEntry extends RevocableEntry {
  readonly outcome: Success;
  /** Until when the internal JWT is reused (shortly before its `exp`). */
  readonly refreshAtMs: number;
  readonly expiresAtMs: number;
  readonly kid: string | undefined;
}

const DEFAULT_MAX_TTL_MS = 60_000;
const DEFAULT_REVOCATION_POLL_MS = 1000;
const DEFAULT_REVOCATION_RESYNC_MS = 30_000;
/** Compromised keys remembered, so one announced twice (pub/sub and feed) rebuilds the verifier once. */
const MAX_REVOKED_KIDS = 64;
/** A cached internal JWT is replaced this long before it expires (at most, see `refreshMargin`). */
const MAX_REFRESH_MARGIN_MS = 10_000;
/** How often cached answers of expired tokens are dropped. */
const SWEEP_INTERVAL_MS = 60_000;

/** A stale internal JWT is still forwarded (auth server down) only if it lives at least this long. */
const STALE_MIN_REMAINING_MS = 1000;

const NONE_OUTCOME: Success = Object.freeze({
  ok: true,
  principal: Object.freeze({
    sub: undefined,
    clientId: undefined,
    scopes: new Set<string>(),
    tokenKind: 'none',
  }) satisfies AuthPrincipal,
  upstreamAuthorization: undefined,
});

const INACTIVE = (): AuthFailure =>
  // No dedicated "inactive" code yet: a token the auth server calls inactive is refused like a revoked one.
  refuse(new GatehouseError('ERR_GATEWAY_TOKEN_INACTIVE'), 'inactive');

function checkOptions(options: GatewayAuthOptions): string[] {
  const problems: string[] = [];
  const positiveInt = (value: unknown): boolean => Number.isSafeInteger(value) && (value as number) > 0;
  const nonNegative = (value: unknown): boolean =>
    typeof value === 'number' && Number.isFinite(value) && value >= 0;
  if (typeof options.issuer !== 'string' || !isAllowedEndpoint(options.issuer))
    problems.push('issuer: an https URL (plain http only on loopback)');
  if (options.jwksUri !== undefined && !isAllowedEndpoint(options.jwksUri))
    problems.push('jwksUri: an https URL (plain http only on loopback)');
  if (
    !Array.isArray(options.jwtAudience) ||
    options.jwtAudience.length === 0 ||
    options.jwtAudience.some((a) => typeof a !== 'string' || a === '')
  )
    problems.push('jwtAudience: one or more non-empty strings');
  if (typeof options.client.clientId !== 'string' || options.client.clientId === '')
    problems.push('client.clientId: required');
  if (typeof options.client.clientSecret !== 'string' || options.client.clientSecret === '')
    problems.push('client.clientSecret: required');
  if (!positiveInt(options.introspectionCache.maxEntries))
    problems.push('introspectionCache.maxEntries: a positive integer');
  if (!nonNegative(options.introspectionCache.negativeTtlMs))
    problems.push('introspectionCache.negativeTtlMs: a non-negative number');
  if (options.introspectionCache.maxTtlMs !== undefined && !positiveInt(options.introspectionCache.maxTtlMs))
    problems.push('introspectionCache.maxTtlMs: a positive integer');
  if (!positiveInt(options.exchangeCache.maxEntries))
    problems.push('exchangeCache.maxEntries: a positive integer');
  if (!positiveInt(options.timeoutMs)) problems.push('timeoutMs: a positive integer');
  if (options.clockToleranceSec !== undefined && !nonNegative(options.clockToleranceSec))
    problems.push('clockToleranceSec: a non-negative number');
  if (options.jwksMaxStaleSec !== undefined && !nonNegative(options.jwksMaxStaleSec))
    problems.push('jwksMaxStaleSec: a non-negative number');
  if (options.revocationPollMs !== undefined && !positiveInt(options.revocationPollMs))
    problems.push('revocationPollMs: a positive integer');
  if (options.revocationResyncMs !== undefined && !positiveInt(options.revocationResyncMs))
    problems.push('revocationResyncMs: a positive integer');
  return problems;
}

/** How long before its `exp` an internal JWT is replaced: a fifth of its life, 1 s to 10 s. */
function refreshMargin(lifetimeMs: number): number {
  return Math.min(MAX_REFRESH_MARGIN_MS, Math.max(1000, Math.floor(lifetimeMs / 5)));
}

const isFailure = (value: object): value is AuthFailure => (value as Partial<AuthFailure>).ok === false;

function single<T>(inFlight: Map<string, Promise<T>>, key: string, run: () => Promise<T>): Promise<T> {
  let promise = inFlight.get(key);
  if (promise === undefined) {
    promise = run().finally(() => inFlight.delete(key));
    inFlight.set(key, promise);
  }
  return promise;
}

/**
 * The gateway's authentication (issue 4): JWTs verified locally with guard, opaque tokens
 * introspected (RFC 7662) and swapped for an internal JWT per service audience (RFC 8693, the
 * phantom-token pattern), sender constraints enforced (RFC 9449, RFC 8705), caches evicted by the
 * auth server's revocation events. Reads the auth server's metadata (RFC 8414) first; rejects
 * when it cannot (ERR_GATEWAY_AUTH_UNAVAILABLE, ERR_CONFIG_INVALID).
 */
export async function createGatewayAuthenticator(
  options: GatewayAuthOptions,
  deps: GatewayAuthDeps,
): Promise<GatewayAuthenticator> {
  const problems = checkOptions(options);
  if (problems.length > 0)
    throw new GatehouseError('ERR_CONFIG_INVALID', { detail: `gateway auth: ${problems.join('; ')}` });

  const now = deps.now ?? Date.now;
  const { logger, state } = deps;
  const { issuer, timeoutMs } = options;
  const maxTtlMs = options.introspectionCache.maxTtlMs ?? DEFAULT_MAX_TTL_MS;
  const negativeTtlMs = options.introspectionCache.negativeTtlMs;
  const jwtAudience = new Set(options.jwtAudience);
  const externalAudience = new Set(options.externalAudience ?? options.jwtAudience);

  const http = createAuthServerHttp({ ...options.client, timeoutMs });
  let endpoints: AuthServerEndpoints;
  try {
    endpoints = await discoverEndpoints(http, issuer);
  } catch (err) {
    await http.close();
    throw err;
  }
  const jwksUri = options.jwksUri ?? endpoints.jwks;

  const buildVerifier = (): Verifier =>
    createVerifier({
      issuer,
      audience: options.jwtAudience,
      jwksUri,
      // RFC 9068 §2.1, §4: JWT access tokens carry typ at+jwt.
      typ: 'at+jwt',
      now,
      cache: { maxEntries: options.introspectionCache.maxEntries },
      // While the JWKS endpoint is unreachable, cached keys verify for jwksMaxStaleSec past their
      // freshness, then JWTs get 503 (ERR_JWKS_STALE → ERR_GATEWAY_AUTH_UNAVAILABLE).
      jwksOptions: {
        timeoutMs,
        ...(options.jwksMaxStaleSec === undefined ? {} : { maxStaleSec: options.jwksMaxStaleSec }),
      },
      ...(options.algorithms === undefined ? {} : { algorithms: options.algorithms as readonly Algorithm[] }),
      ...(options.clockToleranceSec === undefined ? {} : { clockToleranceSec: options.clockToleranceSec }),
      onEvent: (event) => {
        if (event.type === 'jwks.fetch_failed' || event.type === 'jwks.stale_served')
          logger.warn({ event: event.type }, 'gateway auth: key set');
      },
    });
  // JWT revocations outlive a verifier: a new one (compromised key) is given them all again.
  const revokedTargets = new RevokedTargets(MAX_TOKEN_AGE_MS, now);
  const revokedKids = new Set<string>();
  let verifier: Verifier;
  try {
    verifier = buildVerifier();
  } catch (err) {
    await http.close();
    throw err;
  }
  const dpop = createDpopVerifier({
    // RFC 9449 §11.1: seen proof ids are shared by every gateway instance.
    replayStore: sharedReplayStore(state, 'gateway:dpop:', now),
    now,
  });

  const introspections = new TokenCache<IntrospectionEntry>(options.introspectionCache.maxEntries);
  const inactive = new ExpiryCache<true>(options.introspectionCache.maxEntries);
  const exchanges = new TokenCache<ExchangeEntry>(options.exchangeCache.maxEntries);
  const exchangeRefusals = new ExpiryCache<AuthFailure>(options.exchangeCache.maxEntries);
  const introspecting = new Map<string, Promise<IntrospectionEntry | AuthFailure>>();
  const exchanging = new Map<string, Promise<Success | AuthFailure>>();
  // Longer than any call can take: a late answer computed before a revocation is caught here.
  const revocations = new RecentRevocations(Math.max(4 * timeoutMs, 10_000), now);
  /** Outcomes of JWTs forwarded unchanged, per cached principal of guard (one per token). */
  const jwtOutcomes = new WeakMap<Principal, Success>();
  const counters = { introspectionHits: 0, introspectionMisses: 0, exchangeHits: 0, exchangeMisses: 0 };
  let retiredVerifyHits = 0;
  let authServerHealthy = true;
  let unsubscribe: (() => Promise<void>) | undefined;
  let feed: RevocationFeedPoller | undefined;
  let sweeper: NodeJS.Timeout | undefined;

  /** Drops the cached answers of expired tokens (tokens seen once would otherwise stay until the bound). */
  function sweepExpired(): void {
    const t = now();
    introspections.sweepExpired(t);
    inactive.sweepExpired(t);
    exchanges.sweepExpired(t);
    exchangeRefusals.sweepExpired(t);
  }

  function noteAuthServer(ok: boolean, err?: unknown): void {
    if (ok === authServerHealthy) return;
    authServerHealthy = ok;
    // Logged on transitions only: an outage must not write one line per request.
    if (ok) logger.info('gateway auth: auth server reachable again');
    else
      logger.warn(
        isGatehouseError(err) ? { code: err.code, detail: err.detail } : { err },
        'gateway auth: auth server unavailable, serving cached results only',
      );
  }

  // ---- opaque tokens: introspection (RFC 7662) --------------------------------------------------

  async function fetchIntrospection(key: string, token: string): Promise<IntrospectionEntry | AuthFailure> {
    const answer = await introspectToken(http, endpoints.introspection, token, issuer);
    noteAuthServer(true);
    const t = now();
    if (!answer.active) {
      introspections.delete(key);
      inactive.set(key, true, t + negativeTtlMs);
      return INACTIVE();
    }
    const expiresAtMs = answer.exp === undefined ? t + maxTtlMs : answer.exp * 1000;
    if (expiresAtMs <= t) return refuse(new GatehouseError('ERR_JWT_EXPIRED'), 'expired');
    const entry: IntrospectionEntry = {
      token: answer,
      freshUntilMs: Math.min(expiresAtMs, t + maxTtlMs),
      expiresAtMs,
      jtis: answer.jti === undefined ? [] : [answer.jti],
      sub: answer.sub,
      sid: answer.sid,
      issuedAt: answer.iat,
      clientId: answer.clientId,
    };
    if (revocations.covers(entry)) return refuse(new GatehouseError('ERR_JWT_REVOKED'), 'revoked');
    introspections.set(key, entry);
    return entry;
  }

  /** A cached answer still fresh (or a remembered inactive one); undefined: ask the auth server. */
  function introspectCached(key: string, t: number): IntrospectionEntry | AuthFailure | undefined {
    const entry = introspections.get(key);
    if (entry !== undefined) {
      if (entry.freshUntilMs > t) {
        counters.introspectionHits++;
        return entry;
      }
      // Past its exp the entry stays until the auth server is asked: it answers for it when it cannot.
    } else if (inactive.get(key, t) !== undefined) {
      counters.introspectionHits++;
      return INACTIVE();
    }
    return undefined;
  }

  async function introspectRemote(key: string, token: string): Promise<IntrospectionEntry | AuthFailure> {
    counters.introspectionMisses++;
    try {
      return await single(introspecting, key, () => fetchIntrospection(key, token));
    } catch (err) {
      noteAuthServer(false, err);
      // Fail closed, except that an answer already cached keeps serving until the token's exp;
      // past that exp the token is known to be expired (401, not 503: retrying will not help).
      const stale = introspections.get(key);
      if (stale !== undefined) {
        if (stale.expiresAtMs > now()) return stale;
        introspections.delete(key);
        if (stale.token.exp !== undefined) return refuse(new GatehouseError('ERR_JWT_EXPIRED'), 'expired');
      }
      return classifyFailure(err);
    }
  }

  // ---- the phantom step: token exchange (RFC 8693) ----------------------------------------------

  async function fetchExchange(
    key: string,
    exchangeKey: string,
    token: string,
    subject: Subject,
    audience: string,
    tokenKind: 'jwt' | 'opaque',
  ): Promise<Success | AuthFailure> {
    const answer = await exchangeToken(http, endpoints.token, token, audience, now);
    noteAuthServer(true);
    const t = now();
    if (!answer.ok) {
      const failure =
        answer.error === 'invalid_target'
          ? // The token's client may not reach this service: the token is not for this audience.
            refuse(
              new GatehouseError('ERR_JWT_AUDIENCE_INVALID', { detail: 'token exchange: invalid_target' }),
              'invalid',
            )
          : INACTIVE();
      exchangeRefusals.set(exchangeKey, failure, t + negativeTtlMs);
      if (answer.error === 'invalid_grant') {
        // The subject token died since it was introspected: forget its introspection too.
        introspections.delete(key);
        inactive.set(key, true, t + negativeTtlMs);
      }
      return failure;
    }
    const entry = buildExchangeEntry(answer, subject, tokenKind, t);
    if (revocations.covers(entry)) return refuse(new GatehouseError('ERR_JWT_REVOKED'), 'revoked');
    exchanges.set(exchangeKey, entry);
    return entry.outcome;
  }

  function buildExchangeEntry(
    answer: ExchangedToken,
    subject: Subject,
    tokenKind: 'jwt' | 'opaque',
    t: number,
  ): ExchangeEntry {
    const principal: AuthPrincipal = Object.freeze({
      sub: subject.sub,
      clientId: subject.clientId,
      // What the service will see: only the scopes of its audience survive the exchange.
      scopes: answer.scopes,
      tokenKind,
    });
    return {
      outcome: Object.freeze({ ok: true, principal, upstreamAuthorization: `Bearer ${answer.jwt}` }),
      refreshAtMs: answer.expiresAtMs - refreshMargin(answer.expiresAtMs - t),
      expiresAtMs: answer.expiresAtMs,
      kid: answer.kid,
      jtis: answer.jti === undefined ? subject.jtis : [...subject.jtis, answer.jti],
      sub: subject.sub,
      sid: subject.sid,
      issuedAt: subject.issuedAt,
    };
  }

  /** Synchronous on a cache hit (the common case): a promise only when the auth server is asked. */
  function exchange(
    key: string,
    token: string,
    subject: Subject,
    audience: string,
    tokenKind: 'jwt' | 'opaque',
  ): Success | AuthFailure | Promise<Success | AuthFailure> {
    const exchangeKey = `${key} ${audience}`;
    const t = now();
    const entry = exchanges.get(exchangeKey);
    if (entry !== undefined) {
      if (entry.refreshAtMs > t) {
        counters.exchangeHits++;
        return entry.outcome;
      }
      if (entry.expiresAtMs - STALE_MIN_REMAINING_MS <= t) exchanges.delete(exchangeKey);
    } else {
      const refused = exchangeRefusals.get(exchangeKey, t);
      if (refused !== undefined) {
        counters.exchangeHits++;
        return refused;
      }
    }
    return exchangeRemote(key, exchangeKey, token, subject, audience, tokenKind);
  }

  async function exchangeRemote(
    key: string,
    exchangeKey: string,
    token: string,
    subject: Subject,
    audience: string,
    tokenKind: 'jwt' | 'opaque',
  ): Promise<Success | AuthFailure> {
    counters.exchangeMisses++;
    try {
      return await single(exchanging, exchangeKey, () =>
        fetchExchange(key, exchangeKey, token, subject, audience, tokenKind),
      );
    } catch (err) {
      noteAuthServer(false, err);
      const stale = exchanges.get(exchangeKey);
      if (stale !== undefined && stale.expiresAtMs - STALE_MIN_REMAINING_MS > now()) return stale.outcome;
      return classifyFailure(err);
    }
  }

  // ---- per token kind ---------------------------------------------------------------------------
  // Each step answers synchronously when its cache can, so a request whose token is cached (the
  // common case) is authenticated without a promise; every check runs either way, in the same order.

  function authenticateOpaque(
    credentials: Credentials,
    request: AuthRequest,
    route: RouteAuth,
  ): AuthOutcome | Promise<AuthOutcome> {
    const key = hashToken(credentials.token);
    const subject = introspectCached(key, now()) ?? introspectRemote(key, credentials.token);
    return subject instanceof Promise
      ? subject.then((answer) => admitOpaque(answer, key, credentials, request, route))
      : admitOpaque(subject, key, credentials, request, route);
  }

  function admitOpaque(
    subject: IntrospectionEntry | AuthFailure,
    key: string,
    credentials: Credentials,
    request: AuthRequest,
    route: RouteAuth,
  ): AuthOutcome | Promise<AuthOutcome> {
    if (isFailure(subject)) return subject;
    const { aud } = subject.token;
    // RFC 8707: a token restricted to other audiences is not good here (no aud: the exchange decides).
    if (aud !== undefined && !aud.some((a) => a === route.audience || jwtAudience.has(a))) {
      return refuse(
        new GatehouseError('ERR_JWT_AUDIENCE_INVALID', { detail: 'introspection: aud' }),
        'invalid',
      );
    }
    const { token } = subject;
    if (token.jkt !== undefined || token.x5t !== undefined || credentials.scheme === 'DPoP')
      return confirmBinding(token, credentials, request, dpop).then(() =>
        exchange(key, credentials.token, subject, route.audience, 'opaque'),
      );
    return exchange(key, credentials.token, subject, route.audience, 'opaque');
  }

  function authenticateJwt(
    credentials: Credentials,
    request: AuthRequest,
    route: RouteAuth,
  ): AuthOutcome | Promise<AuthOutcome> {
    const cached = verifier.verifyFromCache?.(credentials.token);
    if (cached !== undefined) return admitJwt(cached, credentials, request, route);
    return verifier
      .verify(credentials.token)
      .then((principal) => admitJwt(principal, credentials, request, route));
  }

  function admitJwt(
    principal: Principal,
    credentials: Credentials,
    request: AuthRequest,
    route: RouteAuth,
  ): AuthOutcome | Promise<AuthOutcome> {
    const jkt = principal.cnf?.jkt;
    const x5t = principal.cnf?.['x5t#S256'];
    const bound = jkt !== undefined || x5t !== undefined;
    // RFC 8707 / zero trust: a token minted for this route's service travels on unchanged; one for
    // the gateway's own audience is swapped for the service's; one for another service is refused
    // here instead of being relayed to a service that must refuse it.
    const forRoute = principal.audience.includes(route.audience);
    if (!forRoute && !principal.audience.some((a) => externalAudience.has(a)))
      return refuse(new GatehouseError('ERR_JWT_AUDIENCE_INVALID', { detail: 'not this route' }), 'invalid');
    // The common case (an unbound Bearer token for the route) stays free of the binding machinery.
    if (bound || credentials.scheme === 'DPoP')
      return confirmBinding({ jkt, x5t }, credentials, request, dpop).then(() =>
        bound || !forRoute
          ? exchangeJwt(principal, credentials, route)
          : unboundOutcome(principal, credentials),
      );
    return forRoute ? unboundOutcome(principal, credentials) : exchangeJwt(principal, credentials, route);
  }

  function unboundOutcome(principal: Principal, credentials: Credentials): Success {
    let outcome = jwtOutcomes.get(principal);
    if (outcome === undefined) {
      outcome = Object.freeze({
        ok: true,
        principal: Object.freeze({
          sub: principal.sub,
          clientId: principal.clientId,
          scopes: new Set(principal.scopes),
          tokenKind: 'jwt',
        }),
        // Forwarded unchanged, with the scheme spelled canonically.
        upstreamAuthorization: `Bearer ${credentials.token}`,
      });
      jwtOutcomes.set(principal, outcome);
    }
    return outcome;
  }

  /**
   * A sender-constrained token cannot travel on (the service holds no proof key), nor can a token
   * for the gateway's external audience (the service accepts only its own): the service gets an
   * unbound internal JWT for its audience instead, as for opaque tokens.
   */
  function exchangeJwt(
    principal: Principal,
    credentials: Credentials,
    route: RouteAuth,
  ): AuthOutcome | Promise<AuthOutcome> {
    return exchange(
      hashToken(credentials.token),
      credentials.token,
      {
        jtis: principal.jti === undefined ? [] : [principal.jti],
        sub: principal.sub,
        sid: principal.sid,
        issuedAt: principal.issuedAt,
        clientId: principal.clientId,
      },
      route.audience,
      'jwt',
    );
  }

  function failed(err: unknown): AuthFailure {
    const failure = classifyFailure(err);
    if (failure.reason === 'unavailable' && !isGatehouseError(err))
      logger.error({ err }, 'gateway auth: unexpected failure');
    return failure;
  }

  function authenticate(request: AuthRequest, route: RouteAuth): AuthOutcome | Promise<AuthOutcome> {
    if (route.mode === 'none') return NONE_OUTCOME;
    try {
      const credentials = extractCredentials(request.authorization);
      const jwt = looksLikeJwt(credentials.token);
      if (jwt && route.mode === 'opaque')
        return refuse(
          new GatehouseError('ERR_JWT_TYP_INVALID', { detail: 'JWT on an opaque-only route' }),
          'invalid',
        );
      if (!jwt && route.mode === 'jwt')
        return refuse(
          new GatehouseError('ERR_JWT_MALFORMED', { detail: 'opaque token on a JWT-only route' }),
          'invalid',
        );
      const outcome = jwt
        ? authenticateJwt(credentials, request, route)
        : authenticateOpaque(credentials, request, route);
      return outcome instanceof Promise ? outcome.catch(failed) : outcome;
    } catch (err) {
      return failed(err);
    }
  }

  // ---- revocation events ------------------------------------------------------------------------

  function replaceVerifier(): void {
    // A compromised key: drop every cached verification and read the key set again, keeping every
    // revocation the old verifier knew.
    const old = verifier;
    retiredVerifyHits += old.stats().cacheHits;
    const next = buildVerifier();
    revokedTargets.forEach((target) => {
      next.revoke(target);
    });
    verifier = next;
    old.close();
  }

  function applyRevocation(event: RevocationEvent): void {
    revocations.add(event);
    revokedTargets.add(event);
    if ('jti' in event) {
      verifier.revoke({ jti: event.jti });
      introspections.evictJti(event.jti);
      exchanges.evictJti(event.jti);
    } else if ('sid' in event) {
      verifier.revoke({ sid: event.sid });
      const matches = (entry: RevocableEntry): boolean => entry.sid === event.sid;
      introspections.evictWhere(matches);
      exchanges.evictWhere(matches);
    } else if ('sub' in event) {
      verifier.revoke({ sub: event.sub, issuedBefore: event.issuedBefore });
      const matches = (entry: RevocableEntry): boolean =>
        entry.sub === event.sub && (entry.issuedAt ?? 0) <= event.issuedBefore;
      introspections.evictWhere(matches);
      exchanges.evictWhere(matches);
    } else {
      // The same key may be announced twice (pub/sub, then the feed): one rebuild is enough.
      if (!revokedKids.has(event.kid)) {
        const oldest = revokedKids.size >= MAX_REVOKED_KIDS ? revokedKids.values().next().value : undefined;
        if (oldest !== undefined) revokedKids.delete(oldest);
        revokedKids.add(event.kid);
        replaceVerifier();
      }
      exchanges.evictWhere((entry) => entry.kid === event.kid);
    }
  }

  function onRevocationMessage(message: string, catchingUp = false): void {
    const event = parseRevocationEvent(message);
    if (event === undefined) {
      logger.warn('gateway auth: unreadable revocation event ignored');
      return;
    }
    // Catching up at start: a revoked key is already gone from the key set this gateway reads,
    // and a token past its exp is refused anyway.
    if (
      catchingUp &&
      ('kid' in event || ('jti' in event && event.exp !== undefined && event.exp * 1000 < now()))
    )
      return;
    try {
      applyRevocation(event);
    } catch (err) {
      logger.error({ err }, 'gateway auth: revocation event not applied');
    }
  }

  return {
    authenticate,
    async start() {
      if (unsubscribe !== undefined) return;
      // Subscribed first, then the feed read: an event lands in one or the other (or both).
      const stopRevocations = await state.subscribe(REVOCATION_CHANNEL, (message) => {
        onRevocationMessage(message);
      });
      // A key published by the auth server is fetched at once, not after the cache or the
      // unknown-kid cooldown: rotation at any pace never meets a verifier without the new key.
      const stopKeyEvents = await followKeyEvents(state, () => verifier.refreshKeys(), { logger });
      const stop = async (): Promise<void> => {
        await Promise.all([stopRevocations(), stopKeyEvents()]);
      };
      if (deps.db !== undefined) {
        const poller = createRevocationFeedPoller({
          db: deps.db,
          state,
          logger,
          pollMs: options.revocationPollMs ?? DEFAULT_REVOCATION_POLL_MS,
          resyncMs: options.revocationResyncMs ?? DEFAULT_REVOCATION_RESYNC_MS,
          apply: onRevocationMessage,
        });
        try {
          await poller.start();
        } catch (err) {
          await stop();
          throw err;
        }
        feed = poller;
      }
      unsubscribe = stop;
      sweeper = setInterval(sweepExpired, SWEEP_INTERVAL_MS);
      sweeper.unref();
    },
    async close() {
      clearInterval(sweeper);
      sweeper = undefined;
      const stop = unsubscribe;
      unsubscribe = undefined;
      await feed?.stop();
      feed = undefined;
      await stop?.();
      verifier.close();
      introspections.clear();
      inactive.clear();
      exchanges.clear();
      exchangeRefusals.clear();
      await http.close();
    },
    stats: () => ({ ...counters, verifyCacheHits: retiredVerifyHits + verifier.stats().cacheHits }),
  };
}
