/**
 * The interpreters the tests run the probe under: every CPython under $(pyenv root)/versions,
 * plus REFSCOPE_PY25 when set. CPython 2.7 and a 3.x are required prerequisites, Python 2.5
 * an optional extra: asking for the interpreters records what is missing for the run's
 * summary (test/helpers/prereq.ts), and under REFSCOPE_REQUIRE_RIG=1 a missing 2.7 or 3.x
 * throws, so the test file fails with the reason instead of skipping.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { missing } from './prereq.js';

export interface Interp {
  /** short label, e.g. "2.7" or "3.11" */
  label: string;
  /** full version, e.g. "2.7.18" */
  version: string;
  path: string;
}

function pyenvRoot(): string {
  if (process.env.PYENV_ROOT) return process.env.PYENV_ROOT;
  try {
    return execFileSync('pyenv', ['root'], { encoding: 'utf8' }).trim();
  } catch {
    return join(homedir(), '.pyenv');
  }
}

let cached: Interp[] | null = null;

function found(): Interp[] {
  if (cached) return cached;
  const out: Interp[] = [];
  const root = join(pyenvRoot(), 'versions');
  if (existsSync(root)) {
    for (const name of readdirSync(root).sort()) {
      const m = /^(\d+)\.(\d+)\.\d+$/.exec(name);
      if (!m) continue;
      const path = join(root, name, 'bin', 'python');
      if (existsSync(path)) out.push({ label: `${m[1]}.${m[2]}`, version: name, path });
    }
  }
  const py25 = process.env.REFSCOPE_PY25;
  if (py25 && existsSync(py25)) out.push({ label: '2.5', version: '2.5', path: py25 });
  out.sort((a, b) => cmp(a.label, b.label));
  cached = out;
  return out;
}

/** every interpreter found; records (or, under REFSCOPE_REQUIRE_RIG=1, throws for) a missing 2.7 or 3.x, and a missing 2.5 as optional */
export function interpreters(): Interp[] {
  const all = found();
  const versions = join(pyenvRoot(), 'versions');
  const py25 = process.env.REFSCOPE_PY25;
  missing([
    ['python2.7', all.some((i) => i.label === '2.7') ? null : `no CPython 2.7 under ${versions} (pyenv install 2.7.18)`],
    ['python3', all.some((i) => i.label.startsWith('3.')) ? null : `no CPython 3.x under ${versions} (pyenv install 3.11.7)`],
    ['python2.5 (REFSCOPE_PY25)', all.some((i) => i.label === '2.5') ? null : py25 ? `REFSCOPE_PY25=${py25} does not exist` : 'REFSCOPE_PY25 is not set', { optional: true }],
  ]);
  return all;
}

function cmp(a: string, b: string): number {
  const [a1 = 0, a2 = 0] = a.split('.').map(Number);
  const [b1 = 0, b2 = 0] = b.split('.').map(Number);
  return a1 - b1 || a2 - b2;
}

/** The interpreter with this label ("2.7", "3.11"), or undefined. */
export function interpreter(label: string): Interp | undefined {
  return interpreters().find((i) => i.label === label);
}

/** The interpreters CI must cover: 2.7 and one 3.x (3.11 preferred). */
export function coreInterpreters(): Interp[] {
  const all = interpreters();
  const py2 = all.find((i) => i.label === '2.7');
  const py3 = all.find((i) => i.label === '3.11') ?? all.filter((i) => i.label.startsWith('3.')).pop();
  return [py2, py3].filter((i): i is Interp => i !== undefined);
}

/** 2.7, the oldest and the newest 3.x (3.12+ immortal objects), and 2.5 when it is there:
 * the spread a behaviour that differs across versions is checked on, without every 3.x */
export function spreadInterpreters(): Interp[] {
  const all = interpreters();
  const py3 = all.filter((i) => i.label.startsWith('3.'));
  const pick = [all.find((i) => i.label === '2.5'), all.find((i) => i.label === '2.7'), py3[0], py3[py3.length - 1]];
  return pick.filter((i, k): i is Interp => i !== undefined && pick.indexOf(i) === k);
}

/**
 * The probe-level matrix (runner, records, storage, deep census, holders): the spread plus
 * 3.11 (its new frames and eval loop), or every interpreter found with REFSCOPE_ALL_PYTHONS=1.
 * The middle 3.x add little a neighbour does not catch and cost a minute of CI each.
 */
export function matrixInterpreters(): Interp[] {
  if (process.env.REFSCOPE_ALL_PYTHONS === '1') return interpreters();
  const all = interpreters();
  const pick = [...spreadInterpreters(), all.find((i) => i.label === '3.11')];
  return pick.filter((i, k): i is Interp => i !== undefined && pick.indexOf(i) === k)
    .sort((a, b) => all.indexOf(a) - all.indexOf(b));
}
