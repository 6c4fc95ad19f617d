/**
 * Prerequisites of the suite (root, sshd, dropbear, busybox, tmpfs, the armel rootfs and
 * qemu, xmllint, chromium, Python 2.7 and a 3.x) and optional extras (Python 2.5, an armel
 * Python 2.5, the cgroup v1 memory controller).
 *
 * `skipWhy(name, why)` returns `why` (so `describe.skipIf(skipWhy(...) !== null)` skips and
 * the title can say why) and records the skip for the run's summary (printed by the global
 * teardown, test/rig/global-setup.ts). Under REFSCOPE_REQUIRE_RIG=1 (set by .ci/run) a
 * missing REQUIRED prerequisite throws instead, so the test file fails with the reason: a
 * green CI run cannot hide that a layer never ran. Optional extras always skip.
 *
 * The rig's own checks (serverAvailable, emulatedUnavailable, interpreters, ...) go through
 * here; a test file with a check of its own wraps it: `skipWhy('xmllint', problem)`.
 */
import { execFileSync } from 'node:child_process';
import { appendFileSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';

export const REQUIRE_RIG = process.env.REFSCOPE_REQUIRE_RIG === '1';

/** Where skips are recorded for the global teardown's summary (one line each). */
export function skipLog(): string {
  return process.env.REFSCOPE_SKIP_LOG ?? join(tmpdir(), `refscope-skips-${process.ppid}.log`);
}

export interface PrereqOptions {
  /** an optional extra (Python 2.5, an armel Python 2.5): skipped even under REFSCOPE_REQUIRE_RIG */
  optional?: boolean;
}

export type Level = 'required' | 'optional' | 'missing';

function record(level: Level, name: string, why: string): void {
  try {
    // the test file being collected (vitest's worker state), shown relative to the repository
    const worker = (globalThis as { __vitest_worker__?: { filepath?: string } }).__vitest_worker__;
    const rel = worker?.filepath ? relative(process.cwd(), worker.filepath) : '';
    const file = rel.startsWith('..') ? worker!.filepath! : rel;
    appendFileSync(skipLog(), `${level}\t${name}\t${why.replace(/\s+/g, ' ')}\t${file}\n`);
  } catch {
    /* the summary is a courtesy */
  }
}

export class MissingPrerequisite extends Error {
  override name = 'MissingPrerequisite';
}

export function skipWhy(name: string, why: string | null, opts: PrereqOptions = {}): string | null {
  return missing([[name, why, opts]]);
}

/**
 * Several checks at once: records every one that is missing and returns the first one's reason
 * (null when all are there). Under REFSCOPE_REQUIRE_RIG=1 it throws once, naming every
 * required one that is missing.
 */
export function missing(checks: Array<[name: string, why: string | null, opts?: PrereqOptions]>): string | null {
  const gone = checks.filter(([, why]) => why !== null) as Array<[string, string, PrereqOptions?]>;
  if (gone.length === 0) return null;
  const required = gone.filter(([, , o]) => !o?.optional);
  if (REQUIRE_RIG && required.length > 0) {
    for (const [name, why] of required) record('missing', name, why);
    throw new MissingPrerequisite(`required prerequisite missing (REFSCOPE_REQUIRE_RIG=1; .ci/run installs them): ${
      required.map(([name, why]) => `${name}: ${why}`).join('; ')}`);
  }
  for (const [name, why, o] of gone) record(o?.optional ? 'optional' : 'required', name, why);
  return gone[0]![1];
}

/** null when this process is root; else why `forWhat` cannot run */
export function notRoot(forWhat: string): string | null {
  return process.getuid?.() === 0 ? null : `not root (${forWhat})`;
}

let tmpfsProblem: string | null | undefined;

/**
 * Null when small tmpfs file systems can be mounted here (root, `mount -t tmpfs` works);
 * else the reason, through skipWhy('tmpfs').
 */
export function tmpfsUnavailable(): string | null {
  if (tmpfsProblem === undefined) {
    tmpfsProblem = notRoot('the tests mount small tmpfs file systems');
    if (tmpfsProblem === null) {
      const d = mkdtempSync(join(tmpdir(), 'refscope-tmpfscheck-'));
      try {
        execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=64k', 'tmpfs', d], { stdio: 'pipe' });
        execFileSync('umount', [d], { stdio: 'pipe' });
      } catch (e) {
        tmpfsProblem = `mount -t tmpfs does not work here: ${String(e).split('\n')[0]}`;
      } finally {
        rmSync(d, { recursive: true, force: true });
      }
    }
  }
  return skipWhy('tmpfs', tmpfsProblem);
}

export interface SkipLine {
  level: Level;
  name: string;
  why: string;
  file: string;
}

export function readSkipLog(path: string): SkipLine[] {
  if (!existsSync(path)) return [];
  return readFileSync(path, 'utf8').split('\n').filter(Boolean).map((l) => {
    const [level = 'required', name = '?', why = '', file = ''] = l.split('\t');
    return { level: level as Level, name, why, file };
  });
}

/** the run's summary: one line per prerequisite and reason, with the test files it skipped */
export function skipSummary(lines: SkipLine[]): string {
  if (lines.length === 0) return '';
  const groups = new Map<string, { l: SkipLine; files: Set<string> }>();
  for (const l of lines) {
    const key = `${l.level}\t${l.name}\t${l.why}`;
    const g = groups.get(key) ?? { l, files: new Set<string>() };
    if (l.file) g.files.add(l.file);
    groups.set(key, g);
  }
  const out: string[] = [];
  const section = (level: Level, title: string) => {
    const gs = [...groups.values()].filter((g) => g.l.level === level).sort((a, b) => a.l.name.localeCompare(b.l.name));
    if (gs.length === 0) return;
    out.push(title);
    for (const { l, files } of gs) {
      const f = [...files].sort();
      out.push(`  - ${l.name}: ${l.why}${f.length ? ` [${f.length} file${f.length > 1 ? 's' : ''}: ${f.slice(0, 4).join(', ')}${f.length > 4 ? ', …' : ''}]` : ''}`);
    }
  };
  section('missing', 'refscope: REQUIRED prerequisites MISSING (REFSCOPE_REQUIRE_RIG=1: those test files failed):');
  section('required', 'refscope: skipped for missing prerequisites (REFSCOPE_REQUIRE_RIG=1, as in .ci/run, makes these fail):');
  section('optional', 'refscope: optional extras not available (skipped):');
  return out.join('\n');
}
