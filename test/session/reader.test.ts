import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync, readdirSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { analyseSession } from '../../src/analysis/index.js';
import { RefscopeError } from '../../src/errors.js';
import { openSession, type SessionReader } from '../../src/session/reader.js';
import type { ProbeRecord } from '../../src/session/records.js';

let root: string;
beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), 'refscope-reader-'));
});
afterEach(() => {
  rmSync(root, { recursive: true, force: true });
});

const line = (r: object): string => JSON.stringify(r) + '\n';
const start = (seq = 0): string =>
  line({ seq, k: 'start', t: 0, schema: 'refscope.records/1', python: '3.11.4', wall: 1764169000, argv: ['app.py'] });
const sample = (seq: number, t = seq): string =>
  line({ seq, k: 'sample', t, rss: 1000 + seq, peak: 1000 + seq, gc: [1, 2, 3], marks: { frame: seq }, cpu: [0, 0], probeCpu: 0.01 * seq, threads: 1, watch: [] });
const end = (seq: number): string =>
  line({ seq, k: 'end', t: seq, how: 'exit', exit: 0, error: null, probeCpu: 0.5, censuses: 0, records: seq + 1 });

async function readAll(r: SessionReader): Promise<ProbeRecord[]> {
  const out: ProbeRecord[] = [];
  for await (const rec of r.records()) out.push(rec);
  return out;
}

function writeSession(dir: string, segments: string[], manifest?: object): void {
  mkdirSync(join(dir, 'segments'), { recursive: true });
  segments.forEach((text, i) => writeFileSync(join(dir, 'segments', `seg-${String(i + 1).padStart(6, '0')}.jsonl`), text));
  if (manifest) writeFileSync(join(dir, 'manifest.json'), JSON.stringify(manifest));
}

async function expectSessionError(dir: string, message: RegExp): Promise<void> {
  const err = await openSession(dir).then(() => null, (e: unknown) => e);
  expect(err).toBeInstanceOf(RefscopeError);
  expect((err as RefscopeError).code).toBe('ERR_SESSION');
  expect((err as RefscopeError).message).toMatch(message);
  expect((err as RefscopeError).hint).toBe('Give the directory passed to --out');
  expect((err as RefscopeError).toLine()).not.toContain('\n');
}

describe('openSession', () => {
  it('reads SESSION/segments in name order, across segments, with the manifest', async () => {
    const dir = join(root, 's1');
    writeSession(dir, [start() + sample(1), sample(2) + sample(3), end(4)], { id: 'run-1', device: 'n810' });
    const r = await openSession(dir);
    expect(r.manifest?.id).toBe('run-1');
    const recs = await readAll(r);
    expect(recs.map((x) => x.seq)).toEqual([0, 1, 2, 3, 4]);
    expect(r.stats).toMatchObject({ records: 5, lostRecords: 0, duplicates: 0, truncated: 0, hasEnd: true, segments: 3 });
  });

  it('reads a bare folder of seg-*.jsonl (a probe --out copied off a device), sorting by number', async () => {
    const dir = join(root, 'out');
    mkdirSync(dir);
    writeFileSync(join(dir, 'seg-000002.jsonl'), sample(2));
    writeFileSync(join(dir, 'seg-000001.jsonl'), start() + sample(1));
    writeFileSync(join(dir, 'seg-1000000.jsonl'), end(3));
    writeFileSync(join(dir, 'notes.txt'), 'not a segment');
    const r = await openSession(dir);
    expect(r.manifest).toBeNull();
    expect((await readAll(r)).map((x) => x.seq)).toEqual([0, 1, 2, 3]);
    expect(r.stats.segments).toBe(3);
  });

  it('counts a truncated last line as one lost record and keeps the rest', async () => {
    const dir = join(root, 'trunc');
    const cut = sample(3).slice(0, 40);
    writeSession(dir, [start() + sample(1) + sample(2) + cut]);
    const r = await openSession(dir);
    const recs = await readAll(r);
    expect(recs).toHaveLength(3);
    expect(r.stats).toMatchObject({ truncated: 1, lostRecords: 1, hasEnd: false });
  });

  it('counts seq gaps as lost, ignores duplicates, and keeps a late record', async () => {
    const dir = join(root, 'gaps');
    // seq 3 and 4 missing; 2 repeated; 6 arrives after 7
    writeSession(dir, [start() + sample(1) + sample(2) + sample(2) + sample(5) + sample(7) + sample(6) + end(8)]);
    const r = await openSession(dir);
    const recs = await readAll(r);
    expect(recs.map((x) => x.seq)).toEqual([0, 1, 2, 5, 7, 6, 8]);
    expect(r.stats).toMatchObject({ duplicates: 1, outOfOrder: 1, lostRecords: 2, records: 7, hasEnd: true });
  });

  it('counts a garbled line once, not again as the seq gap it leaves', async () => {
    const dir = join(root, 'garbled');
    writeSession(dir, [start() + sample(1) + '{"seq":2,"k":"sam\u0000ple' + '\n' + sample(3) + 'not json at all\n' + end(4)]);
    const r = await openSession(dir);
    await readAll(r);
    // seq 2 garbled (1 gap + 1 unparseable line) and one extra junk line: 2 lost
    expect(r.stats.lostRecords).toBe(2);
    expect(r.stats.unparseable).toBe(2);
  });

  it('skips a line over the limit without buffering it, and counts it lost', async () => {
    const dir = join(root, 'huge');
    const big = '{"seq":2,"k":"event","t":2,"event":"x","detail":"' + 'A'.repeat(300_000) + '"}\n';
    writeSession(dir, [start() + sample(1) + big + sample(3) + end(4)]);
    const r = await openSession(dir, { maxLineBytes: 64 * 1024 });
    const recs = await readAll(r);
    expect(recs.map((x) => x.seq)).toEqual([0, 1, 3, 4]);
    expect(r.stats.lostRecords).toBe(1);
  });

  it('never follows a symlink out of the folder', async () => {
    const outside = join(root, 'outside');
    mkdirSync(outside);
    writeFileSync(join(outside, 'secret.jsonl'), start() + sample(1) + sample(2) + end(3));
    const dir = join(root, 'evil');
    writeSession(dir, [start() + sample(1)]);
    symlinkSync(join(outside, 'secret.jsonl'), join(dir, 'segments', 'seg-000002.jsonl'));
    symlinkSync(join(outside, 'secret.jsonl'), join(dir, 'manifest.json'));
    const r = await openSession(dir);
    expect(r.manifest).toBeNull();
    expect(r.segmentPaths).toHaveLength(1);
    expect((await readAll(r)).map((x) => x.seq)).toEqual([0, 1]);
    // a segments/ that is itself a symlink is not entered either
    const dir2 = join(root, 'evil2');
    mkdirSync(dir2);
    symlinkSync(outside, join(dir2, 'segments'));
    await expectSessionError(dir2, /is not a refscope session/);
  });

  it('never writes to the session folder', async () => {
    const dir = join(root, 'ro');
    writeSession(dir, [start() + sample(1) + end(2)], { id: 'ro' });
    const before = readdirSync(dir).map((f) => [f, statSync(join(dir, f)).mtimeMs]);
    await analyseSession(dir);
    expect(readdirSync(dir).map((f) => [f, statSync(join(dir, f)).mtimeMs])).toEqual(before);
  });

  it('refuses an empty folder, a missing one, and a file, with one clear line', async () => {
    const empty = join(root, 'empty');
    mkdirSync(empty);
    await expectSessionError(empty, new RegExp(`^${empty} is not a refscope session \\(no manifest.json and no seg-\\*.jsonl\\)$`));
    await expectSessionError(join(root, 'nope'), /does not exist$/);
    writeFileSync(join(root, 'file'), 'x');
    await expectSessionError(join(root, 'file'), /is not a directory$/);
    const onlyManifest = join(root, 'm');
    mkdirSync(onlyManifest);
    writeFileSync(join(onlyManifest, 'manifest.json'), '{"id":"m"}');
    await expectSessionError(onlyManifest, /holds no records yet/);
  });

  it('shows control characters in a folder name escaped in the error', async () => {
    await expectSessionError(join(root, 'bad\u001b[31mname'), /bad\\x1b\[31mname does not exist/);
  });
});

describe('analyseSession', () => {
  it('uses the manifest id and device, the reader lost count, and the folder name without a manifest', async () => {
    const dir = join(root, 'sess');
    writeSession(dir, [start() + sample(1) + sample(3) + end(4)], { id: 'run-7', device: 'n810.local', exitCode: 0 });
    const r = await analyseSession(dir);
    expect(r.session).toMatchObject({ id: 'run-7', device: 'n810.local', python: '3.11.4', lostRecords: 1, samples: 2 });
    const bare = join(root, 'copied-off-device');
    mkdirSync(bare);
    writeFileSync(join(bare, 'seg-000001.jsonl'), start() + sample(1));
    const r2 = await analyseSession(bare);
    expect(r2.session).toMatchObject({ id: 'copied-off-device', device: 'unknown', ended: 'abnormal', exitCode: null });
  });
});
