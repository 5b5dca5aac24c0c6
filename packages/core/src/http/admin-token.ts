import { createHash, timingSafeEqual } from 'node:crypto';
import type { AdminOperators } from './admin-operators.js';
import { buildProblemResponse, type HttpErrorResponse } from './problem.js';

/** The smallest admin credential accepted: 256 bits as base64url is 43 characters. */
export const MIN_ADMIN_TOKEN_LENGTH = 32;

const digest = (value: string): Buffer => createHash('sha256').update(value, 'utf8').digest();

/**
 * Compares a presented admin token with the configured one in constant time: both are hashed first,
 * so neither the content nor the length of the secret leaks through timing.
 */
export function adminTokenMatches(presented: string, configured: string): boolean {
  return timingSafeEqual(digest(presented), digest(configured));
}

/**
 * The token of an `Authorization: Bearer <token>` header (RFC 6750 §2.1; the scheme is
 * case-insensitive, RFC 9110 §11.1), or undefined when the header is absent or another scheme.
 */
export function bearerTokenOf(authorization: string | undefined): string | undefined {
  if (authorization === undefined) return undefined;
  const match = /^Bearer +([A-Za-z0-9\-._~+/]+=*) *$/i.exec(authorization);
  return match?.[1];
}

const ADMIN_REALM = 'gatehouse-admin';

/** What an admin listener answers a request's credential with: nothing (allowed) or a refusal. */
export type AdminCredentialCheck =
  | {
      readonly ok: true;
      /** The operator whose client certificate authenticated the request (`admin.operators`). */
      readonly operator?: string;
    }
  | {
      readonly ok: false;
      readonly response: HttpErrorResponse;
      /** Audit `reason`; absent when the admin API is disabled (nothing was attempted). */
      readonly reason?: 'missing_token' | 'invalid_token' | 'no_operator_certificate';
    };

/** The client side of a request, for operators who authenticate with a certificate. */
export interface AdminClient {
  readonly operators: AdminOperators;
  /** The request's socket (a TLS socket when the listener is HTTPS). */
  readonly socket: unknown;
}

/**
 * The one admin credential check of every admin listener. A client certificate of an operator
 * (`admin.operators`, verified by the listener's TLS) is allowed; otherwise the bearer token must
 * match in constant time, or the answer is 401 with an RFC 6750 §3 challenge (no error code when
 * nothing was sent). With neither a token nor operators configured the admin API is disabled (503,
 * never a default credential); with operators only, a request without one's certificate gets 403.
 */
export function checkAdminCredential(
  authorization: string | undefined,
  configured: string | undefined,
  client?: AdminClient,
): AdminCredentialCheck {
  const operator = client?.operators.identify(client.socket);
  if (operator !== undefined) return { ok: true, operator };
  if (configured === undefined) {
    if (client !== undefined && client.operators.size > 0) {
      return {
        ok: false,
        response: buildProblemResponse({
          status: 403,
          detail: "the admin API needs an operator's client certificate",
        }),
        reason: 'no_operator_certificate',
      };
    }
    return {
      ok: false,
      response: buildProblemResponse({
        status: 503,
        detail: 'the admin API is disabled: no admin token is configured (admin.token)',
      }),
    };
  }
  const presented = bearerTokenOf(authorization);
  if (presented !== undefined && adminTokenMatches(presented, configured)) return { ok: true };
  const missing = authorization === undefined;
  const challenge = missing
    ? `Bearer realm="${ADMIN_REALM}"`
    : `Bearer realm="${ADMIN_REALM}", error="invalid_token"`;
  return {
    ok: false,
    response: buildProblemResponse({ status: 401 }, { 'www-authenticate': challenge }),
    reason: missing ? 'missing_token' : 'invalid_token',
  };
}
