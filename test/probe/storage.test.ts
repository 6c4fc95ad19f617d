/**
 * Bounded device storage (--max-device-mb, issue 6 part 3) and full file systems, on real
 * tmpfs mounts: the probe's files never take more than the cap (a watcher measures the
 * directory every 5 ms, and `du` every 20 ms), older data is thinned and every removed seq
 * is named, the host may delete closed segments meanwhile, ENOSPC never harms the app.
 * Mounting needs root: without it these tests are skipped, and say so.
 */
import { execFile, execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, lstatSync, readdirSync, readFileSync, statfsSync, unlinkSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { analyseSession } from '../../src/analysis/index.js';
import { renderText } from '../../src/report/text.js';
import { openSession } from '../../src/session/reader.js';
import { tmpfsUnavailable } from '../helpers/prereq.js';
import { matrixInterpreters } from '../helpers/pythons.js';
import { PROBE, removeDir, run, runProbe, tempDir } from './harness.js';

const MiB = 1024 * 1024;
const SEG = /^seg-\d{6}\.jsonl$/;
const interps = matrixInterpreters();

const skip = tmpfsUnavailable();

const mounts = new Set<string>();
const dirs: string[] = [];
afterAll(() => {
  for (const m of mounts) unmount(m);
  dirs.forEach(removeDir);
});

function tmpfs(size: string): string {
  const d = tempDir('storage');
  execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${size}`, 'tmpfs', d], { stdio: 'pipe' });
  mounts.add(d);
  return d;
}

function unmount(d: string): void {
  try {
    execFileSync('umount', [d], { stdio: 'pipe' });
    mounts.delete(d);
    removeDir(d);
  } catch {
    try {
      execFileSync('umount', ['-l', d], { stdio: 'pipe' });
      mounts.delete(d);
    } catch { /* left for afterAll */ }
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** What storage_app.py prints, whatever the timing. */
function appOutput(types: number): string {
  let s = '';
  for (let i = 0; i < types; i += 10) s += `made ${i + 1} types\n`;
  return s + 'done\n';
}

/** Samples what a directory takes, as du counts it (blocks), every 5 ms; and `du` itself every 20 ms. */
class Watcher {
  maxBlocks = 0;
  maxBytes = 0;
  polls = 0;
  maxDu = 0;
  dus = 0;
  /** names the test deleted; any that shows up again is listed in `reappeared` */
  gone = new Set<string>();
  reappeared: string[] = [];
  private timers: NodeJS.Timeout[] = [];
  private duBusy = false;

  constructor(private dir: string) {}

  start(): this {
    this.timers.push(setInterval(() => this.poll(), 5), setInterval(() => this.du(), 20));
    return this;
  }

  poll(): void {
    let names: string[];
    try {
      names = readdirSync(this.dir);
    } catch {
      return;
    }
    let blocks = 0;
    let bytes = 0;
    for (const n of names) {
      if (this.gone.has(n)) this.reappeared.push(n);
      try {
        const st = lstatSync(join(this.dir, n));
        blocks += st.blocks * 512;
        bytes += st.size;
      } catch { /* gone meanwhile */ }
    }
    this.polls++;
    this.maxBlocks = Math.max(this.maxBlocks, blocks);
    this.maxBytes = Math.max(this.maxBytes, bytes);
  }

  du(): void {
    if (this.duBusy) return;
    this.duBusy = true;
    execFile('du', ['-s', '-B1', this.dir], (err, out) => {
      this.duBusy = false;
      if (err) return;
      this.dus++;
      this.maxDu = Math.max(this.maxDu, Number(String(out).split(/\s/)[0]));
    });
  }

  stop(): void {
    this.timers.forEach(clearInterval);
    this.poll();
  }
}

interface Raw {
  seq: number;
  k: string;
  t: number;
  [key: string]: unknown;
}

/** Every line of every segment, which must be whole and parse; sorted by seq, duplicates once. */
function readRaw(dir: string): { recs: Raw[]; files: string[] } {
  const files = readdirSync(dir).filter((n) => SEG.test(n)).sort();
  const bySeq = new Map<number, Raw>();
  for (const f of files) {
    const text = readFileSync(join(dir, f), 'latin1');
    if (text.length > 0 && !text.endsWith('\n')) throw new Error(`${f}: last line not terminated`);
    for (const line of text.split('\n')) if (line) bySeq.set((JSON.parse(line) as Raw).seq, JSON.parse(line) as Raw);
  }
  return { recs: [...bySeq.values()].sort((a, b) => a.seq - b.seq), files };
}

function droppedOf(recs: Raw[]): Set<number> {
  const out = new Set<number>();
  for (const r of recs) {
    if (r.k !== 'event' || r.event !== 'thinned') continue;
    for (const d of r.dropped as (number | [number, number])[]) {
      if (typeof d === 'number') out.add(d);
      else for (let s = d[0]; s <= d[1]; s++) out.add(s);
    }
  }
  return out;
}

function missingOf(recs: Raw[]): number[] {
  const have = new Set(recs.map((r) => r.seq));
  const max = recs.reduce((m, r) => Math.max(m, r.seq), -1);
  const out: number[] = [];
  for (let s = 0; s <= max; s++) if (!have.has(s)) out.push(s);
  return out;
}

const CAP_ARGS = ['--max-device-mb', '1', '--interval', '0.01', '--census-budget', '1', '--segment-kib', '16'];
// 2000 types (every census ~60 KB), 40 watched objects (every sample ~3 KB), exit 3; it
// runs while `control` exists, then 0.5 s more
const chatty = (control: string) => ['storage_app.py', '0.5', '2000', '3', '40', control];

/** Thinning passes so far (distinct t of thinned events in the segments). */
function passesIn(dir: string): number {
  const ts = new Set<string>();
  for (const n of readdirSync(dir).filter((x) => SEG.test(x))) {
    try {
      for (const m of readFileSync(join(dir, n), 'latin1').matchAll(/"t":([0-9.]+),"event":"thinned"/g)) ts.add(m[1]!);
    } catch { /* rebuilt or removed meanwhile */ }
  }
  return ts.size;
}

/** Keep the app running (`control` exists) until the probe has thinned `passes` times, or 60 s. */
async function runUntilThinned(dir: string, control: string, passes: number, watcher?: { polls: number; dus: number }): Promise<void> {
  writeFileSync(control, '');
  const until = Date.now() + 60_000;
  // thinned often enough, and (on a busy machine) watched often enough for the size claims to mean something
  while ((passesIn(dir) < passes || (watcher && (watcher.polls <= 50 || watcher.dus <= 20))) && Date.now() < until) await sleep(250);
  unlinkSync(control);
}

/**
 * Drives the probe's writer directly (the probe imported as a module): records of chosen
 * sizes bring the files to exactly 3/4 of the cap, with a last census bigger than a segment,
 * so that the end record needs a segment (and a block) of its own; writing it is what makes
 * room. Python 2.5 to 3.13. argv: DIR. Prints what the writer held before the end, as JSON.
 */
const END_NEEDS_ROOM = `
import sys
import os
sys.path.insert(0, ${JSON.stringify(dirname(PROBE))})
import refscope_probe
p = refscope_probe
W = p._W
W['dev_cap'] = 256 * 1024
W['cap'] = 16 * 1024
p._prepare_out(sys.argv[1])
blk = W['blk']
cap = W['dev_cap']
p.emit('start', ['schema', p.SCHEMA, 'maxDeviceKiB', cap // 1024, 'segmentKiB', W['cap'] // 1024])
p.emit('census', ['marks', {}, 'types', [], 'pad', 'b' * 2000])
# the last census: in a segment of its own, ending early in a block
census = 5 * blk + 500
goal = cap - cap // 4 - (census // blk + 1) * blk
n = 0
while W['total'] != goal:
    p.emit('sample', ['marks', {}, 'rss', None, 'pad', 's' * 900])
    n += 1
    if n > 100000:
        raise SystemExit('never reached %d bytes: %d' % (goal, W['total']))
p.emit('census', ['marks', {}, 'types', [], 'pad', 'c' * (census - 90)])
before = (W['total'], W['size'], W['segno'], blk, cap, W['cap'])
p.emit('end', ['how', 'exit', 'exit', 0, 'error', None, 'probeCpu', 0.0, 'censuses', 2])
after = p.emit('event', ['event', 'probe-error', 'detail', 'written after the end'])
p._close_segment()
sys.stdout.write('{"total":%d,"size":%d,"segno":%d,"blk":%d,"cap":%d,"segCap":%d,"samples":%d,"afterEnd":%s}\\n'
                 % (before + (n, str(bool(after)).lower())))
`;

/**
 * An app whose daemon thread keeps the probe writing (past 1000 watches every watch() is a
 * probe-error event) while the main thread ends: the probe's end sequence, the app's atexit
 * handler (which runs after the end record, and calls the API too) and the interpreter's
 * exit run while it does. argv: none.
 */
const DAEMON_WRITES = `
import sys
import atexit
import threading
import time
from refscope import watch
keep = []
for i in range(1000):
    keep.append(type('Held%d' % i, (object,), {})())
    watch(keep[i], 'held %d' % i)
state = {'n': 0}
def spam():
    while True:
        watch(keep[0], 'one too many')
        state['n'] += 1
        time.sleep(0.0002)
def at_exit():
    watch(keep[1], 'one too many, at exit')
    n = state['n']
    end = time.time() + 5
    while state['n'] < n + 20 and time.time() < end:
        time.sleep(0.01)
atexit.register(at_exit)
t = threading.Thread(target=spam)
if hasattr(threading.Thread, 'daemon'):
    t.daemon = True
else:
    t.setDaemon(True)
t.start()
while state['n'] < 200:
    time.sleep(0.01)
sys.stdout.write('main ends\\n')
`;

describe.skipIf(!!skip).each(interps)('bounded device storage under python $label', (py) => {
  it('the end record is the last even when writing it is what makes room: the thinning comes before it', async () => {
    const dir = tmpfs('1m');
    try {
      const script = join(tempDir('endroom'), 'end_needs_room.py');
      dirs.push(dirname(script));
      writeFileSync(script, END_NEEDS_ROOM);
      const r = await run(py.path, [script, dir], { timeoutMs: 60_000 });
      expect(r.stderr.toString()).toBe('');
      expect(r.status).toBe(0);
      const st = JSON.parse(r.stdout.toString()) as { total: number; size: number; blk: number; cap: number; segCap: number; afterEnd: boolean };
      // the state the end record met: files at exactly 3/4 of the cap, and an open segment
      // past its size cap whose last block has room for 2 KiB (so only the end's own new
      // segment needs a new block)
      expect(st.total).toBe(st.cap - st.cap / 4);
      expect(st.size).toBeGreaterThan(st.segCap);
      expect(st.size % st.blk).toBeLessThanOrEqual(st.blk - 2048);
      const { recs, files } = readRaw(dir);
      const ends = recs.filter((x) => x.k === 'end');
      expect(ends).toHaveLength(1);
      const end = ends[0]!;
      expect(end).toMatchObject({ how: 'exit', exit: 0 });
      // room was made for the end, before it: a thinning pass after the last census, and
      // none after the end
      const lastCensus = recs.filter((x) => x.k === 'census').pop()!;
      const thinned = recs.filter((x) => x.k === 'event' && x.event === 'thinned');
      expect(thinned.filter((x) => x.seq > end.seq).map((x) => x.seq)).toEqual([]);
      expect(thinned.some((x) => x.seq > lastCensus.seq)).toBe(true);
      // and nothing else after it: the end is the last record, and the last line
      expect(st.afterEnd).toBe(false);
      expect(recs[recs.length - 1]).toBe(end);
      expect(recs.some((x) => x.k === 'event' && x.event === 'probe-error')).toBe(false);
      const last = readFileSync(join(dir, files[files.length - 1]!), 'latin1').split('\n').filter(Boolean);
      expect((JSON.parse(last[last.length - 1]!) as Raw).seq).toBe(end.seq);
      // nothing lost, every removed seq named, and `records` counts every record written
      const dropped = droppedOf(recs);
      expect(missingOf(recs).filter((s) => !dropped.has(s))).toEqual([]);
      expect(end.records).toBe(end.seq + 1);
      const session = await openSession(dir);
      for await (const _ of session.records()) { /* read it all */ }
      expect(session.stats.lostRecords).toBe(0);
      expect(session.stats.hasEnd).toBe(true);
    } finally {
      unmount(dir);
    }
  });

  it('an app thread that keeps the probe writing while the app ends: the end record is still the last', async () => {
    const out = tempDir('daemon-end');
    dirs.push(out);
    const app = join(out, 'daemon_writes.py');
    writeFileSync(app, DAEMON_WRITES);
    const segs = join(out, 'segs');
    const r = await runProbe(py, segs, ['--interval', '0.05'], [app], { timeoutMs: 60_000 });
    expect(r.stderr.toString()).toBe('');
    expect(r.status).toBe(0);
    expect(r.stdout.toString()).toBe('main ends\n');
    const { recs } = readRaw(segs);
    expect(recs.filter((x) => x.k === 'event' && x.event === 'probe-error').length).toBeGreaterThan(100);
    const ends = recs.filter((x) => x.k === 'end');
    expect(ends).toHaveLength(1);
    expect(recs[recs.length - 1]).toBe(ends[0]);
    expect(ends[0]!.records).toBe(ends[0]!.seq + 1);
    expect(missingOf(recs)).toEqual([]);
  });

  it('--max-device-mb 1 on a 2 MiB tmpfs: never above 1 MiB, older data thinned and every removed seq named, app unharmed', async () => {
    const dir = tmpfs('2m');
    try {
      const control = join(tempDir('control'), 'run');
      dirs.push(join(control, '..'));
      const w = new Watcher(dir).start();
      writeFileSync(control, '');
      const running = runProbe(py, dir, CAP_ARGS, chatty(control), { timeoutMs: 120_000 });
      await runUntilThinned(dir, control, 3, w);
      const r = await running;
      w.stop();
      expect(r.stderr.toString()).toBe('');
      expect(r.status).toBe(3);
      expect(r.stdout.toString()).toBe(appOutput(2000));
      expect(w.polls).toBeGreaterThan(50);
      expect(w.dus).toBeGreaterThan(20);
      expect(w.maxBlocks).toBeLessThanOrEqual(MiB);
      expect(w.maxDu).toBeLessThanOrEqual(MiB);
      expect(w.maxBytes).toBeLessThanOrEqual(MiB);

      const { recs, files } = readRaw(dir);
      expect(recs[0]).toMatchObject({ seq: 0, k: 'start', maxDeviceKiB: 1024, segmentKiB: 16 });
      const end = recs[recs.length - 1]!;
      expect(end).toMatchObject({ k: 'end', how: 'exit', exit: 3 });
      const thinned = recs.filter((x) => x.k === 'event' && x.event === 'thinned');
      const passes = new Set(thinned.map((x) => x.t));
      expect(passes.size).toBeGreaterThanOrEqual(2); // thinned several times
      expect(thinned.some((x) => x.kind === 'census')).toBe(true);
      for (const e of thinned) {
        expect(['census', 'sample']).toContain(e.kind);
        expect(Math.log2(e.factor as number) % 1).toBe(0);
        expect(e.factor as number).toBeGreaterThanOrEqual(2);
        const span = e.span as [number, number];
        expect(span[0]).toBeLessThanOrEqual(span[1]);
        expect(span[1]).toBeLessThan(e.t);
      }
      // exactly what went: every missing seq is named, none named is still there
      const dropped = droppedOf(recs);
      const missing = missingOf(recs);
      expect(missing.length).toBeGreaterThan(0);
      expect(missing.filter((s) => !dropped.has(s))).toEqual([]);
      expect(recs.filter((x) => dropped.has(x.seq)).map((x) => x.seq)).toEqual([]);
      expect(thinned.reduce((n, e) => n + (e.removed as number), 0)).toBe(dropped.size);
      // the newest data is never thinned: the last segment is whole, after everything removed
      const last = readFileSync(join(dir, files[files.length - 1]!), 'latin1').split('\n').filter(Boolean).map((l) => (JSON.parse(l) as Raw).seq);
      expect(last[last.length - 1]).toBe(end.seq);
      expect(last.every((s, i) => i === 0 || s === last[i - 1]! + 1)).toBe(true);
      expect(last[0]!).toBeGreaterThan(Math.max(...dropped));
      expect(recs.filter((x) => x.k === 'census').pop()!.seq).toBeGreaterThan(Math.max(...dropped));
      // the host side: thinned, not lost
      const session = await openSession(dir);
      for await (const _ of session.records()) { /* read it all */ }
      expect(session.stats.lostRecords).toBe(0);
      expect(session.stats.thinned.records).toBe(missing.length);
      expect(session.stats.thinned.spans.some((s) => s.kind === 'census' && s.factor >= 2)).toBe(true);
      const report = await analyseSession(dir);
      expect(report.session.lostRecords).toBe(0);
      expect(report.session.thinned?.records).toBe(missing.length);
      console.info(`python ${py.label}: max ${w.maxBlocks} B in blocks (du max ${w.maxDu} B, ${w.dus} du runs, ${w.polls} polls) under a cap of ${MiB} B; `
        + `${thinned.length} thinned events in ${passes.size} passes, ${dropped.size} of ${end.seq + 1} records thinned, 0 lost`);
    } finally {
      unmount(dir);
    }
  });

  it('a full file system and no cap: the app runs as bare; records wait in memory, disk-full is recorded once there is room', async () => {
    const dir = tmpfs('4m'); // 64 KiB free until the ballast goes, then room for the rest of the run
    try {
      writeFileSync(join(dir, 'ballast'), Buffer.alloc((4096 - 64) * 1024));
      const out = join(dir, 'out');
      // the app runs while the ballast is there, then 2 s more
      const running = runProbe(py, out, ['--interval', '0.01', '--census-budget', '0.5'],
        ['storage_app.py', '2', '1500', '4', '0', join(dir, 'ballast')], { timeoutMs: 90_000 });
      const free = () => { const s = statfsSync(dir); return s.bavail * s.bsize; };
      const until = Date.now() + 30_000;
      while (free() > 16 * 1024 && Date.now() < until) await sleep(20);
      expect(free()).toBeLessThanOrEqual(16 * 1024); // no room for a census record (~45 KB)
      await sleep(1500); // full for a while
      unlinkSync(join(dir, 'ballast'));
      const r = await running;
      expect(r.stderr.toString()).toBe('');
      expect(r.status).toBe(4);
      expect(r.stdout.toString()).toBe(appOutput(1500));
      const { recs } = readRaw(out);
      expect(recs[0]!.k).toBe('start');
      expect(recs[recs.length - 1]).toMatchObject({ k: 'end', exit: 4 });
      const full = recs.filter((x) => x.k === 'event' && x.event === 'disk-full');
      expect(full.length).toBeGreaterThan(0);
      for (const e of full) {
        expect(e.reason).toBe('ENOSPC');
        // times are written to the millisecond: a full spell shorter than that has since == until
        expect(e.since as number).toBeLessThanOrEqual(e.until as number);
        expect((e.held as number) + (e.lost as number)).toBeGreaterThan(0);
      }
      // what could not wait is lost, and counted: the gaps are exactly those
      const lost = full.reduce((n, e) => n + (e.lost as number), 0);
      expect(missingOf(recs).length).toBe(lost);
      const session = await openSession(out);
      for await (const _ of session.records()) { /* read it all */ }
      expect(session.stats.lostRecords).toBe(lost);
      expect(session.stats.thinned.records).toBe(0);
    } finally {
      unmount(dir);
    }
  });

  it('a file system that stays full: the app runs as bare, the probe leaves whole lines only', async () => {
    const dir = tmpfs('64k');
    try {
      const r = await runProbe(py, dir, ['--interval', '0.01', '--census-budget', '0.5'], ['storage_app.py', '2', '1500', '5'], { timeoutMs: 60_000 });
      expect(r.stderr.toString()).toBe('');
      expect(r.status).toBe(5);
      expect(r.stdout.toString()).toBe(appOutput(1500));
      const { recs } = readRaw(dir); // every line whole and parsing
      expect(recs[0]!.k).toBe('start');
      // either everything fitted (the end record is there) or what did not is a gap in the seqs, never a torn line
      expect(recs.at(-1)!.k === 'end' || missingOf(recs).length > 0).toBe(true);
    } finally {
      unmount(dir);
    }
  });
});

describe.skipIf(!!skip).each(interps.filter((i) => ['2.5', '2.7', '3.11', '3.13'].includes(i.label)))('host collecting under python $label', (py) => {
  it('closed segments deleted by the host while the app runs: no crash, none comes back, the cap holds, nothing lost', async () => {
    const dir = tmpfs('2m');
    const got = tempDir('collected');
    dirs.push(got);
    try {
      const w = new Watcher(dir).start();
      let deleted = 0;
      // the collector: copy the two oldest closed segments away, then delete them
      const collector = setInterval(() => {
        const names = readdirSync(dir).filter((n) => SEG.test(n)).sort();
        for (const n of names.slice(0, -2).slice(0, 2)) {
          try {
            copyFileSync(join(dir, n), join(got, n));
            w.gone.add(n);
            unlinkSync(join(dir, n));
            deleted++;
          } catch { /* merged away or removed by the probe meanwhile: it holds the records elsewhere */ }
        }
      }, 250);
      const control = join(got, '..', `run-${py.label}`);
      writeFileSync(control, '');
      const running = runProbe(py, dir, CAP_ARGS, chatty(control), { timeoutMs: 120_000 });
      const until = Date.now() + 60_000;
      while (deleted < 30 && Date.now() < until) await sleep(250);
      unlinkSync(control);
      const r = await running;
      clearInterval(collector);
      w.stop();
      expect(r.stderr.toString()).toBe('');
      expect(r.status).toBe(3);
      expect(r.stdout.toString()).toBe(appOutput(2000));
      expect(deleted).toBeGreaterThanOrEqual(30);
      expect(w.reappeared).toEqual([]);
      expect(w.maxBlocks).toBeLessThanOrEqual(MiB);
      expect(w.maxDu).toBeLessThanOrEqual(MiB);
      // what was collected plus what is left is the whole run, less what was thinned
      for (const n of readdirSync(dir).filter((x) => SEG.test(x))) {
        expect(existsSync(join(got, n))).toBe(false);
        copyFileSync(join(dir, n), join(got, n));
      }
      const { recs } = readRaw(got);
      expect(recs[0]!.k).toBe('start');
      expect(recs[recs.length - 1]).toMatchObject({ k: 'end', exit: 3 });
      const dropped = droppedOf(recs);
      expect(missingOf(recs).filter((s) => !dropped.has(s))).toEqual([]);
      const session = await openSession(got);
      for await (const _ of session.records()) { /* read it all */ }
      expect(session.stats.lostRecords).toBe(0);
      expect(session.stats.hasEnd).toBe(true);
      console.info(`python ${py.label} with a collector: ${deleted} segments collected and deleted, max ${w.maxBlocks} B (du ${w.maxDu} B) under ${MiB} B, `
        + `${session.stats.thinned.records} thinned, ${session.stats.duplicates} duplicates, 0 lost`);
    } finally {
      unmount(dir);
    }
  });
});

describe('reader: thinned is not lost', () => {
  it('seqs a thinned event names are counted apart; other gaps are lost; spans form a staircase', async () => {
    const dir = tempDir('thinned-reader');
    dirs.push(dir);
    const line = (o: object) => JSON.stringify(o) + '\n';
    const census = (seq: number, t: number) => line({ seq, k: 'census', t, marks: {}, dur: 0, n: 1, types: [['list', 1, 1]] });
    // seqs 0..12: 2, 4 thinned (census to 1/2 over t 1..3), 6 thinned further (1/4 over t 1..2), 9 lost
    writeFileSync(join(dir, 'seg-000001.jsonl'), line({ seq: 0, k: 'start', t: 0, wall: 1764169200 }) + census(1, 1) + census(3, 2));
    writeFileSync(join(dir, 'seg-000003.jsonl'), census(5, 2.5) + census(7, 3) + census(8, 3.5) + census(10, 4));
    writeFileSync(join(dir, 'seg-000004.jsonl'),
      line({ seq: 11, k: 'event', t: 5, event: 'thinned', detail: '', kind: 'census', factor: 2, segments: [1, 2], span: [1, 3], removed: 2, kept: 2, dropped: [2, 4] })
      + line({ seq: 12, k: 'event', t: 6, event: 'thinned', detail: '', kind: 'census', factor: 4, segments: [2], span: [1, 2], removed: 1, kept: 1, dropped: [[6, 6]] })
      + line({ seq: 13, k: 'end', t: 7, how: 'exit', exit: 0, error: null, probeCpu: 0, censuses: 7, records: 14 }));
    const s = await openSession(dir);
    const seen: number[] = [];
    for await (const r of s.records()) seen.push(r.seq);
    expect(seen).toEqual([0, 1, 3, 5, 7, 8, 10, 11, 12, 13]);
    expect(s.stats.lostRecords).toBe(1);
    expect(s.stats.thinned.records).toBe(3);
    expect(s.stats.thinned.events).toBe(2);
    expect(s.stats.thinned.spans).toEqual([
      { kind: 'census', factor: 4, from: 1, to: 2 },
      { kind: 'census', factor: 2, from: 2, to: 3 },
    ]);
    const report = await analyseSession(dir);
    expect(report.session.lostRecords).toBe(1);
    expect(report.session.thinned).toEqual({
      records: 3,
      spans: [
        { kind: 'census', factor: 4, fromSeconds: 1, toSeconds: 2, from: '2025-11-26T15:00:01.000Z', to: '2025-11-26T15:00:02.000Z' },
        { kind: 'census', factor: 2, fromSeconds: 2, toSeconds: 3, from: '2025-11-26T15:00:02.000Z', to: '2025-11-26T15:00:03.000Z' },
      ],
    });
    expect(renderText(report, { color: false, width: 200 })).toContain(
      'census to 1/4 from 15:00:01 to 15:00:02, to 1/2 to 15:00:03; 3 records thinned to fit --max-device-mb (not lost)');
  });
});
