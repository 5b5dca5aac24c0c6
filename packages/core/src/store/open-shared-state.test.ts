import { once } from 'node:events';
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:net';
import { requireService, serviceUrl } from '@gatehouse/testing';
import { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { openSharedState } from './open-shared-state.js';

const redis = await requireService('redis', 'core openSharedState on Redis');

describe('openSharedState', () => {
  it('is process memory without a URL', async () => {
    for (const options of [undefined, {}, { url: undefined }]) {
      const state = await openSharedState(options);
      expect(state.kind).toBe('memory');
      await state.close();
    }
  });

  it('passes the injected clock to memory', async () => {
    let clock = 1000;
    const state = await openSharedState({ now: () => clock });
    await state.set('k', 'v', 100);
    clock += 100;
    await expect(state.get('k')).resolves.toBeUndefined();
    await state.close();
  });

  it('is Redis with a URL: an unreachable one is ERR_STORE_UNAVAILABLE, never a silent fallback', async () => {
    const server = createServer().listen(0, '127.0.0.1');
    await once(server, 'listening');
    const { port } = server.address() as { port: number };
    server.close();
    await once(server, 'close');
    await expect(openSharedState({ url: `redis://127.0.0.1:${String(port)}` })).rejects.toMatchObject({
      code: 'ERR_STORE_UNAVAILABLE',
    });
  });

  it.skipIf(!redis.available)('is Redis with a URL, with the given prefix or gatehouse:', async () => {
    const url = serviceUrl('redis');
    const key = `gh_test:${randomBytes(6).toString('hex')}`;
    const raw = new Redis(url);
    const prefixed = await openSharedState({ url, prefix: `${key}:` });
    const defaulted = await openSharedState({ url });
    try {
      expect(prefixed.kind).toBe('redis');
      await prefixed.set('k', 'p', 10_000);
      await defaulted.set(key, 'd', 10_000);
      await expect(raw.get(`${key}:k`)).resolves.toBe('p');
      await expect(raw.get(`gatehouse:${key}`)).resolves.toBe('d');
    } finally {
      await raw.del(`${key}:k`, `gatehouse:${key}`);
      await Promise.all([prefixed.close(), defaulted.close(), raw.quit()]);
    }
  });
});
