import { randomBytes } from 'node:crypto';
import { createServer, connect, type Server, type Socket } from 'node:net';
import { Writable } from 'node:stream';
import { createLogger } from '@gatehouse/core';
import { requireService, serviceUrl } from '@gatehouse/testing';
import { afterEach, describe, expect, it } from 'vitest';
import { buildBffConfig, createBff, type Bff, type BffConfigInput } from '../src/index.js';

/**
 * `/healthz` and `/readyz` (the Kubernetes probes of deploy/kubernetes/bff.yaml): liveness answers
 * while the process serves; readiness only while the session store answers a read.
 */
const redis = await requireService('redis', 'BFF readiness over Redis (through a TCP proxy that is cut)');

const minimal: BffConfigInput = {
  publicUrl: 'http://127.0.0.1:3000',
  listen: { host: '127.0.0.1', port: 0 },
  oidc: { issuer: 'http://127.0.0.1:4000', clientId: 'bff', clientSecret: 's3cret' },
  gateway: { url: 'http://127.0.0.1:8080' },
};

const silent = () =>
  createLogger({
    component: 'bff',
    level: 'silent',
    destination: new Writable({ write: (_c: Buffer, _e, done) => done() }),
  });

const running: Bff[] = [];
afterEach(async () => {
  for (const bff of running.splice(0)) await bff.close();
});

async function start(input: BffConfigInput, extra: Partial<Parameters<typeof createBff>[0]> = {}) {
  const bff = await createBff({ config: buildBffConfig(input), logger: silent(), ...extra });
  running.push(bff);
  return { bff, url: await bff.listen() };
}

async function probe(url: string): Promise<{ status: number; body: unknown; headers: Headers }> {
  const response = await fetch(url);
  return { status: response.status, body: await response.json(), headers: response.headers };
}

describe('BFF probes', () => {
  it('answer ready on a working store, with nothing but the status and no cookie', async () => {
    const { url } = await start(minimal);
    for (const [path, status] of [
      ['/healthz', 'ok'],
      ['/readyz', 'ready'],
    ] as const) {
      const answer = await probe(`${url}${path}`);
      expect(answer.status).toBe(200);
      expect(answer.body).toEqual({ status });
      expect(answer.headers.get('cache-control')).toBe('no-store');
      expect(answer.headers.get('set-cookie')).toBeNull();
    }
  });

  it('answer not ready (503) while the session store fails, and live all the same', async () => {
    const { url } = await start(minimal, {
      sessionStore: {
        get: () => Promise.reject(new Error('store down')),
        close: () => Promise.resolve(),
      } as unknown as NonNullable<Parameters<typeof createBff>[0]['sessionStore']>,
    });
    expect(await probe(`${url}/readyz`)).toMatchObject({ status: 503, body: { status: 'not ready' } });
    expect(await probe(`${url}/healthz`)).toMatchObject({ status: 200, body: { status: 'ok' } });
  });
});

/** A TCP relay to Redis that can be cut and restored on the same port. */
async function startRelay(
  target: URL,
): Promise<{ port: number; cut(): Promise<void>; restore(): Promise<void>; close(): Promise<void> }> {
  const sockets = new Set<Socket>();
  let server: Server | undefined;
  let port = 0;
  const listen = () =>
    new Promise<void>((resolve) => {
      server = createServer((client) => {
        const upstream = connect(Number(target.port || 6379), target.hostname);
        for (const s of [client, upstream]) {
          sockets.add(s);
          s.on('error', () => s.destroy());
          s.on('close', () => sockets.delete(s));
        }
        client.pipe(upstream).pipe(client);
      });
      server.listen(port, '127.0.0.1', () => {
        port = (server!.address() as { port: number }).port;
        resolve();
      });
    });
  const cut = async () => {
    for (const s of sockets) s.destroy();
    await new Promise<void>((resolve) => server!.close(() => resolve()));
  };
  await listen();
  return { port, cut, restore: listen, close: cut };
}

describe.skipIf(!redis.available)('BFF readiness with sessions in Redis', () => {
  it('turns 503 while Redis is unreachable and 200 again when it is back', async () => {
    const relay = await startRelay(new URL(serviceUrl('redis')));
    try {
      const { url } = await start({
        ...minimal,
        session: {
          redisUrl: `redis://127.0.0.1:${relay.port}`,
          encryptionKey: randomBytes(32).toString('base64url'),
        },
      });
      expect((await probe(`${url}/readyz`)).status).toBe(200);
      await relay.cut();
      expect(await probe(`${url}/readyz`)).toMatchObject({ status: 503, body: { status: 'not ready' } });
      expect((await probe(`${url}/healthz`)).status).toBe(200);
      await relay.restore();
      await expect.poll(async () => (await probe(`${url}/readyz`)).status, { timeout: 10_000 }).toBe(200);
    } finally {
      await relay.close().catch(() => undefined);
    }
  });
});
