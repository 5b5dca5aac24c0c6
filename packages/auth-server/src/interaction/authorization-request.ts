import { GatehouseError, type ErrorCode } from '@gatehouse/core';
import { isPublic, type Client } from '../clients/client.js';
import type { Params } from '../http/params.js';

export type Prompt = 'none' | 'login' | 'consent';

/** A validated authorization request (RFC 6749 §4.1.1, OIDC Core §3.1.2.1), ready to be decided. */
export interface AuthorizationRequest {
  readonly clientId: string;
  /** Exactly as sent; the token request must repeat it (RFC 6749 §4.1.3). */
  readonly redirectUri: string;
  readonly state: string | null;
  readonly scopes: readonly string[];
  readonly resource: string | null;
  readonly codeChallenge: string;
  readonly nonce: string | null;
  readonly prompt: readonly Prompt[];
  /** OIDC Core §3.1.2.1 `max_age`, seconds. */
  readonly maxAge: number | null;
  /** RFC 9449 §10 thumbprint the code is bound to. */
  readonly dpopJkt: string | null;
  /** OIDC Core §3.1.2.1 `id_token_hint`, kept as given (verified when the request is decided). */
  readonly idTokenHint: string | null;
}

/** Prefix of request URIs issued by the PAR endpoint (RFC 9126 §2.2). */
export const PAR_URN_PREFIX = 'urn:ietf:params:oauth:request_uri:';

/** Client authentication parameters: never part of the stored authorization request. */
export const CLIENT_AUTH_PARAMS: ReadonlySet<string> = new Set([
  'client_secret',
  'client_assertion',
  'client_assertion_type',
]);

const BASE64URL_SHA256 = /^[A-Za-z0-9_-]{43}$/;
const SCOPE_TOKEN = /^[\x21\x23-\x5b\x5d-\x7e]+$/;
const MAX_NONCE = 512;
const MAX_STATE = 2048;

const fail = (code: ErrorCode, detail: string): never => {
  throw new GatehouseError(code, { detail });
};

/** Loopback redirect URI without its port: `http://127.0.0.1` or `http://[::1]`, then the rest verbatim. */
const LOOPBACK = /^http:\/\/(127\.0\.0\.1|\[::1\])(?::([1-9][0-9]{0,4}))?([/?][^#]*)?$/;

function withoutLoopbackPort(uri: string): string | undefined {
  const match = LOOPBACK.exec(uri);
  if (match === null) return undefined;
  const port = match[2] === undefined ? undefined : Number(match[2]);
  if (port !== undefined && port > 65_535) return undefined;
  return `http://${match[1] as string}${match[3] ?? ''}`;
}

/**
 * RFC 9700 §4.1.3: the redirect URI must equal a registered one, character for character. The one
 * exception is RFC 8252 §7.3: for a native (public) client registered with a loopback IP literal,
 * the port may differ (the app picks a free one); scheme, host, path and query must still be equal.
 * `localhost` gets no exception (RFC 8252 §8.3).
 */
export function redirectUriMatches(client: Client, requested: string): boolean {
  if (client.redirectUris.includes(requested)) return true;
  if (!isPublic(client)) return false;
  const portless = withoutLoopbackPort(requested);
  return portless !== undefined && client.redirectUris.some((r) => withoutLoopbackPort(r) === portless);
}

/**
 * The redirect URI of a request, or an error that must be SHOWN to the user, never redirected
 * (RFC 6749 §4.1.2.1, RFC 9700 §4.1.3: no open redirector). The URI is required even when a single
 * one is registered (OIDC Core §3.1.2.1; the token request repeats it).
 */
export function checkRedirectUri(client: Client, params: Params): string {
  const requested = params['redirect_uri'];
  if (requested === undefined) return fail('ERR_OAUTH_INVALID_REQUEST', 'missing redirect_uri');
  if (!redirectUriMatches(client, requested))
    return fail('ERR_OAUTH_INVALID_REQUEST', 'redirect_uri not registered');
  return requested;
}

export interface ValidateOptions {
  /** The parameters came from a pushed authorization request (RFC 9126). */
  readonly pushed: boolean;
  /** Thumbprint of a DPoP proof sent with the pushed request (RFC 9449 §10.1). */
  readonly dpopProofJkt?: string | undefined;
}

/**
 * Validates everything after the client and redirect URI, in one place for the authorization and
 * PAR endpoints. Errors thrown here may be sent to the redirect URI (RFC 6749 §4.1.2.1).
 */
export function validateAuthorizationParams(
  client: Client,
  redirectUri: string,
  params: Params,
  options: ValidateOptions,
): AuthorizationRequest {
  // OIDC Core §6: request objects are not supported (discovery says so).
  if (params['request'] !== undefined) fail('ERR_OAUTH_REQUEST_NOT_SUPPORTED', 'request object');
  // RFC 9126 §2.1: request_uri is not allowed inside a pushed request.
  if (options.pushed && params['request_uri'] !== undefined)
    fail('ERR_OAUTH_INVALID_REQUEST', 'request_uri in a pushed request');
  // RFC 9126 §6: a client that must use PAR may not send a plain authorization request.
  if (client.requirePar && !options.pushed) fail('ERR_OAUTH_INVALID_REQUEST', 'client requires PAR');

  const responseType = params['response_type'];
  if (responseType === undefined) fail('ERR_OAUTH_INVALID_REQUEST', 'missing response_type');
  // OAuth 2.1 §4.1.1 / RFC 9700 §2.1.2: the code flow only (no implicit, no hybrid).
  if (responseType !== 'code') fail('ERR_OAUTH_UNSUPPORTED_RESPONSE_TYPE', 'response_type');
  if (!client.grantTypes.includes('authorization_code'))
    fail('ERR_OAUTH_UNAUTHORIZED_CLIENT', 'client lacks the authorization_code grant');
  const responseMode = params['response_mode'];
  if (responseMode !== undefined && responseMode !== 'query')
    fail('ERR_OAUTH_INVALID_REQUEST', 'response_mode');

  // RFC 7636 / OAuth 2.1 §4.1.1: PKCE for every client, S256 only (no plain, no downgrade).
  const codeChallenge = params['code_challenge'];
  if (codeChallenge === undefined) fail('ERR_OAUTH_INVALID_REQUEST', 'missing code_challenge');
  if (params['code_challenge_method'] !== 'S256')
    fail('ERR_OAUTH_INVALID_REQUEST', 'code_challenge_method must be S256');
  if (!BASE64URL_SHA256.test(codeChallenge as string))
    fail('ERR_OAUTH_INVALID_REQUEST', 'code_challenge is not a base64url SHA-256');

  const scopeText = params['scope'];
  const scopes = scopeText === undefined ? [] : [...new Set(scopeText.split(' '))];
  for (const scope of scopes) {
    // RFC 6749 §3.3: single spaces between scope tokens; an empty token means a malformed list.
    if (!SCOPE_TOKEN.test(scope)) fail('ERR_OAUTH_INVALID_SCOPE', 'scope syntax');
    if (!client.scopes.includes(scope)) fail('ERR_OAUTH_INVALID_SCOPE', 'scope not allowed');
  }

  // RFC 8707 §2: one absolute URI without fragment, registered for the client.
  const resource = params['resource'] ?? null;
  if (
    resource !== null &&
    (resource.includes('#') || !URL.canParse(resource) || !client.resources.includes(resource))
  )
    fail('ERR_OAUTH_INVALID_TARGET', 'resource');

  const nonce = params['nonce'] ?? null;
  if (nonce !== null && nonce.length > MAX_NONCE) fail('ERR_OAUTH_INVALID_REQUEST', 'nonce too long');
  const state = params['state'] ?? null;
  if (state !== null && state.length > MAX_STATE) fail('ERR_OAUTH_INVALID_REQUEST', 'state too long');

  const prompt = parsePrompt(params['prompt']);
  const maxAgeText = params['max_age'];
  if (maxAgeText !== undefined && !/^[0-9]{1,9}$/.test(maxAgeText))
    fail('ERR_OAUTH_INVALID_REQUEST', 'max_age');

  let dpopJkt = params['dpop_jkt'] ?? null;
  if (dpopJkt !== null && !BASE64URL_SHA256.test(dpopJkt)) fail('ERR_OAUTH_INVALID_REQUEST', 'dpop_jkt');
  if (options.dpopProofJkt !== undefined) {
    // RFC 9449 §10.1: a proof at PAR binds the code to its key; a dpop_jkt must name the same key.
    if (dpopJkt !== null && dpopJkt !== options.dpopProofJkt)
      fail('ERR_OAUTH_INVALID_DPOP_PROOF', 'dpop_jkt differs from the proof key');
    dpopJkt = options.dpopProofJkt;
  }

  return {
    clientId: client.clientId,
    redirectUri,
    state,
    scopes,
    resource,
    codeChallenge: codeChallenge as string,
    nonce,
    prompt,
    maxAge: maxAgeText === undefined ? null : Number(maxAgeText),
    dpopJkt,
    idTokenHint: params['id_token_hint'] ?? null,
  };
}

/** OIDC Core §3.1.2.1: `none` must stand alone; values we do not implement are ignored. */
function parsePrompt(value: string | undefined): Prompt[] {
  if (value === undefined) return [];
  const values = value.split(' ').filter((v) => v !== '');
  if (values.includes('none') && values.length > 1)
    fail('ERR_OAUTH_INVALID_REQUEST', 'prompt none with others');
  return values.filter((v): v is Prompt => v === 'none' || v === 'login' || v === 'consent');
}

/** Appends parameters to a URI, keeping any query it already has (RFC 6749 §3.1.2). */
export function appendQuery(uri: string, values: Readonly<Record<string, string | null>>): string {
  const query = new URLSearchParams();
  for (const [name, value] of Object.entries(values)) if (value !== null) query.append(name, value);
  const text = query.toString();
  if (text === '') return uri;
  const separator = uri.includes('?') ? (/[?&]$/.test(uri) ? '' : '&') : '?';
  return `${uri}${separator}${text}`;
}

/** The URL an authorization response goes to, with RFC 9207 §2 `iss` (mix-up defence). */
export function authorizationResponseUrl(
  redirectUri: string,
  issuer: string,
  values: Readonly<Record<string, string | null>>,
): string {
  return appendQuery(redirectUri, { ...values, iss: issuer });
}
