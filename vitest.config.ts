import { defineConfig } from 'vitest/config';

/**
 * Integration tests share one Temporal server and one PostgreSQL database (started by
 * scripts/test.ts); each file runs in its own process with its own task queues and merchants.
 * Most files mostly wait (deadlines, callbacks, polls), so two run at a time (three were 8 %
 * faster, but the load made timing-sensitive tests flaky). The files whose
 * checks read state that every file writes (reconciliation over an operator's whole day, sweeps,
 * schedules, circuits opened on purpose, global metrics, snapshots of every payment) run alone,
 * one after another, after the others.
 */
const ALONE = [
  'test/integration/reconciliation.test.ts',
  'test/integration/money-safety.test.ts',
  'test/integration/temporal-correctness.test.ts',
  'test/integration/monitoring.test.ts',
  'test/integration/fuzz.test.ts',
  'test/integration/togo-routing.test.ts',
  'test/integration/paygate.test.ts',
  'test/integration/card-rails.test.ts',
];

export default defineConfig({
  test: {
    pool: 'forks',
    testTimeout: 60_000,
    hookTimeout: 120_000,
    reporters: process.env.CI ? ['verbose'] : ['default'],
    projects: [
      {
        extends: true,
        test: {
          name: 'shared',
          include: ['test/**/*.test.ts'],
          exclude: ALONE,
          maxWorkers: 2,
          sequence: { groupOrder: 0 },
        },
      },
      {
        extends: true,
        test: { name: 'alone', include: ALONE, maxWorkers: 1, sequence: { groupOrder: 1 } },
      },
    ],
  },
});
