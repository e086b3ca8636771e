import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/helpers/global-setup.ts'],
    // The JSON report is what .ci/run reads for its "N passed, N failed" line.
    reporters: ['default', 'json'],
    outputFile: { json: '.vitest-report.json' },
    testTimeout: 30_000,
    hookTimeout: 30_000,
    // Tests share one Redis server (isolated by queue prefix) and spawn local servers;
    // two cores do not benefit from more than two forks.
    pool: 'forks',
    maxWorkers: 2,
  },
});
