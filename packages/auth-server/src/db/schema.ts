/**
 * Tables of the authorization server. Portable conventions (SQLite and PostgreSQL): times are epoch
 * milliseconds, booleans are 0/1 integers, lists are JSON text. Secrets (client secrets, codes,
 * refresh and opaque access tokens, PAR request URIs) are stored only as SHA-256 hashes.
 */
export interface ClientTable {
  client_id: string;
  name: string;
  /** SHA-256 of the client secret; null for public, private_key_jwt and mTLS clients. */
  secret_hash: string | null;
  /** client_secret_basic | client_secret_post | private_key_jwt | tls_client_auth | self_signed_tls_client_auth | none */
  auth_method: string;
  grant_types: string;
  redirect_uris: string;
  post_logout_redirect_uris: string;
  /** Space-separated scopes the client may request. */
  scope: string;
  /** JSON list of resource indicators the client may address; the first is the default audience. */
  resources: string;
  /** opaque | jwt */
  token_format: string;
  first_party: number;
  require_par: number;
  /** Public keys for private_key_jwt and self_signed_tls_client_auth (JWK Set JSON). */
  jwks: string | null;
  backchannel_logout_uri: string | null;
  /** May call introspection (a resource server or the gateway). */
  can_introspect: number;
  access_token_ttl_sec: number | null;
  refresh_idle_ttl_sec: number | null;
  refresh_absolute_ttl_sec: number | null;
  created_at: number;
  /** RFC 8705 §2.1.2 tls_client_auth: subject_dn | san_dns | san_uri | san_ip | san_email (0004). */
  tls_client_auth_kind: string | null;
  /** The registered subject DN (RFC 4514) or SAN value. */
  tls_client_auth_value: string | null;
  /** RFC 8705 §3.4 tls_client_certificate_bound_access_tokens, 0/1 (0004). */
  tls_bound_tokens: number;
}

export interface UserTable {
  sub: string;
  username: string;
  password_hash: string;
  roles: string;
  name: string | null;
  email: string | null;
  created_at: number;
}

export interface SigningKeyTable {
  kid: string;
  alg: string;
  /** pending | active | retiring | retired | revoked */
  status: string;
  /** Per algorithm, strictly increasing; unique, so two instances cannot create the same successor. */
  generation: number;
  public_jwk: string;
  /** AES-256-GCM sealed PKCS#8 PEM; null once retired. */
  private_key: string | null;
  created_at: number;
  /** When a pending key may start signing (published at least prePublishSec before). */
  activates_at: number;
  activated_at: number | null;
  /** When the active key stops signing (rotation due). */
  rotates_at: number | null;
  retiring_at: number | null;
  /** When a retiring key leaves the JWKS: after every token it signed has expired. */
  unpublish_at: number | null;
  retired_at: number | null;
}

export interface AuthorizationCodeTable {
  code_hash: string;
  client_id: string;
  sub: string;
  redirect_uri: string;
  scope: string;
  resource: string | null;
  code_challenge: string;
  nonce: string | null;
  sid: string;
  auth_time: number;
  dpop_jkt: string | null;
  /** The grant (token family) tokens from this code belong to: revoked if the code is replayed. */
  grant_id: string;
  created_at: number;
  expires_at: number;
  consumed_at: number | null;
}

export interface ParRequestTable {
  request_uri_hash: string;
  client_id: string;
  /** JSON of the pushed authorization parameters. */
  params: string;
  expires_at: number;
  consumed_at: number | null;
}

/** A grant: one authorization (code or refresh lineage) and everything issued from it. */
export interface GrantTable {
  grant_id: string;
  client_id: string;
  sub: string;
  scope: string;
  resource: string | null;
  sid: string | null;
  auth_time: number | null;
  dpop_jkt: string | null;
  created_at: number;
  /** Absolute end of the refresh family. */
  expires_at: number;
  revoked_at: number | null;
  revoked_reason: string | null;
  /** RFC 8705 §4: a public client's refresh tokens are bound to this certificate (x5t#S256) (0004). */
  x5t_s256: string | null;
}

export interface RefreshTokenTable {
  token_hash: string;
  grant_id: string;
  client_id: string;
  scope: string;
  created_at: number;
  idle_expires_at: number;
  /** Set once when the token is exchanged for its successor (atomic compare-and-set). */
  rotated_at: number | null;
  /** Hash of the successor, for the grace window. */
  replaced_by: string | null;
  revoked_at: number | null;
}

/** Every access token issued: opaque ones are looked up here; JWTs are recorded by jti for revocation. */
export interface AccessTokenTable {
  jti: string;
  /** opaque | jwt */
  format: string;
  /** SHA-256 of an opaque token; null for JWTs. */
  token_hash: string | null;
  grant_id: string | null;
  client_id: string;
  sub: string;
  scope: string;
  audience: string | null;
  dpop_jkt: string | null;
  kid: string | null;
  /** The token this one was exchanged from (RFC 8693), revoked together. */
  parent_jti: string | null;
  created_at: number;
  expires_at: number;
  revoked_at: number | null;
  /** RFC 8705 §3.1: the x5t#S256 of the client certificate the token is bound to (0004). */
  x5t_s256: string | null;
}

export interface SessionTable {
  /** Public session id: the ID-token `sid` claim and the back-channel logout key. */
  sid: string;
  /** SHA-256 of the session cookie (a 256-bit secret); null only for rows older than 0002. */
  cookie_hash: string | null;
  sub: string;
  auth_time: number;
  created_at: number;
  expires_at: number;
  ended_at: number | null;
}

/** Clients that received tokens in a session: notified by back-channel logout. */
export interface SessionClientTable {
  sid: string;
  client_id: string;
}

export interface ConsentTable {
  sub: string;
  client_id: string;
  scope: string;
  granted_at: number;
}

export interface AuthDatabase {
  clients: ClientTable;
  users: UserTable;
  signing_keys: SigningKeyTable;
  authorization_codes: AuthorizationCodeTable;
  par_requests: ParRequestTable;
  grants: GrantTable;
  refresh_tokens: RefreshTokenTable;
  access_tokens: AccessTokenTable;
  sessions: SessionTable;
  session_clients: SessionClientTable;
  consents: ConsentTable;
}
