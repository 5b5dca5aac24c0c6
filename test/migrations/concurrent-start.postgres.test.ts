import { requireService } from '@gatehouse/testing';
import { freshPostgresSchema } from './support/databases.js';
import { describeConcurrentStart } from './support/concurrent-start.js';

const pg = await requireService('postgres', 'concurrent migrations of the built binary on PostgreSQL');

// Four processes with DATABASE_URL on one fresh schema; the BFF keeps its sessions there too.
describeConcurrentStart('one fresh PostgreSQL schema', pg.available, async () => {
  const fresh = await freshPostgresSchema('concurrent');
  const url = fresh.url ?? '';
  return {
    env: { DATABASE_URL: url },
    bffSessions: `databaseUrl: "${url}"`,
    open: () => ({ deployment: fresh.database, bff: fresh.database, close: () => Promise.resolve() }),
    drop: () => fresh.drop(),
  };
});
