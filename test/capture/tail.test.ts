import { appendFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Progress } from '../../src/capture/progress.js';
import { SegmentTail } from '../../src/capture/tail.js';
import type { ProbeRecord } from '../../src/session/records.js';

let dir: string;
beforeEach(() => { dir = mkdtempSync(join(tmpdir(), 'refscope-tail-')); });
afterEach(() => { rmSync(dir, { recursive: true, force: true }); });

const line = (o: object) => `${JSON.stringify(o)}\n`;
const start = { seq: 0, k: 'start', t: 0, probe: '0.1.0' };
const sample = (seq: number, t: number, rss: number, frames: number) =>
  ({ seq, k: 'sample', t, rss, peak: rss, gc: [0, 0, 0], marks: { frame: frames }, cpu: [0, 0], probeCpu: 0, threads: 1, watch: [] });
const census = (seq: number, t: number, widgets: number) =>
  ({ seq, k: 'census', t, marks: {}, dur: 0.01, n: 10, types: [['list', 5, 10], ['w.Widget', widgets, widgets]] });

describe('SegmentTail', () => {
  it('hands over whole lines only, reading just the new bytes, across segments', async () => {
    const seen: ProbeRecord[] = [];
    const tail = new SegmentTail(dir, (r) => seen.push(r));
    await tail.poll(); // no segments yet: nothing, no error
    const seg1 = join(dir, 'seg-000001.jsonl');
    const s1 = line(sample(1, 1, 1000, 10));
    writeFileSync(seg1, line(start) + s1.slice(0, 20));
    await tail.poll();
    expect(seen.map((r) => r.seq)).toEqual([0]);
    appendFileSync(seg1, s1.slice(20));
    await tail.poll();
    expect(seen.map((r) => r.seq)).toEqual([0, 1]);
    writeFileSync(join(dir, 'seg-000002.jsonl'), line(sample(2, 2, 1100, 20)));
    await tail.poll();
    await tail.poll();
    expect(seen.map((r) => r.seq)).toEqual([0, 1, 2]);
    expect(await tail.finish()).toBe(0);
  });

  it('counts a line that is no record, and a last line cut short, as lost', async () => {
    const seen: ProbeRecord[] = [];
    const tail = new SegmentTail(dir, (r) => seen.push(r));
    writeFileSync(join(dir, 'seg-000001.jsonl'), `${line(start)}not json\n{"seq":5}\n${line(sample(1, 1, 1, 1)).slice(0, 30)}`);
    await tail.poll();
    expect(seen).toHaveLength(1);
    expect(await tail.finish()).toBe(3);
  });
});

describe('Progress', () => {
  it('knows the newest RSS and the mark rate (the live line\'s "growing" is growth.ts\'s: test/capture/growth.test.ts)', () => {
    const p = new Progress();
    for (const r of [start, census(1, 0, 2), sample(2, 1, 2048, 10), sample(3, 2, 4096, 30), census(4, 2, 12)]) {
      // records come in parsed; the casts stand for toRecord
      p.onRecord(r as unknown as ProbeRecord);
    }
    expect(p.start?.k).toBe('start');
    expect(p.snapshot()).toEqual({ rssKiB: 4096, marksPerSecond: 20, records: 5 });
  });
});
