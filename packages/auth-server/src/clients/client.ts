/** How a client authenticates at the token endpoint (RFC 6749 §2.3, RFC 7523 §2.2, RFC 8705 §2). */
export type ClientAuthMethod =
  | 'client_secret_basic'
  | 'client_secret_post'
  | 'private_key_jwt'
  | 'tls_client_auth'
  | 'self_signed_tls_client_auth'
  | 'none';

export const CLIENT_AUTH_METHODS: readonly ClientAuthMethod[] = [
  'client_secret_basic',
  'client_secret_post',
  'private_key_jwt',
  'tls_client_auth',
  'self_signed_tls_client_auth',
  'none',
];

/** RFC 8705 §2: the methods in which the TLS client certificate is the credential. */
export const isMtlsMethod = (method: ClientAuthMethod): boolean =>
  method === 'tls_client_auth' || method === 'self_signed_tls_client_auth';

/**
 * RFC 8705 §2.1.2: which name of its certificate a `tls_client_auth` client registered (exactly
 * one): `tls_client_auth_subject_dn` (RFC 4514 string), `_san_dns`, `_san_uri`, `_san_ip`, `_san_email`.
 */
export const TLS_CLIENT_AUTH_NAME_KINDS = [
  'subject_dn',
  'san_dns',
  'san_uri',
  'san_ip',
  'san_email',
] as const;
export type TlsClientAuthNameKind = (typeof TLS_CLIENT_AUTH_NAME_KINDS)[number];
export interface TlsClientAuthName {
  readonly kind: TlsClientAuthNameKind;
  readonly value: string;
}

export const GRANT_TYPES = [
  'authorization_code',
  'refresh_token',
  'client_credentials',
  'urn:ietf:params:oauth:grant-type:token-exchange',
] as const;
export type GrantType = (typeof GRANT_TYPES)[number];

export type TokenFormat = 'opaque' | 'jwt';

/** A registered client, as the server works with it. */
export interface Client {
  readonly clientId: string;
  readonly name: string;
  readonly authMethod: ClientAuthMethod;
  /** SHA-256 of the secret; never the secret itself. */
  readonly secretHash: string | null;
  readonly grantTypes: readonly GrantType[];
  readonly redirectUris: readonly string[];
  readonly postLogoutRedirectUris: readonly string[];
  readonly scopes: readonly string[];
  /** Resource indicators (audiences) the client may request; the first is the default. */
  readonly resources: readonly string[];
  readonly tokenFormat: TokenFormat;
  /** First-party clients skip the consent page. */
  readonly firstParty: boolean;
  readonly requirePar: boolean;
  /** private_key_jwt assertion keys, or self_signed_tls_client_auth certificate keys. */
  readonly jwks: { readonly keys: readonly unknown[] } | null;
  /** tls_client_auth: the certificate name the client registered. */
  readonly tlsClientAuth: TlsClientAuthName | null;
  /**
   * RFC 8705 §3.4 `tls_client_certificate_bound_access_tokens`: the client's access tokens are
   * always bound to its certificate (a token request without one is refused).
   */
  readonly tlsClientCertificateBoundAccessTokens: boolean;
  readonly backchannelLogoutUri: string | null;
  readonly canIntrospect: boolean;
  readonly accessTokenTtlSec: number | null;
  readonly refreshIdleTtlSec: number | null;
  readonly refreshAbsoluteTtlSec: number | null;
  readonly createdAt: number;
}

export const isPublic = (client: Pick<Client, 'authMethod'>): boolean => client.authMethod === 'none';
