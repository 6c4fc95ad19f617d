/**
 * The processes the rig starts, and ending them: nothing a test starts may outlive it.
 *
 * Every process the rig starts carries two variables, readable from outside in
 * /proc/PID/environ: REFSCOPE_RIG_RUN, one id per `vitest run` (set in every worker by
 * test/rig/setup.ts from the global setup; so every process a test starts carries it too),
 * and REFSCOPE_RIG_DEVICE, the folder of the rig device it belongs to (set on the servers the
 * rig starts, and exported by the devices' login scripts, so whatever runs over SSH on a
 * device, detached or not, inherits it). A device's cleanup ends every process that carries
 * its folder, runs in it (cwd) or names it on its command line, and their descendants (sshd
 * rewrites its processes' environ and command line: its per-connection processes are found
 * as the listener's children): SIGTERM, then SIGKILL at a deadline. The global teardown (test/rig/global-setup.ts) ends and names whatever of the
 * run is still there, and fails the run.
 */
import { appendFileSync, readdirSync, readFileSync, readlinkSync } from 'node:fs';

export const RUN_ENV = 'REFSCOPE_RIG_RUN';
export const DEVICE_ENV = 'REFSCOPE_RIG_DEVICE';
/** one id per test file: every process the file's tests start carries it (set by setup.ts) */
export const FILE_ENV = 'REFSCOPE_RIG_FILE';
/** a file the rig appends its folders to, one a line (set by the global setup) */
export const DIRS_ENV = 'REFSCOPE_RIG_DIRS';
/** a file setup.ts appends the processes a test file left running to (set by the global setup) */
export const LEFTOVERS_ENV = 'REFSCOPE_RIG_LEFTOVERS';

/** this run's id (outside `vitest run` with the global setup, e.g. the bench: one per process) */
export function rigRun(): string {
  return (process.env[RUN_ENV] ??= `adhoc-${process.pid}-${Date.now().toString(36)}`);
}

/** the environment for a process the rig starts for the device whose folder is `owner` */
export function rigEnv(owner: string, base: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  return { ...base, [RUN_ENV]: rigRun(), [DEVICE_ENV]: owner };
}

/** sh lines that export the markers: the first lines of a device's login script */
export function markerExports(owner: string): string[] {
  return [`${RUN_ENV}='${rigRun()}'; export ${RUN_ENV}`, `${DEVICE_ENV}='${owner}'; export ${DEVICE_ENV}`];
}

/** note a folder the rig made, for the global teardown's check for leftovers */
export function recordRigDir(dir: string): void {
  const f = process.env[DIRS_ENV];
  if (!f) return;
  try { appendFileSync(f, `${dir}\n`); } catch { /* the teardown still has the run marker */ }
}

export interface ProcInfo {
  pid: number;
  ppid: number;
  /** R, S, D, Z, ... from /proc/PID/stat */
  state: string;
  /** clock ticks after boot: with the pid, names the process (pids are reused) */
  start: string;
  cmdline: string[];
  /** null when unreadable (not ours) */
  cwd: string | null;
  environ: string[] | null;
}

export function readProc(pid: number): ProcInfo | null {
  let stat: string;
  try { stat = readFileSync(`/proc/${pid}/stat`, 'utf8'); } catch { return null; }
  // "pid (comm) state ppid ..." where comm may hold spaces and parentheses
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  let cmdline: string[] = [];
  try { cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean); } catch { /* gone */ }
  let cwd: string | null = null;
  try { cwd = readlinkSync(`/proc/${pid}/cwd`); } catch { /* gone or not ours */ }
  let environ: string[] | null = null;
  try { environ = readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0'); } catch { /* gone or not ours */ }
  return { pid, ppid: Number(f[1]), state: f[0] ?? '?', start: f[19] ?? '', cmdline, cwd, environ };
}

export function listProcs(): ProcInfo[] {
  const out: ProcInfo[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const p = readProc(Number(name));
    if (p) out.push(p);
  }
  return out;
}

/** still there and not a zombie (a zombie has ended; its parent just has not reaped it yet) */
export function running(p: Pick<ProcInfo, 'pid' | 'start'>): boolean {
  const now = readProc(p.pid);
  return now !== null && now.start === p.start && now.state !== 'Z' && now.state !== 'X';
}

/** this process and its ancestors: never ours to end */
function selfAndAncestors(): Set<number> {
  const out = new Set<number>();
  for (let pid = process.pid; pid > 1 && !out.has(pid);) {
    out.add(pid);
    pid = readProc(pid)?.ppid ?? 0;
  }
  return out;
}

function inside(path: string, dir: string): boolean {
  return path === dir || path.startsWith(`${dir}/`) || path === `${dir} (deleted)`;
}

/** does `p` belong to one of these folders: carries it as its device, runs in it, or names it */
export function belongsTo(p: ProcInfo, dirs: string[]): boolean {
  return dirs.some((d) => (p.environ?.includes(`${DEVICE_ENV}=${d}`) ?? false)
    || (p.cwd !== null && inside(p.cwd, d))
    || p.cmdline.some((a) => a === d || a.includes(`${d}/`)));
}

export interface FindOptions {
  /** also every descendant of a process picked (e.g. sshd's per-connection processes, whose
   * environ and command line sshd rewrites, so that only their parentage names them) */
  descendants?: boolean;
  /** never pick these, nor (with descendants) walk through them */
  exclude?: (p: ProcInfo) => boolean;
}

/** processes (not zombies, not this one or its ancestors) that `match` picks */
export function findProcs(match: (p: ProcInfo) => boolean, opts: FindOptions = {}): ProcInfo[] {
  const skip = selfAndAncestors();
  const all = listProcs().filter((p) => !skip.has(p.pid) && p.state !== 'Z' && p.state !== 'X');
  const excluded = (p: ProcInfo) => opts.exclude?.(p) ?? false;
  const picked = new Map<number, ProcInfo>();
  for (const p of all) if (!excluded(p) && match(p)) picked.set(p.pid, p);
  if (opts.descendants) {
    const children = new Map<number, ProcInfo[]>();
    for (const p of all) children.set(p.ppid, [...(children.get(p.ppid) ?? []), p]);
    const stack = [...picked.values()];
    while (stack.length > 0) {
      for (const c of children.get(stack.pop()!.pid) ?? []) {
        if (picked.has(c.pid) || excluded(c)) continue;
        picked.set(c.pid, c);
        stack.push(c);
      }
    }
  }
  return [...picked.values()];
}

const sleeper = new Int32Array(new SharedArrayBuffer(4));
/** a synchronous pause (cleanup() is synchronous: its callers do not await it) */
function pause(ms: number): void {
  Atomics.wait(sleeper, 0, 0, ms);
}

function signal(p: ProcInfo, sig: NodeJS.Signals): void {
  if (!running(p)) return; // never signal a pid that now names another process
  try { process.kill(p.pid, sig); } catch { /* gone */ }
}

/**
 * SIGTERM each, wait until all have ended (deadline termMs), SIGKILL the rest, wait again
 * (deadline killMs). Returns those still running after that (e.g. stuck in D state).
 */
export function stopProcs(procs: ProcInfo[], termMs = 3000, killMs = 3000): ProcInfo[] {
  if (procs.length === 0) return [];
  for (const p of procs) signal(p, 'SIGTERM');
  let deadline = Date.now() + termMs;
  let left = procs.filter(running);
  while (left.length > 0 && Date.now() < deadline) { pause(20); left = left.filter(running); }
  if (left.length === 0) return [];
  for (const p of left) signal(p, 'SIGKILL');
  deadline = Date.now() + killMs;
  while (left.length > 0 && Date.now() < deadline) { pause(20); left = left.filter(running); }
  return left;
}

/**
 * End every process of these folders and their descendants, all together (a listener and
 * its per-connection processes in one go: once the listener is gone, they are no longer
 * its descendants), scanning again until none is left (ending one can let another start,
 * e.g. a launcher's watchdog) or the deadline passes. Returns what is still running then.
 */
export function stopProcsOf(dirs: string[], deadlineMs = 10_000, exclude?: (p: ProcInfo) => boolean): ProcInfo[] {
  const deadline = Date.now() + deadlineMs;
  let left: ProcInfo[] = [];
  for (;;) {
    const found = findProcs((p) => belongsTo(p, dirs), { descendants: true, exclude });
    if (found.length === 0) return [];
    left = stopProcs(found);
    if (Date.now() > deadline) return left;
  }
}

/** wait (asynchronously, up to ms) for these to end by themselves; returns those still running */
export async function waitEnded(procs: ProcInfo[], ms: number): Promise<ProcInfo[]> {
  const deadline = Date.now() + ms;
  let left = procs.filter(running);
  while (left.length > 0 && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 50));
    left = left.filter(running);
  }
  return left;
}

/** one line naming a process, for messages */
export function describeProc(p: ProcInfo): string {
  return `pid ${p.pid} (ppid ${p.ppid}, cwd ${p.cwd ?? '?'}): ${p.cmdline.join(' ').slice(0, 300)}`;
}

/** cleanups of rig objects still live in this worker: the setup file's afterAll runs what a test file left */
const live = new Set<() => unknown>();

export function onRigCleanup(fn: () => unknown): () => void {
  live.add(fn);
  return () => { live.delete(fn); };
}

/** run (newest first) every cleanup still registered; errors are collected, not thrown midway */
export async function cleanupAll(): Promise<unknown[]> {
  const errors: unknown[] = [];
  for (const fn of [...live].reverse()) {
    live.delete(fn);
    try { await fn(); } catch (e) { errors.push(e); }
  }
  return errors;
}
