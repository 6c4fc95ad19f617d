/**
 * The host session store: one directory per session (docs/protocol.md, "The session
 * directory"). Writes are atomic (tmp file + fsync + rename) so a reader never sees a
 * half-written manifest or report. Checks come before any write: a refused --out leaves
 * the disk as it was.
 */
import { randomBytes } from 'node:crypto';
import { constants as fsConstants, existsSync } from 'node:fs';
import { access, mkdir, open, readFile, readdir, rename, rm, stat, unlink } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { RefscopeError } from '../errors.js';
import { MANIFEST_SCHEMA, type Manifest } from './manifest.js';

export const SESSIONS_ROOT = 'refscope-sessions';
export const SEGMENTS_DIR = 'segments';
export const MANIFEST_FILE = 'manifest.json';
export const REPORT_JSON = 'report.json';
export const REPORT_TXT = 'report.txt';
export const LOG_FILE = 'refscope.log';
/** A record segment's name (the probe's seg-%06d.jsonl: six digits or more); group 1 is its number. */
export const SEGMENT_NAME = /^seg-(\d{6,})\.jsonl$/;
/** Segment names in the order the probe wrote them (by number: seg-1000000 after seg-999999). */
export const bySegmentNumber = (a: string, b: string): number =>
  Number(SEGMENT_NAME.exec(a)?.[1] ?? 0) - Number(SEGMENT_NAME.exec(b)?.[1] ?? 0) || (a < b ? -1 : a > b ? 1 : 0);
/** The temp file of an atomic write of a segment (a killed writer may leave one). */
export const SEGMENT_TEMP = /^\.seg-\d{6,}\.jsonl\.tmp-/;

/** A fresh sibling temp name for an atomic write of `path` (`.NAME.tmp-PID-RANDOM`). */
export const tempOf = (path: string): string => join(dirname(path), `.${basename(path)}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`);

/** Write one temp file whole and fsync it; on failure nothing is left behind. */
async function writeTemp(tmp: string, data: string | Uint8Array): Promise<void> {
  const fh = await open(tmp, 'wx', 0o644);
  try {
    await fh.writeFile(data);
    await fh.sync();
  } catch (e) {
    await fh.close().catch(() => undefined);
    await unlink(tmp).catch(() => undefined);
    throw e;
  }
  await fh.close();
}

/** Write `data` to `path` atomically: a sibling tmp file, fsync, rename over, fsync the dir. */
export async function writeFileAtomic(path: string, data: string | Uint8Array): Promise<void> {
  const tmp = tempOf(path);
  await writeTemp(tmp, data);
  try {
    await rename(tmp, path);
  } catch (e) {
    await unlink(tmp).catch(() => undefined);
    throw e;
  }
  await syncDir(dirname(path));
}

/**
 * Many files of one folder made durable at once: every temp file written and fsynced
 * (together), all renamed, the folder fsynced once. One round of syncs instead of one per
 * file, which is what keeps collecting thousands of small segments fast.
 */
export async function writeFilesAtomic(dir: string, files: readonly { name: string; data: Uint8Array }[]): Promise<void> {
  if (files.length === 0) return;
  const tmps = files.map((f) => ({ ...f, tmp: tempOf(join(dir, f.name)) }));
  const written = await Promise.allSettled(tmps.map((f) => writeTemp(f.tmp, f.data)));
  const failed = written.find((w): w is PromiseRejectedResult => w.status === 'rejected');
  if (failed) {
    await removeTemps(tmps);
    throw failed.reason;
  }
  await commitTemps(dir, tmps);
}

/** Temp files written and fsynced elsewhere (a pull streams them), renamed to their names in `dir`; the folder fsynced once. */
export async function commitTemps(dir: string, files: readonly { name: string; tmp: string }[]): Promise<void> {
  if (files.length === 0) return;
  for (const f of files) await rename(f.tmp, join(dir, f.name));
  await syncDir(dir);
}

/** Temp files given up: removed, whatever is left of them. */
export async function removeTemps(files: readonly { tmp: string }[]): Promise<void> {
  await Promise.all(files.map((f) => unlink(f.tmp).catch(() => undefined)));
}

async function syncDir(dir: string): Promise<void> {
  try {
    const dh = await open(dir, 'r');
    try { await dh.sync(); } finally { await dh.close(); }
  } catch { /* some filesystems refuse fsync on a directory; the rename is still atomic */ }
}

/** A short random id for a session (8 hex digits). */
export function newSessionId(): string {
  return randomBytes(4).toString('hex');
}

function stamp(d: Date): string {
  const p = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}${p(d.getMonth() + 1)}${p(d.getDate())}-${p(d.getHours())}${p(d.getMinutes())}${p(d.getSeconds())}`;
}

/** The name a session is given after its app: `app/main.py` → `main`, `-m pkg.tool` → `tool`. */
export function sessionLabel(command: readonly string[]): string {
  const module = command[0] === '-m';
  const target = (module ? command[1] : command[0]) ?? 'app';
  const base = module ? target.split('.').pop() ?? target : basename(target).replace(/\.pyw?$/, '');
  const clean = base.replace(/[^A-Za-z0-9._-]+/g, '_').replace(/^[.]+/, '');
  return clean || 'app';
}

/**
 * The default session directory: ./refscope-sessions/<YYYYMMDD-HHMMSS>-<label>, with -2, -3 …
 * appended when taken. Nothing is created.
 */
export function defaultSessionDir(cwd: string, command: readonly string[], now = new Date()): string {
  const base = join(cwd, SESSIONS_ROOT, `${stamp(now)}-${sessionLabel(command)}`);
  if (!existsSync(base)) return base;
  for (let i = 2; ; i++) {
    const candidate = `${base}-${i}`;
    if (!existsSync(candidate)) return candidate;
  }
}

/** True when `dir` holds a refscope session we wrote (its manifest names our schema). */
async function isOurSession(dir: string): Promise<boolean> {
  try {
    const m = JSON.parse(await readFile(join(dir, MANIFEST_FILE), 'utf8')) as { schema?: unknown };
    return m.schema === MANIFEST_SCHEMA;
  } catch {
    return false;
  }
}

/**
 * Check that a session can be created at `dir` without writing anything: it must not
 * exist, or be an empty directory; with `force`, an earlier refscope session there is
 * allowed (and will be replaced). Its nearest existing ancestor must be a writable
 * directory. Throws ERR_INPUT naming the fix.
 */
export async function checkSessionDir(dir: string, opts: { force?: boolean } = {}): Promise<void> {
  const abs = resolve(dir);
  let st: Awaited<ReturnType<typeof stat>> | null = null;
  try {
    st = await stat(abs);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code !== 'ENOENT') throw notWritable(dir, code);
  }
  if (st) {
    if (!st.isDirectory()) {
      throw new RefscopeError('ERR_INPUT', `--out ${dir} is a file, not a directory`, 'Choose a new directory');
    }
    const entries = await readdir(abs);
    if (entries.length > 0 && !(opts.force && await isOurSession(abs))) {
      throw new RefscopeError('ERR_INPUT', `--out ${dir} already holds files`, 'Choose a new directory or remove it');
    }
    await access(abs, fsConstants.W_OK | fsConstants.X_OK).catch((e: NodeJS.ErrnoException) => { throw notWritable(dir, e.code); });
    return;
  }
  let parent = dirname(abs);
  for (;;) {
    const pst = await stat(parent).catch(() => null);
    if (pst) {
      if (!pst.isDirectory()) throw notWritable(dir, 'ENOTDIR');
      await access(parent, fsConstants.W_OK | fsConstants.X_OK).catch((e: NodeJS.ErrnoException) => { throw notWritable(dir, e.code); });
      return;
    }
    const up = dirname(parent);
    if (up === parent) throw notWritable(dir, 'ENOENT');
    parent = up;
  }
}

function notWritable(dir: string, code: string | undefined): RefscopeError {
  return new RefscopeError('ERR_INPUT', `cannot write --out ${dir}${code ? ` (${code})` : ''}`,
    'Choose a directory you can write to');
}

/**
 * Create the session directory and its segments/ folder and write the first manifest.
 * Call checkSessionDir first; with `force` the files of an earlier session are removed.
 */
export async function createSession(dir: string, manifest: Manifest, opts: { force?: boolean } = {}): Promise<void> {
  try {
    if (opts.force && await isOurSession(dir)) {
      for (const name of [SEGMENTS_DIR, MANIFEST_FILE, REPORT_JSON, REPORT_TXT, LOG_FILE]) {
        await rm(join(dir, name), { recursive: true, force: true });
      }
    }
    await mkdir(join(dir, SEGMENTS_DIR), { recursive: true });
  } catch (e) {
    throw notWritable(dir, (e as NodeJS.ErrnoException).code);
  }
  await writeManifest(dir, manifest);
}

export async function writeManifest(dir: string, manifest: Manifest): Promise<void> {
  await writeFileAtomic(join(dir, MANIFEST_FILE), `${JSON.stringify(manifest, null, 2)}\n`);
}

export async function readManifest(dir: string): Promise<Manifest> {
  const text = await readFile(join(dir, MANIFEST_FILE), 'utf8');
  const m = JSON.parse(text) as Manifest;
  if (m.schema !== MANIFEST_SCHEMA) throw new RefscopeError('ERR_SESSION', `${dir} has no refscope manifest`);
  return m;
}

/** Read, merge and atomically rewrite the manifest. */
export async function updateManifest(dir: string, patch: Partial<Manifest>): Promise<Manifest> {
  const next = { ...(await readManifest(dir)), ...patch };
  await writeManifest(dir, next);
  return next;
}
