import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    // probe and CLI tests spawn real interpreters; two cores, so keep parallelism modest
    maxWorkers: 2,
    minWorkers: 1,
  },
});
