import {
  GatehouseError,
  buildAuditActor,
  createLogger,
  emitAuditEvent,
  toErrorResponse,
  type AuditEvent,
  type AuditSink,
  type HttpErrorResponse,
} from '@gatehouse/core';
import { createDpopVerifier, type DpopVerifier } from '../dpop/create-dpop-verifier.js';
import { fail, isGuardError } from '../errors.js';
import { equalsConstantTime } from '../lib/constant-time.js';
import type { Verifier } from '../jwt/create-verifier.js';
import type { Principal } from '../jwt/principal.js';
import { confirmCertificateBinding } from '../mtls/certificate-binding.js';
import type { PeerCertificate } from '../mtls/peer-certificate.js';
import { requireScopes } from '../scopes/require-scopes.js';

/** The part of a logger guard writes to (pino's shape). */
export interface GuardLogger {
  info(object: object, message: string): void;
  warn(object: object, message: string): void;
  error(object: object, message: string): void;
}

export interface GuardOptions {
  readonly verifier: Verifier;
  /** Scopes every request must carry (default none). */
  readonly scopes?: readonly string[];
  readonly scopeMode?: 'all' | 'any';
  /**
   * DPoP (RFC 9449) acceptance: a verifier from `createDpopVerifier` (default: one with an
   * in-process replay store), or false to refuse the DPoP scheme. DPoP-bound tokens are never
   * accepted as Bearer either way.
   */
  readonly dpop?: DpopVerifier | false;
  /** `realm` in challenges. */
  readonly realm?: string;
  /** Origin clients use to reach this service (DPoP `htu`), e.g. `https://api.example.com`. */
  readonly publicOrigin?: string;
  readonly logger?: GuardLogger;
  /** Receives a `token.verify` event for every request. */
  readonly audit?: AuditSink;
  /** Component name in audit events (default `guard`). */
  readonly component?: string;
  readonly now?: () => number;
}

/** A request as guard sees it, built by each framework adapter. */
export interface GuardRequest {
  readonly method: string;
  /** Request target: path and query. */
  readonly path: string;
  readonly host: string | undefined;
  readonly secure: boolean;
  /** Every `Authorization` field value (duplicates are refused). */
  readonly authorization: readonly string[];
  /** Every `DPoP` field value. */
  readonly dpop: readonly string[];
  readonly peerCertificate: PeerCertificate | undefined;
  readonly sourceIp?: string | undefined;
  readonly requestId?: string | undefined;
}

export interface Guard {
  /** Authenticates and applies scope, DPoP and certificate-binding rules; throws `GuardError`. */
  authenticate(request: GuardRequest): Promise<Principal>;
  /** The response for a refusal (logged here with its reason; the client gets no detail). */
  refuse(err: unknown, request: GuardRequest): HttpErrorResponse;
}

// RFC 6750 §2.1: b64token = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="
const CREDENTIALS = /^([A-Za-z][A-Za-z0-9!#$%&'*+.^_`|~-]*) +([A-Za-z0-9\-._~+/]+=*)$/;
const SCHEME = /^([A-Za-z][A-Za-z0-9!#$%&'*+.^_`|~-]*)(?: |$)/;

const schemeOf = (request: GuardRequest): 'Bearer' | 'DPoP' | undefined => {
  const match = SCHEME.exec(request.authorization[0] ?? '');
  const scheme = match?.[1]?.toLowerCase();
  return scheme === 'bearer' ? 'Bearer' : scheme === 'dpop' ? 'DPoP' : undefined;
};

/**
 * The framework-neutral core of the adapters: one behaviour for node:http, Fastify, Express and
 * Hono. Options are checked once, here.
 */
export function createGuard(options: GuardOptions): Guard {
  if (typeof (options.verifier as Partial<Verifier> | undefined)?.verify !== 'function') {
    throw new GatehouseError('ERR_CONFIG_INVALID', { detail: 'guard: verifier required' });
  }
  if (options.publicOrigin !== undefined && !/^https?:\/\/[^/?#]+$/.test(options.publicOrigin)) {
    throw new GatehouseError('ERR_CONFIG_INVALID', {
      detail: 'guard: publicOrigin must be scheme://host[:port]',
    });
  }
  const { verifier, scopes = [], scopeMode = 'all' } = options;
  const dpop =
    options.dpop === false
      ? undefined
      : (options.dpop ?? createDpopVerifier(options.now ? { now: options.now } : {}));
  const logger: GuardLogger = options.logger ?? createLogger({ component: options.component ?? 'guard' });
  const component = options.component ?? 'guard';
  const now = options.now ?? Date.now;
  const schemes = dpop === undefined ? (['Bearer'] as const) : (['Bearer', 'DPoP'] as const);
  // Who a refused request acted for, when the token itself was valid (e.g. a missing scope):
  // the audit event of the refusal then names the actor.
  const actors = new WeakMap<object, Principal>();

  function audit(
    request: GuardRequest,
    outcome: 'success' | 'failure',
    principal?: Principal,
    reason?: string,
  ): void {
    if (options.audit === undefined) return;
    const event: AuditEvent = {
      time: new Date(now()).toISOString(),
      action: 'token.verify',
      outcome,
      component,
      ...(principal === undefined ? {} : { actor: buildAuditActor(principal) }),
      ...(request.sourceIp === undefined ? {} : { sourceIp: request.sourceIp }),
      ...(request.requestId === undefined ? {} : { requestId: request.requestId }),
      ...(reason === undefined ? {} : { reason }),
    };
    emitAuditEvent(options.audit, event, (err) => {
      logger.error({ err }, 'audit sink failed');
    });
  }

  async function authenticate(request: GuardRequest): Promise<Principal> {
    const { authorization } = request;
    if (authorization.length === 0) fail('ERR_OAUTH_TOKEN_MISSING');
    if (authorization.length > 1) fail('ERR_OAUTH_INVALID_REQUEST', 'several Authorization fields');
    const scheme = schemeOf(request);
    // RFC 6750 §3.1: another scheme means no bearer credentials, answered with a bare challenge.
    if (scheme === undefined || (scheme === 'DPoP' && dpop === undefined))
      fail('ERR_OAUTH_TOKEN_MISSING', 'unsupported scheme');
    const match = CREDENTIALS.exec(authorization[0] as string);
    if (match === null) fail('ERR_OAUTH_INVALID_REQUEST', 'credentials syntax');
    const token = match[2] as string;

    const principal = await verifier.verify(token);
    try {
      await checkBindingsAndScopes(request, scheme, token, principal);
    } catch (err) {
      if (typeof err === 'object' && err !== null) actors.set(err, principal);
      throw err;
    }
    audit(request, 'success', principal);
    return principal;
  }

  async function checkBindingsAndScopes(
    request: GuardRequest,
    scheme: 'Bearer' | 'DPoP',
    token: string,
    principal: Principal,
  ): Promise<void> {
    const jkt = principal.cnf?.jkt;
    if (jkt !== undefined) {
      // RFC 9449 §7.1: a DPoP-bound token is never good as a bearer token.
      if (scheme !== 'DPoP' || dpop === undefined) fail('ERR_DPOP_BINDING_REQUIRED');
      if (request.dpop.length === 0) fail('ERR_DPOP_PROOF_MISSING');
      if (request.dpop.length > 1) fail('ERR_DPOP_MULTIPLE_PROOFS');
      // No Host (HTTP/1.0) means no request URI to compare with: "http://" + "/a/b" would parse
      // as http://a/b and match a proof made for host "a" (RFC 9449 §4.3 step 9).
      const origin =
        options.publicOrigin ??
        (request.host
          ? `${request.secure ? 'https' : 'http'}://${request.host}`
          : fail('ERR_DPOP_HTU_MISMATCH', 'no Host'));
      const proof = await dpop.verify(
        request.dpop[0] as string,
        { method: request.method, url: origin + request.path },
        token,
      );
      if (!equalsConstantTime(proof.jkt, jkt)) fail('ERR_DPOP_JKT_MISMATCH');
    } else if (scheme === 'DPoP') {
      fail('ERR_DPOP_TOKEN_NOT_BOUND');
    }
    confirmCertificateBinding(principal, request.peerCertificate);
    requireScopes(principal, scopes, { mode: scopeMode });
  }

  function refuse(err: unknown, request: GuardRequest): HttpErrorResponse {
    const requestScheme = schemeOf(request);
    const response = toErrorResponse(err, {
      schemes,
      // Only a scheme that is offered can carry the error: with DPoP off, a `DPoP` request
      // (e.g. one of two Authorization fields) would otherwise get a Bearer challenge without it.
      ...(requestScheme === undefined || !(schemes as readonly string[]).includes(requestScheme)
        ? {}
        : { requestScheme }),
      ...(options.realm === undefined ? {} : { realm: options.realm }),
      ...(dpop === undefined ? {} : { dpopAlgs: dpop.algorithms }),
      ...(isGuardError(err) && err.requiredScopes ? { scope: err.requiredScopes } : {}),
      ...(request.requestId === undefined ? {} : { instance: request.requestId }),
    });
    const reason = isGuardError(err) ? err.code : 'ERR_INTERNAL';
    const context = {
      code: reason,
      ...(isGuardError(err) && err.detail !== undefined ? { detail: err.detail } : {}),
      method: request.method,
      requestId: request.requestId,
      sourceIp: request.sourceIp,
    };
    if (response.status >= 500)
      logger.error(isGuardError(err) ? context : { ...context, err }, 'request refused');
    else logger.info(context, 'request refused');
    audit(request, 'failure', typeof err === 'object' && err !== null ? actors.get(err) : undefined, reason);
    return response;
  }

  return { authenticate, refuse };
}
