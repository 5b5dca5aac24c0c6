import { GatehouseError, openSecret, sealSecret } from '@gatehouse/core';
import type { Redis, RedisOptions } from 'ioredis';
import type {
  BffSession,
  PendingLogin,
  SessionMatch,
  SessionStore,
  SessionSummary,
  SessionTokens,
} from './session-store.js';

export interface RedisSessionStoreOptions {
  /** redis:// or rediss:// URL; the store opens the connection and closes it on `close()`. */
  readonly url?: string;
  /** A connected client instead of `url`; the caller keeps it and closes it. */
  readonly client?: Redis;
  /**
   * AES-256-GCM key sealing tokens and PKCE verifiers at rest (ASVS V8.3); every BFF instance
   * sharing the Redis needs the same key.
   */
  readonly encryptionKey: Uint8Array;
  /** Prefix of every key (default `gatehouse:bff:`), so several deployments can share a Redis. */
  readonly keyPrefix?: string;
  /** Deadline of one command when the store opens the connection (default 2000 ms). */
  readonly commandTimeoutMs?: number;
}

/**
 * Key layout under the prefix (ids are the SHA-256 `idHash`, never the cookie value):
 *   session:<id>   hash of one session (the SQL columns; absent field = null), PEXPIREAT expires_at
 *   ref:<ref>      → id, same expiry (revocation by ref)
 *   sub:<sub>      set of ids          op-sid:<sid>  set of ids (back-channel logout)
 *   owners         hash id → {"ref","sub","sid"}: lets the sweep clean the sets of an expired key
 *   expires, seen  sorted sets id → expires_at / last_seen_at (absolute and idle sweep)
 *   login:<id>     a pending login (JSON)      logins  sorted set id → expires_at
 * Scripts build key names from the prefix (ARGV[1]), so the keys must share one server: standalone
 * Redis 6.2+ (GETDEL, SET PXAT, ZRANGE BYSCORE) or Sentinel through `client`, not Redis Cluster.
 */
const REMOVE = `
local p = ARGV[1]
-- One session and every index entry of it; returns its fields (empty when the key had expired).
local function remove(id)
  local key = p .. 'session:' .. id
  local fields = redis.call('HGETALL', key)
  redis.call('DEL', key)
  local owner = redis.call('HGET', p .. 'owners', id)
  if owner then
    local o = cjson.decode(owner)
    redis.call('SREM', p .. 'sub:' .. o.sub, id)
    if o.sid then redis.call('SREM', p .. 'op-sid:' .. o.sid, id) end
    if redis.call('GET', p .. 'ref:' .. o.ref) == id then redis.call('DEL', p .. 'ref:' .. o.ref) end
    redis.call('HDEL', p .. 'owners', id)
  end
  redis.call('ZREM', p .. 'expires', id)
  redis.call('ZREM', p .. 'seen', id)
  return fields
end`;

/** ARGV: prefix, id, ref, sub, hasSid, sid, expiresAt, lastSeenAt, owner, field/value pairs… */
const CREATE = `
local p, id, ref = ARGV[1], ARGV[2], ARGV[3]
local key = p .. 'session:' .. id
if redis.call('EXISTS', key) == 1 or redis.call('EXISTS', p .. 'ref:' .. ref) == 1 then return 0 end
redis.call('HSET', key, unpack(ARGV, 10))
redis.call('PEXPIREAT', key, ARGV[7])
redis.call('SET', p .. 'ref:' .. ref, id, 'PXAT', ARGV[7])
redis.call('SADD', p .. 'sub:' .. ARGV[4], id)
if ARGV[5] == '1' then redis.call('SADD', p .. 'op-sid:' .. ARGV[6], id) end
redis.call('ZADD', p .. 'expires', ARGV[7], id)
redis.call('ZADD', p .. 'seen', ARGV[8], id)
redis.call('HSET', p .. 'owners', id, ARGV[9])
return 1`;

/** ARGV: prefix, id, lastSeenAt. Never recreates a deleted or expired session. */
const TOUCH = `
local key = ARGV[1] .. 'session:' .. ARGV[2]
if redis.call('EXISTS', key) == 0 then return 0 end
redis.call('HSET', key, 'last_seen_at', ARGV[3])
redis.call('ZADD', ARGV[1] .. 'seen', ARGV[3], ARGV[2])
return 1`;

/**
 * ARGV: prefix, id, ref, dropRefreshToken, field/value pairs… The ref the tokens were sealed for
 * must still be the session's (AAD); a session deleted meanwhile stays deleted.
 */
const UPDATE_TOKENS = `
local key = ARGV[1] .. 'session:' .. ARGV[2]
if redis.call('HGET', key, 'ref') ~= ARGV[3] then return 0 end
if ARGV[4] == '1' then redis.call('HDEL', key, 'refresh_token') end
redis.call('HSET', key, unpack(ARGV, 5))
return 1`;

/** ARGV: prefix, id. */
const DELETE = `${REMOVE}
return remove(ARGV[2])`;

/** ARGV: prefix, hasRef, ref, hasSub, sub, hasSid, sid. Returns the removed sessions' fields. */
const DELETE_MATCHING = `${REMOVE}
local ids
if ARGV[2] == '1' then
  local id = redis.call('GET', p .. 'ref:' .. ARGV[3])
  if id then ids = { id } else ids = {} end
elseif ARGV[4] == '1' then
  ids = redis.call('SMEMBERS', p .. 'sub:' .. ARGV[5])
else
  ids = redis.call('SMEMBERS', p .. 'op-sid:' .. ARGV[7])
end
local removed = {}
for _, id in ipairs(ids) do
  local f = redis.call('HMGET', p .. 'session:' .. id, 'ref', 'sub', 'op_sid')
  if not f[1] then
    remove(id)
  elseif (ARGV[2] ~= '1' or f[1] == ARGV[3]) and (ARGV[4] ~= '1' or f[2] == ARGV[5])
      and (ARGV[6] ~= '1' or f[3] == ARGV[7]) then
    table.insert(removed, remove(id))
  end
end
return removed`;

/** ARGV: prefix, sub. Read only: members whose key expired are skipped (the sweep prunes them). */
const LIST = `
local out = {}
for _, id in ipairs(redis.call('SMEMBERS', ARGV[1] .. 'sub:' .. ARGV[2])) do
  local f = redis.call('HMGET', ARGV[1] .. 'session:' .. id,
    'ref', 'sub', 'name', 'created_at', 'last_seen_at', 'expires_at')
  if f[1] then table.insert(out, f) end
end
return out`;

/**
 * ARGV: prefix, now, idleBefore, batch. At most `batch` ids per index and call, so one call never
 * blocks Redis for long; returns { removed, more }.
 */
const DELETE_EXPIRED = `${REMOVE}
local batch = tonumber(ARGV[4])
local removed, more = 0, 0
local function sweep(index, max)
  local ids = redis.call('ZRANGE', p .. index, '-inf', max, 'BYSCORE', 'LIMIT', 0, batch)
  for _, id in ipairs(ids) do
    if redis.call('EXISTS', p .. 'session:' .. id) == 1 then removed = removed + 1 end
    remove(id)
  end
  if #ids == batch then more = 1 end
end
sweep('expires', ARGV[2])
sweep('seen', ARGV[3])
local logins = redis.call('ZRANGE', p .. 'logins', '-inf', ARGV[2], 'BYSCORE', 'LIMIT', 0, batch)
for _, id in ipairs(logins) do
  removed = removed + redis.call('DEL', p .. 'login:' .. id)
  redis.call('ZREM', p .. 'logins', id)
end
if #logins == batch then more = 1 end
return { removed, more }`;

/** ARGV: prefix, id, login JSON, key expiry, expiresAt. */
const SAVE_LOGIN = `
if not redis.call('SET', ARGV[1] .. 'login:' .. ARGV[2], ARGV[3], 'NX', 'PXAT', ARGV[4]) then return 0 end
redis.call('ZADD', ARGV[1] .. 'logins', ARGV[5], ARGV[2])
return 1`;

/** ARGV: prefix, id. Single use: read and delete in one step, however many callbacks race. */
const TAKE_LOGIN = `
local login = redis.call('GETDEL', ARGV[1] .. 'login:' .. ARGV[2])
redis.call('ZREM', ARGV[1] .. 'logins', ARGV[2])
return login`;

const SCRIPTS = {
  gatehouseBffCreate: CREATE,
  gatehouseBffTouch: TOUCH,
  gatehouseBffUpdateTokens: UPDATE_TOKENS,
  gatehouseBffDelete: DELETE,
  gatehouseBffDeleteMatching: DELETE_MATCHING,
  gatehouseBffList: LIST,
  gatehouseBffDeleteExpired: DELETE_EXPIRED,
  gatehouseBffSaveLogin: SAVE_LOGIN,
  gatehouseBffTakeLogin: TAKE_LOGIN,
} as const;

type Argument = string | number;
type ScriptedRedis = Redis & Record<keyof typeof SCRIPTS, (...args: Argument[]) => Promise<unknown>>;

/** Ids per index and sweep call. */
const SWEEP_BATCH = 500;

/**
 * A pending login's key outlives `expiresAt` by a minute, as an SQL row stays until the next sweep:
 * a callback just too late is refused as `login_expired`, not `unknown_login`. The sweep removes it
 * at `expiresAt` by the BFF's clock.
 */
const LOGIN_GRACE_MS = 60_000;

const unavailable = (cause: unknown): GatehouseError =>
  new GatehouseError('ERR_STORE_UNAVAILABLE', { detail: 'redis session store command failed', cause });

const corrupt = (detail: string): GatehouseError => new GatehouseError('ERR_STORE_CORRUPT', { detail });

/** A flat HGETALL reply (`[field, value, …]`) as a record. */
function toRecord(reply: unknown): Record<string, string> {
  if (!Array.isArray(reply)) throw corrupt('unexpected session script reply');
  const record: Record<string, string> = {};
  for (let i = 0; i + 1 < reply.length; i += 2) record[String(reply[i])] = String(reply[i + 1]);
  return record;
}

function text(record: Readonly<Record<string, string>>, field: string): string {
  const value = record[field];
  if (value === undefined) throw corrupt(`stored session lacks ${field}`);
  return value;
}

function epochMs(value: unknown): number {
  const n = Number(value);
  if (typeof value !== 'string' || !Number.isSafeInteger(n)) throw corrupt('stored time is not epoch ms');
  return n;
}

async function connect(options: RedisSessionStoreOptions): Promise<{ client: Redis; owned: boolean }> {
  if (options.client !== undefined) return { client: options.client, owned: false };
  if (options.url === undefined) {
    throw new GatehouseError('ERR_CONFIG_INVALID', { detail: 'redis session store needs url or client' });
  }
  // Loaded on first use: a BFF on SQL never loads the Redis client. Connection settings of core's
  // redis-shared-state: no offline queue and no resending, so a command during an outage fails at
  // once and is never applied later; reconnect forever with a capped backoff.
  const { Redis: RedisClient } = await import('ioredis');
  const client = new RedisClient(options.url, {
    lazyConnect: true,
    maxRetriesPerRequest: 1,
    commandTimeout: options.commandTimeoutMs ?? 2000,
    enableOfflineQueue: false,
    autoResendUnfulfilledCommands: false,
    retryStrategy: (attempt: number) => Math.min(attempt * 200, 2000),
  } satisfies RedisOptions);
  // Connection errors surface through commands; an unhandled 'error' event must not crash the process.
  client.on('error', () => undefined);
  try {
    await client.connect();
  } catch (cause) {
    client.disconnect();
    throw unavailable(cause);
  }
  return { client, owned: true };
}

/**
 * Sessions in Redis, shared by every BFF instance. Each operation is one Lua script (atomic however
 * many instances act at once); a session key expires at the absolute timeout (PEXPIREAT), and
 * `deleteExpired` walks sorted sets, never the keyspace. Tokens are sealed exactly as in the SQL
 * store (AAD = session ref and field), so a Redis dump or RDB file yields no usable token.
 */
export async function createRedisSessionStore(options: RedisSessionStoreOptions): Promise<SessionStore> {
  const { encryptionKey: key } = options;
  const prefix = options.keyPrefix ?? 'gatehouse:bff:';
  // Fails here, not at the first login, when the key has the wrong size.
  sealSecret(key, '', 'bff:check');
  const { client, owned } = await connect(options);
  const redis = client as ScriptedRedis;
  for (const [name, lua] of Object.entries(SCRIPTS)) redis.defineCommand(name, { numberOfKeys: 0, lua });

  const run = async <T>(command: () => Promise<T>): Promise<T> => {
    try {
      return await command();
    } catch (cause) {
      throw unavailable(cause);
    }
  };
  const seal = (value: string, aad: string): string => sealSecret(key, value, aad);
  const open = (value: string, aad: string): string => openSecret(key, value, aad).toString('utf8');
  const tokenAad = (ref: string, field: string): string => `bff:${ref}:${field}`;

  const sealedTokens = (ref: string, tokens: SessionTokens): Argument[] => [
    'id_token',
    seal(tokens.idToken, tokenAad(ref, 'id_token')),
    'access_token',
    seal(tokens.accessToken, tokenAad(ref, 'access_token')),
    ...(tokens.refreshToken === null
      ? []
      : ['refresh_token', seal(tokens.refreshToken, tokenAad(ref, 'refresh_token'))]),
    'access_expires_at',
    tokens.accessExpiresAt,
  ];

  const toSession = (record: Readonly<Record<string, string>>): BffSession => {
    const ref = text(record, 'ref');
    const refreshToken = record['refresh_token'];
    return {
      ref,
      sub: text(record, 'sub'),
      name: record['name'] ?? null,
      opSid: record['op_sid'] ?? null,
      idToken: open(text(record, 'id_token'), tokenAad(ref, 'id_token')),
      accessToken: open(text(record, 'access_token'), tokenAad(ref, 'access_token')),
      refreshToken: refreshToken === undefined ? null : open(refreshToken, tokenAad(ref, 'refresh_token')),
      accessExpiresAt: epochMs(record['access_expires_at']),
      createdAt: epochMs(record['created_at']),
      lastSeenAt: epochMs(record['last_seen_at']),
      expiresAt: epochMs(record['expires_at']),
    };
  };

  const sessionOf = (reply: unknown): BffSession | undefined => {
    const record = toRecord(reply);
    return Object.keys(record).length === 0 ? undefined : toSession(record);
  };

  return {
    async savePendingLogin(idHash, login) {
      const stored = JSON.stringify({
        state: login.state,
        nonce: login.nonce,
        code_verifier: seal(login.codeVerifier, `bff-login:${idHash}`),
        return_to: login.returnTo,
        expires_at: login.expiresAt,
      });
      const saved = await run(() =>
        redis.gatehouseBffSaveLogin(
          prefix,
          idHash,
          stored,
          login.expiresAt + LOGIN_GRACE_MS,
          login.expiresAt,
        ),
      );
      if (saved !== 1) throw corrupt('pending login id already in use');
    },

    async takePendingLogin(idHash): Promise<PendingLogin | undefined> {
      const stored = await run(() => redis.gatehouseBffTakeLogin(prefix, idHash));
      if (stored === null) return undefined;
      if (typeof stored !== 'string') throw corrupt('unexpected pending login reply');
      let row: Record<string, unknown>;
      try {
        row = JSON.parse(stored) as Record<string, unknown>;
      } catch {
        throw corrupt('stored pending login is not JSON');
      }
      const { state, nonce, code_verifier, return_to } = row;
      if (
        typeof state !== 'string' ||
        typeof nonce !== 'string' ||
        typeof code_verifier !== 'string' ||
        typeof return_to !== 'string'
      ) {
        throw corrupt('stored pending login lacks a field');
      }
      return {
        state,
        nonce,
        codeVerifier: open(code_verifier, `bff-login:${idHash}`),
        returnTo: return_to,
        expiresAt: epochMs(String(row['expires_at'])),
      };
    },

    async create(idHash, session) {
      const fields: Argument[] = [
        'ref',
        session.ref,
        'sub',
        session.sub,
        ...(session.name === null ? [] : ['name', session.name]),
        ...(session.opSid === null ? [] : ['op_sid', session.opSid]),
        ...sealedTokens(session.ref, session),
        'created_at',
        session.createdAt,
        'last_seen_at',
        session.lastSeenAt,
        'expires_at',
        session.expiresAt,
      ];
      const owner = JSON.stringify({ ref: session.ref, sub: session.sub, sid: session.opSid ?? undefined });
      const created = await run(() =>
        redis.gatehouseBffCreate(
          prefix,
          idHash,
          session.ref,
          session.sub,
          session.opSid === null ? '0' : '1',
          session.opSid ?? '',
          session.expiresAt,
          session.lastSeenAt,
          owner,
          ...fields,
        ),
      );
      if (created !== 1) throw corrupt('session id or ref already in use');
    },

    async get(idHash) {
      const record = await run(() => redis.hgetall(`${prefix}session:${idHash}`));
      return Object.keys(record).length === 0 ? undefined : toSession(record);
    },

    async touch(idHash, lastSeenAt) {
      await run(() => redis.gatehouseBffTouch(prefix, idHash, lastSeenAt));
    },

    async updateTokens(idHash, tokens) {
      const ref = await run(() => redis.hget(`${prefix}session:${idHash}`, 'ref'));
      if (ref === null) return;
      const fields = sealedTokens(ref, tokens);
      const drop = tokens.refreshToken === null ? '1' : '0';
      await run(() => redis.gatehouseBffUpdateTokens(prefix, idHash, ref, drop, ...fields));
    },

    async delete(idHash) {
      return sessionOf(await run(() => redis.gatehouseBffDelete(prefix, idHash)));
    },

    async deleteMatching(match: SessionMatch) {
      if (match.ref === undefined && match.sub === undefined && match.opSid === undefined) return [];
      const flag = (value: string | undefined): [string, string] =>
        value === undefined ? ['0', ''] : ['1', value];
      const reply = await run(() =>
        redis.gatehouseBffDeleteMatching(
          prefix,
          ...flag(match.ref),
          ...flag(match.sub),
          ...flag(match.opSid),
        ),
      );
      if (!Array.isArray(reply)) throw corrupt('unexpected session script reply');
      return reply.map((fields) => toSession(toRecord(fields)));
    },

    async list(sub): Promise<readonly SessionSummary[]> {
      const reply = await run(() => redis.gatehouseBffList(prefix, sub));
      if (!Array.isArray(reply)) throw corrupt('unexpected session script reply');
      const summaries = reply.map((row): SessionSummary => {
        const [ref, owner, name, createdAt, lastSeenAt, expiresAt] = row as (string | null)[];
        if (typeof ref !== 'string' || typeof owner !== 'string') throw corrupt('stored session lacks ref');
        return {
          ref,
          sub: owner,
          name: name ?? null,
          createdAt: epochMs(createdAt),
          lastSeenAt: epochMs(lastSeenAt),
          expiresAt: epochMs(expiresAt),
        };
      });
      // The SQL store orders by created_at; a set has no order.
      return summaries.sort((a, b) => a.createdAt - b.createdAt || (a.ref < b.ref ? -1 : 1));
    },

    async deleteExpired(now, idleBefore) {
      let removed = 0;
      for (;;) {
        const reply = await run(() => redis.gatehouseBffDeleteExpired(prefix, now, idleBefore, SWEEP_BATCH));
        if (!Array.isArray(reply) || reply.length !== 2) throw corrupt('unexpected sweep script reply');
        removed += Number(reply[0]);
        if (reply[1] !== 1) return removed;
      }
    },

    async close() {
      if (owned) await client.quit().catch(() => client.disconnect());
    },
  };
}
