/**
 * The one registry of error codes: code → HTTP status, OAuth error (RFC 6749 §5.2, RFC 6750 §3.1,
 * RFC 9449 §7.1) and a fixed message. `docs/errors.md` is checked against this table by a test.
 *
 * Messages are fixed strings: they never carry a token, a key or a claim value. What a client sees is
 * decided by `toErrorResponse`, which never sends these messages for 5xx and sends only the generic
 * OAuth text for token failures (RFC 6750: the client learns *that* the token failed, not why).
 */

/** OAuth error codes a protected resource or authorization server can answer with. */
export type OAuthErrorCode =
  | 'invalid_request'
  | 'invalid_token'
  | 'insufficient_scope'
  | 'invalid_dpop_proof'
  | 'invalid_client'
  | 'invalid_grant'
  | 'unauthorized_client'
  | 'unsupported_grant_type'
  | 'invalid_scope'
  | 'invalid_target'
  | 'unsupported_response_type'
  | 'unsupported_token_type'
  | 'invalid_request_uri'
  | 'request_not_supported'
  | 'login_required'
  | 'consent_required'
  | 'interaction_required'
  | 'use_dpop_nonce'
  | 'access_denied'
  | 'server_error'
  | 'temporarily_unavailable';

export interface ErrorCodeInfo {
  /** HTTP status a service answers with. */
  readonly status: number;
  /** OAuth `error` value when the failure is an OAuth one; absent for RFC 9457 problems. */
  readonly oauthError?: OAuthErrorCode;
  /** Fixed message (logs and `err.message`); never includes request data. */
  readonly message: string;
  /** Seconds for `Retry-After` on 503 answers. */
  readonly retryAfterSec?: number;
}

const invalidToken = (message: string): ErrorCodeInfo => ({
  status: 401,
  oauthError: 'invalid_token',
  message,
});
const invalidProof = (message: string): ErrorCodeInfo => ({
  status: 401,
  oauthError: 'invalid_dpop_proof',
  message,
});
const unavailable = (message: string): ErrorCodeInfo => ({ status: 503, message, retryAfterSec: 5 });

export const ERROR_CODES = {
  // OAUTH — the request as a whole (RFC 6750 §3.1)
  ERR_OAUTH_TOKEN_MISSING: { status: 401, message: 'no access token in the request' },
  ERR_OAUTH_INVALID_REQUEST: {
    status: 400,
    oauthError: 'invalid_request',
    message: 'malformed or ambiguous authentication data',
  },
  ERR_INSUFFICIENT_SCOPE: {
    status: 403,
    oauthError: 'insufficient_scope',
    message: 'the access token lacks a required scope',
  },

  // OAUTH — authorization server (RFC 6749 §4.1.2.1, §5.2; RFC 8707 §2; RFC 9126 §2.2; RFC 9449 §8;
  // OpenID Connect Core §3.1.2.6). Each answers with a JSON body naming only the error.
  ERR_OAUTH_INVALID_CLIENT: {
    status: 401,
    oauthError: 'invalid_client',
    message: 'client authentication failed',
  },
  ERR_OAUTH_INVALID_GRANT: {
    status: 400,
    oauthError: 'invalid_grant',
    message: 'grant invalid, expired or revoked',
  },
  ERR_OAUTH_UNAUTHORIZED_CLIENT: {
    status: 400,
    oauthError: 'unauthorized_client',
    message: 'client not allowed to use this grant or response type',
  },
  ERR_OAUTH_UNSUPPORTED_GRANT_TYPE: {
    status: 400,
    oauthError: 'unsupported_grant_type',
    message: 'grant type not supported',
  },
  ERR_OAUTH_UNSUPPORTED_RESPONSE_TYPE: {
    status: 400,
    oauthError: 'unsupported_response_type',
    message: 'response type not supported',
  },
  ERR_OAUTH_UNSUPPORTED_TOKEN_TYPE: {
    status: 400,
    oauthError: 'unsupported_token_type',
    message: 'token type not supported',
  },
  ERR_OAUTH_INVALID_SCOPE: {
    status: 400,
    oauthError: 'invalid_scope',
    message: 'scope invalid or not allowed',
  },
  ERR_OAUTH_INVALID_TARGET: { status: 400, oauthError: 'invalid_target', message: 'resource not allowed' },
  ERR_OAUTH_INVALID_REQUEST_URI: {
    status: 400,
    oauthError: 'invalid_request_uri',
    message: 'pushed authorization request unknown or expired',
  },
  ERR_OAUTH_REQUEST_NOT_SUPPORTED: {
    status: 400,
    oauthError: 'request_not_supported',
    message: 'request objects are not supported',
  },
  ERR_OAUTH_ACCESS_DENIED: {
    status: 403,
    oauthError: 'access_denied',
    message: 'the user or policy denied access',
  },
  ERR_OAUTH_LOGIN_REQUIRED: {
    status: 400,
    oauthError: 'login_required',
    message: 'no session and prompt=none',
  },
  ERR_OAUTH_CONSENT_REQUIRED: {
    status: 400,
    oauthError: 'consent_required',
    message: 'consent needed and prompt=none',
  },
  ERR_OAUTH_USE_DPOP_NONCE: {
    status: 400,
    oauthError: 'use_dpop_nonce',
    message: 'a fresh DPoP nonce is required',
  },
  ERR_OAUTH_INVALID_DPOP_PROOF: {
    status: 400,
    oauthError: 'invalid_dpop_proof',
    message: 'DPoP proof invalid at the token endpoint',
  },
  ERR_OAUTH_SERVER_ERROR: { status: 500, oauthError: 'server_error', message: 'unexpected server error' },
  ERR_OAUTH_TEMPORARILY_UNAVAILABLE: {
    status: 503,
    oauthError: 'temporarily_unavailable',
    message: 'a store the server depends on is unavailable',
    retryAfterSec: 5,
  },
  ERR_OAUTH_LOGIN_FAILED: { status: 401, message: 'wrong username or password' },
  ERR_OAUTH_ACCOUNT_LOCKED: {
    status: 429,
    message: 'too many failed logins; temporarily locked',
    retryAfterSec: 60,
  },
  ERR_OAUTH_CSRF_INVALID: { status: 403, message: 'form submitted without a valid CSRF token' },

  // JWT — structure and encoding (RFC 7515 §5.2, RFC 7519 §7.2, RFC 8725 §3)
  ERR_JWT_MALFORMED: invalidToken('token is not a compact JWS'),
  ERR_JWT_TOO_LARGE: invalidToken('token exceeds the size limit'),
  ERR_JWT_BASE64URL_INVALID: invalidToken('token segment is not canonical base64url'),
  ERR_JWT_UTF8_INVALID: invalidToken('token segment is not valid UTF-8'),
  ERR_JWT_JSON_INVALID: invalidToken('token segment is not a JSON object'),
  ERR_JWT_DUPLICATE_MEMBER: invalidToken('token JSON has a duplicate member name'),
  // JWT — header (RFC 8725 §3.1, §3.10, §3.11; RFC 7515 §4.1)
  ERR_JWT_ALG_NONE: invalidToken('unsecured JWS (alg none) refused'),
  ERR_JWT_ALG_NOT_ALLOWED: invalidToken('algorithm not in the allowlist'),
  ERR_JWT_ALG_KEY_CONFUSION: invalidToken('symmetric algorithm refused for asymmetric keys'),
  ERR_JWT_HEADER_KEY_FORBIDDEN: invalidToken('keys are never taken from the token header'),
  ERR_JWT_KID_INVALID: invalidToken('kid header is not a plain string'),
  ERR_JWT_CRIT_UNSUPPORTED: invalidToken('critical header parameter not understood'),
  ERR_JWT_B64_UNSUPPORTED: invalidToken('unencoded payload (b64 false) refused'),
  ERR_JWT_JWE_UNSUPPORTED: invalidToken('encrypted tokens are not accepted'),
  ERR_JWT_NESTED_UNSUPPORTED: invalidToken('nested tokens are not accepted'),
  ERR_JWT_TYP_INVALID: invalidToken('unexpected token type'),
  ERR_JWT_KEY_TYPE_MISMATCH: invalidToken('key type or curve does not fit the algorithm'),
  // JWT — signature
  ERR_JWT_SIGNATURE_MALFORMED: invalidToken('signature has the wrong size or is out of range'),
  ERR_JWT_SIGNATURE_INVALID: invalidToken('signature verification failed'),
  // JWT — claims (RFC 7519 §4.1, RFC 9068 §4)
  ERR_JWT_CLAIM_MISSING: invalidToken('a required claim is missing'),
  ERR_JWT_CLAIM_INVALID: invalidToken('a claim has the wrong type'),
  ERR_JWT_EXPIRED: invalidToken('token expired'),
  ERR_JWT_NOT_YET_VALID: invalidToken('token not yet valid'),
  ERR_JWT_IAT_FUTURE: invalidToken('token issued in the future'),
  ERR_JWT_LIFETIME_EXCEEDED: invalidToken('token lifetime exceeds the allowed maximum'),
  ERR_JWT_ISSUER_INVALID: invalidToken('unexpected issuer'),
  ERR_JWT_AUDIENCE_INVALID: invalidToken('unexpected audience'),
  ERR_JWT_REVOKED: invalidToken('token revoked'),
  ERR_JWT_REVOCATION_UNAVAILABLE: unavailable('revocation status could not be checked'),

  // JWKS
  ERR_JWKS_NO_MATCHING_KEY: invalidToken('no key in the key set matches the token'),
  ERR_JWKS_MULTIPLE_MATCHING_KEYS: invalidToken('several keys match a token without kid'),
  ERR_JWKS_FETCH_FAILED: unavailable('key set could not be fetched'),
  ERR_JWKS_TIMEOUT: unavailable('key set fetch timed out'),
  ERR_JWKS_TOO_LARGE: unavailable('key set response exceeds the size limit'),
  ERR_JWKS_INVALID: unavailable('key set response is not a valid JWK Set'),
  ERR_JWKS_STALE: unavailable('cached key set is older than the allowed staleness'),

  // DPOP (RFC 9449 §4.3, §7.1)
  ERR_DPOP_PROOF_MISSING: invalidProof('DPoP proof missing'),
  ERR_DPOP_PROOF_INVALID: invalidProof('DPoP proof invalid'),
  ERR_DPOP_MULTIPLE_PROOFS: {
    status: 400,
    oauthError: 'invalid_request',
    message: 'more than one DPoP header',
  },
  ERR_DPOP_HTM_MISMATCH: invalidProof('DPoP proof htm does not match the request method'),
  ERR_DPOP_HTU_MISMATCH: invalidProof('DPoP proof htu does not match the request URI'),
  ERR_DPOP_IAT_INVALID: invalidProof('DPoP proof iat outside the acceptable window'),
  ERR_DPOP_REPLAYED: invalidProof('DPoP proof jti already used'),
  ERR_DPOP_ATH_MISMATCH: invalidProof('DPoP proof ath does not match the access token'),
  ERR_DPOP_JKT_MISMATCH: invalidToken('DPoP proof key does not match the token binding'),
  ERR_DPOP_BINDING_REQUIRED: invalidToken('DPoP-bound token presented without DPoP'),
  ERR_DPOP_TOKEN_NOT_BOUND: invalidToken('DPoP scheme used with a token that is not DPoP-bound'),

  // MTLS (RFC 8705 §3)
  ERR_MTLS_CERTIFICATE_REQUIRED: invalidToken('certificate-bound token without a client certificate'),
  ERR_MTLS_CERTIFICATE_MISMATCH: invalidToken('client certificate does not match the token binding'),
  ERR_MTLS_PEER_IDENTITY: { status: 403, message: 'peer certificate identity not allowed' },

  // AUTHZ
  ERR_AUTHZ_DENIED: { status: 403, message: 'access denied by policy' },

  // STORE
  ERR_STORE_UNAVAILABLE: unavailable('a durable or shared store is unreachable'),
  ERR_STORE_CORRUPT: { status: 500, message: 'stored data failed an integrity check' },
  ERR_STORE_MIGRATION_FAILED: { status: 500, message: 'database migration failed' },

  // GATEWAY — the entry point (issue 4)
  ERR_GATEWAY_PATH_INVALID: { status: 400, message: 'request target is not a canonical origin-form path' },
  ERR_GATEWAY_URL_TOO_LONG: { status: 414, message: 'request target exceeds the length limit' },
  ERR_GATEWAY_HEADERS_TOO_LARGE: { status: 431, message: 'request headers exceed the size or count limit' },
  ERR_GATEWAY_BAD_REQUEST: { status: 400, message: 'malformed HTTP request' },
  ERR_GATEWAY_REQUEST_TIMEOUT: { status: 408, message: 'request not received in time' },
  ERR_GATEWAY_ROUTE_NOT_FOUND: { status: 404, message: 'no route for this request' },
  ERR_GATEWAY_METHOD_NOT_ALLOWED: { status: 405, message: 'method not allowed on this route' },
  ERR_GATEWAY_UNSUPPORTED_MEDIA_TYPE: { status: 415, message: 'content type not allowed on this route' },
  ERR_GATEWAY_PAYLOAD_TOO_LARGE: { status: 413, message: 'request body exceeds the size limit of the route' },
  ERR_GATEWAY_JSON_LIMIT: { status: 400, message: 'JSON body too deep or too wide' },
  ERR_GATEWAY_VALIDATION_FAILED: { status: 400, message: 'request does not match the API description' },
  ERR_GATEWAY_REQUEST_DENIED: { status: 403, message: 'request refused by a content rule' },
  ERR_GATEWAY_IP_DENIED: { status: 403, message: 'client address not allowed' },
  ERR_GATEWAY_BANNED: { status: 403, message: 'client address is banned' },
  ERR_GATEWAY_RATE_LIMITED: { status: 429, message: 'rate limit exceeded' },
  ERR_GATEWAY_UPSTREAM_TIMEOUT: { status: 504, message: 'upstream did not answer in time' },
  ERR_GATEWAY_UPSTREAM_UNAVAILABLE: { status: 502, message: 'upstream could not be reached' },
  ERR_GATEWAY_UPSTREAM_ERROR: { status: 502, message: 'upstream answered with a server error' },
  ERR_GATEWAY_CIRCUIT_OPEN: unavailable('upstream circuit open'),
  ERR_GATEWAY_TOKEN_INACTIVE: invalidToken('introspection says the token is not active'),
  ERR_GATEWAY_AUTH_UNAVAILABLE: unavailable('token could not be checked'),
  ERR_GATEWAY_SHUTTING_DOWN: unavailable('gateway is shutting down'),

  // BFF — the Backend-for-Frontend (issue 5)
  ERR_BFF_CSRF_REFUSED: { status: 403, message: 'state-changing request refused: origin or X-CSRF header' },
  ERR_BFF_CORS_REFUSED: { status: 403, message: 'cross-origin request not allowed' },
  ERR_BFF_SESSION_REQUIRED: { status: 401, message: 'no valid session' },
  ERR_BFF_RETURN_TO_INVALID: { status: 400, message: 'returnTo must be a same-origin relative path' },
  ERR_BFF_LOGIN_FAILED: { status: 400, message: 'sign-in could not be completed' },
  ERR_BFF_LOGOUT_TOKEN_INVALID: { status: 400, message: 'logout token refused' },
  ERR_BFF_ADMIN_UNAUTHORIZED: { status: 401, message: 'admin token missing or wrong' },
  ERR_BFF_NOT_FOUND: { status: 404, message: 'not found' },
  ERR_BFF_BAD_REQUEST: { status: 400, message: 'malformed request' },
  ERR_BFF_SUB_REQUIRED: { status: 400, message: 'the sub query parameter is required' },
  ERR_BFF_OP_UNAVAILABLE: unavailable('the OpenID Provider could not be reached'),
  ERR_BFF_UPSTREAM_TIMEOUT: { status: 504, message: 'the gateway did not answer in time' },
  ERR_BFF_UPSTREAM_UNAVAILABLE: { status: 502, message: 'the gateway could not be reached' },
  ERR_BFF_INTERNAL: { status: 500, message: 'internal error' },

  // CONFIG
  ERR_CONFIG_INVALID: { status: 500, message: 'invalid configuration' },

  // Anything not raised on purpose
  ERR_INTERNAL: { status: 500, message: 'internal error' },
} as const satisfies Record<string, ErrorCodeInfo>;

export type ErrorCode = keyof typeof ERROR_CODES;

export function isErrorCode(value: unknown): value is ErrorCode {
  return typeof value === 'string' && Object.hasOwn(ERROR_CODES, value);
}

/** HTTP status for a code: the code → status table. */
export function statusForCode(code: ErrorCode): number {
  return ERROR_CODES[code].status;
}
