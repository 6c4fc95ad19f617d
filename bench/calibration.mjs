#!/usr/bin/env node
/**
 * refscope bench, calibration (issue 10): the verdict at the DEFAULTS (`--interval 1`,
 * `--census-budget 0.02`: no option is passed), as users run it. Needs `npm run build`.
 *
 *   node bench/calibration.mjs                # 2.7 and 3.11 (and REFSCOPE_PY25 when set)
 *   node bench/calibration.mjs --replays 100  # replays per recorded session (default 60)
 *
 * (a) Marks and seconds to a verdict. Each case app runs once per interpreter under the
 *     built CLI's probe at the defaults; then growing prefixes of its recorded session
 *     (every record up to the moment the app had made m marks) are analysed again. The
 *     figure is the smallest m (and its time) from which every longer prefix gives the
 *     run's own final verdict with the planted culprit first (leaks), or no leak
 *     (controls). A case's verdict at the end is its "real run" result.
 * (b) False alarms and misses over many runs: every recorded session is replayed
 *     `--replays` times with fresh noise: each type's census series is split into its
 *     shape (a running median of 3: a fill, a late start, a leak stay as they were) and
 *     the residuals around it, which are resampled in blocks of 3 (so their
 *     autocorrelation survives) around the shape.
 *     Controls: share of replays (and real runs) whose verdict is `leak`. Planted leaks:
 *     share whose verdict is not `leak` with the culprit first.
 * Prints one table (markdown) for docs/analysis.md.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

import { pyenvPython } from './analysis.mjs';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const DIST = join(ROOT, 'dist');
const CLI = join(DIST, 'cli', 'bin.js');

function arg(name, fallback) {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 && i + 1 < process.argv.length ? process.argv[i + 1] : fallback;
}
const REPLAYS = Number(arg('replays', '60'));

/** [label, fixture args, culprit type or null for a control, kind] */
const CASES = [
  ['1/mark under churn, ~50 marks/s', ['object_growth.py', '--frames', '150'], 'orders.Order', 'object-growth'],
  ['0.25/mark under noise', ['slow_leak.py', '--frames', '300'], 'ledger.Entry', 'object-growth'],
  ['0.2/mark (one every 5 marks)', ['slow_leak.py', '--frames', '600', '--every', '5'], 'ledger.Entry', 'object-growth'],
  ['bound-method callbacks', ['callbacks.py', '--frames', '150'], 'widgets.Widget', 'object-growth'],
  ['native 64 KiB/mark', ['native_leak.py', '--frames', '150'], null, 'native-growth'],
  ['leak from 40 % of the run', ['late_leak.py', '--frames', '300'], 'jobs.Job', 'object-growth'],
  ['300 app classes, one leaking', ['many_types.py', '--frames', '300'], 'kinds.K137', 'object-growth'],
  ['fast marks (no pause)', ['object_growth.py', '--frames', '600', '--sleep', '0'], 'orders.Order', 'object-growth'],
  ['slow marks (5/s)', ['object_growth.py', '--frames', '40', '--sleep', '0.2'], 'orders.Order', 'object-growth'],
  ['control: warm-up cache', ['warm_cache.py', '--frames', '150', '--cap', '60'], null, null],
  ['control: saw-tooth garbage', ['sawtooth.py', '--frames', '150'], null, null],
  ['control: heavy churn', ['clean_churn.py', '--frames', '150'], null, null],
  ['control: noisy I/O', ['noisy_exit.py'], null, null],
  ['control: 300 classes trading', ['many_types.py', '--frames', '300', '--clean'], null, null],
];

function readRecords(dir) {
  const out = [];
  const segs = existsSync(join(dir, 'segments')) ? join(dir, 'segments') : dir;
  for (const seg of readdirSync(segs).filter((n) => /^seg-\d+\.jsonl$/.test(n)).sort()) {
    for (const line of readFileSync(join(segs, seg), 'utf8').split('\n')) {
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

function prng(seed) {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s / 4294967296;
  };
}

function median(a) {
  const s = [...a].sort((x, y) => x - y);
  return s.length ? s[s.length >> 1] : 0;
}

/** The session's records with each type's census residuals resampled in blocks of 3. */
function replay(records, seed) {
  const rng = prng(seed);
  const census = records.filter((r) => r.k === 'census');
  if (census.length < 4) return records;
  const names = new Set();
  for (const r of census) for (const [n] of r.types) names.add(n);
  const fresh = census.map(() => new Map());
  for (const name of names) {
    const cnt = census.map((r) => r.types.find((e) => e[0] === name)?.[1] ?? 0);
    const ref = census.map((r) => r.types.find((e) => e[0] === name)?.[2] ?? 0);
    for (const [ys, slot] of [[cnt, 1], [ref, 2]]) {
      // the baseline census (before the app's imports) and the final one stay as they were
      const inner = ys.slice(1, -1);
      // the shape (a fill, a late start, a leak) is kept: a running median of 3; the
      // noise around it is what is drawn afresh
      const smooth = inner.map((_, i) => median(inner.slice(Math.max(0, i - 1), i + 2)));
      const res = inner.map((v, i) => v - smooth[i]);
      const out = [];
      while (out.length < inner.length) {
        const start = Math.floor(rng() * Math.max(1, res.length - 2));
        for (let k = 0; k < 3 && out.length < inner.length; k++) out.push(res[Math.min(res.length - 1, start + k)]);
      }
      for (let i = 0; i < census.length; i++) {
        const v = i === 0 || i === census.length - 1 ? ys[i] : Math.max(0, Math.round(smooth[i - 1] + out[i - 1]));
        const m = fresh[i];
        const e = m.get(name) ?? [name, 0, 0];
        e[slot] = v;
        m.set(name, e);
      }
    }
  }
  let c = 0;
  return records.map((r) => (r.k === 'census' ? { ...r, types: [...fresh[c++].values()].filter((e) => e[1] > 0 || e[2] > 0) } : r));
}

async function main() {
  if (!existsSync(CLI)) throw new Error('dist/ is missing: run `npm run build` first');
  const { analyseRecords } = await import(pathToFileURL(join(DIST, 'analysis', 'index.js')).href);
  const { toRecord } = await import(pathToFileURL(join(DIST, 'session', 'records.js')).href);
  const pythons = [['2.7', pyenvPython('2.7.')], ['3.11', pyenvPython('3.11.')]];
  if (process.env.REFSCOPE_PY25 && existsSync(process.env.REFSCOPE_PY25)) pythons.unshift(['2.5', process.env.REFSCOPE_PY25]);
  const rows = [];
  let controlRuns = 0;
  let controlAlarms = 0;
  let controlConfident = 0;
  let plantedRuns = 0;
  let plantedMissed = 0;
  const work = mkdtempSync(join(tmpdir(), 'refscope-calib-'));
  try {
    for (const [label, python] of pythons) {
      if (!python) {
        rows.push(`| (CPython ${label} not found: skipped) | | | | | |`);
        continue;
      }
      for (const [name, appArgs, culprit, kind] of CASES) {
        const out = join(work, `${label}-${rows.length}`);
        const r = spawnSync(process.execPath, [CLI, 'run', '--local', '--python', python, '--out', out, '--json', '--',
          join(ROOT, 'test', 'fixtures', appArgs[0]), ...appArgs.slice(1)], { encoding: 'utf8', cwd: ROOT, maxBuffer: 64 << 20 });
        let final;
        try {
          // the session's own report: an app's stdout comes before --json's
          final = JSON.parse(readFileSync(join(out, 'report.json'), 'utf8'));
        } catch {
          rows.push(`| ${name} | ${label} | run failed (exit ${r.status}) | | | |`);
          continue;
        }
        const records = readRecords(out).map(toRecord).filter(Boolean);
        const planted = kind !== null;
        const good = (rep) => planted
          ? rep.verdict === 'leak' && rep.suspects[0]?.kind === kind && rep.suspects[0]?.type === culprit
          : rep.verdict !== 'leak';
        // (a) marks and seconds to a stable verdict
        const marksAt = [];
        for (const rec of records) {
          const m = rec.marks ? Object.values(rec.marks)[0] : undefined;
          if (rec.k === 'census' && m !== undefined) marksAt.push([m, rec.t]);
        }
        let settled = null;
        // the last census is taken after the app ended: a prefix ends before it
        for (let i = marksAt.length - 2; i >= 0; i--) {
          const [m, t] = marksAt[i];
          const rep = await analyseRecords(records.filter((x) => x.t <= t && x.k !== 'end'), { id: 'prefix' });
          if (!(planted ? good(rep) : rep.verdict === 'no-leak')) break;
          settled = { m, t };
        }
        // (b) replays with fresh noise
        let wrong = 0;
        let confident = 0;
        for (let k = 0; k < REPLAYS; k++) {
          const rep = await analyseRecords(replay(records, 1000 * rows.length + k + 1), { id: 'replay' });
          if (!good(rep)) wrong++;
          if (!planted && rep.suspects.some((s) => !s.dependsOn && s.confidence >= 0.6)) confident++;
        }
        const realOk = good(final);
        if (planted) {
          plantedRuns += REPLAYS + 1;
          plantedMissed += wrong + (realOk ? 0 : 1);
        } else {
          controlRuns += REPLAYS + 1;
          controlAlarms += wrong + (realOk ? 0 : 1);
          controlConfident += confident;
        }
        const top = final.suspects[0];
        rows.push(`| ${name} | ${label} | ${final.verdict}${top ? ` (${top.type ?? top.kind} ${top.confidence})` : ''} | ` +
          `${settled ? `${settled.m} marks, ${settled.t.toFixed(1)} s` : 'not settled'} | ${final.session.censuses} | ` +
          `${wrong}/${REPLAYS} ${planted ? 'missed' : 'false alarms'} |`);
        process.stderr.write(`calibration: ${label} ${name}: ${rows[rows.length - 1]}\n`);
      }
    }
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
  const lines = [
    `calibration at the defaults (--interval 1, --census-budget 0.02), ${REPLAYS} replays per recorded session:`,
    '',
    '| case | python | verdict at the end (top, confidence) | to a stable verdict | censuses | replays |',
    '|---|---|---|---|---|---|',
    ...rows,
    '',
    `clean controls: ${controlAlarms} leak verdicts in ${controlRuns} runs (${(100 * controlAlarms / Math.max(1, controlRuns)).toFixed(2)} %, target <= 1 %); ` +
      `${controlConfident} with a suspect at confidence >= 0.6`,
    `planted leaks: ${plantedMissed} missed in ${plantedRuns} runs (${(100 * plantedMissed / Math.max(1, plantedRuns)).toFixed(2)} %)`,
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
}

main().catch((err) => {
  process.stderr.write(`calibration: ${err.stack || err}\n`);
  process.exit(1);
});
