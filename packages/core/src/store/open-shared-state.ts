import { createMemorySharedState } from './memory-shared-state.js';
import { createRedisSharedState } from './redis-shared-state.js';
import type { SharedState } from './shared-state.js';

export interface SharedStateOptions {
  /** `redis://…` or `rediss://…` for Redis; absent for process memory. */
  readonly url?: string | undefined;
  readonly prefix?: string;
  readonly now?: () => number;
}

/** Process memory by default; Redis when a URL is configured (several instances). */
export async function openSharedState(options: SharedStateOptions = {}): Promise<SharedState> {
  if (options.url === undefined) return createMemorySharedState(options.now ? { now: options.now } : {});
  return createRedisSharedState({
    url: options.url,
    ...(options.prefix === undefined ? {} : { prefix: options.prefix }),
  });
}
