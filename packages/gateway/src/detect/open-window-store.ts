import { GatehouseError, type Logger } from '@gatehouse/core';
import type { DetectionConfig } from '../config/detection-schema.js';
import { createMemoryWindowStore } from './memory-window-store.js';
import type { WindowStore } from './window-store.js';

export interface OpenWindowStoreOptions {
  /** Redis URL (`sharedState.url` / REDIS_URL); required for `detection.store: redis`. */
  readonly redisUrl?: string | undefined;
  /** The deployment's key prefix (`sharedState.prefix`; default `gatehouse:`). */
  readonly redisPrefix?: string | undefined;
  readonly logger: Logger;
}

/**
 * The detectors' window store of `detection.store`, opened once at start. Redis being down does
 * not stop the start: the detectors count locally until it answers.
 */
export async function openWindowStore(
  config: Pick<DetectionConfig, 'store'>,
  options: OpenWindowStoreOptions,
): Promise<WindowStore> {
  if (config.store === 'memory') return createMemoryWindowStore();
  if (options.redisUrl === undefined)
    throw new GatehouseError('ERR_CONFIG_INVALID', {
      detail: 'gateway.detection.store is redis but no Redis URL is configured (sharedState.url / REDIS_URL)',
    });
  // Loaded on first use: a gateway counting in memory never loads the Redis client.
  const { createRedisWindowStore } = await import('./redis-window-store.js');
  return createRedisWindowStore({
    url: options.redisUrl,
    prefix: options.redisPrefix,
    logger: options.logger,
  });
}
