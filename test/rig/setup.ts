/**
 * Runs in every test file before it (vitest.config.ts setupFiles): marks this worker, and so
 * every process its tests start, with the run's id (REFSCOPE_RIG_RUN, from the global setup),
 * and after the file ends whatever rig device, server or emulated device it left running
 * (its own afterAll normally has), so that a failed or timed-out file leaves nothing behind.
 */
import { afterAll, inject } from 'vitest';
import { cleanupAll, RUN_ENV } from './procs.js';
import type {} from './global-setup.js'; // the ProvidedContext key

const run = inject('refscopeRigRun');
if (run) process.env[RUN_ENV] = run;

afterAll(async () => {
  const errors = await cleanupAll();
  if (errors.length > 0) throw new AggregateError(errors, `rig cleanup after the file: ${errors.map(String).join('; ')}`);
});
