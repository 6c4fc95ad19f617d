import { defineConfig } from 'vitest/config';

// TypeScript benchmarks that need the test rig (real sshd/dropbear); run by bench/run.mjs
export default defineConfig({
  test: {
    include: ['bench/**/*.bench.ts'],
    testTimeout: 600_000,
    hookTimeout: 120_000,
    maxWorkers: 1,
    minWorkers: 1,
  },
});
