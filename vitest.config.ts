import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: 'unit',
          include: ['{protocol,channel,backend,agent,cli,electron,renderer,build,bin}/**/*.test.{ts,tsx}', 'test/lint/**/*.test.ts', 'test/store/**/*.test.ts', 'test/bus/**/*.test.ts'],
          testTimeout: 20_000,
        },
      },
      {
        test: {
          name: 'integration',
          include: ['test/integration/**/*.test.ts'],
          setupFiles: ['test/integration/setup.ts'],
          testTimeout: 60_000,
          hookTimeout: 60_000,
          // Real processes and ports: one file at a time keeps a 2-core machine honest.
          fileParallelism: false,
        },
      },
      {
        test: {
          name: 'cluster',
          // Real backend nodes on the PostgreSQL and NATS of 127.0.0.1 (docs/cluster.md), real agents.
          include: ['test/cluster/**/*.test.ts'],
          testTimeout: 120_000,
          hookTimeout: 120_000,
          fileParallelism: false,
        },
      },
      {
        test: {
          name: 'hardening',
          include: ['test/hardening/**/*.test.ts'],
          testTimeout: 120_000,
          hookTimeout: 120_000,
          // Real processes, ports and timing-sensitive faults: one file at a time.
          fileParallelism: false,
        },
      },
    ],
  },
});
