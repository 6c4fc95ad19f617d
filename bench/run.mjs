#!/usr/bin/env node
/**
 * refscope bench: what watching an app costs, next to the tools people use by hand.
 *
 *   npm run bench                      # = npm run build && node bench/run.mjs
 *   node bench/run.mjs --reps 3 --frames 850
 *   node bench/run.mjs --no-analysis   # without bench/analysis.mjs (marks to flag, host ingest)
 *   node bench/run.mjs --no-calibration  # without bench/calibration.mjs (the verdict at the defaults)
 *   node bench/run.mjs --no-deep       # without bench/deep.mjs (the deep census's cost)
 *   node bench/run.mjs --no-narrow     # without bench/narrow.mjs (the narrowing window's cost)
 *   node bench/run.mjs --emulated      # also bench/emulated-cost.bench.ts: sampling cost on the
 *                                      # emulated N810 (root, qemu-user, the armel rootfs, cross/build.sh)
 *
 * One app (bench/apps/steady.py: 200 000 live objects, steady ~12 ms frames, ~10 s bare
 * on CPython 3.11) runs bare and under each tool; runs alternate (bare, tool, bare, tool…)
 * so drift in the machine's load hits both sides alike, and each figure is the median of
 * --reps runs. Wall time is the whole process, start to exit. RSS is what the app reads
 * from /proc/self/statm at the end of its steady phase. CPU is the process's user+system
 * seconds at that point (the probe's threads included): on a machine shared with other
 * work, the CPU ratio is the steadier figure; the wall ratio is the one the target names.
 *
 * Rows: the refscope probe at its defaults on 2.7 and 3.11 (and on REFSCOPE_PY25 when
 * set); objgraph.show_growth() once a second on /usr/bin/python3 (Debian's
 * python3-objgraph), against a bare run on the same /usr/bin/python3; tracemalloc
 * (python3.11 -X tracemalloc). A row whose interpreter or package is missing is skipped
 * with the reason.
 */
import { spawn, execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const APP = join(ROOT, 'bench', 'apps', 'steady.py');
const OBJGRAPH = join(ROOT, 'bench', 'apps', 'with_objgraph.py');
const PROBE = join(ROOT, 'device-scripts', 'refscope_probe.py');
const TMP = join(ROOT, 'bench', '.tmp');

const TARGET_WALL = 1.02;
const TARGET_RSS_KIB = 512;

function arg(name, fallback) {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 && i + 1 < process.argv.length ? process.argv[i + 1] : fallback;
}
const REPS = Number(arg('reps', '3'));
const FRAMES = arg('frames', null);

// ---------------------------------------------------------------- interpreters

function pyenvRoot() {
  if (process.env.PYENV_ROOT) return process.env.PYENV_ROOT;
  try {
    return execFileSync('pyenv', ['root'], { encoding: 'utf8' }).trim();
  } catch {
    return join(homedir(), '.pyenv');
  }
}

function pyenvPython(prefix) {
  const root = join(pyenvRoot(), 'versions');
  if (!existsSync(root)) return null;
  const names = readdirSync(root).filter((n) => n.startsWith(prefix) && /^\d+\.\d+\.\d+$/.test(n)).sort();
  const name = names.pop();
  if (!name) return null;
  const path = join(root, name, 'bin', 'python');
  return existsSync(path) ? path : null;
}

function version(python) {
  return execFileSync(python, ['-c', 'import sys; sys.stdout.write("%d.%d.%d" % sys.version_info[:3])'], {
    encoding: 'utf8',
  }).trim();
}

function canImport(python, module) {
  try {
    execFileSync(python, ['-c', `import ${module}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

// ---------------------------------------------------------------- one run

let runNo = 0;
let current = null;

// stopping the bench stops the run in progress too
for (const sig of ['SIGINT', 'SIGTERM']) {
  process.on(sig, () => {
    if (current) current.kill('SIGTERM');
    process.exit(130);
  });
}

/** Runs argv; returns wall seconds and the app's own report line (rss_kib, objects, steady_s). */
function runOnce(argv, extra = {}) {
  runNo += 1;
  const report = join(TMP, `run-${runNo}.txt`);
  rmSync(report, { force: true });
  const appArgs = ['--report', report];
  if (FRAMES) appArgs.push('--frames', FRAMES);
  const full = [...argv, ...appArgs];
  return new Promise((resolveRun, reject) => {
    const t0 = process.hrtime.bigint();
    const child = spawn(full[0], full.slice(1), { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, ...extra } });
    current = child;
    let stderr = '';
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => {
      current = null;
      const wall = Number(process.hrtime.bigint() - t0) / 1e9;
      if (code !== 0) return reject(new Error(`${full.join(' ')} exited ${code}\n${stderr.slice(-2000)}`));
      if (!existsSync(report)) return reject(new Error(`${full.join(' ')} wrote no report\n${stderr.slice(-2000)}`));
      const line = readFileSync(report, 'utf8').trim();
      const fields = Object.fromEntries(line.split(' ').map((kv) => kv.split('=')).map(([k, v]) => [k, Number(v)]));
      resolveRun({ wall, rss: fields.rss_kib, objects: fields.objects, steady: fields.steady_s, cpu: fields.cpu_s });
    });
  });
}

/** The probe's own CPU seconds and census count, from the end record of its segments. */
function probeEnd(outDir) {
  try {
    const segs = readdirSync(outDir).filter((n) => /^seg-\d+\.jsonl$/.test(n)).sort();
    for (const seg of segs.reverse()) {
      const lines = readFileSync(join(outDir, seg), 'utf8').trim().split('\n').reverse();
      for (const l of lines) {
        try {
          const r = JSON.parse(l);
          if (r.k === 'end') return { probeCpu: r.probeCpu, censuses: r.censuses };
        } catch {
          /* a torn line: keep looking */
        }
      }
    }
  } catch {
    /* no segments */
  }
  return null;
}

// ---------------------------------------------------------------- plan

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

/** A group: one interpreter, a bare baseline and the tools measured against it, alternating. */
function plan() {
  const groups = [];
  const skips = [];
  const probeOk = existsSync(PROBE);

  const probeVariant = (python) => ({
    tool: 'refscope probe',
    argv: (n) => [python, PROBE, '--out', join(TMP, `probe-${n}`), '--', APP],
    outDir: (n) => join(TMP, `probe-${n}`),
    target: true,
  });

  const py27 = pyenvPython('2.7.');
  const py311 = pyenvPython('3.11.') ?? null;
  const py25 = process.env.REFSCOPE_PY25 && existsSync(process.env.REFSCOPE_PY25) ? process.env.REFSCOPE_PY25 : null;
  const sys3 = existsSync('/usr/bin/python3') ? '/usr/bin/python3' : null;

  for (const [label, python] of [['2.7', py27], ['3.11', py311], ['2.5', py25]]) {
    if (!python) {
      if (label !== '2.5') skips.push(`refscope probe on ${label}: no CPython ${label} under ${pyenvRoot()}/versions`);
      else skips.push('refscope probe on 2.5: REFSCOPE_PY25 is not set');
      continue;
    }
    const variants = [];
    if (probeOk) variants.push(probeVariant(python));
    else skips.push(`refscope probe on ${label}: ${PROBE} does not exist yet`);
    if (label === '3.11') {
      if (canImport(python, 'tracemalloc')) {
        variants.push({ tool: 'tracemalloc (-X tracemalloc)', argv: () => [python, '-X', 'tracemalloc', APP] });
      } else skips.push(`tracemalloc on ${label}: no tracemalloc module`);
    }
    if (variants.length) groups.push({ python, version: version(python), variants });
  }

  if (!sys3) skips.push('objgraph: no /usr/bin/python3');
  else if (!canImport(sys3, 'objgraph')) skips.push('objgraph: /usr/bin/python3 cannot import objgraph (apt-get install python3-objgraph)');
  else {
    groups.push({
      python: sys3,
      version: version(sys3),
      variants: [{ tool: 'objgraph.show_growth() 1/s', argv: () => [sys3, OBJGRAPH, APP] }],
    });
  }
  return { groups, skips };
}

// ---------------------------------------------------------------- main

function fmtKiB(k) {
  if (!Number.isFinite(k)) return '?';
  return `${k >= 0 ? '+' : ''}${Math.round(k)} KiB`;
}

async function main() {
  mkdirSync(TMP, { recursive: true });
  const { groups, skips } = plan();
  const rows = [];
  process.stderr.write(`bench: ${REPS} alternating runs per row; app ${APP}${FRAMES ? ` --frames ${FRAMES}` : ''}\n`);

  for (const g of groups) {
    const bare = [];
    const tools = g.variants.map(() => []);
    for (let rep = 0; rep < REPS; rep++) {
      const b = await runOnce([g.python, APP]);
      bare.push(b);
      process.stderr.write(`  ${g.version} bare: ${b.wall.toFixed(2)} s wall, ${b.cpu} s cpu, ${b.rss} KiB (${b.objects} objects)\n`);
      for (let i = 0; i < g.variants.length; i++) {
        const v = g.variants[i];
        const n = runNo + 1;
        if (v.outDir) rmSync(v.outDir(n), { recursive: true, force: true });
        const r = await runOnce(v.argv(n));
        if (v.outDir) r.end = probeEnd(v.outDir(n));
        tools[i].push(r);
        process.stderr.write(`  ${g.version} ${v.tool}: ${r.wall.toFixed(2)} s wall, ${r.cpu} s cpu, ${r.rss} KiB\n`);
      }
    }
    const bareWall = median(bare.map((r) => r.wall));
    const bareRss = median(bare.map((r) => r.rss));
    const bareCpu = median(bare.map((r) => r.cpu));
    g.variants.forEach((v, i) => {
      const runs = tools[i];
      const wall = median(runs.map((r) => r.wall));
      const rss = median(runs.map((r) => r.rss));
      const cpu = median(runs.map((r) => r.cpu));
      const ends = runs.map((r) => r.end).filter(Boolean);
      rows.push({
        tool: v.tool,
        python: g.python.startsWith('/usr/bin/') ? `${g.version} ${g.python}` : g.version,
        bareWall,
        toolWall: wall,
        ratio: wall / bareWall,
        cpuRatio: cpu / bareCpu,
        rssDelta: rss - bareRss,
        target: !!v.target,
        probeCpu: ends.length ? median(ends.map((e) => e.probeCpu)) : null,
        censuses: ends.length ? median(ends.map((e) => e.censuses)) : null,
      });
    });
  }

  const head = ['tool', 'python', 'bare s', 'tool s', 'wall ratio', 'cpu ratio', 'RSS delta', 'verdict / notes'];
  const table = rows.map((r) => {
    let note = '';
    if (r.target) {
      const okWall = r.ratio <= TARGET_WALL;
      const okRss = r.rssDelta <= TARGET_RSS_KIB;
      const okCpu = r.cpuRatio <= TARGET_WALL;
      note = `${okWall ? 'ok' : 'OVER'} wall<=${TARGET_WALL} (cpu ${okCpu ? 'ok' : 'OVER'}), ${okRss ? 'ok' : 'OVER'} RSS<=${TARGET_RSS_KIB} KiB`;
      if (r.probeCpu !== null) note += `; probe cpu ${r.probeCpu.toFixed(2)} s, ${r.censuses} censuses`;
    }
    return [r.tool, r.python, r.bareWall.toFixed(2), r.toolWall.toFixed(2), r.ratio.toFixed(3), r.cpuRatio.toFixed(3), fmtKiB(r.rssDelta), note];
  });
  const widths = head.map((h, i) => Math.max(h.length, ...table.map((row) => String(row[i]).length)));
  const line = (cells) => cells.map((c, i) => String(c).padEnd(widths[i])).join('  ').trimEnd();
  const out = [line(head), line(widths.map((w) => '-'.repeat(w))), ...table.map(line)];
  for (const s of skips) out.push(`skipped: ${s}`);
  process.stdout.write(`${out.join('\n')}\n`);
  writeFileSync(join(TMP, 'results.json'), JSON.stringify({ reps: REPS, frames: FRAMES, rows, skips }, null, 2));
  // the other halves, each its own script, in turn: `--no-NAME` leaves one out
  const halves = [
    ['analysis', 'analysis (bench/analysis.mjs): marks to flag a planted leak, host ingest of a soak'],
    ['deep', "deep census cost (bench/deep.mjs): against the plain census's"],
    ['calibration', 'calibration at the defaults (bench/calibration.mjs): marks and seconds to a verdict, false alarms, misses'],
    ['narrow', 'the narrowing window (bench/narrow.mjs): its CPU and memory on the 200 000-object app, marks to a where'],
  ];
  for (const [name, what] of halves) {
    if (process.argv.includes(`--no-${name}`)) continue;
    process.stderr.write(`bench: ${what}\n`);
    const code = await new Promise((res) => {
      const child = spawn(process.execPath, [join(ROOT, 'bench', `${name}.mjs`)], { stdio: 'inherit' });
      child.on('close', res);
    });
    if (code !== 0) throw new Error(`bench/${name}.mjs exited ${code}`);
  }
  // the emulated half (bench/emulated-cost.bench.ts, also `npm run bench:emulated`): opt-in, it needs the rig
  if (process.argv.includes('--emulated')) {
    process.stderr.write('bench: sampling cost on the emulated N810 (bench/emulated-cost.bench.ts)\n');
    const vitest = join(ROOT, 'node_modules', 'vitest', 'vitest.mjs');
    const code = await new Promise((res) => {
      const child = spawn(process.execPath, [vitest, 'run', '--config', join(ROOT, 'bench', 'vitest.config.ts'), join(ROOT, 'bench', 'emulated-cost.bench.ts')], { stdio: 'inherit', cwd: ROOT });
      child.on('close', res);
    });
    if (code !== 0) throw new Error(`bench/emulated-cost.bench.ts exited ${code}`);
  }
}

main().catch((err) => {
  process.stderr.write(`bench: ${err.stack || err}\n`);
  process.exit(1);
});
