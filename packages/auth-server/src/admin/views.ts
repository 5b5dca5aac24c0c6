import { z } from 'zod';
import type { Client, TlsClientAuthName } from '../clients/client.js';
import { CLIENT_AUTH_METHODS, GRANT_TYPES, TLS_CLIENT_AUTH_NAME_KINDS } from '../clients/client.js';
import type { CreateClientInput } from '../clients/client-store.js';
import type { KeyInfo } from '../keys/key-service.js';

/**
 * What operators see of clients and keys, over the admin API and in `gatehouse … --json`. Client
 * members use the RFC 7591 §2 / §3.2.1 metadata names where one exists; never a secret or a hash.
 */
export interface ClientView {
  readonly client_id: string;
  readonly client_name: string;
  readonly client_id_issued_at: number;
  readonly token_endpoint_auth_method: Client['authMethod'];
  readonly grant_types: readonly string[];
  readonly scope: string;
  readonly token_format: Client['tokenFormat'];
  readonly redirect_uris: readonly string[];
  readonly post_logout_redirect_uris: readonly string[];
  readonly resources: readonly string[];
  readonly first_party: boolean;
  /** RFC 9126 §6. */
  readonly require_pushed_authorization_requests: boolean;
  readonly can_introspect: boolean;
  readonly backchannel_logout_uri: string | null;
  readonly jwks: Client['jwks'];
  /** RFC 8705 §2.1.2: the one certificate name of a tls_client_auth client (only that member). */
  readonly tls_client_auth_subject_dn?: string;
  readonly tls_client_auth_san_dns?: string;
  readonly tls_client_auth_san_uri?: string;
  readonly tls_client_auth_san_ip?: string;
  readonly tls_client_auth_san_email?: string;
  /** RFC 8705 §3.4. */
  readonly tls_client_certificate_bound_access_tokens: boolean;
  readonly access_token_ttl_sec: number | null;
  readonly refresh_idle_ttl_sec: number | null;
  readonly refresh_absolute_ttl_sec: number | null;
}

export function clientView(client: Client): ClientView {
  return {
    client_id: client.clientId,
    client_name: client.name,
    client_id_issued_at: Math.floor(client.createdAt / 1000),
    token_endpoint_auth_method: client.authMethod,
    grant_types: client.grantTypes,
    scope: client.scopes.join(' '),
    token_format: client.tokenFormat,
    redirect_uris: client.redirectUris,
    post_logout_redirect_uris: client.postLogoutRedirectUris,
    resources: client.resources,
    first_party: client.firstParty,
    require_pushed_authorization_requests: client.requirePar,
    can_introspect: client.canIntrospect,
    backchannel_logout_uri: client.backchannelLogoutUri,
    jwks: client.jwks,
    ...(client.tlsClientAuth === null
      ? {}
      : { [`tls_client_auth_${client.tlsClientAuth.kind}`]: client.tlsClientAuth.value }),
    tls_client_certificate_bound_access_tokens: client.tlsClientCertificateBoundAccessTokens,
    access_token_ttl_sec: client.accessTokenTtlSec,
    refresh_idle_ttl_sec: client.refreshIdleTtlSec,
    refresh_absolute_ttl_sec: client.refreshAbsoluteTtlSec,
  };
}

const SCOPE = /^[\x21\x23-\x5b\x5d-\x7e]+( [\x21\x23-\x5b\x5d-\x7e]+)*$/;
const ttl = z.number().int().positive().optional();
const tlsName = z.string().min(1).max(1024).optional();

/** A new client as the admin API and `gatehouse clients create` take it (RFC 7591 §2 names). */
export const clientInputSchema = z
  .strictObject({
    client_name: z.string().min(1).max(200),
    client_id: z
      .string()
      .regex(/^[A-Za-z0-9._~-]{1,128}$/)
      .optional(),
    grant_types: z.array(z.enum(GRANT_TYPES)).min(1),
    scope: z.string().regex(SCOPE, 'space-separated scope tokens (RFC 6749 §3.3)').optional(),
    token_format: z.enum(['opaque', 'jwt']).optional(),
    token_endpoint_auth_method: z.enum(CLIENT_AUTH_METHODS).optional(),
    redirect_uris: z.array(z.string()).optional(),
    post_logout_redirect_uris: z.array(z.string()).optional(),
    resources: z.array(z.string()).optional(),
    first_party: z.boolean().optional(),
    require_pushed_authorization_requests: z.boolean().optional(),
    can_introspect: z.boolean().optional(),
    jwks: z.strictObject({ keys: z.array(z.record(z.string(), z.unknown())).min(1) }).optional(),
    backchannel_logout_uri: z.string().optional(),
    // RFC 8705 §2.1.2 (tls_client_auth: exactly one) and §3.4.
    tls_client_auth_subject_dn: tlsName,
    tls_client_auth_san_dns: tlsName,
    tls_client_auth_san_uri: tlsName,
    tls_client_auth_san_ip: tlsName,
    tls_client_auth_san_email: tlsName,
    tls_client_certificate_bound_access_tokens: z.boolean().optional(),
    access_token_ttl_sec: ttl,
    refresh_idle_ttl_sec: ttl,
    refresh_absolute_ttl_sec: ttl,
  })
  .refine(
    (input) => TLS_CLIENT_AUTH_NAME_KINDS.filter((kind) => tlsNameOf(input, kind) !== undefined).length <= 1,
    {
      error: 'at most one tls_client_auth_* certificate name (RFC 8705 §2.1.2)',
    },
  );
export type ClientInput = z.output<typeof clientInputSchema>;

function tlsNameOf(
  input: Partial<Record<`tls_client_auth_${TlsClientAuthName['kind']}`, string | undefined>>,
  kind: TlsClientAuthName['kind'],
): string | undefined {
  return input[`tls_client_auth_${kind}`];
}

/** The one registered certificate name of the input, if any. */
function tlsClientAuthOf(input: ClientInput): TlsClientAuthName | undefined {
  for (const kind of TLS_CLIENT_AUTH_NAME_KINDS) {
    const value = tlsNameOf(input, kind);
    if (value !== undefined) return { kind, value };
  }
  return undefined;
}

export function toCreateClientInput(input: ClientInput): CreateClientInput {
  const optional = <K extends string, V>(key: K, value: V | undefined): Partial<Record<K, V>> =>
    value === undefined ? {} : ({ [key]: value } as Record<K, V>);
  return {
    name: input.client_name,
    grantTypes: input.grant_types,
    ...optional('clientId', input.client_id),
    ...optional('authMethod', input.token_endpoint_auth_method),
    ...optional('scopes', input.scope?.split(' ')),
    ...optional('tokenFormat', input.token_format),
    ...optional('redirectUris', input.redirect_uris),
    ...optional('postLogoutRedirectUris', input.post_logout_redirect_uris),
    ...optional('resources', input.resources),
    ...optional('firstParty', input.first_party),
    ...optional('requirePar', input.require_pushed_authorization_requests),
    ...optional('canIntrospect', input.can_introspect),
    ...optional('jwks', input.jwks),
    ...optional('tlsClientAuth', tlsClientAuthOf(input)),
    ...optional('tlsClientCertificateBoundAccessTokens', input.tls_client_certificate_bound_access_tokens),
    ...optional('backchannelLogoutUri', input.backchannel_logout_uri),
    ...optional('accessTokenTtlSec', input.access_token_ttl_sec),
    ...optional('refreshIdleTtlSec', input.refresh_idle_ttl_sec),
    ...optional('refreshAbsoluteTtlSec', input.refresh_absolute_ttl_sec),
  };
}

/** A signing key as operators see it: times as ISO 8601, never the private part. */
export interface KeyView {
  readonly kid: string;
  readonly alg: string;
  readonly status: string;
  readonly generation: number;
  readonly created_at: string;
  readonly activates_at: string;
  readonly activated_at: string | null;
  readonly rotates_at: string | null;
  readonly retiring_at: string | null;
  readonly unpublish_at: string | null;
  readonly retired_at: string | null;
}

const iso = (ms: number): string => new Date(ms).toISOString();
const isoOrNull = (ms: number | null): string | null => (ms === null ? null : iso(ms));

export function keyView(key: KeyInfo): KeyView {
  return {
    kid: key.kid,
    alg: key.alg,
    status: key.status,
    generation: key.generation,
    created_at: iso(key.createdAt),
    activates_at: iso(key.activatesAt),
    activated_at: isoOrNull(key.activatedAt),
    rotates_at: isoOrNull(key.rotatesAt),
    retiring_at: isoOrNull(key.retiringAt),
    unpublish_at: isoOrNull(key.unpublishAt),
    retired_at: isoOrNull(key.retiredAt),
  };
}

/** One problem of a zod validation, as `path: message` (never the offending value). */
export function describeIssues(error: z.ZodError): string[] {
  return error.issues.map((issue) => `${issue.path.join('.') || '(body)'}: ${issue.message}`);
}
