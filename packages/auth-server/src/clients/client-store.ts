import { GatehouseError, hashToken, randomToken } from '@gatehouse/core';
import type { Selectable } from 'kysely';
import type { AuthServerDeps } from '../context.js';
import type { ClientTable } from '../db/schema.js';
import { isIP } from 'node:net';
import { parseRfc4514 } from '../mtls/distinguished-name.js';
import {
  GRANT_TYPES,
  TLS_CLIENT_AUTH_NAME_KINDS,
  type Client,
  type ClientAuthMethod,
  type GrantType,
  type TlsClientAuthName,
  type TlsClientAuthNameKind,
  type TokenFormat,
} from './client.js';

export interface CreateClientInput {
  readonly name: string;
  readonly clientId?: string;
  readonly authMethod?: ClientAuthMethod;
  readonly grantTypes: readonly GrantType[];
  readonly redirectUris?: readonly string[];
  readonly postLogoutRedirectUris?: readonly string[];
  readonly scopes?: readonly string[];
  readonly resources?: readonly string[];
  readonly tokenFormat?: TokenFormat;
  readonly firstParty?: boolean;
  readonly requirePar?: boolean;
  readonly jwks?: { readonly keys: readonly unknown[] } | null;
  /** RFC 8705 §2.1.2: required for (and only for) tls_client_auth. */
  readonly tlsClientAuth?: TlsClientAuthName | null;
  /** RFC 8705 §3.4 tls_client_certificate_bound_access_tokens. */
  readonly tlsClientCertificateBoundAccessTokens?: boolean;
  readonly backchannelLogoutUri?: string | null;
  readonly canIntrospect?: boolean;
  readonly accessTokenTtlSec?: number | null;
  readonly refreshIdleTtlSec?: number | null;
  readonly refreshAbsoluteTtlSec?: number | null;
}

export interface CreatedClient {
  readonly client: Client;
  /** Shown once at creation; only its hash is stored. */
  readonly clientSecret: string | undefined;
}

const CLIENT_ID = /^[A-Za-z0-9._~-]{1,128}$/;
const SCOPE_TOKEN = /^[\x21\x23-\x5b\x5d-\x7e]+$/;
const LOOPBACK_HOSTS = new Set(['127.0.0.1', '[::1]', 'localhost']);

/**
 * RFC 9700 §2.1 / RFC 6749 §3.1.2: absolute, no fragment; https, or http on a loopback host
 * (RFC 8252 §7.3), or a private-use scheme for native apps (RFC 8252 §7.1, a reverse domain name).
 */
export function redirectUriProblem(uri: string): string | undefined {
  let url: URL;
  try {
    url = new URL(uri);
  } catch {
    return 'not an absolute URI';
  }
  if (url.hash !== '' || uri.includes('#')) return 'has a fragment';
  if (url.username !== '' || url.password !== '') return 'has user information';
  if (url.protocol === 'https:') return undefined;
  if (url.protocol === 'http:') return LOOPBACK_HOSTS.has(url.hostname) ? undefined : 'http only on loopback';
  if (/^[a-z][a-z0-9+.-]*\.[a-z0-9+.-]+:$/.test(url.protocol)) return undefined;
  return 'scheme not allowed';
}

function resourceProblem(uri: string): string | undefined {
  try {
    const url = new URL(uri);
    // RFC 8707 §2: an absolute URI without a fragment.
    return url.hash === '' && !uri.includes('#') ? undefined : 'has a fragment';
  } catch {
    return 'not an absolute URI';
  }
}

/** RFC 8705 §2.1.2: the registered name must be one a certificate can carry. */
function tlsNameProblem(name: TlsClientAuthName): string | undefined {
  const { kind, value } = name;
  if (!(TLS_CLIENT_AUTH_NAME_KINDS as readonly string[]).includes(kind)) return `unknown kind ${kind}`;
  if (value.length === 0 || value.length > 1024) return '1 to 1024 characters';
  switch (kind) {
    case 'subject_dn':
      return parseRfc4514(value) === undefined ? 'not an RFC 4514 distinguished name' : undefined;
    case 'san_dns':
      return /^[A-Za-z0-9*]([A-Za-z0-9.*-]*[A-Za-z0-9])?\.?$/.test(value) ? undefined : 'not a DNS name';
    case 'san_uri':
      return URL.canParse(value) ? undefined : 'not an absolute URI';
    case 'san_ip':
      return isIP(value) === 0 ? 'not an IP address' : undefined;
    case 'san_email':
      return /^[^@\s]+@[^@\s]+$/.test(value) ? undefined : 'not an email address';
  }
}

function validate(input: CreateClientInput, authMethod: ClientAuthMethod): string[] {
  const problems: string[] = [];
  if (input.name.trim() === '' || input.name.length > 200) problems.push('name: 1 to 200 characters');
  if (input.clientId !== undefined && !CLIENT_ID.test(input.clientId))
    problems.push('clientId: 1-128 of A-Z a-z 0-9 . _ ~ -');
  if (input.grantTypes.length === 0) problems.push('grantTypes: at least one');
  for (const grant of input.grantTypes) {
    if (!(GRANT_TYPES as readonly string[]).includes(grant))
      problems.push(`grantTypes: ${grant} is not supported`);
  }
  const redirectUris = input.redirectUris ?? [];
  if (input.grantTypes.includes('authorization_code') && redirectUris.length === 0) {
    problems.push('redirectUris: required for authorization_code');
  }
  for (const uri of [...redirectUris, ...(input.postLogoutRedirectUris ?? [])]) {
    const problem = redirectUriProblem(uri);
    if (problem !== undefined) problems.push(`redirect URI ${JSON.stringify(uri)}: ${problem}`);
  }
  if (input.backchannelLogoutUri != null) {
    const problem = redirectUriProblem(input.backchannelLogoutUri);
    if (problem !== undefined) problems.push(`backchannelLogoutUri: ${problem}`);
  }
  for (const scope of input.scopes ?? [])
    if (!SCOPE_TOKEN.test(scope)) problems.push(`scope ${JSON.stringify(scope)}: invalid`);
  for (const resource of input.resources ?? []) {
    const problem = resourceProblem(resource);
    if (problem !== undefined) problems.push(`resource ${JSON.stringify(resource)}: ${problem}`);
  }
  if (authMethod === 'none') {
    if (
      input.grantTypes.includes('client_credentials') ||
      input.grantTypes.includes('urn:ietf:params:oauth:grant-type:token-exchange')
    ) {
      problems.push('a public client cannot use client_credentials or token exchange');
    }
    if (input.canIntrospect === true) problems.push('a public client cannot introspect');
  }
  if (
    (authMethod === 'private_key_jwt' || authMethod === 'self_signed_tls_client_auth') &&
    (input.jwks == null || input.jwks.keys.length === 0)
  ) {
    problems.push(`jwks: required for ${authMethod}`);
  }
  // RFC 8705 §2.1.2: a tls_client_auth client registers exactly one certificate name; no other
  // method uses one (a stale name on another client would read as a credential it does not have).
  if (authMethod === 'tls_client_auth') {
    if (input.tlsClientAuth == null) {
      problems.push('tls_client_auth needs exactly one of subject DN, SAN DNS, URI, IP or email');
    } else {
      const problem = tlsNameProblem(input.tlsClientAuth);
      if (problem !== undefined) problems.push(`tls_client_auth_${input.tlsClientAuth.kind}: ${problem}`);
    }
  } else if (input.tlsClientAuth != null) {
    problems.push('a certificate name is only for tls_client_auth');
  }
  for (const [name, value] of [
    ['accessTokenTtlSec', input.accessTokenTtlSec],
    ['refreshIdleTtlSec', input.refreshIdleTtlSec],
    ['refreshAbsoluteTtlSec', input.refreshAbsoluteTtlSec],
  ] as const) {
    if (value != null && (!Number.isSafeInteger(value) || value <= 0))
      problems.push(`${name}: a positive integer`);
  }
  return problems;
}

const json = (value: unknown): string => JSON.stringify(value);

function parseList(text: string): string[] {
  const value: unknown = JSON.parse(text);
  return Array.isArray(value) ? value.filter((item): item is string => typeof item === 'string') : [];
}

export function clientFromRow(row: Selectable<ClientTable>): Client {
  // Frozen through its lists: a cached client is shared by every request that reads it.
  return Object.freeze({
    clientId: row.client_id,
    name: row.name,
    authMethod: row.auth_method as ClientAuthMethod,
    secretHash: row.secret_hash,
    grantTypes: Object.freeze(parseList(row.grant_types) as GrantType[]),
    redirectUris: Object.freeze(parseList(row.redirect_uris)),
    postLogoutRedirectUris: Object.freeze(parseList(row.post_logout_redirect_uris)),
    scopes: Object.freeze(row.scope === '' ? [] : row.scope.split(' ')),
    resources: Object.freeze(parseList(row.resources)),
    tokenFormat: row.token_format as TokenFormat,
    firstParty: row.first_party === 1,
    requirePar: row.require_par === 1,
    jwks: row.jwks === null ? null : (JSON.parse(row.jwks) as { keys: unknown[] }),
    backchannelLogoutUri: row.backchannel_logout_uri,
    tlsClientAuth:
      row.tls_client_auth_kind === null || row.tls_client_auth_value === null
        ? null
        : Object.freeze({
            kind: row.tls_client_auth_kind as TlsClientAuthNameKind,
            value: row.tls_client_auth_value,
          }),
    tlsClientCertificateBoundAccessTokens: row.tls_bound_tokens === 1,
    canIntrospect: row.can_introspect === 1,
    accessTokenTtlSec: row.access_token_ttl_sec,
    refreshIdleTtlSec: row.refresh_idle_ttl_sec,
    refreshAbsoluteTtlSec: row.refresh_absolute_ttl_sec,
    createdAt: row.created_at,
  });
}

/** Registered clients. Secrets are 256-bit random values, returned once and stored as SHA-256. */
export interface ClientStore {
  create(input: CreateClientInput): Promise<CreatedClient>;
  get(clientId: string): Promise<Client | undefined>;
  list(): Promise<Client[]>;
  /** True when a client was deleted. */
  delete(clientId: string): Promise<boolean>;
  /** With a cache: listens for client changes made by other instances (see CLIENT_CHANNEL). */
  start(): Promise<void>;
  stop(): Promise<void>;
}

/**
 * Shared-state channel on which every client creation and deletion is announced (message: JSON
 * `{ event, clientId }`, never a secret), so every instance drops its cached copy at once.
 */
export const CLIENT_CHANNEL = 'clients';

/** What is published on CLIENT_CHANNEL. */
export interface ClientEvent {
  readonly event: 'created' | 'deleted';
  readonly clientId: string;
}

/** The authorization server's client cache lifetime: a missed change is seen this late at worst. */
export const CLIENT_CACHE_TTL_MS = 5000;
/** Bound on cached clients (only registered clients are cached, never unknown ids). */
const CLIENT_CACHE_MAX_ENTRIES = 10_000;

export interface ClientStoreOptions {
  /**
   * Serve `get` from memory for this long after a database read (default 0: no cache). The cache
   * spares the read only: authentication still compares the presented secret with the stored
   * hash on every request. A client deleted here is dropped at once; one deleted elsewhere (another
   * instance, the CLI) as soon as the shared-state event arrives, and after `cacheTtlMs` at worst.
   */
  readonly cacheTtlMs?: number;
}

type ClientStoreDeps = Pick<AuthServerDeps, 'db' | 'now' | 'state' | 'logger'>;

/** The cached reads of `get`: per-client entries, one database read at a time per client id. */
function createClientCache(
  deps: ClientStoreDeps,
  ttlMs: number,
  read: (id: string) => Promise<Client | undefined>,
) {
  const entries = new Map<string, { readonly client: Client; readonly readAt: number }>();
  const loading = new Map<string, Promise<Client | undefined>>();
  // Bumped by every invalidation: a read that started before one must not cache what it read.
  let generation = 0;

  async function load(clientId: string): Promise<Client | undefined> {
    const started = generation;
    const client = await read(clientId);
    if (client !== undefined && started === generation) {
      entries.delete(clientId);
      entries.set(clientId, { client, readAt: deps.now() });
      // Oldest first (insertion order): drop one when full.
      if (entries.size > CLIENT_CACHE_MAX_ENTRIES) entries.delete(entries.keys().next().value as string);
    }
    return client;
  }

  return {
    get(clientId: string): Promise<Client | undefined> {
      const hit = entries.get(clientId);
      if (hit !== undefined) {
        const age = deps.now() - hit.readAt;
        // A clock set back must not stretch the lifetime: a negative age counts as expired.
        if (age >= 0 && age < ttlMs) return Promise.resolve(hit.client);
        entries.delete(clientId);
      }
      let pending = loading.get(clientId);
      if (pending === undefined) {
        const started = load(clientId).finally(() => {
          if (loading.get(clientId) === started) loading.delete(clientId);
        });
        loading.set(clientId, started);
        pending = started;
      }
      return pending;
    },
    /** Drops one client, or every client when `clientId` is undefined. */
    invalidate(clientId?: string): void {
      generation++;
      if (clientId === undefined) {
        entries.clear();
        loading.clear();
      } else {
        entries.delete(clientId);
        loading.delete(clientId);
      }
    },
  };
}

function parseClientEvent(message: string): ClientEvent | undefined {
  try {
    const event = JSON.parse(message) as Partial<ClientEvent> | null;
    return typeof event?.clientId === 'string' && (event.event === 'created' || event.event === 'deleted')
      ? { event: event.event, clientId: event.clientId }
      : undefined;
  } catch {
    return undefined;
  }
}

export function createClientStore(deps: ClientStoreDeps, options: ClientStoreOptions = {}): ClientStore {
  const { db } = deps;
  const cacheTtlMs = options.cacheTtlMs ?? 0;
  let unsubscribe: (() => Promise<void>) | undefined;

  async function read(clientId: string): Promise<Client | undefined> {
    const row = await db
      .selectFrom('clients')
      .selectAll()
      .where('client_id', '=', clientId)
      .executeTakeFirst();
    return row === undefined ? undefined : clientFromRow(row);
  }
  const cache = cacheTtlMs > 0 ? createClientCache(deps, cacheTtlMs, read) : undefined;

  /** Drops the client here, then tells every other instance (their caches, if any, drop it too). */
  async function changed(event: ClientEvent): Promise<void> {
    cache?.invalidate(event.clientId);
    try {
      await deps.state.publish(CLIENT_CHANNEL, JSON.stringify(event));
    } catch (err) {
      // Other instances still drop it when their cached copy expires (CLIENT_CACHE_TTL_MS).
      deps.logger.error({ err, clientId: event.clientId }, 'client event could not be published');
    }
  }

  return {
    async create(input) {
      const authMethod = input.authMethod ?? (input.jwks != null ? 'private_key_jwt' : 'client_secret_basic');
      const problems = validate(input, authMethod);
      if (problems.length > 0)
        throw new GatehouseError('ERR_CONFIG_INVALID', { detail: problems.join('; ') });
      const clientId = input.clientId ?? newClientId();
      const clientSecret =
        authMethod === 'client_secret_basic' || authMethod === 'client_secret_post'
          ? randomToken()
          : undefined;
      const tlsName = authMethod === 'tls_client_auth' ? (input.tlsClientAuth ?? null) : null;
      const row: ClientTable = {
        client_id: clientId,
        name: input.name,
        secret_hash: clientSecret === undefined ? null : hashToken(clientSecret),
        auth_method: authMethod,
        grant_types: json(input.grantTypes),
        redirect_uris: json(input.redirectUris ?? []),
        post_logout_redirect_uris: json(input.postLogoutRedirectUris ?? []),
        scope: (input.scopes ?? []).join(' '),
        resources: json(input.resources ?? []),
        token_format: input.tokenFormat ?? 'opaque',
        first_party: input.firstParty === true ? 1 : 0,
        require_par: input.requirePar === true ? 1 : 0,
        jwks: input.jwks == null ? null : json(input.jwks),
        backchannel_logout_uri: input.backchannelLogoutUri ?? null,
        can_introspect: input.canIntrospect === true ? 1 : 0,
        access_token_ttl_sec: input.accessTokenTtlSec ?? null,
        refresh_idle_ttl_sec: input.refreshIdleTtlSec ?? null,
        refresh_absolute_ttl_sec: input.refreshAbsoluteTtlSec ?? null,
        created_at: deps.now(),
        tls_client_auth_kind: tlsName?.kind ?? null,
        tls_client_auth_value: tlsName?.value ?? null,
        tls_bound_tokens: input.tlsClientCertificateBoundAccessTokens === true ? 1 : 0,
      };
      const existing = await db
        .selectFrom('clients')
        .select('client_id')
        .where('client_id', '=', clientId)
        .executeTakeFirst();
      if (existing !== undefined)
        throw new GatehouseError('ERR_CONFIG_INVALID', { detail: `client ${clientId} exists` });
      await db.insertInto('clients').values(row).execute();
      await changed({ event: 'created', clientId });
      return { client: clientFromRow(row), clientSecret };
    },
    get(clientId) {
      return cache === undefined ? read(clientId) : cache.get(clientId);
    },
    async list() {
      const rows = await db
        .selectFrom('clients')
        .selectAll()
        .orderBy('created_at')
        .orderBy('client_id')
        .execute();
      return rows.map(clientFromRow);
    },
    async delete(clientId) {
      const result = await db.deleteFrom('clients').where('client_id', '=', clientId).executeTakeFirst();
      const deleted = Number(result.numDeletedRows) > 0;
      // Announced even when no row was here: a cached copy elsewhere may outlive a concurrent delete.
      await changed({ event: 'deleted', clientId });
      return deleted;
    },
    async start() {
      if (cache === undefined || unsubscribe !== undefined) return;
      unsubscribe = await deps.state.subscribe(CLIENT_CHANNEL, (message) => {
        // An event that cannot be read still means some client changed: drop them all.
        cache.invalidate(parseClientEvent(message)?.clientId);
      });
      // Reads made before the subscription existed may have missed an event.
      cache.invalidate();
    },
    async stop() {
      const current = unsubscribe;
      unsubscribe = undefined;
      await current?.();
    },
  };
}

/**
 * A fresh client id: 128 random bits, base64url, starting with a letter or digit, so that an id never
 * reads as an option on a command line (`gatehouse clients delete -sFI3…` would).
 */
export function newClientId(): string {
  for (;;) {
    const id = randomToken(16);
    if (/^[A-Za-z0-9]/.test(id)) return id;
  }
}
