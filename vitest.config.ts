import { availableParallelism } from 'node:os';
import { defineConfig } from 'vitest/config';

const UNIT_SUITES = ['packages/*/src/**/*.test.ts', 'packages/guard/test/**/*.test.ts'];
const INTEGRATION_SUITES = [
  'packages/!(guard)/test/**/*.test.ts',
  'examples/*/test/**/*.test.ts',
  'test/**/*.test.ts',
];
/** Unit suites that replace a module with `vi.mock`, which needs a module graph of its own. */
const NEEDS_OWN_MODULES = ['packages/core/src/tls/watch-tls-files-failure.test.ts'];

export default defineConfig({
  // Tests run against TypeScript sources: workspace packages resolve through their `source` export.
  resolve: { conditions: ['source'] },
  ssr: { resolve: { conditions: ['source'], externalConditions: ['source'] } },
  test: {
    // Every suite file of a worker shares its module graph (isolate: false): loading the packages
    // again for each file was a third of the suite's time (import 329 s of 704 s wall on a 2-core
    // machine with coverage; shared, 49 s of 473 s). Suites clean up what they start (servers,
    // processes, timers, env stubs); one that replaces a module (vi.mock) keeps a graph of its own.
    projects: [
      {
        extends: true,
        test: { name: 'unit', include: UNIT_SUITES, exclude: NEEDS_OWN_MODULES, isolate: false },
      },
      {
        extends: true,
        test: { name: 'integration', include: INTEGRATION_SUITES, isolate: false },
      },
      {
        extends: true,
        test: { name: 'isolated', include: NEEDS_OWN_MODULES },
      },
    ],
    environment: 'node',
    // Most suites wait on sockets and child processes, not the CPU: two files at a time even on a
    // two-core machine (vitest's default there is one), which halves the suite's wall time.
    maxWorkers: Math.max(2, availableParallelism() - 1),
    globalSetup: ['packages/testing/src/global-setup.ts'],
    testTimeout: 20_000,
    hookTimeout: 30_000,
    coverage: {
      provider: 'v8',
      include: ['packages/*/src/**/*.ts'],
      exclude: ['**/*.test.ts', 'packages/testing/**', 'packages/*/src/index.ts'],
      reporter: ['text-summary', 'json-summary'],
      thresholds: {
        'packages/guard/src/**': { lines: 100, functions: 100, statements: 100, branches: 95 },
        'packages/core/src/**': { lines: 100, functions: 100, statements: 100, branches: 95 },
      },
    },
  },
});
