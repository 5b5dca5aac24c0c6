import { sql, type Kysely } from 'kysely';
import type { KeyService } from '../keys/key-service.js';

/** How long the readiness probe waits for the database before it answers "not ready". */
const DATABASE_PROBE_TIMEOUT_MS = 2000;

/**
 * Whether this instance can serve tokens now: its database answers a trivial query in time, and it
 * holds an active signing key. An orchestrator takes an instance that cannot out of rotation
 * (`GET /readyz` on the admin listener answers 503) instead of letting it answer 503s to clients.
 */
export async function checkReadiness<DB>(db: Kysely<DB>, keys: KeyService): Promise<boolean> {
  if (keys.statusCounts().active < 1) return false;
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), DATABASE_PROBE_TIMEOUT_MS);
  });
  try {
    const query = sql`select 1`.execute(db).then(() => true);
    return await Promise.race([query, timeout]);
  } catch {
    return false;
  } finally {
    clearTimeout(timer);
  }
}
