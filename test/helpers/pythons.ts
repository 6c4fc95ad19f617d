/**
 * The interpreters the tests run the probe under: every CPython under $(pyenv root)/versions,
 * plus REFSCOPE_PY25 when set. Tests that need one that is missing skip and say so.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';

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

export function interpreters(): Interp[] {
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
