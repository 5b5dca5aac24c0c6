import type { FastifyInstance } from 'fastify';
import type { SessionStore } from '../sessions/session-store.js';

/** How long the readiness probe waits for the session store before it answers 503. */
const STORE_PROBE_TIMEOUT_MS = 2000;
/** A key no session can have (session ids hash to 64 hex digits): the probe reads, never writes. */
const PROBE_KEY = 'readiness-probe';

/**
 * Probes for an orchestrator (Kubernetes, a load balancer): `GET /healthz` answers while the process
 * serves; `GET /readyz` only while the session store answers a read, so an instance that cannot reach
 * Redis or its database is taken out of rotation instead of failing logins. Neither says more than
 * its status, and neither touches a session.
 */
export function registerHealth(app: FastifyInstance, store: SessionStore): void {
  app.get('/healthz', async (_request, reply) =>
    reply.header('cache-control', 'no-store').send({ status: 'ok' }),
  );
  app.get('/readyz', async (_request, reply) => {
    const ready = await answersInTime(store.get(PROBE_KEY), STORE_PROBE_TIMEOUT_MS);
    return reply
      .code(ready ? 200 : 503)
      .header('cache-control', 'no-store')
      .send({ status: ready ? 'ready' : 'not ready' });
  });
}

async function answersInTime(read: Promise<unknown>, timeoutMs: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), timeoutMs);
  });
  try {
    return await Promise.race([read.then(() => true), timeout]);
  } catch {
    return false;
  } finally {
    clearTimeout(timer);
  }
}
