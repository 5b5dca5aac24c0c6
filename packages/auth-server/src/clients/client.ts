/** How a client authenticates at the token endpoint (RFC 6749 §2.3, RFC 7523 §2.2). */
export type ClientAuthMethod = 'client_secret_basic' | 'client_secret_post' | 'private_key_jwt' | 'none';

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
  readonly jwks: { readonly keys: readonly unknown[] } | null;
  readonly backchannelLogoutUri: string | null;
  readonly canIntrospect: boolean;
  readonly accessTokenTtlSec: number | null;
  readonly refreshIdleTtlSec: number | null;
  readonly refreshAbsoluteTtlSec: number | null;
  readonly createdAt: number;
}

export const isPublic = (client: Pick<Client, 'authMethod'>): boolean => client.authMethod === 'none';
