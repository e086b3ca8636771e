import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/helpers/global-setup.ts'],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    // Tests share one Redis server (isolated by queue prefix) and spawn local servers;
    // two cores do not benefit from more than two forks.
    pool: 'forks',
    maxWorkers: 2,
  },
});
