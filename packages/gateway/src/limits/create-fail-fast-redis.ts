import type { Redis } from 'ioredis';

/**
 * A Redis client for a check on the request path (rate limits, detector windows), not connected
 * yet: no offline queue and no resending, so a call during an outage fails at once and is never
 * applied later; `commandTimeoutMs` bounds a hung server; reconnects forever. Each Lua script is
 * defined as a command (one key each unless said). Loaded on first use: a gateway counting in
 * memory never loads the client.
 */
export async function createFailFastRedis(
  url: string,
  commandTimeoutMs: number,
  scripts: Readonly<Record<string, { readonly lua: string; readonly keys?: number }>>,
): Promise<Redis> {
  const { Redis: RedisClient } = await import('ioredis');
  const client = new RedisClient(url, {
    lazyConnect: true,
    maxRetriesPerRequest: 1,
    commandTimeout: commandTimeoutMs,
    enableOfflineQueue: false,
    autoResendUnfulfilledCommands: false,
    retryStrategy: (attempt: number) => Math.min(attempt * 200, 2000),
  });
  // Connection errors surface through commands; an unhandled 'error' event must not crash the process.
  client.on('error', () => undefined);
  for (const [name, script] of Object.entries(scripts)) {
    client.defineCommand(name, { numberOfKeys: script.keys ?? 1, lua: script.lua });
  }
  return client;
}
