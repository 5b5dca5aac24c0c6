import { GatehouseError } from '@gatehouse/core';
import type { Client, TokenFormat } from '../clients/client.js';
import type { AuthServerDeps } from '../context.js';
import { splitScope, type Params } from '../http/params.js';
import type { AuthServerServices } from '../services.js';

/** One token request after client authentication and DPoP verification. */
export interface GrantContext {
  readonly services: AuthServerServices;
  readonly client: Client;
  readonly params: Params;
  /** RFC 9449: thumbprint of the verified DPoP proof key, when the request carried one. */
  readonly dpopJkt: string | undefined;
  /** RFC 8705 §3: `x5t#S256` of the client certificate the tokens are bound to, if any. */
  readonly x5tS256: string | undefined;
  readonly sourceIp: string | undefined;
  readonly requestId: string;
}

/** What a grant answers: the RFC 6749 §5.1 body and what the audit event names. */
export interface GrantResult {
  readonly body: Readonly<Record<string, unknown>>;
  readonly sub: string;
  readonly format: TokenFormat;
  readonly details?: Readonly<Record<string, string | number | boolean>>;
}

export type GrantHandler = (context: GrantContext) => Promise<GrantResult>;

/** RFC 6749 §3.3 scope-token: %x21 / %x23-5B / %x5D-7E. */
const SCOPE_TOKEN = /^[\x21\x23-\x5b\x5d-\x7e]+$/;

/**
 * The scopes a request asks for (RFC 6749 §3.3): each within `allowed`, else `invalid_scope`;
 * omitted means `fallback`.
 */
export function requestedScopes(
  value: string | undefined,
  allowed: readonly string[],
  fallback: readonly string[],
): string[] {
  if (value === undefined) return [...fallback];
  const scopes = splitScope(value);
  const permitted = new Set(allowed);
  for (const scope of scopes) {
    if (!SCOPE_TOKEN.test(scope) || !permitted.has(scope)) {
      throw new GatehouseError('ERR_OAUTH_INVALID_SCOPE', { detail: 'scope not allowed' });
    }
  }
  return scopes;
}

function isResourceIndicator(value: string): boolean {
  try {
    // RFC 8707 §2: an absolute URI, no fragment.
    return new URL(value).hash === '' && !value.includes('#');
  } catch {
    return false;
  }
}

/** Whether an audience is a configured resource server (RFC 8707). */
export function isConfiguredResource(deps: Pick<AuthServerDeps, 'config'>, resource: string): boolean {
  return deps.config.resources.some((r) => r.id === resource);
}

/**
 * The one audience of the token (RFC 8707 §2): the `resource` parameter, which must be a
 * configured resource registered for the client (else `invalid_target`); omitted means the
 * client's first registered resource, or none (a token for the issuer itself).
 */
export function resolveResource(
  deps: Pick<AuthServerDeps, 'config'>,
  client: Client,
  requested: string | undefined,
): string | null {
  const resource = requested ?? client.resources[0];
  if (resource === undefined) return null;
  if (!isResourceIndicator(resource) || !client.resources.includes(resource)) {
    throw new GatehouseError('ERR_OAUTH_INVALID_TARGET', { detail: 'resource not registered for client' });
  }
  if (!isConfiguredResource(deps, resource)) {
    throw new GatehouseError('ERR_OAUTH_INVALID_TARGET', { detail: 'resource not configured' });
  }
  return resource;
}

/** RFC 6749 §5.2 `invalid_grant` with a log-only detail. */
export function invalidGrant(detail: string): GatehouseError {
  return new GatehouseError('ERR_OAUTH_INVALID_GRANT', { detail });
}

export function refreshLifetimes(
  deps: Pick<AuthServerDeps, 'config'>,
  client: Client,
): { idleSec: number; absoluteSec: number } {
  const { tokens } = deps.config;
  return {
    idleSec: client.refreshIdleTtlSec ?? tokens.refreshIdleTtlSec,
    absoluteSec: client.refreshAbsoluteTtlSec ?? tokens.refreshAbsoluteTtlSec,
  };
}
