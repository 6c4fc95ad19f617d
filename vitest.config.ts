import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    // probe and CLI tests spawn real interpreters whose apps mostly sleep between frames: one
    // test file at a time keeps 0.44 of 2 cores busy (test/e2e/fixtures.test.ts), so four run
    // at once (REFSCOPE_TEST_WORKERS to change it).
    // Workers are processes (forks): the run id each one sets (test/rig/setup.ts) stays its own.
    pool: 'forks',
    maxWorkers: Number(process.env.REFSCOPE_TEST_WORKERS ?? 4),
    minWorkers: 1,
    // the run's id, skipped prerequisites' summary and the check that no process outlives the suite
    globalSetup: ['test/rig/global-setup.ts'],
    // marks each worker with the run's id; ends the rig objects a test file left running
    setupFiles: ['test/rig/setup.ts'],
  },
});
