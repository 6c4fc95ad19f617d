#!/usr/bin/env node
/**
 * refscope bench, analysis half (issue 4): how fast the analysis names a leak, and what
 * reading a long soak costs the host. Needs `npm run build` (it uses dist/).
 *
 *   node bench/analysis.mjs                 # both parts
 *   node bench/analysis.mjs --only marks    # (a) only
 *   node bench/analysis.mjs --only ingest --records 3000000
 *
 * (a) Marks to flag: the probe runs test/fixtures/object_growth.py (one orders.Order kept
 *     per frame among ~2500 temporaries a frame) at 20 frames a second, at the defaults
 *     (`--interval 1 --census-budget 0.02`: no option passed), for 80 frames. Then growing prefixes of the recorded session
 *     (every record up to the moment the app had made m marks, no end record) are analysed
 *     again; the figure is the smallest m from which every longer prefix says leak with
 *     orders.Order first. Target <= 30 marks.
 * (b) Host ingest: a synthetic 72-hour soak of 3 000 000 records (samples at ~11.5 Hz, a
 *     census of 250 types every 30 s, referrers records every 10th census) is written as
 *     1 MiB segments to a temp folder; a child process runs analyseSession on it and
 *     reports its wall time and peak RSS (process.resourceUsage().maxRSS); another child
 *     reads the same files whole, splits lines and JSON.parses each (no analysis). Target
 *     <= 10 s and <= 300 MB; the ratio to the bare parse is printed.
 */
import { spawn, spawnSync, execFileSync } from 'node:child_process';
import { createWriteStream, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { cpus, homedir, loadavg, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const DIST = join(ROOT, 'dist');
const PROBE = join(ROOT, 'device-scripts', 'refscope_probe.py');
const TARGET_MARKS = 30;
const TARGET_SECONDS = 10;
const TARGET_MB = 300;

function arg(name, fallback) {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 && i + 1 < process.argv.length ? process.argv[i + 1] : fallback;
}
const ONLY = arg('only', null);
const RECORDS = Number(arg('records', '3000000'));

export function pyenvPython(prefix) {
  let root = process.env.PYENV_ROOT;
  if (!root) {
    try {
      root = execFileSync('pyenv', ['root'], { encoding: 'utf8' }).trim();
    } catch {
      root = join(homedir(), '.pyenv');
    }
  }
  const dir = join(root, 'versions');
  if (!existsSync(dir)) return null;
  const name = readdirSync(dir).filter((n) => n.startsWith(prefix) && /^\d+\.\d+\.\d+$/.test(n)).sort().pop();
  return name && existsSync(join(dir, name, 'bin', 'python')) ? join(dir, name, 'bin', 'python') : null;
}

// ------------------------------------------------------------------ (a) marks to flag

function readRecords(dir) {
  const out = [];
  for (const seg of readdirSync(dir).filter((n) => /^seg-\d+\.jsonl$/.test(n)).sort()) {
    for (const line of readFileSync(join(dir, seg), 'utf8').split('\n')) {
      if (!line) continue;
      try {
        out.push(JSON.parse(line));
      } catch {
        /* torn line */
      }
    }
  }
  return out;
}

async function marksToFlag() {
  const { analyseRecords } = await import(pathToFileURL(join(DIST, 'analysis', 'index.js')).href);
  const { toRecord } = await import(pathToFileURL(join(DIST, 'session', 'records.js')).href);
  const rows = [];
  for (const [label, python] of [['2.7', pyenvPython('2.7.')], ['3.11', pyenvPython('3.11.')]]) {
    if (!python) {
      rows.push(`marks to flag on ${label}: skipped (no CPython ${label} under pyenv)`);
      continue;
    }
    const out = mkdtempSync(join(tmpdir(), 'refscope-bench-marks-'));
    const r = spawnSync(python, [PROBE, '--out', out, '--',
      join(ROOT, 'test', 'fixtures', 'object_growth.py'), '--frames', '80', '--sleep', '0.05'], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`probe run failed on ${label}: ${r.stderr.slice(-1000)}`);
    const records = readRecords(out).map(toRecord).filter(Boolean);
    rmSync(out, { recursive: true, force: true });
    // the time each mark count was first seen (samples and censuses carry cumulative marks)
    const firstAt = new Map();
    for (const rec of records) {
      const m = rec.marks?.frame;
      if (m !== undefined && !firstAt.has(m)) firstAt.set(m, rec.t);
    }
    const verdicts = [];
    for (let m = 5; m <= 80; m++) {
      const t = [...firstAt].filter(([k]) => k >= m).map(([, v]) => v).sort((a, b) => a - b)[0];
      if (t === undefined) break;
      const prefix = records.filter((rec) => rec.t <= t && rec.k !== 'end');
      const rep = await analyseRecords(prefix, { id: 'prefix' });
      const top = rep.suspects[0];
      const ok = rep.verdict === 'leak' && top?.type === 'orders.Order';
      verdicts.push({ m: rep.session.marks?.frame ?? m, ok, censuses: rep.session.censuses, conf: top?.confidence ?? 0, verdict: rep.verdict, top: `${top?.kind} ${top?.type} ${top?.perMark?.value} ${top?.confidence} ${top?.evidence}` });
    }
    // the smallest m from which every longer prefix flags it
    if (process.env.BENCH_DEBUG) for (const v of verdicts) process.stderr.write(`${label} m=${v.m} ${v.verdict} ok=${v.ok} censuses=${v.censuses} conf=${v.conf} ${v.ok ? "" : v.top}\n`);
    let flagged = null;
    for (let i = verdicts.length - 1; i >= 0 && verdicts[i].ok; i--) flagged = verdicts[i];
    const note = flagged
      ? `${flagged.m} marks (${flagged.censuses} censuses, confidence ${flagged.conf}) ${flagged.m <= TARGET_MARKS ? 'ok' : 'OVER'} <= ${TARGET_MARKS}`
      : `not flagged within ${verdicts.length ? verdicts[verdicts.length - 1].m : 0} marks: OVER`;
    rows.push(`marks to flag a planted 1-object-per-mark leak under churn on ${label}: ${note}`);
    const firstLeak = verdicts.find((v) => v.ok);
    if (firstLeak && firstLeak !== flagged) rows.push(`  (first flagged at ${firstLeak.m} marks, not yet for every longer prefix)`);
  }
  return rows;
}

// ------------------------------------------------------------------ (b) host ingest

/** mulberry32 */
function prng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export async function writeSoak(dir, total) {
  const hours = 72;
  const duration = hours * 3600;
  const censusEvery = 30;
  const types = 250;
  const censuses = Math.floor(duration / censusEvery);
  const referrers = Math.floor(censuses / 10);
  const samples = total - 2 - censuses - referrers;
  const sampleEvery = duration / samples;
  const rng = prng(42);
  const names = Array.from({ length: types }, (_, i) => (i < 40 ? ['dict', 'list', 'tuple', 'str', 'function', 'type', 'cell', 'weakref', 'method', 'frame'][i % 10] + (i >= 10 ? `_${i}` : '') : `app${i % 7}.Class${i}`));
  let seq = 0;
  let segNo = 0;
  let segBytes = 0;
  let stream = null;
  let buf = '';
  const flush = async () => {
    if (!buf) return;
    const chunk = buf;
    buf = '';
    if (!stream.write(chunk)) await new Promise((r) => stream.once('drain', r));
  };
  const open = async () => {
    if (stream) {
      await flush();
      await new Promise((r) => stream.end(r));
    }
    segNo += 1;
    segBytes = 0;
    stream = createWriteStream(join(dir, `seg-${String(segNo).padStart(6, '0')}.jsonl`));
  };
  const emit = async (obj) => {
    const line = JSON.stringify(obj) + '\n';
    if (segBytes + line.length > 1024 * 1024 && segBytes > 0) await open();
    segBytes += line.length;
    buf += line;
    if (buf.length > 256 * 1024) await flush();
  };
  await open();
  await emit({ seq: seq++, k: 'start', t: 0, schema: 'refscope.records/1', probe: '0.1.0', wall: 1764169000.123, pid: 4242,
    python: '2.7.18', impl: 'CPython', platform: 'linux2', executable: '/usr/bin/python2.7', argv: ['soak.py'],
    target: 'soak.py', module: false, interval: 0.1, censusBudget: 0.02, pageKiB: 4, segmentKiB: 1024, watchTypes: [],
    observer: { refcountOffset: 3, watchOffset: 2, immortalMin: 536870912 } });
  let nextCensus = censusEvery;
  let c = 0;
  let probeCpu = 0;
  for (let i = 1; i <= samples; i++) {
    const t = Math.round(i * sampleEvery * 1000) / 1000;
    const marks = Math.floor(t * 10);
    probeCpu += 0.0002;
    await emit({ seq: seq++, k: 'sample', t, rss: 20000 + Math.floor(marks / 1000) + Math.floor(rng() * 40), peak: 21000,
      gc: [Math.floor(rng() * 700), 3, 1], marks: { frame: marks }, cpu: [t * 0.5, t * 0.05], probeCpu: Math.round(probeCpu * 1000) / 1000,
      threads: 2, watch: [] });
    if (t >= nextCensus && c < censuses) {
      nextCensus += censusEvery;
      c += 1;
      const typesOut = names.map((name, j) => {
        const count = 100 + j * 7 + Math.floor(rng() * 20) + (name === 'app3.Class45' ? Math.floor(marks / 100) : 0);
        return [name, count, count * 2];
      });
      await emit({ seq: seq++, k: 'census', t: t + 0.01, marks: { frame: marks }, dur: 0.03, n: 50000, types: typesOut });
      if (c % 10 === 0) {
        await emit({ seq: seq++, k: 'referrers', t: t + 0.02, type: 'app3.Class45', sampled: 3,
          holders: [['list item in module global app3.CACHE', 3]], unexplained: 0, dur: 0.01 });
      }
    }
  }
  await emit({ seq: seq, k: 'end', t: duration, how: 'exit', exit: 0, error: null, probeCpu, censuses: c, records: seq + 1 });
  await flush();
  await new Promise((r) => stream.end(r));
  return { records: seq + 1, samples, censuses: c, segments: segNo, hz: 1 / sampleEvery };
}

/** Run a small ESM program in a child node; it prints one JSON line. */
function child(code) {
  return new Promise((res, rej) => {
    const p = spawn(process.execPath, ['--input-type=module', '-e', code], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    p.stdout.on('data', (d) => (out += d));
    p.on('error', rej);
    p.on('close', (status) => {
      if (status !== 0) return rej(new Error(`child exited ${status}`));
      res(JSON.parse(out.trim().split('\n').pop()));
    });
  });
}

async function ingest() {
  const dir = mkdtempSync(join(tmpdir(), 'refscope-bench-soak-'));
  try {
    const t0 = Date.now();
    const made = await writeSoak(dir, RECORDS);
    const genSeconds = (Date.now() - t0) / 1000;
    const analysisUrl = pathToFileURL(join(DIST, 'analysis', 'index.js')).href;
    const analysed = await child(`
      const { analyseSession } = await import(${JSON.stringify(analysisUrl)});
      const t0 = process.hrtime.bigint();
      const c0 = process.cpuUsage();
      const r = await analyseSession(${JSON.stringify(dir)});
      const s = Number(process.hrtime.bigint() - t0) / 1e9;
      const c = process.cpuUsage(c0);
      console.log(JSON.stringify({ s, cpu: (c.user + c.system) / 1e6, maxRssKiB: process.resourceUsage().maxRSS, verdict: r.verdict, top: r.suspects[0]?.type ?? null,
        rate: r.suspects[0]?.perMark?.value ?? null, samples: r.session.samples, censuses: r.session.censuses, lost: r.session.lostRecords }));
    `);
    const bare = await child(`
      import { readdirSync, readFileSync } from 'node:fs';
      import { join } from 'node:path';
      const dir = ${JSON.stringify(dir)};
      const t0 = process.hrtime.bigint();
      const c0 = process.cpuUsage();
      let n = 0;
      for (const f of readdirSync(dir).filter((n) => n.endsWith('.jsonl')).sort()) {
        for (const line of readFileSync(join(dir, f), 'utf8').split('\\n')) if (line) { JSON.parse(line); n++; }
      }
      const s = Number(process.hrtime.bigint() - t0) / 1e9;
      const c = process.cpuUsage(c0);
      console.log(JSON.stringify({ s, cpu: (c.user + c.system) / 1e6, n, maxRssKiB: process.resourceUsage().maxRSS }));
    `);
    const mb = analysed.maxRssKiB / 1024;
    // on a shared machine the wall time is mostly waiting for a core: CPU seconds are the
    // steadier figure, and the load average says how shared it was
    const load = loadavg()[0].toFixed(1);
    return [
      `host ingest: ${made.records} records (72 h: ${made.samples} samples at ${made.hz.toFixed(1)} Hz, ${made.censuses} censuses of 250 types, ` +
        `${made.segments} segments of 1 MiB; written in ${genSeconds.toFixed(1)} s)`,
      `  analyseSession: ${analysed.s.toFixed(2)} s wall ${analysed.s <= TARGET_SECONDS ? 'ok' : 'OVER'} <= ${TARGET_SECONDS} s ` +
        `(${analysed.cpu.toFixed(2)} s CPU ${analysed.cpu <= TARGET_SECONDS ? 'ok' : 'OVER'}; load average ${load} on ${cpus().length} cores), ` +
        `peak RSS ${mb.toFixed(0)} MB ${mb <= TARGET_MB ? 'ok' : 'OVER'} <= ${TARGET_MB} MB ` +
        `(verdict ${analysed.verdict}, top ${analysed.top} ${analysed.rate === null ? '' : `+${analysed.rate.toPrecision(3)}/frame`}, ` +
        `${analysed.samples} samples, ${analysed.censuses} censuses, ${analysed.lost} lost)`,
      `  bare readFileSync + split + JSON.parse of the same files: ${bare.s.toFixed(2)} s wall, ${bare.cpu.toFixed(2)} s CPU, ` +
        `peak RSS ${(bare.maxRssKiB / 1024).toFixed(0)} MB (${bare.n} lines); analyseSession / bare = ` +
        `${(analysed.s / bare.s).toFixed(2)}x wall, ${(analysed.cpu / bare.cpu).toFixed(2)}x CPU, ${(analysed.maxRssKiB / bare.maxRssKiB).toFixed(2)}x memory`,
    ];
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

async function main() {
  if (!existsSync(join(DIST, 'analysis', 'index.js'))) throw new Error('dist/ is missing: run `npm run build` first');
  mkdirSync(tmpdir(), { recursive: true });
  const lines = [];
  if (!ONLY || ONLY === 'marks') lines.push(...(await marksToFlag()));
  if (!ONLY || ONLY === 'ingest') lines.push(...(await ingest()));
  process.stdout.write(`${lines.join('\n')}\n`);
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) main().catch((err) => {
  process.stderr.write(`bench/analysis: ${err.stack || err}\n`);
  process.exit(1);
});
