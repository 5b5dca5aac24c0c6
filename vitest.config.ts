import { availableParallelism } from 'node:os';
import { defineConfig } from 'vitest/config';

export default defineConfig({
  // Tests run against TypeScript sources: workspace packages resolve through their `source` export.
  resolve: { conditions: ['source'] },
  ssr: { resolve: { conditions: ['source'], externalConditions: ['source'] } },
  test: {
    include: [
      'packages/*/src/**/*.test.ts',
      'packages/*/test/**/*.test.ts',
      'examples/*/test/**/*.test.ts',
      'test/**/*.test.ts',
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
