/**
 * The suite's global setup (vitest.config.ts). Before the workers start: a fresh run id
 * (every worker sets it as REFSCOPE_RIG_RUN, see setup.ts, so every process a test starts
 * carries it), REFSCOPE_SKIP_LOG (where prereq.ts records skipped prerequisites) and
 * REFSCOPE_RIG_DIRS (where the rig records the folders it makes).
 *
 * After the run: prints the summary of skipped prerequisites (required and optional) to
 * stderr, then looks for leftovers, processes of this run still running: any carrying this
 * run's REFSCOPE_RIG_RUN, or running in (or naming) a folder the rig made, and their
 * descendants. Each is named,
 * ended (SIGTERM, then SIGKILL), and the run fails: nothing may outlive the suite. Other
 * runs on the machine (other ids, other folders) are never touched.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestProject } from 'vitest/node';
import { readSkipLog, skipSummary } from '../helpers/prereq.js';
import { belongsTo, describeProc, DIRS_ENV, findProcs, RUN_ENV, stopProcs, type ProcInfo } from './procs.js';

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
  // the workers are forked after this: they inherit both
  process.env.REFSCOPE_SKIP_LOG = skips;
  process.env[DIRS_ENV] = dirs;
  project.provide('refscopeRigRun', run);

  return async () => {
    const summary = skipSummary(readSkipLog(skips));
    if (summary) process.stderr.write(`\n${summary}\n`);
    const folders = existsSync(dirs) ? [...new Set(readFileSync(dirs, 'utf8').split('\n').filter(Boolean))] : [];
    const left = runLeftovers(run, folders);
    if (left.length > 0) {
      const stuck = stopProcs(left);
      process.stderr.write([
        '',
        `refscope: ${left.length} process${left.length > 1 ? 'es' : ''} of this run outlived the suite (a rig device or test did not end ${left.length > 1 ? 'them' : 'it'}); ended now:`,
        ...left.map((p) => `  - ${describeProc(p)}`),
        ...(stuck.length ? [`refscope: ${stuck.length} could not be ended: ${stuck.map((p) => p.pid).join(', ')}`] : []),
        'refscope: the run FAILS: nothing a test starts may outlive the suite',
        '',
      ].join('\n'));
      process.exitCode = 1;
    }
    rmSync(state, { recursive: true, force: true });
  };
}
