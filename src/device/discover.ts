/**
 * Interpreter discovery, one policy wherever the app runs (this machine or a device), as
 * Ansible does it: `--python NAME|PATH` wins (it must run); otherwise a list of names is
 * probed with `command -v`, in order of preference, and the first one that runs and tells
 * its version is used. Everything runs through the transport under the target's own sh
 * (busybox ash on a handheld), in one round trip, so the script sticks to POSIX and the
 * version is read with code that Python 2.5 accepts.
 */
import { RefscopeError } from '../errors.js';
import { faultyAnswer, type Transport } from '../transport/types.js';

/** Probed in this order (newest names first); /usr/bin/python2.5 is where Maemo keeps it. */
export const CANDIDATES = ['python3', 'python2.7', 'python2.6', 'python2.5', 'python2', 'python', '/usr/bin/python2.5'] as const;

export interface PythonInfo {
  /** what we execute: an absolute path */
  path: string;
  /** "2.7.18" */
  version: string;
}

export interface FoundPython extends PythonInfo {
  /** the name it was found by */
  name: string;
}

/** where the interpreter is looked for: its errors are a usage error here, a device error there */
export type PythonPlace = 'local' | 'device';

const VERSION_CODE = "import sys; sys.stdout.write('%d.%d.%d' % tuple(sys.version_info[:3]))";

// $1 = 'first' (stop at the first that runs) or 'all'; then the candidates. One line per
// interpreter found: name<TAB>absolute path<TAB>version, or '-' as the version when it does not run.
const SCRIPT = [
  'mode="$1"; shift',
  'for p in "$@"; do',
  '  path=$(command -v "$p" 2>/dev/null) || continue',
  '  [ -n "$path" ] || continue',
  '  case "$path" in /*) ;; *) path="$(pwd)/${path#./}" ;; esac',
  `  v=$("$path" -c "${VERSION_CODE}" 2>/dev/null) || v=-`,
  '  case "$v" in [0-9]*.[0-9]*.[0-9]*) ;; *) v=- ;; esac',
  '  printf "%s\\t%s\\t%s\\n" "$p" "$path" "$v"',
  '  if [ "$v" != - ] && [ "$mode" = first ]; then exit 0; fi',
  'done',
  'exit 0',
].join('\n');

interface Probed { name: string; path: string; version: string | null }

/** Each of `names` found on the target, in order, deduplicated by path; version null when it does not run. */
async function probePythons(t: Transport, names: readonly string[], mode: 'first' | 'all'): Promise<Probed[]> {
  const r = await t.run(['sh', '-c', SCRIPT, 'sh', mode, ...names], { timeoutMs: 60_000 });
  const fault = faultyAnswer(r, `could not look for python on ${t.device}`);
  if (fault) throw new RefscopeError('ERR_DEVICE', fault, `Try: refscope doctor ${t.device}`);
  const seen = new Set<string>();
  const out: Probed[] = [];
  for (const line of r.stdout.split('\n')) {
    const [name, path, version] = line.split('\t');
    if (!name || !path || !version || seen.has(path)) continue;
    seen.add(path);
    out.push({ name, path, version: /^\d+\.\d+\.\d+$/.test(version) ? version : null });
  }
  return out;
}

const runs = (p: Probed): p is FoundPython => p.version !== null;

/** Every interpreter among `names` that runs on the target, in order of preference, deduplicated by path. */
export async function listPythons(t: Transport, names: readonly string[] = CANDIDATES): Promise<FoundPython[]> {
  return (await probePythons(t, names, 'all')).filter(runs);
}

/** The policy: of the interpreters that run, listed in order of preference, the first. */
export function choosePython(found: readonly FoundPython[]): FoundPython | undefined {
  return found[0];
}

/** The interpreter a run will use: `requested` when given (it must run), else the first candidate that runs. */
export async function discoverPython(t: Transport, requested?: string, place: PythonPlace = 'device'): Promise<FoundPython & { candidates: FoundPython[] }> {
  if (requested) {
    const [py] = await probePythons(t, [requested], 'first');
    if (!py || !runs(py)) throw await notRunnable(t, requested, py ?? null, place);
    return { ...py, candidates: [py] };
  }
  const found = (await probePythons(t, CANDIDATES, 'first')).filter(runs);
  const chosen = choosePython(found);
  if (!chosen) {
    throw place === 'local'
      ? new RefscopeError('ERR_INTERPRETER', `no python interpreter found (tried ${CANDIDATES.join(', ')})`, 'Install it or pass --python PATH')
      : new RefscopeError('ERR_DEVICE', `no python interpreter found on ${t.device} (tried ${CANDIDATES.join(', ')})`,
        'Install Python on the device (Maemo: python2.5), or pass --python PATH');
  }
  return { ...chosen, candidates: found };
}

async function notRunnable(t: Transport, requested: string, found: Probed | null, place: PythonPlace): Promise<RefscopeError> {
  if (place === 'device') {
    return new RefscopeError('ERR_DEVICE', `python interpreter '${requested}' not found or not runnable on ${t.device}`,
      `Check the path on the device, or drop --python to let refscope find one (refscope doctor ${t.device})`);
  }
  if (!found) return new RefscopeError('ERR_INTERPRETER', `python interpreter '${requested}' not found`, 'Install it or pass --python PATH');
  return new RefscopeError('ERR_INTERPRETER', `python interpreter '${requested}' (${oneLine(found.path)}) does not run (${oneLine(await whyNot(t, found.path))})`, 'Install it or pass --python PATH');
}

/** Why an interpreter does not tell its version (a pyenv shim of an inactive version, a broken install). */
async function whyNot(t: Transport, path: string): Promise<string> {
  try {
    const r = await t.run([path, '-c', VERSION_CODE], { timeoutMs: 15_000 });
    // the first line says what went wrong (a pyenv shim: "pyenv: python3.5: command not found"); later ones are advice
    const said = r.stderr.split('\n').map((l) => l.trim()).find((l) => l !== '') ?? '';
    return r.timedOut ? 'timed out' : `exit ${r.code ?? r.signal}${said ? `: ${said}` : ''}`;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code ?? String(e);
  }
}

/** One printable line: whitespace runs and control characters (a terminal's escapes) become one space. */
function oneLine(s: string): string {
  // eslint-disable-next-line no-control-regex
  const line = s.replace(/[\s\u0000-\u001f\u007f-\u009f]+/g, ' ').trim();
  return line.length > 120 ? `${line.slice(0, 117)}...` : line;
}
