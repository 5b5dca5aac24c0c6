import { buildProblemResponse, statusTitle, type HttpErrorResponse } from '../http/problem.js';
import { buildWwwAuthenticate } from '../http/www-authenticate.js';
import { ERROR_CODES, type ErrorCodeInfo, type OAuthErrorCode } from './codes.js';
import { isGatehouseError } from './gatehouse-error.js';

export type AuthScheme = 'Bearer' | 'DPoP';

export interface ErrorResponseOptions {
  /** `realm` of the challenges (RFC 6750 §3). */
  readonly realm?: string;
  /** Schemes this resource accepts; each gets a challenge on 401 (default `['Bearer']`). */
  readonly schemes?: readonly AuthScheme[];
  /** The scheme the failed request used; its challenge carries the error (default: the first). */
  readonly requestScheme?: AuthScheme;
  /** RFC 9449 §7.1 `algs` for the DPoP challenge. */
  readonly dpopAlgs?: readonly string[];
  /** Scopes the resource needs, sent with `insufficient_scope` (RFC 6750 §3.1). */
  readonly scope?: readonly string[];
  /** RFC 9457 `instance`, e.g. the request id. */
  readonly instance?: string;
  /**
   * Who answers (default `resource-server`). An authorization server answers every OAuth error
   * with an RFC 6749 §5.2 JSON body and no bearer challenge, and 5xx as `server_error` /
   * `temporarily_unavailable` JSON.
   */
  readonly role?: 'resource-server' | 'authorization-server';
}

/**
 * The one description a client gets per OAuth error. RFC 6750 §3.1 lets a resource say that a token
 * failed; which check failed stays in the server log (no oracle for an attacker).
 */
const PUBLIC_DESCRIPTIONS: Readonly<Partial<Record<OAuthErrorCode, string>>> = {
  invalid_request: 'The request is malformed',
  invalid_token: 'The access token is invalid',
  insufficient_scope: 'The access token does not grant the required scope',
  invalid_dpop_proof: 'The DPoP proof is invalid',
  invalid_client: 'Client authentication failed',
  invalid_grant: 'The grant is invalid, expired or revoked',
  unauthorized_client: 'The client is not allowed to use this grant or response type',
  unsupported_grant_type: 'The grant type is not supported',
  unsupported_response_type: 'The response type is not supported',
  unsupported_token_type: 'The token type is not supported',
  invalid_scope: 'The requested scope is invalid',
  invalid_target: 'The requested resource is invalid',
  invalid_request_uri: 'The request_uri is invalid or expired',
  request_not_supported: 'Request objects are not supported',
  access_denied: 'Access denied',
  login_required: 'Login required',
  consent_required: 'Consent required',
  interaction_required: 'Interaction required',
  use_dpop_nonce: 'Authorization server requires nonce in DPoP proof',
  server_error: 'Unexpected error',
  temporarily_unavailable: 'The service is temporarily unavailable',
};

const RESOURCE_ERRORS: ReadonlySet<OAuthErrorCode> = new Set([
  'invalid_request',
  'invalid_token',
  'insufficient_scope',
  'invalid_dpop_proof',
]);

function challenges(options: ErrorResponseOptions, error?: OAuthErrorCode): string[] {
  const schemes = options.schemes ?? ['Bearer'];
  // RFC 9449 §7.1: a proof error is always answered with the DPoP scheme.
  const target = error === 'invalid_dpop_proof' ? 'DPoP' : (options.requestScheme ?? schemes[0]);
  return schemes.map((scheme) =>
    buildWwwAuthenticate({
      scheme,
      ...(options.realm === undefined ? {} : { realm: options.realm }),
      ...(error !== undefined && scheme === target
        ? {
            error,
            errorDescription: PUBLIC_DESCRIPTIONS[error] ?? error,
            ...(error === 'insufficient_scope' && options.scope ? { scope: options.scope } : {}),
          }
        : {}),
      ...(scheme === 'DPoP' && options.dpopAlgs ? { algs: options.dpopAlgs } : {}),
    }),
  );
}

/**
 * Turns anything thrown into the response a client may see: RFC 6750 bodies and `WWW-Authenticate`
 * for token failures, RFC 9457 problem+json for the rest, and a generic 500 for anything not raised
 * on purpose (its detail belongs in the log, never in the response).
 */
export function toErrorResponse(err: unknown, options: ErrorResponseOptions = {}): HttpErrorResponse {
  const asServer = options.role === 'authorization-server';
  if (!isGatehouseError(err)) {
    return asServer
      ? oauthResponse(500, 'server_error')
      : buildProblemResponse({ status: 500, ...instanceOf(options) });
  }
  const info: ErrorCodeInfo = ERROR_CODES[err.code];
  const { status, oauthError } = info;

  if (asServer) {
    if (oauthError !== undefined) return oauthResponse(status, oauthError, info.retryAfterSec);
    if (status === 503) return oauthResponse(503, 'temporarily_unavailable', info.retryAfterSec);
    if (status >= 500) return oauthResponse(status, 'server_error');
  }

  if (err.code === 'ERR_OAUTH_TOKEN_MISSING') {
    // RFC 6750 §3.1: no error code when the request carried no credentials at all.
    return buildProblemResponse(
      { status, ...instanceOf(options) },
      { 'www-authenticate': challenges(options) },
    );
  }

  if (oauthError !== undefined && RESOURCE_ERRORS.has(oauthError)) {
    const headers: Record<string, string | string[]> = {
      'content-type': 'application/json',
      'cache-control': 'no-store',
    };
    if (status === 401 || status === 403 || status === 400) {
      headers['www-authenticate'] = challenges(options, oauthError);
    }
    const body = { error: oauthError, error_description: PUBLIC_DESCRIPTIONS[oauthError] };
    return { status, headers, body: JSON.stringify(body) };
  }
  if (oauthError !== undefined) return oauthResponse(status, oauthError, info.retryAfterSec);

  const headers: Record<string, string> = {};
  if (info.retryAfterSec !== undefined) headers['retry-after'] = String(info.retryAfterSec);
  return buildProblemResponse(
    {
      status,
      title: statusTitle(status),
      ...instanceOf(options),
      ...(err.expose ? { extensions: { code: err.code } } : {}),
    },
    headers,
  );
}

/** RFC 6749 §5.2 error response: the error and its one public description, never cached. */
function oauthResponse(status: number, error: OAuthErrorCode, retryAfterSec?: number): HttpErrorResponse {
  const headers: Record<string, string> = { 'content-type': 'application/json', 'cache-control': 'no-store' };
  if (retryAfterSec !== undefined) headers['retry-after'] = String(retryAfterSec);
  return { status, headers, body: JSON.stringify({ error, error_description: PUBLIC_DESCRIPTIONS[error] }) };
}

function instanceOf(options: ErrorResponseOptions): { instance?: string } {
  return options.instance === undefined ? {} : { instance: options.instance };
}
