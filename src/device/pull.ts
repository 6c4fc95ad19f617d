/**
 * Files off a device: a tar command's stdout (busybox tar is enough) unpacked with
 * tar-stream as it arrives, each accepted regular file streamed into a temp file on this
 * machine (never whole in memory) for the caller to commit. Everything the device sends is
 * bounded: a file over MAX_ENTRY_BYTES, a pull over MAX_PULL_BYTES, a device silent for
 * PULL_IDLE_MS, or an archive tar-stream refuses ends the pull with a result saying why,
 * keeping the files that arrived whole. A connection that dies mid-stream ends the unpacking
 * too (a half-read tar never settles by itself), so the caller always gets an answer.
 *
 * `fetchBounded` is the same for one file read with `cat`/`tail`: capped and with an idle limit.
 */
import { open, unlink } from 'node:fs/promises';
import { join, posix } from 'node:path';
import { extract as tarExtract } from 'tar-stream';
import { MAX_SEGMENT_KIB } from '../capture/probe.js';
import { DEFAULT_MAX_LINE_BYTES } from '../session/reader.js';
import { removeTemps, tempOf } from '../session/store.js';
import { BoundedOutput, type Transport, type TransportProcess } from '../transport/types.js';

/**
 * The largest file a pull takes: the largest segment (MAX_SEGMENT_KIB) plus one record line
 * at the reader's line limit. A probe's default segment is 1 MiB.
 */
export const MAX_ENTRY_BYTES = MAX_SEGMENT_KIB * 1024 + DEFAULT_MAX_LINE_BYTES;
/**
 * The most one pull takes, in bytes of the archive. A 72-hour soak at the defaults writes a
 * few hundred MiB of records (1-second samples and a census every few seconds of a large
 * heap); this is ten times that, and it goes to disk as it comes, not to memory.
 */
export const MAX_PULL_BYTES = 4 * 1024 * 1024 * 1024;
/** A tar archive ends with two 512-byte blocks of zeros. */
const END_MARKER_BYTES = 1024;
const isEndMarker = (tail: Buffer): boolean => tail.length === END_MARKER_BYTES && tail.every((x) => x === 0);

/** A pull that receives nothing for this long is given up: a device that stops sending must not hang the host. */
export const PULL_IDLE_MS = 60_000;
/** After giving up, how long to wait for the channel to end before settling anyway. */
const GIVE_UP_GRACE_MS = 2_000;

export interface PulledFile {
  /** the file's name on the device (its basename) */
  name: string;
  /** the temp file in `into` that holds it whole, fsynced */
  tmp: string;
  size: number;
}

export interface PullResult {
  code: number | null;
  stderr: string;
  /** the accepted files that arrived whole, in archive order (the caller commits or removes them) */
  files: PulledFile[];
  /** the device sent nothing for `idleMs` and the pull was given up (code is then null) */
  stalled: boolean;
  /** what was wrong with what the device sent (a broken archive, a file or a pull over its cap; code is then null), or null */
  broken: string | null;
  /** accepted names the archive held more than once: the first copy is kept, later ones skipped */
  duplicates: number;
}

export interface PullOptions {
  /** the local folder the temp files go into (the caller renames them there) */
  into: string;
  /** which files to keep, by basename; the rest are read past */
  accept: (name: string) => boolean;
  onBytes?: (received: number) => void;
  idleMs?: number;
  maxEntryBytes?: number;
  maxPullBytes?: number;
}

const firstLine = (e: unknown): string => (e instanceof Error ? e.message : String(e)).split('\n')[0]!.slice(0, 200);

interface Settled {
  code: number | null;
  signal: string | null;
  /** the command was given up (killed) rather than left to end */
  gaveUp: boolean;
  /** …because the device was silent for idleMs */
  stalled: boolean;
}

/**
 * Settle a device command: its exit, or give it up (SIGKILL, then settle after a short grace
 * whether or not the channel closes) once `giveUp()` says so or it is silent for `idleMs`.
 */
function settle(proc: TransportProcess, idleMs: number, lastData: () => number, giveUp: () => boolean): Promise<Settled> {
  return new Promise((resolve) => {
    let done = false;
    // set once, when the command is given up; its exit after that is the kill's
    let gaveUp = false;
    let stalled = false;
    const finish = (v: { code: number | null; signal: string | null }) => {
      if (done) return;
      done = true;
      clearInterval(watch);
      resolve({ ...v, gaveUp, stalled });
    };
    const watch = setInterval(() => {
      if (gaveUp) return;
      const fault = giveUp();
      const silent = !fault && Date.now() - lastData() >= idleMs;
      if (!fault && !silent) return;
      gaveUp = true;
      stalled = silent;
      proc.kill('SIGKILL');
      setTimeout(() => finish({ code: null, signal: null }), GIVE_UP_GRACE_MS).unref();
    }, Math.min(1000, Math.max(50, idleMs / 4)));
    void proc.exited.then((s) => finish(s), () => finish({ code: null, signal: null }));
  });
}

export async function pullTar(t: Transport, argv: readonly string[], o: PullOptions): Promise<PullResult> {
  const idleMs = o.idleMs ?? PULL_IDLE_MS;
  const maxEntry = o.maxEntryBytes ?? MAX_ENTRY_BYTES;
  const maxPull = o.maxPullBytes ?? MAX_PULL_BYTES;
  const proc = await t.spawn(argv);
  const ex = tarExtract();
  const files: PulledFile[] = [];
  const seen = new Set<string>();
  let duplicates = 0;
  // the archive is the device's: a broken one is a device fault (a result), never an
  // unhandled rejection; a failure to write here is ours (a full disk) and is thrown
  let broken: string | null = null;
  let ours: unknown = null;
  let givenUp = false;
  let writing: string | null = null;
  const unpacked = (async () => {
    for await (const entry of ex) {
      const name = posix.basename(entry.header.name);
      const keep = entry.header.type === 'file' && o.accept(name);
      if (keep && seen.has(name)) duplicates++;
      if (!keep || seen.has(name)) {
        for await (const _ of entry) { /* read past it */ }
        continue;
      }
      seen.add(name);
      if ((entry.header.size ?? 0) > maxEntry) {
        broken = `${name} is ${entry.header.size} bytes, over the ${maxEntry}-byte limit of one file`;
        throw new Error(broken);
      }
      const tmp = tempOf(join(o.into, name));
      let fh;
      try {
        fh = await open(tmp, 'wx', 0o644);
      } catch (e) {
        ours = e;
        throw e;
      }
      writing = tmp;
      let size = 0;
      try {
        for await (const c of entry) {
          size += (c as Buffer).length;
          if (size > maxEntry) {
            broken = `${name} is over the ${maxEntry}-byte limit of one file`;
            throw new Error(broken);
          }
          try {
            await fh.write(c as Buffer);
          } catch (e) {
            ours = e;
            throw e;
          }
        }
        try {
          await fh.sync();
        } catch (e) {
          ours = e;
          throw e;
        }
      } finally {
        await fh.close().catch(() => undefined);
      }
      writing = null;
      files.push({ name, tmp, size });
    }
  })().catch(async (e: unknown) => {
    if (writing) await unlink(writing).catch(() => undefined);
    writing = null;
    // once given up, the unpacking's own end (a destroyed stream) is not the device's fault
    if (ours === null && !givenUp && broken === null) broken = firstLine(e);
  });
  const errText = new BoundedOutput();
  let received = 0;
  let lastData = Date.now();
  // the archive's last bytes: a whole tar ends with two zero blocks (its end marker); one
  // cut short at an entry's boundary parses cleanly up to there and must not pass as whole
  let tail: Buffer = Buffer.alloc(0);
  proc.stdout!.on('data', (b: Buffer) => {
    received += b.length;
    // only the last END_MARKER_BYTES are kept (a chunk that long replaces them, uncopied)
    tail = b.length >= END_MARKER_BYTES ? b.subarray(b.length - END_MARKER_BYTES) : Buffer.concat([tail, b]).subarray(-END_MARKER_BYTES);
    lastData = Date.now();
    if (received > maxPull && broken === null) broken = `the pull is over its limit of ${maxPull} bytes`;
    o.onBytes?.(received);
  });
  proc.stderr?.on('data', (b: Buffer) => { errText.add(b); lastData = Date.now(); });
  proc.stdout!.pipe(ex);
  // a broken archive will not mend: it is given up at once, like a device silent for idleMs
  const st = await settle(proc, idleMs, () => lastData, () => broken !== null || ours !== null);
  givenUp = st.gaveUp;
  if (givenUp || st.code !== 0) {
    ex.destroy();
    await unpacked.catch(() => undefined);
  } else {
    await unpacked;
  }
  if (ours !== null) {
    proc.kill('SIGKILL');
    await removeTemps(files);
    throw ours;
  }
  if (!givenUp && st.code === 0 && broken === null && ours === null && !isEndMarker(tail)) {
    broken = 'the archive ended before its end marker (it was cut short)';
  }
  const failed = st.stalled || broken !== null;
  return { code: failed ? null : st.code, stderr: errText.text().trim(), files, stalled: st.stalled, broken, duplicates };
}

/** What a device silent past the pull's idle limit is said to have done. */
export const SILENT = `the device sent nothing for ${PULL_IDLE_MS / 1000} s`;

/** Why a pull failed, in words for its error message. */
export function pullFailure(r: { code: number | null; stderr: string; stalled: boolean; broken: string | null }): string {
  if (r.broken !== null) return `the device sent ${/^the pull/.test(r.broken) ? 'too much: ' : 'a broken archive: '}${r.broken}`;
  if (r.stalled) return SILENT;
  return r.stderr || `tar exit ${r.code}`;
}

export interface FetchResult {
  code: number | null;
  data: Buffer;
  stalled: boolean;
  /** the output went over `maxBytes` (the command was stopped there; data holds nothing) */
  tooBig: boolean;
}

/**
 * One command's stdout (a `cat` of a file), whole in memory but at most `maxBytes`, with the
 * pull's idle limit: over the cap or silent, the command is given up and the result says why.
 */
export async function fetchBounded(t: Transport, argv: readonly string[], maxBytes: number, idleMs: number = PULL_IDLE_MS): Promise<FetchResult> {
  const proc = await t.spawn(argv);
  const chunks: Buffer[] = [];
  let size = 0;
  let tooBig = false;
  let lastData = Date.now();
  proc.stdout!.on('data', (b: Buffer) => {
    lastData = Date.now();
    if (tooBig) return;
    size += b.length;
    if (size > maxBytes) {
      tooBig = true;
      chunks.length = 0;
      return;
    }
    chunks.push(b);
  });
  proc.stderr?.on('data', () => { lastData = Date.now(); });
  const st = await settle(proc, idleMs, () => lastData, () => tooBig);
  return { code: tooBig || st.stalled ? null : st.code, data: tooBig ? Buffer.alloc(0) : Buffer.concat(chunks), stalled: st.stalled, tooBig };
}
