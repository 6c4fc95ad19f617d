/**
 * Runs in every test file before it (vitest.config.ts setupFiles). Marks this worker, and so
 * every process the file's tests start, with the run's id (REFSCOPE_RIG_RUN, from the global
 * setup) and an id of its own (REFSCOPE_RIG_FILE). After the file (and its own afterAll
 * hooks): ends whatever rig device, server, emulated device or rig home it left; then any
 * process the file started that is still running (a detached app, a CLI a timed-out test
 * left) gets 2 s to end by itself, and is then ended and recorded: the global teardown
 * names it and fails the run.
 */
import { randomBytes } from 'node:crypto';
import { appendFileSync } from 'node:fs';
import { relative } from 'node:path';
import { afterAll, inject } from 'vitest';
import { cleanupAll, describeProc, FILE_ENV, findProcs, LEFTOVERS_ENV, RUN_ENV, stopProcs, waitEnded } from './procs.js';
import type {} from './global-setup.js'; // the ProvidedContext key

const run = inject('refscopeRigRun');
if (run) process.env[RUN_ENV] = run;
const file = `${process.pid}-${randomBytes(4).toString('hex')}`;
process.env[FILE_ENV] = file;

afterAll(async () => {
  const errors = await cleanupAll();
  const marker = `${FILE_ENV}=${file}`;
  const left = await waitEnded(findProcs((p) => p.environ?.includes(marker) ?? false, { descendants: true }), 2000);
  if (left.length > 0) {
    stopProcs(left);
    const path = (globalThis as { __vitest_worker__?: { filepath?: string } }).__vitest_worker__?.filepath ?? '?';
    const name = relative(process.cwd(), path).startsWith('..') ? path : relative(process.cwd(), path);
    const lines = left.map((p) => `${name}\t${describeProc(p)}`);
    process.stderr.write(`refscope: ${name} left ${left.length} process(es) running; ended now (the run will fail):\n${lines.map((l) => `  - ${l.split('\t')[1]}`).join('\n')}\n`);
    const log = process.env[LEFTOVERS_ENV];
    if (log) try { appendFileSync(log, `${lines.join('\n')}\n`); } catch { /* the teardown's own scan may still see them */ }
  }
  if (errors.length > 0) throw new AggregateError(errors, `rig cleanup after the file: ${errors.map(String).join('; ')}`);
});
