import type { AddressInfo } from 'node:net';
import type { FastifyInstance } from 'fastify';
import { afterEach, describe, expect, it } from 'vitest';
import { createAdminApp, createAdminOperationsFor, type AuthServer } from '../../src/index.js';
import { checkReadiness } from '../../src/observability/check-readiness.js';
import type { KeyService } from '../../src/keys/key-service.js';
import { describeEachStore, startAuthServer, type TestAuthServer } from '../helpers/harness.js';

/**
 * `/healthz` and `/readyz` on the admin listener (the probes of deploy/kubernetes/auth-server.yaml):
 * liveness answers while the process serves; readiness only while the database answers and an
 * active signing key is loaded. No credential, nothing but a status.
 */
const opened: { as: TestAuthServer; admin: FastifyInstance }[] = [];
afterEach(async () => {
  for (const { as, admin } of opened.splice(0)) {
    await admin.close();
    await as.close().catch(() => undefined);
  }
});

async function start(
  stores: Parameters<typeof startAuthServer>[0],
  ready?: (server: AuthServer) => () => Promise<boolean>,
) {
  const as = await startAuthServer(stores);
  const admin = createAdminApp({
    logger: as.deps.logger,
    deps: as.deps,
    operations: createAdminOperationsFor(as.deps, as.server.services.keys),
    adminToken: undefined,
    ready: ready?.(as.server),
  });
  await admin.listen({ host: '127.0.0.1', port: 0 });
  opened.push({ as, admin });
  return { as, url: `http://127.0.0.1:${(admin.server.address() as AddressInfo).port}` };
}

async function probe(url: string): Promise<{ status: number; body: unknown; cache: string | null }> {
  const response = await fetch(url);
  return {
    status: response.status,
    body: await response.json(),
    cache: response.headers.get('cache-control'),
  };
}

describeEachStore('auth server admin probes', (stores) => {
  it('answer ok and ready on a working server, without a credential, never cached', async () => {
    const { url } = await start({ stores }, (server) => () => server.ready());
    expect(await probe(`${url}/healthz`)).toEqual({ status: 200, body: { status: 'ok' }, cache: 'no-store' });
    expect(await probe(`${url}/readyz`)).toEqual({
      status: 200,
      body: { status: 'ready' },
      cache: 'no-store',
    });
  });

  it('answer not ready (503) once the database is gone, and still live', async () => {
    const { as, url } = await start({ stores }, (server) => () => server.ready());
    await as.deps.db.destroy();
    expect(await probe(`${url}/readyz`)).toMatchObject({ status: 503, body: { status: 'not ready' } });
    expect(await probe(`${url}/healthz`)).toMatchObject({ status: 200 });
  });
});

describe('readiness without a check, and without an active key', () => {
  it('/readyz answers as /healthz when no check is given', async () => {
    const { url } = await start({});
    expect(await probe(`${url}/readyz`)).toMatchObject({ status: 200, body: { status: 'ready' } });
  });

  it('a check that throws counts as not ready', async () => {
    const { url } = await start({}, () => () => Promise.reject(new Error('boom')));
    expect(await probe(`${url}/readyz`)).toMatchObject({ status: 503, body: { status: 'not ready' } });
  });

  it('an instance with no active signing key is not ready, whatever its database says', async () => {
    const { as } = await start({});
    const counts = as.server.services.keys.statusCounts();
    expect(counts.active).toBe(1);
    await expect(checkReadiness(as.deps.db, as.server.services.keys)).resolves.toBe(true);
    const keyless = {
      statusCounts: () => ({ ...counts, active: 0 }),
    } as unknown as KeyService;
    await expect(checkReadiness(as.deps.db, keyless)).resolves.toBe(false);
  });
});
