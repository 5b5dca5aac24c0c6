import { createLogger } from '@gatehouse/core';
import { describe, expect, it } from 'vitest';
import { openWindowStore } from './open-window-store.js';

const logger = createLogger({ component: 'test', level: 'silent' });

describe('openWindowStore', () => {
  it('memory by default: windows in this process, nothing to connect to', async () => {
    const store = await openWindowStore({ store: 'memory' }, { logger });
    expect(store.kind).toBe('memory');
    const window = store
      .scope({ detector: 'fuzzing', maxKeys: 10, maxValues: 10, onError: () => undefined })
      .counter({ name: 'errors', windowMs: 60_000, buckets: 10, threshold: 2 });
    expect(window.add('203.0.113.1', 0)).toBe(1);
    expect(window.add('203.0.113.1', 1)).toEqual({ count: 2, values: [] });
    await store.close();
  });

  it('redis without a Redis URL is a configuration error, caught at start', async () => {
    await expect(openWindowStore({ store: 'redis' }, { logger })).rejects.toMatchObject({
      code: 'ERR_CONFIG_INVALID',
    });
  });
});
