/**
 * Streaming reader of a session directory: SESSION/ (manifest.json + segments/seg-*.jsonl)
 * or a bare folder of seg-*.jsonl (a probe's --out copied off a device).
 *
 * Segments are read in name order, line by line, in bounded memory: a line longer than
 * `maxLineBytes` is skipped without being buffered whole. It never follows a symlink (every
 * entry is lstat'ed, files are opened with O_NOFOLLOW) and never writes.
 *
 * A line nested deeper than MAX_NESTING is rejected before JSON.parse (bounded memory).
 *
 * Lost records: a line that does not parse, a truncated last line, and sequence numbers
 * missing from 0..max. A garbled line usually is also a missing seq, so the count is
 * max(missing seqs + unparseable lines after the last good record, unparseable lines).
 * A seq seen before is a duplicate (ignored); a seq filling an earlier gap is out of order
 * (kept, and the analysis sorts by time).
 *
 * Thinned records (--max-device-mb): the probe removed them on purpose and said so in
 * `thinned` events, which name every removed seq. Missing seqs those events name are counted
 * in `thinned.records`, not in `lostRecords`, with the spans they were thinned over.
 */
import { constants, type Stats } from 'node:fs';
import { lstat, open, readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { RefscopeError } from '../errors.js';
import { LineSplitter } from './lines.js';
import type { Manifest } from './manifest.js';
import { toRecord, type ProbeRecord, type ThinnedInfo } from './records.js';
import { SEGMENT_NAME } from './store.js';

export const DEFAULT_MAX_LINE_BYTES = 8 * 1024 * 1024;
const MAX_MANIFEST_BYTES = 1024 * 1024;
const CHUNK = 64 * 1024;
const HINT = 'Give the directory passed to --out';

export interface ReaderStats {
  /** records yielded */
  records: number;
  lostRecords: number;
  duplicates: number;
  /** 1 when the last line of the last segment was cut off */
  truncated: number;
  outOfOrder: number;
  /** lines that did not parse (garbled, too long, or not a record) */
  unparseable: number;
  hasEnd: boolean;
  segments: number;
  /** records the probe removed on purpose to stay under --max-device-mb (not lost) */
  thinned: ThinnedStats;
}

export interface ThinnedStats {
  /** missing seqs that `thinned` events account for */
  records: number;
  /** `thinned` events read */
  events: number;
  /** per kind, the time spans (probe t, seconds) and the factor they were thinned to, in time order */
  spans: ThinnedSpan[];
}

/** Over [from, to] (probe t), one in `factor` records of `kind` is left (the highest factor wins). */
export interface ThinnedSpan {
  kind: string;
  factor: number;
  from: number;
  to: number;
}

export interface SessionReader {
  dir: string;
  manifest: Manifest | null;
  /** segment files, in read order */
  segmentPaths: string[];
  /** stream the records; stats are final once the iteration ends */
  records(): AsyncIterable<ProbeRecord>;
  readonly stats: ReaderStats;
}

export interface ReaderOptions {
  maxLineBytes?: number;
}

/** Control characters shown visibly, so a hostile folder name cannot drive the terminal. */
const visible = (s: string): string =>
  s.replace(/[\u0000-\u001f\u007f-\u009f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);

async function lstatOrNull(path: string): Promise<Stats | null> {
  try {
    return await lstat(path);
  } catch {
    return null;
  }
}

async function listSegments(dir: string): Promise<string[]> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch {
    return [];
  }
  const segs: { path: string; n: number; name: string }[] = [];
  for (const name of names) {
    const m = SEGMENT_NAME.exec(name);
    if (!m) continue;
    const path = join(dir, name);
    const st = await lstatOrNull(path);
    if (!st || !st.isFile()) continue; // symlinks, directories, devices: skipped
    segs.push({ path, n: Number(m[1]), name });
  }
  segs.sort((a, b) => a.n - b.n || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  return segs.map((s) => s.path);
}

async function readManifest(path: string): Promise<Manifest | null> {
  const st = await lstatOrNull(path);
  if (!st || !st.isFile() || st.size > MAX_MANIFEST_BYTES) return null;
  try {
    const fh = await open(path, constants.O_RDONLY | constants.O_NOFOLLOW);
    try {
      const text = await fh.readFile('utf8');
      if (!nestingWithin(text, MAX_NESTING)) return null;
      const v: unknown = JSON.parse(text);
      if (typeof v !== 'object' || v === null || Array.isArray(v)) return null;
      const m = v as Partial<Manifest>;
      // trust only the fields the reader's callers use, with their types checked
      return {
        ...(m as Manifest),
        id: typeof m.id === 'string' ? m.id : '',
        device: typeof m.device === 'string' ? m.device : '',
        createdAt: typeof m.createdAt === 'string' ? m.createdAt : '',
        exitCode: typeof m.exitCode === 'number' && Number.isFinite(m.exitCode) ? m.exitCode : null,
      };
    } finally {
      await fh.close();
    }
  } catch {
    return null;
  }
}

/** Open a session directory; throws ERR_SESSION when it is not one. */
export async function openSession(dir: string, opts: ReaderOptions = {}): Promise<SessionReader> {
  let st: Stats;
  try {
    st = await stat(dir); // the directory itself may be a symlink the user chose
  } catch {
    throw new RefscopeError('ERR_SESSION', `${visible(dir)} does not exist`, HINT);
  }
  if (!st.isDirectory()) throw new RefscopeError('ERR_SESSION', `${visible(dir)} is not a directory`, HINT);
  const hasManifestFile = (await lstatOrNull(join(dir, 'manifest.json')))?.isFile() ?? false;
  const manifest = hasManifestFile ? await readManifest(join(dir, 'manifest.json')) : null;
  const segDirStat = await lstatOrNull(join(dir, 'segments'));
  let segmentPaths = segDirStat?.isDirectory() ? await listSegments(join(dir, 'segments')) : [];
  if (segmentPaths.length === 0) segmentPaths = await listSegments(dir);
  if (segmentPaths.length === 0) {
    const msg = hasManifestFile
      ? `${visible(dir)} holds no records yet (manifest.json but no segments/seg-*.jsonl)`
      : `${visible(dir)} is not a refscope session (no manifest.json and no seg-*.jsonl)`;
    throw new RefscopeError('ERR_SESSION', msg, HINT);
  }
  const stats: ReaderStats = {
    records: 0, lostRecords: 0, duplicates: 0, truncated: 0, outOfOrder: 0, unparseable: 0,
    hasEnd: false, segments: segmentPaths.length, thinned: { records: 0, events: 0, spans: [] },
  };
  const maxLine = opts.maxLineBytes ?? DEFAULT_MAX_LINE_BYTES;
  return {
    dir,
    manifest,
    segmentPaths,
    stats,
    records: () => readRecords(segmentPaths, maxLine, stats),
  };
}

interface Line {
  /** the line's text, or null when it was longer than the limit */
  text: string | null;
  /** false for a last line without its newline */
  terminated: boolean;
}

/** Lines of a file, each at most maxBytes buffered; longer ones come back as text null. */
export async function* readLines(path: string, maxBytes: number): AsyncGenerator<Line> {
  const fh = await open(path, constants.O_RDONLY | constants.O_NOFOLLOW);
  try {
    const buf = Buffer.allocUnsafe(CHUNK);
    let ready: Line[] = [];
    const split = new LineSplitter(maxBytes, (l) => { ready.push({ text: l === null ? null : l.toString('utf8'), terminated: true }); });
    for (;;) {
      const { bytesRead } = await fh.read(buf, 0, CHUNK, null);
      if (bytesRead === 0) break;
      split.push(buf.subarray(0, bytesRead));
      const lines = ready;
      ready = [];
      yield* lines;
    }
    const last = split.end();
    if (last !== undefined) yield { text: last === null ? null : last.toString('utf8'), terminated: false };
  } finally {
    await fh.close();
  }
}

/** Records nest 3 deep; a line nested deeper than this is not one (and is not parsed at all). */
export const MAX_NESTING = 32;

/**
 * Whether the JSON text nests arrays/objects at most `max` deep (brackets inside strings
 * do not count). A hostile line of millions of `[` would otherwise cost JSON.parse
 * hundreds of MB before being rejected.
 */
export function nestingWithin(text: string, max: number): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c) i++; // backslash: skip the escaped character
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x5b || c === 0x7b) {
      if (++depth > max) return false;
    } else if (c === 0x5d || c === 0x7d) depth--;
  }
  return true;
}

/** Sequence numbers seen so far, as the next expected seq plus the gaps below it. */
class SeqTracker {
  next = 0;
  /** [from, to) ranges not seen yet, below `next`, in order */
  private gaps: [number, number][] = [];

  /** 'new', 'late' (filled a gap), or 'dup' */
  see(seq: number): 'new' | 'late' | 'dup' {
    if (seq >= this.next) {
      if (seq > this.next) this.gaps.push([this.next, seq]);
      this.next = seq + 1;
      return 'new';
    }
    for (let i = this.gaps.length - 1; i >= 0; i--) {
      const [from, to] = this.gaps[i]!;
      if (seq >= to) return 'dup';
      if (seq < from) continue;
      const parts: [number, number][] = [];
      if (seq > from) parts.push([from, seq]);
      if (seq + 1 < to) parts.push([seq + 1, to]);
      this.gaps.splice(i, 1, ...parts);
      return 'late';
    }
    return 'dup';
  }

  missing(): number {
    let n = 0;
    for (const [from, to] of this.gaps) n += to - from;
    return n;
  }

  /** How many missing seqs lie in these inclusive ranges (sorted, not overlapping). */
  missingIn(ranges: [number, number][]): number {
    let n = 0;
    let j = 0;
    for (const [from, to] of this.gaps) {
      while (j < ranges.length && ranges[j]![1] < from) j++;
      for (let i = j; i < ranges.length && ranges[i]![0] < to; i++) {
        n += Math.max(0, Math.min(to, ranges[i]![1] + 1) - Math.max(from, ranges[i]![0]));
      }
    }
    return n;
  }
}

/** Sorted, merged copy of inclusive ranges. */
function mergeRanges(ranges: [number, number][]): [number, number][] {
  const sorted = [...ranges].sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  const out: [number, number][] = [];
  for (const [a, b] of sorted) {
    const last = out[out.length - 1];
    if (last && a <= last[1] + 1) last[1] = Math.max(last[1], b);
    else out.push([a, b]);
  }
  return out;
}

/**
 * The thinned spans per kind, as a staircase: the probe thins the oldest, least thinned
 * data first, so older data is thinned at least as far as newer data. Over [from, to],
 * one in `factor` records of the kind is left: the highest factor from the first thinned
 * record to the last one any event of that factor (or higher) reaches, then the next.
 */
export function thinnedSpans(events: ThinnedInfo[]): ThinnedSpan[] {
  const out: ThinnedSpan[] = [];
  const kinds = [...new Set(events.map((e) => e.kind))].sort();
  for (const kind of kinds) {
    const evs = events.filter((e) => e.kind === kind && e.factor > 1 && e.span[1] >= e.span[0]);
    if (!evs.length) continue;
    const factors = [...new Set(evs.map((e) => e.factor))].sort((a, b) => b - a);
    let from = evs.reduce((m, e) => Math.min(m, e.span[0]), Infinity);
    for (const factor of factors) {
      const to = evs.reduce((m, e) => (e.factor >= factor ? Math.max(m, e.span[1]) : m), -Infinity);
      if (to > from || (out.length === 0 || out[out.length - 1]!.kind !== kind)) {
        out.push({ kind, factor, from, to: Math.max(from, to) });
        from = Math.max(from, to);
      }
    }
  }
  return out;
}

async function* readRecords(paths: string[], maxLine: number, stats: ReaderStats): AsyncGenerator<ProbeRecord> {
  const seqs = new SeqTracker();
  let unparseableAfterLast = 0;
  const thinnedEvents: ThinnedInfo[] = [];
  let dropped: [number, number][] = [];
  let fresh = 0; // ranges appended since the last merge
  const update = (): void => {
    if (fresh) dropped = mergeRanges(dropped);
    fresh = 0;
    const thinned = dropped.length ? seqs.missingIn(dropped) : 0;
    stats.thinned.records = thinned;
    stats.lostRecords = Math.max(seqs.missing() - thinned + unparseableAfterLast, stats.unparseable);
  };
  for (let s = 0; s < paths.length; s++) {
    try {
      for await (const line of readLines(paths[s]!, maxLine)) {
        if (line.text !== null && line.text.trim() === '') continue;
        let rec: ProbeRecord | null = null;
        if (line.text !== null && nestingWithin(line.text, MAX_NESTING)) {
          try {
            rec = toRecord(JSON.parse(line.text));
          } catch {
            rec = null;
          }
        }
        if (rec && !(Number.isSafeInteger(rec.seq) && rec.seq >= 0)) rec = null;
        if (!rec) {
          stats.unparseable++;
          unparseableAfterLast++;
          if (!line.terminated) stats.truncated++;
          continue;
        }
        const seen = seqs.see(rec.seq);
        if (seen === 'dup') {
          stats.duplicates++;
          continue;
        }
        unparseableAfterLast = 0;
        if (seen === 'late') stats.outOfOrder++;
        if (rec.k === 'end') stats.hasEnd = true;
        if (rec.k === 'event' && rec.thinned) {
          thinnedEvents.push(rec.thinned);
          for (const r of rec.thinned.dropped) dropped.push(r);
          fresh++;
        }
        stats.records++;
        yield rec;
      }
    } catch {
      // a segment that vanished or became unreadable mid-way: what it held is lost (seq gaps)
      stats.unparseable++;
      unparseableAfterLast++;
    }
    update();
  }
  update();
  stats.thinned.events = thinnedEvents.length;
  stats.thinned.spans = thinnedSpans(thinnedEvents);
}
