import { BaseSequencer, type TestSpecification } from 'vitest/node';
import { defineConfig } from 'vitest/config';

/**
 * The files that wait longest (processes killed and respawned, browsers, deadlines): started
 * first, so that none of them is the run's tail. Vitest orders by last run's durations when it has
 * them; a fresh clone has none, and orders by file size, which puts the small crash files last.
 */
const LONG_FIRST = [
  'test/integration/worker-crash.test.ts',
  'test/integration/worker-crash-cards-transfers.test.ts',
  'test/browser/checkout.test.ts',
  'test/integration/cli.test.ts',
];

class LongFilesFirst extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const sorted = await super.sort(files);
    const rank = (spec: TestSpecification) => {
      const i = LONG_FIRST.findIndex((file) => spec.moduleId.endsWith(file));
      return i === -1 ? LONG_FIRST.length : i;
    };
    // Array.prototype.sort is stable: the others keep Vitest's order.
    return [...sorted].sort((a, b) => rank(a) - rank(b));
  }
}

/**
 * Integration tests share one Temporal server and one PostgreSQL server (started by
 * scripts/test.ts); each file runs in its own process with its own task queues and merchants.
 * The files whose checks read state that every file writes (reconciliation over an operator's
 * whole day, sweeps, circuits opened on purpose, database-wide gauges, snapshots of every payment)
 * take a database of their own (test/support/own-database.ts) and run beside the others.
 * Most files mostly wait (deadlines, callbacks, polls): three run at a time.
 */
export default defineConfig({
  test: {
    pool: 'forks',
    testTimeout: 60_000,
    hookTimeout: 120_000,
    reporters: process.env.CI ? ['verbose'] : ['default'],
    include: ['test/**/*.test.ts'],
    maxWorkers: 3,
    sequence: { sequencer: LongFilesFirst },
  },
});
