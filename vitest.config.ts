import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    // probe and CLI tests spawn real interpreters; two cores, so keep parallelism modest.
    // Workers are processes (forks): the run id each one sets (test/rig/setup.ts) stays its own.
    pool: 'forks',
    maxWorkers: 2,
    minWorkers: 1,
    // the run's id, skipped prerequisites' summary and the check that no process outlives the suite
    globalSetup: ['test/rig/global-setup.ts'],
    // marks each worker with the run's id; ends the rig objects a test file left running
    setupFiles: ['test/rig/setup.ts'],
  },
});
