#!/usr/bin/env node
/**
 * The narrowing window's cost and speed (issue 15), under the probe at its defaults:
 *
 *   node bench/narrow.mjs [--frames N]      # also run by `npm run bench` (skip: --no-narrow)
 *
 * Per interpreter (2.7 and 3.11, and REFSCOPE_PY25 when set):
 * - one window on the 200 000-object bench app (bench/apps/steady.py --leak 1: one Leaked
 *   object kept a frame, so the census names a suspect): the window's wall seconds and the
 *   app thread's CPU in it (its `narrow` record), the CPU those frames cost without a window
 *   (the same app under --no-narrow: its CPU per frame), the extra CPU that leaves, and the
 *   window's own memory (its record's peakKiB) next to the app's RSS at the end with and
 *   without the window;
 * - marks from the start of the run to the record that carries the `where`, for a leak of
 *   one object a frame (test/fixtures/callbacks.py) and of one reference a frame per object
 *   (test/fixtures/refcount_leak.py with the test C extension, built here with gcc into
 *   bench/.tmp; skipped when gcc or Python.h is missing).
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { pyenvPython } from './analysis.mjs';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const APP = join(ROOT, 'bench', 'apps', 'steady.py');
const PROBE = join(ROOT, 'device-scripts', 'refscope_probe.py');
const FIX = join(ROOT, 'test', 'fixtures');
const TMP = join(ROOT, 'bench', '.tmp', 'narrow');

function arg(name, fallback) {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 && i + 1 < process.argv.length ? process.argv[i + 1] : fallback;
}
const FRAMES = arg('frames', '400');

function records(dir) {
  return readdirSync(dir).filter((f) => /^seg-\d+\.jsonl$/.test(f)).sort()
    .flatMap((f) => readFileSync(join(dir, f), 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l)));
}

function probe(py, out, probeArgs, app, env = {}) {
  rmSync(out, { recursive: true, force: true });
  const r = spawnSync(py.path, [PROBE, '--out', out, ...probeArgs, '--', ...app],
    { stdio: ['ignore', 'ignore', 'pipe'], encoding: 'utf8', env: { ...process.env, ...env } });
  if (r.status !== 0) throw new Error(`${py.path} exited ${r.status}: ${r.stderr.slice(-500)}`);
  return records(out);
}

function report(file) {
  const line = readFileSync(file, 'utf8').trim().split('\n').pop();
  return Object.fromEntries(line.split(' ').map((kv) => kv.split('=')).map(([k, v]) => [k, Number(v)]));
}

/** the test C extension for this interpreter, or null (no gcc / no Python.h) */
function leakyiter(py) {
  const q = spawnSync(py.path, ['-c', "import sys\ntry:\n import sysconfig\n inc = sysconfig.get_paths()['include']\nexcept ImportError:\n from distutils import sysconfig\n inc = sysconfig.get_python_inc()\nsys.stdout.write(inc)"], { encoding: 'utf8' });
  if (q.status !== 0 || !existsSync(join(q.stdout, 'Python.h'))) return null;
  const dir = join(TMP, `ext-${py.label}`);
  mkdirSync(dir, { recursive: true });
  const b = spawnSync('gcc', ['-shared', '-fPIC', `-I${q.stdout}`, join(FIX, 'ext', 'leakyiter.c'), '-o', join(dir, 'leakyiter.so')], { encoding: 'utf8' });
  return b.status === 0 ? dir : null;
}

/** marks of `mark` when the first narrow record for `type` came (the census just before it) */
function marksToWhere(recs, type) {
  let marks = 0;
  for (const x of recs) {
    if ((x.k === 'census' || x.k === 'sample') && x.marks && typeof x.marks.frame === 'number') marks = x.marks.frame;
    if (x.k === 'narrow' && x.type === type) {
      return { marks, status: x.status, windowMarks: x.marks, checkMarks: x.checkMarks, sites: x.sites.length };
    }
  }
  return null;
}

const pythons = [['2.7', pyenvPython('2.7.')], ['3.11', pyenvPython('3.11.')], ['2.5', process.env.REFSCOPE_PY25 ?? null]]
  .filter(([, path]) => path && existsSync(path)).map(([label, path]) => ({ label, path }));
if (pythons.length === 0) {
  process.stderr.write('bench/narrow: no CPython 2.7 or 3.11 under pyenv: skipped\n');
  process.exit(0);
}
mkdirSync(TMP, { recursive: true });
process.stdout.write(`narrowing window (probe at its defaults; bench/apps/steady.py --leak 1 --frames ${FRAMES}: 200 000 live objects)\n`);
for (const py of pythons) {
  const rep = (tag) => join(TMP, `${py.label}-${tag}.txt`);
  rmSync(rep('on'), { force: true });
  rmSync(rep('off'), { force: true });
  const off = probe(py, join(TMP, `${py.label}-off`), ['--no-narrow'], [APP, '--leak', '1', '--frames', FRAMES, '--report', rep('off')]);
  const on = probe(py, join(TMP, `${py.label}-on`), [], [APP, '--leak', '1', '--frames', FRAMES, '--report', rep('on')]);
  const w = on.find((x) => x.k === 'narrow' && x.type === '__main__.Leaked');
  const a = report(rep('on'));
  const b = report(rep('off'));
  const perFrame = b.cpu_s / Number(FRAMES);
  if (off.some((x) => x.k === 'narrow')) throw new Error('--no-narrow ran a window');
  if (!w) {
    process.stdout.write(`  python ${py.label}: no window for __main__.Leaked (records: ${on.filter((x) => x.k === 'narrow').map((x) => x.type).join(', ') || 'none'})\n`);
    continue;
  }
  const extra = w.cpu - w.marks * perFrame;
  process.stdout.write(
    `  python ${py.label}: window ${w.status} over ${w.marks} frames, ${w.seconds.toFixed(3)} s wall, ${w.cpu.toFixed(3)} s CPU ` +
    `(those frames without a window: ${(w.marks * perFrame).toFixed(3)} s; extra ${extra.toFixed(3)} s, x${(w.cpu / (w.marks * perFrame)).toFixed(2)} in the window); ` +
    `window memory ${w.peakKiB} KiB (${w.method}); app RSS at the end ${a.rss_kib} KiB with, ${b.rss_kib} KiB without (${a.rss_kib - b.rss_kib >= 0 ? '+' : ''}${a.rss_kib - b.rss_kib} KiB); ` +
    `run CPU ${a.cpu_s.toFixed(2)} s with, ${b.cpu_s.toFixed(2)} s without\n`);
  const cb = marksToWhere(probe(py, join(TMP, `${py.label}-callbacks`), [], [join(FIX, 'callbacks.py')], { PYTHONPATH: FIX }), 'widgets.Widget');
  const ext = leakyiter(py);
  const rc = ext ? marksToWhere(probe(py, join(TMP, `${py.label}-refcount`), [], [join(FIX, 'refcount_leak.py')], { PYTHONPATH: `${ext}:${FIX}` }), 'points.Point') : null;
  const say = (what, m) => (m ? `${what}: where at mark ${m.marks} (${m.status}, window ${m.windowMarks} marks, checked ${m.checkMarks} later)` : `${what}: ${m === null && what.includes('C') && !ext ? 'skipped (no gcc or Python.h)' : 'no window'}`);
  process.stdout.write(`    marks to where: ${say('1 object/frame (callbacks.py)', cb)}; ${say('1 reference/frame per object, C (refcount_leak.py)', rc)}\n`);
}
