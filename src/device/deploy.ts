/**
 * Deploy without SFTP: a folder is packed with tar-stream and piped into `tar -xf -`
 * (busybox tar is enough) over an exec channel, into a content-addressed folder on the
 * device. An unchanged payload costs one round trip and sends no bytes: a folder already there
 * is used only when it holds exactly the payload's files, each with the payload's md5.
 *
 * The extraction lands in a temporary folder that is renamed into place only when tar
 * succeeded, so a half-sent payload is never mistaken for a good one.
 */
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { basename, join, posix, relative, sep } from 'node:path';
import { Readable, Transform } from 'node:stream';
import { pack as tarPack } from 'tar-stream';
import { RefscopeError } from '../errors.js';
import { faultyAnswer, type Transport } from '../transport/types.js';

export interface PayloadFile {
  /** path inside the payload, '/'-separated */
  name: string;
  mode: number;
  data: Buffer;
}

export interface Payload {
  files: PayloadFile[];
  /** sha256 over names, modes and contents: the folder name on the device */
  hash: string;
  bytes: number;
}

const SKIP = /(^|\/)(__pycache__|\.git|node_modules)(\/|$)|\.py[co]$/;

/** Every regular file under `dir` (symlinks are not followed), under `prefix/` in the payload. */
export function collectPayload(dir: string, prefix = '', only?: (rel: string) => boolean): Payload {
  const files: PayloadFile[] = [];
  const walk = (abs: string): void => {
    for (const name of readdirSync(abs).sort()) {
      const p = join(abs, name);
      const rel = relative(dir, p).split(sep).join('/');
      if (SKIP.test(rel)) continue;
      const st = statSync(p, { throwIfNoEntry: false });
      if (!st) continue;
      if (st.isDirectory()) walk(p);
      else if (st.isFile() && (!only || only(rel))) files.push({ name: prefix ? `${prefix}/${rel}` : rel, mode: st.mode & 0o755, data: readFileSync(p) });
    }
  };
  walk(dir);
  const h = createHash('sha256');
  let bytes = 0;
  for (const f of files) {
    h.update(`${f.name}\0${f.mode.toString(8)}\0${f.data.length}\0`).update(f.data);
    bytes += f.data.length;
  }
  return { files, hash: h.digest('hex').slice(0, 16), bytes };
}

/** A tar stream of the payload (ustar, what busybox tar reads). */
export function packPayload(p: Payload): Readable {
  const pk = tarPack();
  const dirs = new Set<string>();
  for (const f of p.files) {
    const parts = f.name.split('/');
    for (let i = 1; i < parts.length; i++) {
      const d = parts.slice(0, i).join('/');
      if (!dirs.has(d)) {
        dirs.add(d);
        pk.entry({ name: `${d}/`, type: 'directory', mode: 0o755, mtime: new Date(0) });
      }
    }
    pk.entry({ name: f.name, mode: f.mode, size: f.data.length, mtime: new Date(0) }, f.data);
  }
  pk.finalize();
  return Readable.from(pk);
}

// $1 = final folder, $2 = the number of entries it must hold besides folders (its files and
// .complete); stdin = the md5 of each file ("HASH  ./NAME" lines, what `md5sum -c` reads).
// Prints "present" only when the folder was completed, holds exactly those files (nothing
// more: a planted module beside the probe would be imported by it; no links, no devices;
// the byte-code caches Python writes itself beside an app's modules are its own)
// and each one's content is the payload's; "missing" or "changed" otherwise, and then the
// payload is sent again. A device without `md5sum -c` always gets it again.
const CHECK = [
  'd="$1"; n="$2"',
  'if [ ! -f "$d/.complete" ] || ! cd "$d" 2>/dev/null; then echo missing; exit 0; fi',
  'if [ "$(( $(find . ! -type d ! -name "*.py[co]" | wc -l) ))" != "$n" ] || [ -n "$(find . ! -type d ! -type f)" ]; then echo changed; exit 0; fi',
  'if md5sum -c >/dev/null 2>&1; then echo present; else echo changed; fi',
].join('\n');

/** What CHECK reads on stdin: each file's md5 and name (null when a name cannot be written on one line). */
function md5List(payload: Payload): string | null {
  const lines: string[] = [];
  for (const f of payload.files) {
    if (/[\n\r\\]/.test(f.name)) return null;
    lines.push(`${createHash('md5').update(f.data).digest('hex')}  ./${f.name}`);
  }
  return `${lines.join('\n')}\n`;
}
// $1 = final folder. Extracts stdin into a temp folder, then renames it into place; on
// any failure (a full disk mid-tar) the temp folder goes, so nothing partial stays.
const EXTRACT = [
  'final="$1"; tmp="$1.part.$$"',
  'rm -rf "$tmp"',
  'mkdir -p "$tmp" || exit 1',
  'if tar -xf - -C "$tmp" && : > "$tmp/.complete"; then',
  '  rm -rf "$final" && mv "$tmp" "$final" && exit 0',
  'fi',
  'rm -rf "$tmp"',
  'exit 1',
].join('\n');

export interface DeployResult {
  dir: string;
  hash: string;
  /** payload bytes put on the wire (0 when the device already had it) */
  bytesSent: number;
  roundTrips: number;
}

function deviceDirError(dir: string, stderr: string, device: string): RefscopeError {
  const why = stderr.trim().split('\n').pop() ?? 'unknown error';
  if (/no space/i.test(stderr)) {
    return new RefscopeError('ERR_DEVICE', `the device directory ${dir} is full (${why})`, `Free space on ${device} or pass --device-dir on a larger filesystem`);
  }
  if (/permission denied|read-only|not a directory/i.test(stderr)) {
    return new RefscopeError('ERR_DEVICE', `cannot write the device directory ${dir} (${why})`, 'Pass --device-dir with a folder the login user can write');
  }
  return new RefscopeError('ERR_DEVICE', `deploy to ${device}:${dir} failed (${why})`, `Try: refscope doctor ${device}`);
}

/** Send `payload` to `<baseDir>/<name>-<hash>` unless it is there already. */
export async function deploy(
  t: Transport, payload: Payload, baseDir: string, name: string,
  onProgress?: (sent: number, total: number) => void,
): Promise<DeployResult> {
  const dir = posix.join(baseDir, `${name}-${payload.hash}`);
  // a folder already there is used only when its content is verified to be the payload's
  const sums = md5List(payload);
  if (sums !== null) {
    const check = await t.run(['sh', '-c', CHECK, 'sh', dir, String(payload.files.length + 1)], { timeoutMs: 30_000, input: sums });
    if (check.code === 0 && check.stdout.trim() === 'present') {
      return { dir, hash: payload.hash, bytesSent: 0, roundTrips: 1 };
    }
  }
  let stream: Readable = packPayload(payload);
  if (onProgress) {
    let sent = 0;
    // tar adds a 512-byte header per entry and pads to 512: close enough for a bar
    const total = payload.bytes + 1024 * (payload.files.length + 2);
    // counted as the bytes pass, not with a 'data' listener: one would set the archive
    // flowing before the command's channel is open, and what flowed then would be lost
    // (the extract saw a short archive: "tar: short read", on a terminal's first deploy)
    const counter = new Transform({
      transform(chunk: Buffer, _enc, done) { sent += chunk.length; onProgress(Math.min(sent, total), total); done(null, chunk); },
      flush(done) { onProgress(total, total); done(); },
    });
    stream = stream.pipe(counter);
  }
  const r = await t.pipeInto(['sh', '-c', EXTRACT, 'sh', dir], stream);
  if (r.code !== 0 || r.timedOut) throw deviceDirError(baseDir, r.stderr, t.device);
  return { dir, hash: payload.hash, bytesSent: r.bytesSent, roundTrips: sums === null ? 1 : 2 };
}

// $1 = the device folder. Creates it (and any missing parent) private to the login user,
// then checks that it is a folder the login user owns that nobody else can write: another
// user who could write there could plant a probe folder that a later run would execute.
// Prints "ok", or one of "notdir", "owner UID ME", "mode MODE", "mkdir WHY".
const ENSURE_DIR = [
  'd="$1"',
  'if [ ! -e "$d" ]; then err=$( (umask 077 && mkdir -p "$d") 2>&1) || { printf "mkdir %s\\n" "$err"; exit 0; }; fi',
  'if [ ! -d "$d" ]; then echo notdir; exit 0; fi',
  // the folder itself, through a symbolic link (a home on a memory card) when it is one
  'set -- $(ls -ldn "$d/" 2>/dev/null)',
  'me=$(id -u)',
  'if [ "$3" != "$me" ]; then printf "owner %s %s\\n" "$3" "$me"; exit 0; fi',
  'case "$1" in ?????w*|????????w*) printf "mode %s\\n" "$1"; exit 0 ;; esac',
  'echo ok',
].join('\n');

/**
 * The device folder for refscope's files: --device-dir (relative: under the login user's
 * home), or ~/.refscope; created 0700 when missing, and refused when the login user does
 * not own it or others may write it (the message names the fix). No fallback: a login
 * without a home must say where, with --device-dir.
 */
export async function resolveDeviceDir(t: Transport, requested?: string): Promise<string> {
  let dir: string;
  if (requested && requested.startsWith('/')) dir = requested;
  else {
    const r = await t.run(['sh', '-c', 'printf %s "$HOME"'], { timeoutMs: 15_000 });
    const fault = faultyAnswer(r, `could not read the login user's home folder on ${t.device}`);
    if (fault) throw new RefscopeError('ERR_DEVICE', fault, `Try: refscope doctor ${t.device}`);
    const home = r.stdout.trim();
    if (r.code !== 0 || !home.startsWith('/')) {
      throw new RefscopeError('ERR_DEVICE', `the login user on ${t.device} has no home folder ($HOME is ${home ? `'${home.slice(0, 200)}'` : 'empty'})`,
        'Pass --device-dir with an absolute folder that user owns');
    }
    dir = posix.join(home, requested ?? '.refscope');
  }
  const r = await t.run(['sh', '-c', ENSURE_DIR, 'sh', dir], { timeoutMs: 15_000 });
  const said = r.stdout.trim().split('\n')[0] ?? '';
  if (said === 'ok') return dir;
  const fix = 'Pass --device-dir with a folder the login user owns that only it can write (refscope creates a missing one 0700)';
  if (said.startsWith('owner ')) {
    const [, uid, me] = said.split(' ');
    throw new RefscopeError('ERR_DEVICE', `the device folder ${dir} on ${t.device} belongs to user ${uid}, not to the login user (${me})`, fix);
  }
  if (said.startsWith('mode ')) {
    throw new RefscopeError('ERR_DEVICE', `the device folder ${dir} on ${t.device} can be written by other users (${said.slice(5, 20)})`,
      `Run chmod go-w ${dir} on the device, or ${fix.charAt(0).toLowerCase()}${fix.slice(1)}`);
  }
  if (said === 'notdir') throw new RefscopeError('ERR_DEVICE', `the device folder ${dir} on ${t.device} is not a folder`, fix);
  if (said.startsWith('mkdir ')) throw deviceDirError(dir, said.slice(6), t.device);
  throw new RefscopeError('ERR_DEVICE', `could not check the device folder ${dir} on ${t.device} (${(r.stderr.trim() || `exit ${r.code}`).slice(0, 200)})`, `Try: refscope doctor ${t.device}`);
}

/** A label for an app folder sent with --push: its base name, made safe. */
export function pushName(dir: string): string {
  return basename(dir).replace(/[^A-Za-z0-9._-]/g, '_') || 'app';
}
