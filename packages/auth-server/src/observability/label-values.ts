import { ERROR_CODES, isErrorCode, type ErrorCodeInfo } from '@gatehouse/core';
import { isKnownGrant } from '../grants/handlers.js';

/**
 * Label values of the auth server's series, each from a fixed set: a value a client sent is
 * never a label (it would grow the series without bound and put request data in metrics).
 */

/** The label value of anything outside a label's fixed set. */
export const OTHER = 'other';

/** A grant the token endpoint implements, by its wire name (RFC 6749 §4, RFC 8693 §2.1), else `other`. */
export function grantTypeLabel(value: unknown): string {
  return typeof value === 'string' && isKnownGrant(value) ? value : OTHER;
}

/**
 * The `error` codes the token endpoint answers with: RFC 6749 §5.2, RFC 8707 §2 (`invalid_target`),
 * RFC 9449 §5 and §8 (`invalid_dpop_proof`, `use_dpop_nonce`), and the 5xx ones (§4.1.2.1).
 */
const TOKEN_ERRORS: ReadonlySet<string> = new Set([
  'invalid_request',
  'invalid_client',
  'invalid_grant',
  'unauthorized_client',
  'unsupported_grant_type',
  'invalid_scope',
  'invalid_target',
  'invalid_dpop_proof',
  'use_dpop_nonce',
  'server_error',
  'temporarily_unavailable',
]);

/**
 * The OAuth `error` a refusal with error code `code` (`ERR_OAUTH_INVALID_GRANT`) was answered
 * with, as the authorization server's error path decides it (core `toErrorResponse`): the code's
 * OAuth error, else `temporarily_unavailable` for a 503 and `server_error` for another 5xx.
 * Anything else is `other`.
 */
export function tokenErrorLabel(code: unknown): string {
  if (typeof code !== 'string' || !isErrorCode(code)) return OTHER;
  const { status, oauthError }: ErrorCodeInfo = ERROR_CODES[code];
  const error =
    oauthError ?? (status === 503 ? 'temporarily_unavailable' : status >= 500 ? 'server_error' : OTHER);
  return TOKEN_ERRORS.has(error) ? error : OTHER;
}
