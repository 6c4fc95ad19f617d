#!/usr/bin/env node
/**
 * The deep census's cost (issue 13), against the plain census's, on the bench app
 * (bench/apps/steady.py: 200 000 live objects) under the probe at its defaults:
 *
 *   node bench/deep.mjs [--frames N]      # also run by `npm run bench` (skip: --no-deep)
 *
 * Per interpreter (2.7 and 3.11, and REFSCOPE_PY25 when set), from the records of one run:
 * the CPU seconds of each plain census and of each deep census (their `dur`, medians), the
 * ratio deep/plain, how many of each came, the sampling factor the deep census settled at,
 * the ids it held at most (its memory: each held id is one dict entry and one int, about
 * 100 B on a 64-bit build, 50 B on a 32-bit one), and the whole probe's CPU share of the run.
 * The peak extra RSS the probe costs the app is `npm run bench`'s own RSS row.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { pyenvPython } from './analysis.mjs';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const APP = join(ROOT, 'bench', 'apps', 'steady.py');
const PROBE = join(ROOT, 'device-scripts', 'refscope_probe.py');
const TMP = join(ROOT, 'bench', '.tmp', 'deep');

function arg(name, fallback) {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 && i + 1 < process.argv.length ? process.argv[i + 1] : fallback;
}
const FRAMES = arg('frames', null);

const median = (a) => {
  if (a.length === 0) return NaN;
  const s = [...a].sort((x, y) => x - y);
  return s[s.length >> 1];
};

function records(dir) {
  return readdirSync(dir).filter((f) => /^seg-\d+\.jsonl$/.test(f)).sort()
    .flatMap((f) => readFileSync(join(dir, f), 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l)));
}

const pythons = [['2.7', pyenvPython('2.7.')], ['3.11', pyenvPython('3.11.')], ['2.5', process.env.REFSCOPE_PY25 ?? null]]
  .filter(([, path]) => path && existsSync(path)).map(([label, path]) => ({ label, path }));
if (pythons.length === 0) {
  process.stderr.write('bench/deep: no CPython 2.7 or 3.11 under pyenv: skipped\n');
  process.exit(0);
}
mkdirSync(TMP, { recursive: true });
const rows = [];
for (const py of pythons) {
  const out = join(TMP, py.label);
  rmSync(out, { recursive: true, force: true });
  const r = spawnSync(py.path, [PROBE, '--out', out, '--', APP, ...(FRAMES ? ['--frames', FRAMES] : [])], { stdio: ['ignore', 'ignore', 'pipe'], encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${py.path} exited ${r.status}: ${r.stderr.slice(-500)}`);
  const recs = records(out);
  const plain = recs.filter((x) => x.k === 'census');
  const deep = recs.filter((x) => x.k === 'deep');
  const end = recs.find((x) => x.k === 'end');
  const p = median(plain.map((x) => x.dur));
  const d = median(deep.map((x) => x.dur));
  rows.push({
    python: py.label,
    objects: Math.max(...plain.map((x) => x.n)),
    censuses: plain.length,
    plainMs: +(p * 1000).toFixed(1),
    deeps: deep.length,
    deepMs: +(d * 1000).toFixed(1),
    deepOverPlain: +(d / p).toFixed(2),
    sample: deep.length ? Math.max(...deep.map((x) => x.sample)) : null,
    walked: deep.length ? Math.max(...deep.map((x) => x.walked)) : null,
    heldIds: deep.length ? Math.max(...deep.map((x) => x.held ?? 0)) : null,
    probeCpuShare: end ? +(end.probeCpu / end.t).toFixed(4) : null,
  });
}
process.stdout.write('deep census cost (bench/apps/steady.py, probe at its defaults; medians of one run)\n');
for (const row of rows) {
  process.stdout.write(
    `  python ${row.python}: ${row.objects} tracked objects; plain census ${row.plainMs} ms x${row.censuses}, ` +
    `deep census ${row.deepMs} ms x${row.deeps} (deep/plain ${row.deepOverPlain}), 1 in ${row.sample} sampled, ` +
    `${row.walked} references walked, at most ${row.heldIds} ids held; probe CPU ${(row.probeCpuShare * 100).toFixed(2)} % of the run\n`);
}
process.stdout.write(`${JSON.stringify({ bench: 'deep-census', rows })}\n`);
