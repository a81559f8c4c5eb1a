import { defineConfig } from 'vitest/config';

// Integration tests share one Temporal server and one PostgreSQL database (started by
// scripts/test.ts): files run one after another, each in its own process.
export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    pool: 'forks',
    fileParallelism: false,
    testTimeout: 60_000,
    hookTimeout: 120_000,
    reporters: process.env.CI ? ['verbose'] : ['default'],
  },
});
