import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: 'unit',
          include: ['src/**/*.test.ts'],
        },
      },
      {
        test: {
          name: 'integration',
          include: ['test/**/*.test.ts'],
          // The bin's build of the current sources, then one PostgreSQL server for the run (each
          // PostgreSQL suite makes its own database on it), and the folder of the run's one Worker
          // bundle (made by the first Workers suite, reused by the others).
          globalSetup: [
            'test/support/build-global-setup.ts',
            'test/support/postgres-global-setup.ts',
            'test/support/worker-bundle-global-setup.ts',
          ],
          testTimeout: 60_000,
          hookTimeout: 60_000,
          // Integration suites start real processes; two cores serve them best one file at a time.
          fileParallelism: false,
        },
      },
    ],
  },
});
