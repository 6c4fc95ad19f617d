/**
 * The native sampler's records (nseg-*.jsonl next to the probe's seg-*.jsonl, in
 * SESSION/segments/ or a bare folder), read whole into a summary: they are small (a sample
 * is written only when a figure changed, or once a second). Never follows a symlink.
 */
import { constants } from 'node:fs';
import { lstat, open, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { toNativeRecord, type NativeEndRecord, type NativeSampleRecord, type NativeStartRecord } from './records.js';

export const NATIVE_SEGMENT = /^nseg-(\d+)\.jsonl$/;
const MAX_BYTES = 64 * 1024 * 1024;

export interface NativeSummary {
  start: NativeStartRecord | null;
  samples: NativeSampleRecord[];
  end: NativeEndRecord | null;
  /** seq numbers missing from 0..max plus lines that did not parse */
  lost: number;
}

async function listNative(dir: string): Promise<string[]> {
  let names: string[];
  try { names = await readdir(dir); } catch { return []; }
  const out: { n: number; path: string }[] = [];
  for (const name of names) {
    const m = NATIVE_SEGMENT.exec(name);
    if (!m) continue;
    const path = join(dir, name);
    const st = await lstat(path).catch(() => null);
    if (st?.isFile() && st.size <= MAX_BYTES) out.push({ n: Number(m[1]), path });
  }
  return out.sort((a, b) => a.n - b.n).map((s) => s.path);
}

/** null when the session has no native records (no sampler ran). */
export async function readNative(sessionDir: string): Promise<NativeSummary | null> {
  let files = await listNative(join(sessionDir, 'segments'));
  if (files.length === 0) files = await listNative(sessionDir);
  if (files.length === 0) return null;
  const summary: NativeSummary = { start: null, samples: [], end: null, lost: 0 };
  const seen = new Set<number>();
  let maxSeq = -1;
  for (const path of files) {
    let text: string;
    try {
      const fh = await open(path, constants.O_RDONLY | constants.O_NOFOLLOW);
      try { text = await fh.readFile('latin1'); } finally { await fh.close(); }
    } catch { continue; }
    for (const line of text.split('\n')) {
      if (!line) continue;
      let rec;
      try { rec = toNativeRecord(JSON.parse(line)); } catch { rec = null; }
      if (!rec) { summary.lost++; continue; }
      if (seen.has(rec.seq)) continue;
      seen.add(rec.seq);
      maxSeq = Math.max(maxSeq, rec.seq);
      if (rec.k === 'native-start') summary.start = rec;
      else if (rec.k === 'native-end') summary.end = rec;
      else summary.samples.push(rec);
    }
  }
  summary.lost += maxSeq + 1 - seen.size;
  summary.samples.sort((a, b) => a.t - b.t);
  return summary;
}
