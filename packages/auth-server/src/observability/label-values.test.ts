import { describe, expect, it } from 'vitest';
import { buildEndpointNames } from './endpoint-names.js';
import { grantTypeLabel, tokenErrorLabel } from './label-values.js';

describe('label values come from fixed sets', () => {
  it.each([
    ['client_credentials', 'client_credentials'],
    ['urn:ietf:params:oauth:grant-type:token-exchange', 'urn:ietf:params:oauth:grant-type:token-exchange'],
    // OAuth 2.1 §10.1, §10.2: not implemented, so not a label of their own.
    ['password', 'other'],
    ['implicit', 'other'],
    ['x<script>', 'other'],
    ['__proto__', 'other'],
    [undefined, 'other'],
    [42, 'other'],
  ])('grant type %j → %s', (value, label) => {
    expect(grantTypeLabel(value)).toBe(label);
  });

  it.each([
    ['ERR_OAUTH_INVALID_CLIENT', 'invalid_client'],
    ['ERR_OAUTH_INVALID_GRANT', 'invalid_grant'],
    ['ERR_OAUTH_UNSUPPORTED_GRANT_TYPE', 'unsupported_grant_type'],
    ['ERR_OAUTH_INVALID_TARGET', 'invalid_target'],
    ['ERR_OAUTH_USE_DPOP_NONCE', 'use_dpop_nonce'],
    ['ERR_OAUTH_INVALID_DPOP_PROOF', 'invalid_dpop_proof'],
    // The authorization server's error path: a 503 without an OAuth error is temporarily_unavailable,
    // another 5xx server_error (core toErrorResponse).
    ['ERR_STORE_UNAVAILABLE', 'temporarily_unavailable'],
    ['ERR_STORE_CORRUPT', 'server_error'],
    ['ERR_OAUTH_SERVER_ERROR', 'server_error'],
    // Not a token endpoint error.
    ['ERR_JWT_EXPIRED', 'other'],
    ['ERR_OAUTH_CSRF_INVALID', 'other'],
    ['not a code', 'other'],
    [undefined, 'other'],
  ])('error code %j → %s', (code, label) => {
    expect(tokenErrorLabel(code)).toBe(label);
  });

  it.each([
    ['', '/token', 'token'],
    ['/tenant', '/tenant/token', 'token'],
    ['/tenant', '/tenant/.well-known/openid-configuration', 'discovery'],
    // RFC 8414 §3: the well-known segment before the issuer's path.
    ['/tenant', '/.well-known/oauth-authorization-server/tenant', 'discovery'],
    ['/tenant', '/token', 'other'],
    ['', '/logout', 'end_session'],
    ['', undefined, 'other'],
  ])('under issuer path %j, route %j → %s', (prefix, route, name) => {
    expect(buildEndpointNames(prefix)(route)).toBe(name);
  });
});
