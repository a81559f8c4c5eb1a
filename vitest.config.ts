import { defineConfig } from 'vitest/config';

/**
 * Integration tests share one Temporal server and one PostgreSQL server (started by
 * scripts/test.ts); each file runs in its own process with its own task queues and merchants.
 * The files whose checks read state that every file writes (reconciliation over an operator's
 * whole day, sweeps, circuits opened on purpose, database-wide gauges, snapshots of every payment)
 * take a database of their own (test/support/own-database.ts) and run beside the others.
 * Most files mostly wait (deadlines, callbacks, polls), so two run at a time.
 */
export default defineConfig({
  test: {
    pool: 'forks',
    testTimeout: 60_000,
    hookTimeout: 120_000,
    reporters: process.env.CI ? ['verbose'] : ['default'],
    include: ['test/**/*.test.ts'],
    maxWorkers: 2,
  },
});
