#!/usr/bin/env node
// `npm start`: `gatehouse up` on examples/demo/gatehouse.yaml (data dir .gatehouse/), the whole demo stack on
// loopback. Extra arguments pass through: `npm start -- --port-base 14000 --data-dir /tmp/demo`.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const built = ['packages/cli/dist/main.js', 'examples/accounts/dist/main.js', 'examples/orders/dist/main.js'];
const missing = built.filter((path) => !existsSync(new URL(`../${path}`, import.meta.url)));
if (missing.length > 0) {
  process.stderr.write(
    `npm start: not built yet (${missing.join(', ')}): run \`npm run build\` in ${root}\n`,
  );
  process.exit(1);
}
process.chdir(root);
const { main } = await import('../packages/cli/dist/main.js');
await main(['up', ...process.argv.slice(2)]);
