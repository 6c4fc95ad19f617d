/**
 * Builds the test C extensions (test/fixtures/ext/NAME.c: leakyiter, chandle, keyleak) for one interpreter, with
 * plain gcc, into test/.tmp/ext/<version>/. The include directory and the extension
 * suffix come from the interpreter itself. Returns the folder to put on PYTHONPATH.
 *
 * When gcc or the interpreter's Python.h is missing it rejects with ExtUnavailable, which
 * tests turn into a skip that says why.
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, renameSync, statSync, rmSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const run = promisify(execFile);

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
/** the test C extensions' sources: test/fixtures/ext/NAME.c */
const EXT_SOURCES = join(ROOT, 'test', 'fixtures', 'ext');
const OUT_ROOT = join(ROOT, 'test', '.tmp', 'ext');

export interface ExtInterp {
  path: string;
  version: string;
  label: string;
}

/** The extension cannot be built here (no gcc, no Python.h): skip, with this reason. */
export class ExtUnavailable extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ExtUnavailable';
  }
}

// Python 2.5 subset: sysconfig only exists from 2.7; distutils is gone from 3.12.
const QUERY = `
import sys
try:
    import sysconfig
    inc = sysconfig.get_paths()['include']
    suffix = sysconfig.get_config_var('EXT_SUFFIX') or sysconfig.get_config_var('SO')
except ImportError:
    from distutils import sysconfig
    inc = sysconfig.get_python_inc()
    suffix = sysconfig.get_config_var('SO')
sys.stdout.write(inc + '\\n' + (suffix or '.so') + '\\n')
`;

const inflight = new Map<string, Promise<string>>();

export function buildLeakyIter(interp: ExtInterp): Promise<string> {
  return buildExt(interp, 'leakyiter');
}

/** test/fixtures/ext/chandle.c: Handle objects without GC support, leaked with no referrer (issue 13). */
export function buildChandle(interp: ExtInterp): Promise<string> {
  return buildExt(interp, 'chandle');
}

/** test/fixtures/ext/keyleak.c: an encoder that leaks a reference to each dict key it reads (issue 13). */
export function buildKeyleak(interp: ExtInterp): Promise<string> {
  return buildExt(interp, 'keyleak');
}

function buildExt(interp: ExtInterp, name: string): Promise<string> {
  const key = `${interp.path}\0${name}`;
  let p = inflight.get(key);
  if (!p) {
    p = build(interp, name);
    inflight.set(key, p);
    p.catch(() => inflight.delete(key));
  }
  return p;
}

async function build(interp: ExtInterp, name: string): Promise<string> {
  const source = join(EXT_SOURCES, `${name}.c`);
  const { stdout } = await run(interp.path, ['-c', QUERY], { encoding: 'utf8' });
  const [include = '', suffix = '.so'] = stdout.split('\n');
  const header = join(include, 'Python.h');
  if (!include || !existsSync(header)) {
    throw new ExtUnavailable(`no Python.h for ${interp.label} (looked in ${include || '?'})`);
  }
  const outDir = join(OUT_ROOT, interp.version);
  const target = join(outDir, `${name}${suffix}`);
  if (existsSync(target) && statSync(target).mtimeMs >= statSync(source).mtimeMs) {
    return outDir;
  }
  const gcc = await which('gcc');
  if (!gcc) throw new ExtUnavailable('gcc is not installed');
  mkdirSync(outDir, { recursive: true });
  // build under a private name and rename: two test workers may build at once
  const tmp = `${target}.${process.pid}.tmp`;
  try {
    await run(gcc, ['-shared', '-fPIC', '-O1', '-w', `-I${include}`, source, '-o', tmp]);
  } catch (err) {
    rmSync(tmp, { force: true });
    const e = err as { stderr?: string; message: string };
    throw new Error(`gcc failed building ${name} for ${interp.label}: ${e.stderr || e.message}`);
  }
  renameSync(tmp, target);
  return outDir;
}

async function which(cmd: string): Promise<string | null> {
  try {
    const { stdout } = await run('sh', ['-c', `command -v ${cmd}`], { encoding: 'utf8' });
    return stdout.trim() || null;
  } catch {
    return null;
  }
}
