import type { Redis as RedisClient, RedisOptions } from 'ioredis';
import { GatehouseError } from '../errors/gatehouse-error.js';
import type { SharedState } from './shared-state.js';

export interface RedisSharedStateOptions {
  readonly url: string;
  /** Prefix of every key and channel (default `gatehouse:`), so several deployments can share a Redis. */
  readonly prefix?: string;
  /** Deadline of one command (default 2000 ms): a down Redis fails fast instead of queueing. */
  readonly commandTimeoutMs?: number;
}

// INCRBY then set the expiry only when this increment created the counter: a fixed window that
// later increments cannot extend. One script, so the two steps are atomic.
const INCREMENT = `
local total = redis.call('INCRBY', KEYS[1], ARGV[1])
if total == tonumber(ARGV[1]) then redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return total`;

/** An error answer from Redis itself (redis-errors' ReplyError): Redis is there, the command was wrong. */
function isReplyError(err: unknown): boolean {
  return err instanceof Error && err.name === 'ReplyError';
}

function unavailable(cause: unknown): GatehouseError {
  return new GatehouseError('ERR_STORE_UNAVAILABLE', { detail: 'redis command failed', cause });
}

/** Shared state in Redis: every instance of every component sees the same keys and events. */
export async function createRedisSharedState(options: RedisSharedStateOptions): Promise<SharedState> {
  const prefix = options.prefix ?? 'gatehouse:';
  const common = {
    lazyConnect: true,
    maxRetriesPerRequest: 1,
    commandTimeout: options.commandTimeoutMs ?? 2000,
    // While disconnected a command fails at once instead of waiting in ioredis' offline queue: a
    // queued command rejected as ERR_STORE_UNAVAILABLE was otherwise still sent once Redis came
    // back (a "failed" setIfAbsent, increment or publish took effect later). Same for commands in
    // flight when the connection dropped.
    enableOfflineQueue: false,
    autoResendUnfulfilledCommands: false,
    // Reconnect forever with a capped backoff: a Redis that comes back is used again by itself.
    retryStrategy: (attempt: number) => Math.min(attempt * 200, 2000),
  };
  // Loaded on first use: a deployment on process memory never loads the Redis client.
  const { Redis } = await import('ioredis');
  const client: RedisClient = new Redis(options.url, common satisfies RedisOptions);
  const subscriber: RedisClient = new Redis(options.url, common);
  // Connection errors surface through commands; an unhandled 'error' event must not crash the process.
  client.on('error', () => undefined);
  subscriber.on('error', () => undefined);
  try {
    await Promise.all([client.connect(), subscriber.connect()]);
  } catch (cause) {
    client.disconnect();
    subscriber.disconnect();
    throw unavailable(cause);
  }
  const listeners = new Map<string, Set<(message: string) => void>>();
  subscriber.on('message', (channel: string, message: string) => {
    for (const listener of listeners.get(channel) ?? []) listener(message);
  });

  // A connection can stay open while Redis no longer answers (a hung server, a partition without
  // a reset): ioredis then still says `ready`. A command that failed for a reason other than a
  // Redis error reply marks the store down until a command succeeds again (or a new connection).
  let commandFailed = false;
  let probing = false;
  let closed = false;
  client.on('ready', () => {
    commandFailed = false;
  });
  const probe = (): void => {
    if (probing) return;
    probing = true;
    client.ping().then(
      () => {
        commandFailed = false;
        probing = false;
      },
      () => {
        probing = false;
      },
    );
  };

  const run = async <T>(command: () => Promise<T>): Promise<T> => {
    try {
      const result = await command();
      commandFailed = false;
      return result;
    } catch (cause) {
      if (!isReplyError(cause)) commandFailed = true;
      throw unavailable(cause);
    }
  };

  return {
    kind: 'redis',
    setIfAbsent: (key, value, ttlMs) =>
      run(
        async () =>
          (await client.set(prefix + key, value, 'PX', Math.max(1, Math.ceil(ttlMs)), 'NX')) === 'OK',
      ),
    get: (key) => run(async () => (await client.get(prefix + key)) ?? undefined),
    set: (key, value, ttlMs) =>
      run(async () => {
        if (ttlMs === undefined) await client.set(prefix + key, value);
        else await client.set(prefix + key, value, 'PX', Math.max(1, Math.ceil(ttlMs)));
      }),
    delete: (key) =>
      run(async () => {
        await client.del(prefix + key);
      }),
    increment: (key, ttlMs, by = 1) =>
      run(async () =>
        Number(await client.eval(INCREMENT, 1, prefix + key, by, Math.max(1, Math.ceil(ttlMs)))),
      ),
    publish: (channel, message) =>
      run(async () => {
        await client.publish(prefix + channel, message);
      }),
    subscribe: (channel, listener) =>
      run(async () => {
        const name = prefix + channel;
        let set = listeners.get(name);
        if (set === undefined) {
          set = new Set();
          listeners.set(name, set);
          await subscriber.subscribe(name);
        }
        set.add(listener);
        return async () => {
          const current = listeners.get(name);
          current?.delete(listener);
          if (current?.size === 0) {
            listeners.delete(name);
            await run(() => subscriber.unsubscribe(name));
          }
        };
      }),
    // Both connections ready (ioredis resubscribes every channel on a reconnect) and no command
    // failing: while down, each call sends at most one PING, so a recovered server is seen again
    // even when nothing else runs a command.
    isUp: () => {
      if (closed || client.status !== 'ready' || subscriber.status !== 'ready') return false;
      if (commandFailed) probe();
      return !commandFailed;
    },
    close: async () => {
      closed = true;
      listeners.clear();
      await Promise.allSettled([client.quit(), subscriber.quit()]);
    },
  };
}
