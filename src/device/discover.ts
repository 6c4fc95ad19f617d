/**
 * Interpreter discovery on a device, as Ansible does it: `--python` wins; otherwise
 * probe a list of names with `command -v` in one round trip, read each one's version by
 * running it, and choose the newest that works. Everything runs under the device's own
 * sh (busybox ash on a handheld), so the script sticks to POSIX.
 */
import { RefscopeError } from '../errors.js';
import type { Transport } from '../transport/types.js';

/** Probed in this order; /usr/bin/python2.5 is where Maemo keeps it. */
export const CANDIDATES = ['python3', 'python2.7', 'python2.6', 'python2.5', 'python2', 'python', '/usr/bin/python2.5'] as const;

export interface FoundPython {
  name: string;
  path: string;
  version: string;
}

// $@ = candidates. One line per interpreter that runs: name<TAB>path<TAB>version
const SCRIPT = [
  'for p in "$@"; do',
  '  path=$(command -v "$p" 2>/dev/null) || continue',
  '  [ -n "$path" ] || continue',
  `  v=$("$path" -c 'import sys; sys.stdout.write("%d.%d.%d" % tuple(sys.version_info[:3]))' 2>/dev/null) || continue`,
  '  printf "%s\\t%s\\t%s\\n" "$p" "$path" "$v"',
  'done',
  'exit 0',
].join('\n');

function cmpVersion(a: string, b: string): number {
  const pa = a.split('.').map(Number);
  const pb = b.split('.').map(Number);
  for (let i = 0; i < 3; i++) {
    const d = (pa[i] ?? 0) - (pb[i] ?? 0);
    if (d !== 0) return d;
  }
  return 0;
}

/** Every interpreter among `names` that runs on the device, deduplicated by path. */
export async function listPythons(t: Transport, names: readonly string[] = CANDIDATES): Promise<FoundPython[]> {
  const r = await t.run(['sh', '-c', SCRIPT, 'sh', ...names], { timeoutMs: 60_000 });
  const seen = new Set<string>();
  const out: FoundPython[] = [];
  for (const line of r.stdout.split('\n')) {
    const [name, path, version] = line.split('\t');
    if (!name || !path || !version || !/^\d+\.\d+\.\d+$/.test(version) || seen.has(path)) continue;
    seen.add(path);
    out.push({ name, path, version });
  }
  return out;
}

/** The interpreter a run will use: `requested` when given (it must run), else the newest found. */
export async function discoverPython(t: Transport, requested?: string): Promise<FoundPython & { candidates: FoundPython[] }> {
  if (requested) {
    const found = await listPythons(t, [requested]);
    const py = found[0];
    if (!py) {
      throw new RefscopeError('ERR_DEVICE', `python interpreter '${requested}' not found or not runnable on ${t.device}`,
        `Check the path on the device, or drop --python to let refscope find one (refscope doctor ${t.device})`);
    }
    return { ...py, candidates: found };
  }
  const all = await listPythons(t);
  const best = [...all].sort((a, b) => cmpVersion(b.version, a.version))[0];
  if (!best) {
    throw new RefscopeError('ERR_DEVICE', `no python interpreter found on ${t.device} (tried ${CANDIDATES.join(', ')})`,
      'Install Python on the device (Maemo: python2.5), or pass --python PATH');
  }
  return { ...best, candidates: all };
}
