import { createServer } from 'node:net';
import { describe, expect, it } from 'vitest';
import { freePort, reservePort } from './ports.js';

function tryListen(port: number): Promise<string> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? 'error'));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve('listening')));
  });
}

describe('reservePort', () => {
  it('holds a port below the ephemeral range until released, then frees it', async () => {
    const reserved = await reservePort();
    expect(reserved.port).toBeGreaterThanOrEqual(30_000);
    expect(reserved.port).toBeLessThan(32_768);
    expect(await tryListen(reserved.port)).toBe('EADDRINUSE');
    await reserved.release();
    await reserved.release(); // twice is harmless
    expect(await tryListen(reserved.port)).toBe('listening');
  });

  it('never hands out the same port twice in one process, released or not', async () => {
    const ports = new Set<number>();
    for (let i = 0; i < 20; i++) ports.add(await freePort());
    const held = await Promise.all([reservePort(), reservePort(), reservePort()]);
    for (const { port } of held) ports.add(port);
    expect(ports.size).toBe(23);
    await Promise.all(held.map((reserved) => reserved.release()));
  });
});
