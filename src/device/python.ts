/**
 * Interpreter resolution (DESIGN §2, "Interpreter discovery"), local for now: `--python
 * NAME|PATH`, or the first of python3, python2.7, python2, python found on PATH that
 * runs. The version is read by running the interpreter through the transport, with code
 * that Python 2.5 accepts.
 */
import { constants as fsConstants } from 'node:fs';
import { access, stat } from 'node:fs/promises';
import { delimiter, isAbsolute, join, resolve } from 'node:path';
import { RefscopeError } from '../errors.js';
import type { Transport } from '../transport/types.js';

export const DEFAULT_PYTHONS = ['python3', 'python2.7', 'python2', 'python'] as const;

export interface PythonInfo {
  /** what we execute: an absolute path */
  path: string;
  /** "2.7.18" */
  version: string;
}

const VERSION_CODE = "import sys; sys.stdout.write('%d.%d.%d' % tuple(sys.version_info[:3]))";
const HINT = 'Install it or pass --python PATH';

async function isExecutableFile(p: string): Promise<boolean> {
  try {
    const st = await stat(p);
    if (!st.isFile()) return false;
    await access(p, fsConstants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** Look a command up like execvp would: a name with a slash is a path, else search PATH. */
export async function findOnPath(name: string, env: NodeJS.ProcessEnv = process.env, cwd = process.cwd()): Promise<string | null> {
  if (name.includes('/')) {
    const p = isAbsolute(name) ? name : resolve(cwd, name);
    return (await isExecutableFile(p)) ? p : null;
  }
  for (const dir of (env.PATH ?? '').split(delimiter)) {
    if (!dir) continue;
    const p = join(isAbsolute(dir) ? dir : resolve(cwd, dir), name);
    if (await isExecutableFile(p)) return p;
  }
  return null;
}

/** Run the interpreter for its version; null when it does not run (a pyenv shim of an inactive version, a broken install). */
async function versionOf(transport: Transport, path: string): Promise<{ version: string | null; why: string }> {
  try {
    const r = await transport.run([path, '-c', VERSION_CODE], { timeoutMs: 15_000 });
    const v = r.stdout.trim();
    if (r.code === 0 && /^\d+\.\d+\.\d+$/.test(v)) return { version: v, why: '' };
    const said = r.stderr.trim().split('\n').pop() ?? '';
    return { version: null, why: r.timedOut ? 'timed out' : `exit ${r.code ?? r.signal}${said ? `: ${said}` : ''}` };
  } catch (e) {
    return { version: null, why: (e as NodeJS.ErrnoException).code ?? String(e) };
  }
}

export async function resolvePython(transport: Transport, requested?: string): Promise<PythonInfo> {
  if (requested !== undefined && requested !== '') {
    const path = await findOnPath(requested);
    if (!path) throw new RefscopeError('ERR_INTERPRETER', `python interpreter '${requested}' not found`, HINT);
    const { version, why } = await versionOf(transport, path);
    if (!version) throw new RefscopeError('ERR_INTERPRETER', `python interpreter '${requested}' does not run (${oneLine(why)})`, HINT);
    return { path, version };
  }
  for (const name of DEFAULT_PYTHONS) {
    const path = await findOnPath(name);
    if (!path) continue;
    const { version } = await versionOf(transport, path);
    if (version) return { path, version };
  }
  throw new RefscopeError('ERR_INTERPRETER', `no python interpreter found (tried ${DEFAULT_PYTHONS.join(', ')})`, HINT);
}

function oneLine(s: string): string {
  const line = s.replace(/\s+/g, ' ').trim();
  return line.length > 120 ? `${line.slice(0, 117)}...` : line;
}
