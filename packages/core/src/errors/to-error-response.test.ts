import { describe, expect, it } from 'vitest';
import type { HttpErrorResponse } from '../http/problem.js';
import { ERROR_CODES, type ErrorCode, type ErrorCodeInfo, type OAuthErrorCode } from './codes.js';
import { GatehouseError } from './gatehouse-error.js';
import { toErrorResponse, type ErrorResponseOptions } from './to-error-response.js';

const DETAIL = 'DETAIL-SENTINEL kid=k1 token=eyJhbGciOiJFUzI1NiJ9';

function header(response: HttpErrorResponse, name: string): string | readonly string[] | undefined {
  return response.headers[name];
}

function json(response: HttpErrorResponse): Record<string, unknown> {
  return JSON.parse(response.body) as Record<string, unknown>;
}

interface Case {
  readonly name: string;
  readonly source: string;
  readonly code: ErrorCode;
  readonly options?: ErrorResponseOptions;
  readonly status: number;
  readonly contentType: string;
  readonly body: Record<string, unknown>;
  readonly challenges?: readonly string[];
  readonly retryAfter?: string;
}

const cases: Case[] = [
  {
    name: 'missing token: problem+json and bare challenges, no error attribute',
    source: 'RFC 6750 §3.1',
    code: 'ERR_OAUTH_TOKEN_MISSING',
    options: { realm: 'api', schemes: ['Bearer', 'DPoP'], dpopAlgs: ['ES256', 'EdDSA'] },
    status: 401,
    contentType: 'application/problem+json',
    body: { type: 'about:blank', title: 'Unauthorized', status: 401 },
    challenges: ['Bearer realm="api"', 'DPoP realm="api", algs="ES256 EdDSA"'],
  },
  {
    name: 'missing token, default scheme',
    source: 'RFC 6750 §3',
    code: 'ERR_OAUTH_TOKEN_MISSING',
    status: 401,
    contentType: 'application/problem+json',
    body: { type: 'about:blank', title: 'Unauthorized', status: 401 },
    challenges: ['Bearer'],
  },
  {
    name: 'bad signature: generic invalid_token body and Bearer challenge with error',
    source: 'RFC 6750 §3.1',
    code: 'ERR_JWT_SIGNATURE_INVALID',
    options: { realm: 'api' },
    status: 401,
    contentType: 'application/json',
    body: { error: 'invalid_token', error_description: 'The access token is invalid' },
    challenges: [
      'Bearer realm="api", error="invalid_token", error_description="The access token is invalid"',
    ],
  },
  {
    name: 'expired token over DPoP: the DPoP challenge carries the error',
    source: 'RFC 9449 §7.1',
    code: 'ERR_JWT_EXPIRED',
    options: { schemes: ['Bearer', 'DPoP'], requestScheme: 'DPoP', dpopAlgs: ['ES256'] },
    status: 401,
    contentType: 'application/json',
    body: { error: 'invalid_token', error_description: 'The access token is invalid' },
    challenges: [
      'Bearer',
      'DPoP error="invalid_token", error_description="The access token is invalid", algs="ES256"',
    ],
  },
  {
    name: 'expired token over Bearer when both schemes are offered',
    source: 'RFC 6750 §3.1',
    code: 'ERR_JWT_EXPIRED',
    options: { schemes: ['Bearer', 'DPoP'], requestScheme: 'Bearer' },
    status: 401,
    contentType: 'application/json',
    body: { error: 'invalid_token', error_description: 'The access token is invalid' },
    challenges: ['Bearer error="invalid_token", error_description="The access token is invalid"', 'DPoP'],
  },
  {
    name: 'insufficient scope: 403 with scope attribute',
    source: 'RFC 6750 §3.1',
    code: 'ERR_INSUFFICIENT_SCOPE',
    options: { realm: 'api', scope: ['orders:write', 'orders:read'] },
    status: 403,
    contentType: 'application/json',
    body: {
      error: 'insufficient_scope',
      error_description: 'The access token does not grant the required scope',
    },
    challenges: [
      'Bearer realm="api", error="insufficient_scope", ' +
        'error_description="The access token does not grant the required scope", scope="orders:write orders:read"',
    ],
  },
  {
    name: 'insufficient scope without known scopes: no scope attribute',
    source: 'RFC 6750 §3',
    code: 'ERR_INSUFFICIENT_SCOPE',
    status: 403,
    contentType: 'application/json',
    body: {
      error: 'insufficient_scope',
      error_description: 'The access token does not grant the required scope',
    },
    challenges: [
      'Bearer error="insufficient_scope", error_description="The access token does not grant the required scope"',
    ],
  },
  {
    name: 'scope is only sent with insufficient_scope',
    source: 'RFC 6750 §3',
    code: 'ERR_JWT_AUDIENCE_INVALID',
    options: { scope: ['orders:read'] },
    status: 401,
    contentType: 'application/json',
    body: { error: 'invalid_token', error_description: 'The access token is invalid' },
    challenges: ['Bearer error="invalid_token", error_description="The access token is invalid"'],
  },
  {
    name: 'bad DPoP proof on a Bearer-first resource: the DPoP challenge carries the error',
    source: 'RFC 9449 §7.1',
    code: 'ERR_DPOP_PROOF_INVALID',
    options: { schemes: ['Bearer', 'DPoP'], requestScheme: 'Bearer', dpopAlgs: ['ES256'] },
    status: 401,
    contentType: 'application/json',
    body: { error: 'invalid_dpop_proof', error_description: 'The DPoP proof is invalid' },
    challenges: [
      'Bearer',
      'DPoP error="invalid_dpop_proof", error_description="The DPoP proof is invalid", algs="ES256"',
    ],
  },
  {
    name: 'malformed authentication data: 400 invalid_request',
    source: 'RFC 6750 §3.1',
    code: 'ERR_OAUTH_INVALID_REQUEST',
    status: 400,
    contentType: 'application/json',
    body: { error: 'invalid_request', error_description: 'The request is malformed' },
    challenges: ['Bearer error="invalid_request", error_description="The request is malformed"'],
  },
  {
    name: 'two DPoP headers: 400 invalid_request',
    source: 'RFC 9449 §4.3',
    code: 'ERR_DPOP_MULTIPLE_PROOFS',
    options: { schemes: ['DPoP'] },
    status: 400,
    contentType: 'application/json',
    body: { error: 'invalid_request', error_description: 'The request is malformed' },
    challenges: ['DPoP error="invalid_request", error_description="The request is malformed"'],
  },
  {
    name: 'key set unavailable: 503 problem with Retry-After, no code',
    source: 'RFC 9110 §10.2.3',
    code: 'ERR_JWKS_FETCH_FAILED',
    options: { instance: 'req-42' },
    status: 503,
    contentType: 'application/problem+json',
    body: { type: 'about:blank', title: 'Service Unavailable', status: 503, instance: 'req-42' },
    retryAfter: '5',
  },
  {
    name: 'revocation status unknown: 503 problem with Retry-After',
    source: 'RFC 9110 §10.2.3',
    code: 'ERR_JWT_REVOCATION_UNAVAILABLE',
    status: 503,
    contentType: 'application/problem+json',
    body: { type: 'about:blank', title: 'Service Unavailable', status: 503 },
    retryAfter: '5',
  },
  {
    name: 'policy denial: 403 problem with the stable code',
    source: 'RFC 9457 §3.2',
    code: 'ERR_AUTHZ_DENIED',
    options: { instance: '/orders/7', realm: 'api' },
    status: 403,
    contentType: 'application/problem+json',
    body: {
      type: 'about:blank',
      title: 'Forbidden',
      status: 403,
      instance: '/orders/7',
      code: 'ERR_AUTHZ_DENIED',
    },
  },
  {
    name: 'peer identity refused: 403 problem with the stable code',
    source: 'RFC 9457 §3.2',
    code: 'ERR_MTLS_PEER_IDENTITY',
    status: 403,
    contentType: 'application/problem+json',
    body: { type: 'about:blank', title: 'Forbidden', status: 403, code: 'ERR_MTLS_PEER_IDENTITY' },
  },
  {
    name: 'configuration error: generic 500 without code',
    source: 'RFC 9457 §3',
    code: 'ERR_CONFIG_INVALID',
    status: 500,
    contentType: 'application/problem+json',
    body: { type: 'about:blank', title: 'Internal Server Error', status: 500 },
  },
];

describe('toErrorResponse', () => {
  it.each(cases)('$name ($source)', (c) => {
    const response = toErrorResponse(new GatehouseError(c.code, { detail: DETAIL }), c.options);
    expect(response.status).toBe(c.status);
    expect(header(response, 'content-type')).toBe(c.contentType);
    expect(header(response, 'cache-control')).toBe('no-store');
    expect(json(response)).toEqual(c.body);
    expect(header(response, 'www-authenticate')).toEqual(c.challenges);
    expect(header(response, 'retry-after')).toBe(c.retryAfter);
  });

  it('escapes the realm as an RFC 9110 quoted-string', () => {
    const response = toErrorResponse(new GatehouseError('ERR_JWT_EXPIRED'), { realm: 'my "api" \\ v2' });
    expect(header(response, 'www-authenticate')).toEqual([
      'Bearer realm="my \\"api\\" \\\\ v2", error="invalid_token", error_description="The access token is invalid"',
    ]);
  });

  const notRaisedOnPurpose: Array<{ name: string; thrown: unknown }> = [
    { name: 'a plain Error', thrown: new Error(`db password=hunter2 ${DETAIL}`) },
    { name: 'a TypeError', thrown: new TypeError(DETAIL) },
    { name: 'a thrown string', thrown: DETAIL },
    { name: 'undefined', thrown: undefined },
    { name: 'an error-shaped object', thrown: { code: 'ERR_AUTHZ_DENIED', status: 403, message: DETAIL } },
  ];

  it.each(notRaisedOnPurpose)('$name becomes a generic 500 problem', ({ thrown }) => {
    const response = toErrorResponse(thrown, { instance: 'req-1' });
    expect(response.status).toBe(500);
    expect(header(response, 'content-type')).toBe('application/problem+json');
    expect(json(response)).toEqual({
      type: 'about:blank',
      title: 'Internal Server Error',
      status: 500,
      instance: 'req-1',
    });
    expect(response.body).not.toContain('hunter2');
    expect(response.body).not.toContain('DETAIL-SENTINEL');
    expect(response.body).not.toContain('stack');
    expect(response.body).not.toContain(' at ');
    expect(header(response, 'www-authenticate')).toBeUndefined();
  });

  it('never sends the detail, the fixed message of a 5xx, the cause or a stack, for any code', () => {
    const options: ErrorResponseOptions = {
      realm: 'api',
      schemes: ['Bearer', 'DPoP'],
      dpopAlgs: ['ES256'],
      scope: ['a'],
      instance: 'i',
    };
    for (const code of Object.keys(ERROR_CODES) as ErrorCode[]) {
      const err = new GatehouseError(code, { detail: DETAIL, cause: new Error('CAUSE-SENTINEL') });
      const response = toErrorResponse(err, options);
      const everything = `${response.body}\n${JSON.stringify(response.headers)}`;
      expect(everything, code).not.toContain('DETAIL-SENTINEL');
      expect(everything, code).not.toContain('CAUSE-SENTINEL');
      expect(everything, code).not.toContain('eyJ');
      expect(response.body, code).not.toContain('"stack"');
      expect(response.status, code).toBe(ERROR_CODES[code].status);
      if (response.status >= 500) {
        expect(response.body, code).not.toContain(ERROR_CODES[code].message);
        expect(response.body, code).not.toContain(code);
      }
    }
  });

  it('token failures all answer with the same body: no oracle for which check failed', () => {
    const bodies = new Set(
      (Object.keys(ERROR_CODES) as ErrorCode[])
        .filter((code) => (ERROR_CODES[code] as { oauthError?: string }).oauthError === 'invalid_token')
        .map((code) => toErrorResponse(new GatehouseError(code)).body),
    );
    expect([...bodies]).toEqual([
      '{"error":"invalid_token","error_description":"The access token is invalid"}',
    ]);
  });
});

/** The one public description per OAuth error: fixed text, never request data. */
const DESCRIPTIONS: Readonly<Record<Exclude<OAuthErrorCode, 'interaction_required'>, string>> = {
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
  use_dpop_nonce: 'Authorization server requires nonce in DPoP proof',
  server_error: 'Unexpected error',
  temporarily_unavailable: 'The service is temporarily unavailable',
};

const AS: ErrorResponseOptions = {
  role: 'authorization-server',
  realm: 'api',
  instance: 'req-9',
  scope: ['a'],
};
const allCodes = Object.keys(ERROR_CODES) as ErrorCode[];
const oauthCodes = allCodes.filter((code) => (ERROR_CODES[code] as ErrorCodeInfo).oauthError !== undefined);

describe('toErrorResponse as the authorization server (RFC 6749 §5.2)', () => {
  it.each(oauthCodes)('%s: JSON error body with the fixed description, no challenge', (code) => {
    const info: ErrorCodeInfo = ERROR_CODES[code];
    const response = toErrorResponse(new GatehouseError(code, { detail: DETAIL }), AS);
    expect(response.status).toBe(info.status);
    expect(header(response, 'content-type')).toBe('application/json');
    expect(header(response, 'cache-control')).toBe('no-store');
    expect(header(response, 'www-authenticate')).toBeUndefined();
    expect(header(response, 'retry-after')).toBe(info.retryAfterSec === undefined ? undefined : '5');
    const error = info.oauthError as keyof typeof DESCRIPTIONS;
    expect(json(response)).toEqual({ error, error_description: DESCRIPTIONS[error] });
  });

  const servers: Array<{ name: string; source: string; code: ErrorCode; status: number; error: string }> = [
    {
      name: 'store down',
      source: 'RFC 6749 §4.1.2.1',
      code: 'ERR_STORE_UNAVAILABLE',
      status: 503,
      error: 'temporarily_unavailable',
    },
    {
      name: 'key set unavailable',
      source: 'RFC 6749 §4.1.2.1',
      code: 'ERR_JWKS_FETCH_FAILED',
      status: 503,
      error: 'temporarily_unavailable',
    },
    {
      name: 'corrupt row',
      source: 'RFC 6749 §4.1.2.1',
      code: 'ERR_STORE_CORRUPT',
      status: 500,
      error: 'server_error',
    },
    {
      name: 'migration failed',
      source: 'RFC 6749 §4.1.2.1',
      code: 'ERR_STORE_MIGRATION_FAILED',
      status: 500,
      error: 'server_error',
    },
    {
      name: 'bad configuration',
      source: 'RFC 6749 §4.1.2.1',
      code: 'ERR_CONFIG_INVALID',
      status: 500,
      error: 'server_error',
    },
    {
      name: 'internal error',
      source: 'RFC 6749 §4.1.2.1',
      code: 'ERR_INTERNAL',
      status: 500,
      error: 'server_error',
    },
  ];

  it.each(servers)('$name ($code): $status $error ($source)', ({ code, status, error }) => {
    const response = toErrorResponse(new GatehouseError(code, { detail: DETAIL }), AS);
    expect(response.status).toBe(status);
    expect(header(response, 'content-type')).toBe('application/json');
    expect(header(response, 'cache-control')).toBe('no-store');
    expect(header(response, 'retry-after')).toBe(status === 503 ? '5' : undefined);
    expect(header(response, 'www-authenticate')).toBeUndefined();
    expect(json(response)).toEqual({
      error,
      error_description: DESCRIPTIONS[error as keyof typeof DESCRIPTIONS],
    });
  });

  it.each(notRaisedOnPurposeCases())('$name: server_error 500, nothing of it sent', ({ thrown }) => {
    const response = toErrorResponse(thrown, AS);
    expect(response.status).toBe(500);
    expect(header(response, 'content-type')).toBe('application/json');
    expect(header(response, 'cache-control')).toBe('no-store');
    expect(json(response)).toEqual({ error: 'server_error', error_description: 'Unexpected error' });
  });

  it('a non-OAuth 4xx stays an RFC 9457 problem with its code (login form errors)', () => {
    const locked = toErrorResponse(new GatehouseError('ERR_OAUTH_ACCOUNT_LOCKED'), AS);
    expect(locked.status).toBe(429);
    expect(header(locked, 'content-type')).toBe('application/problem+json');
    expect(header(locked, 'retry-after')).toBe('60');
    expect(json(locked)).toEqual({
      type: 'about:blank',
      title: 'Too Many Requests',
      status: 429,
      instance: 'req-9',
      code: 'ERR_OAUTH_ACCOUNT_LOCKED',
    });
    const csrf = toErrorResponse(new GatehouseError('ERR_OAUTH_CSRF_INVALID'), AS);
    expect(json(csrf)).toMatchObject({ status: 403, code: 'ERR_OAUTH_CSRF_INVALID' });
  });

  it('never sends the detail, cause, fixed message of a 5xx or a stack, for any code', () => {
    for (const code of allCodes) {
      const err = new GatehouseError(code, { detail: DETAIL, cause: new Error('CAUSE-SENTINEL') });
      const response = toErrorResponse(err, AS);
      const everything = `${response.body}\n${JSON.stringify(response.headers)}`;
      expect(everything, code).not.toContain('DETAIL-SENTINEL');
      expect(everything, code).not.toContain('CAUSE-SENTINEL');
      expect(response.body, code).not.toContain('"stack"');
      expect(response.status, code).toBe(ERROR_CODES[code].status);
      if (response.status >= 500) {
        expect(response.body, code).not.toContain(ERROR_CODES[code].message);
        expect(response.body, code).not.toContain(code);
        expect(Object.keys(json(response)).sort(), code).toEqual(['error', 'error_description']);
      }
    }
  });
});

describe('toErrorResponse as a resource server answering an authorization-server code', () => {
  const cases: Array<{
    code: ErrorCode;
    status: number;
    error: keyof typeof DESCRIPTIONS;
    retryAfter?: string;
  }> = [
    { code: 'ERR_OAUTH_INVALID_GRANT', status: 400, error: 'invalid_grant' },
    { code: 'ERR_OAUTH_INVALID_CLIENT', status: 401, error: 'invalid_client' },
    { code: 'ERR_OAUTH_ACCESS_DENIED', status: 403, error: 'access_denied' },
    {
      code: 'ERR_OAUTH_TEMPORARILY_UNAVAILABLE',
      status: 503,
      error: 'temporarily_unavailable',
      retryAfter: '5',
    },
  ];

  it.each(cases)(
    '$code: JSON OAuth body, no bearer challenge (RFC 6749 §5.2)',
    ({ code, status, error, retryAfter }) => {
      const response = toErrorResponse(new GatehouseError(code, { detail: DETAIL }), { realm: 'api' });
      expect(response.status).toBe(status);
      expect(header(response, 'content-type')).toBe('application/json');
      expect(header(response, 'cache-control')).toBe('no-store');
      expect(header(response, 'www-authenticate')).toBeUndefined();
      expect(header(response, 'retry-after')).toBe(retryAfter);
      expect(json(response)).toEqual({ error, error_description: DESCRIPTIONS[error] });
    },
  );

  it('the explicit resource-server role is the default', () => {
    const err = new GatehouseError('ERR_JWT_EXPIRED');
    expect(toErrorResponse(err, { role: 'resource-server' })).toEqual(toErrorResponse(err));
  });
});

function notRaisedOnPurposeCases(): Array<{ name: string; thrown: unknown }> {
  return [
    { name: 'a plain Error', thrown: new Error(`db password=hunter2 ${DETAIL}`) },
    { name: 'a thrown string', thrown: DETAIL },
    { name: 'undefined', thrown: undefined },
    {
      name: 'an error-shaped object',
      thrown: { code: 'ERR_OAUTH_INVALID_GRANT', status: 400, message: DETAIL },
    },
  ];
}
