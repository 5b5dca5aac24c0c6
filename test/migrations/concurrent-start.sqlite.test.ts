import { join } from 'node:path';
import { openSqlDatabase } from '@gatehouse/core';
import { describeConcurrentStart } from './support/concurrent-start.js';

// Four processes on one SQLite file (and one BFF session file) in a shared data dir.
describeConcurrentStart('one SQLite file', true, (dir) =>
  Promise.resolve({
    env: {},
    bffSessions: 'sqliteFile: .gatehouse/bff-sessions.db',
    open: () => {
      const deployment = openSqlDatabase<unknown>({ sqliteFile: join(dir, '.gatehouse', 'gatehouse.db') });
      const bff = openSqlDatabase<unknown>({ sqliteFile: join(dir, '.gatehouse', 'bff-sessions.db') });
      return {
        deployment,
        bff,
        close: async () => {
          await Promise.all([deployment.close(), bff.close()]);
        },
      };
    },
    drop: () => Promise.resolve(),
  }),
);
