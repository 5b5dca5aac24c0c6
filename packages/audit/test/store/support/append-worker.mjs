// One appending process for the cross-process test: runs the built package (npm run build).
// argv[2]: JSON { location, worker, batches, size }.
import { createAuditStore } from '@gatehouse/audit';
import { openSqlDatabase } from '@gatehouse/core';

const { location, worker, batches, size } = JSON.parse(process.argv[2] ?? '{}');
const sql = openSqlDatabase({ ...location, poolSize: 2 });
const store = createAuditStore(sql.db);
const event = (action) => ({
  time: new Date().toISOString(),
  action,
  outcome: 'success',
  component: `worker-${worker}`,
});
try {
  // Every worker delivers the same shared events too: stored once whoever comes first.
  await store.append(
    Array.from({ length: 10 }, (_, i) => ({ id: `shared-${i}`, event: event('test.shared') })),
  );
  for (let b = 0; b < batches; b++) {
    await store.append(
      Array.from({ length: size }, (_, i) => ({ id: `w${worker}-${b}-${i}`, event: event('test.append') })),
    );
  }
} finally {
  await sql.close();
}
