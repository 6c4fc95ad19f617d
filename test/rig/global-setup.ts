/**
 * The suite's global setup (vitest.config.ts). Before the workers start: a fresh run id
 * (every worker sets it as REFSCOPE_RIG_RUN, see setup.ts, so every process a test starts
 * carries it), REFSCOPE_SKIP_LOG (where prereq.ts records skipped prerequisites) and
 * REFSCOPE_RIG_DIRS (where the rig records the folders it makes).
 *
 * After the run: prints the summary of skipped prerequisites (required and optional) to
 * stderr, then the leftovers: the processes test files left running (setup.ts ended and
 * recorded them after each file), and the processes of this run still running now: any
 * carrying this run's REFSCOPE_RIG_RUN, or running in (or naming) a folder the rig made, and
 * their descendants (given 2 s to end by themselves). Each is named and ended (SIGTERM,
 * then SIGKILL), and the run fails: nothing may outlive the suite. Other runs on the
 * machine (other ids, other folders) are never touched.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestProject } from 'vitest/node';
import { readSkipLog, skipSummary } from '../helpers/prereq.js';
import { belongsTo, describeProc, DIRS_ENV, findProcs, LEFTOVERS_ENV, RUN_ENV, stopProcs, waitEnded, type ProcInfo } from './procs.js';

declare module 'vitest' {
  export interface ProvidedContext {
    refscopeRigRun: string;
  }
}

/** this run's processes still running (not the vitest process or its ancestors) */
export function runLeftovers(run: string, dirs: string[]): ProcInfo[] {
  const marker = `${RUN_ENV}=${run}`;
  return findProcs((p) => (p.environ?.includes(marker) ?? false) || belongsTo(p, dirs), { descendants: true });
}

export default function setup(project: TestProject): () => Promise<void> {
  const run = `${process.pid}-${randomBytes(4).toString('hex')}`;
  const state = mkdtempSync(join(tmpdir(), 'refscope-run-'));
  const skips = join(state, 'skips.log');
  const dirs = join(state, 'dirs.log');
  const leftovers = join(state, 'leftovers.log');
  // the workers are forked after this: they inherit these
  process.env.REFSCOPE_SKIP_LOG = skips;
  process.env[DIRS_ENV] = dirs;
  process.env[LEFTOVERS_ENV] = leftovers;
  project.provide('refscopeRigRun', run);

  return async () => {
    const summary = skipSummary(readSkipLog(skips));
    if (summary) process.stderr.write(`\n${summary}\n`);
    const folders = existsSync(dirs) ? [...new Set(readFileSync(dirs, 'utf8').split('\n').filter(Boolean))] : [];
    const byFiles = existsSync(leftovers) ? readFileSync(leftovers, 'utf8').split('\n').filter(Boolean).map((l) => l.split('\t')) : [];
    const left = await waitEnded(runLeftovers(run, folders), 2000);
    const stuck = stopProcs(left);
    if (byFiles.length > 0 || left.length > 0) {
      const n = byFiles.length + left.length;
      process.stderr.write([
        '',
        `refscope: ${n} process${n > 1 ? 'es' : ''} of this run outlived ${n > 1 ? 'their' : 'its'} test file (a rig device or test did not end ${n > 1 ? 'them' : 'it'}); ended:`,
        ...byFiles.map(([file, proc]) => `  - ${proc} [left by ${file}]`),
        ...left.map((p) => `  - ${describeProc(p)} [still running after the suite]`),
        ...(stuck.length ? [`refscope: ${stuck.length} could not be ended: ${stuck.map((p) => p.pid).join(', ')}`] : []),
        'refscope: the run FAILS: nothing a test starts may outlive the suite',
        '',
      ].join('\n'));
      process.exitCode = 1;
    }
    rmSync(state, { recursive: true, force: true });
  };
}
