/**
 * One controller, many devices (issue 17): `refscope farm run --concurrency C` on N simulated
 * devices, each its own dropbear server on loopback with its own host key and login (a rig
 * device: busybox sh, a Python on PATH), running a short app (steady.py, 150 frames). Reports
 * wall time, the controller's peak RSS (VmHWM polled every 50 ms, and the summary's maxRSS),
 * its CPU seconds (utime + stime from /proc, the last read before it exits) and per-run times.
 * The devices' apps run on this machine too: the wall time is theirs as much as the
 * controller's; the controller's own cost is its CPU seconds and memory.
 *
 *   FARM_DEVICES=200 FARM_CONCURRENCY=32 npx vitest run --config bench/vitest.config.ts bench/farm-scale.bench.ts
 *
 * Not part of `npm test` nor of `npm run bench`. Needs the rig (root, dropbear, busybox), a
 * CPython 3 under pyenv and a built dist/.
 */
import { readFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { it } from 'vitest';
import type { FarmSummary } from '../src/farm/run.js';
import { ROOT, startCli } from '../test/helpers/cli.js';
import { watchPeak } from '../test/helpers/peak.js';
import { coreInterpreters } from '../test/helpers/pythons.js';
import { makeDevice, type RigDevice } from '../test/rig/device.js';
import { serverAvailable, startServer, type RigServer } from '../test/rig/servers.js';

const N = Number(process.env.FARM_DEVICES ?? 200);
const C = Number(process.env.FARM_CONCURRENCY ?? 32);
const FRAMES = Number(process.env.FARM_FRAMES ?? 150);

/** utime + stime of PID in seconds, or null once it is gone */
function cpuSeconds(pid: number): number | null {
  try {
    const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return (Number(f[11]) + Number(f[12])) / 100; // fields 14 and 15, in clock ticks (USER_HZ = 100)
  } catch {
    return null;
  }
}

it(`farm run: ${N} dropbear devices, concurrency ${C}`, async () => {
  const why = serverAvailable('dropbear');
  const py = coreInterpreters().at(-1);
  if (why || !py) throw new Error(`cannot run: ${why ?? 'no CPython 3 under pyenv'}`);
  const work = mkdtempSync(join(tmpdir(), 'refscope-farm-scale-'));
  const devices: RigDevice[] = [];
  const servers: RigServer[] = [];
  try {
    const t0 = Date.now();
    for (let i = 0; i < N; i++) {
      const d = makeDevice({ pythons: { python3: py.path } });
      devices.push(d);
      servers.push(await startServer('dropbear', d));
    }
    process.stderr.write(`farm-scale: ${N} dropbear devices started in ${((Date.now() - t0) / 1000).toFixed(1)} s\n`);
    writeFileSync(join(work, 'known_hosts'), servers.map((s) => readFileSync(s.knownHosts, 'utf8')).join(''));
    writeFileSync(join(work, 'farm.yaml'), [
      'devices:',
      ...servers.map((s, i) => `  - { name: sim${String(i).padStart(3, '0')}, host: 127.0.0.1, port: ${s.port}, user: root, identityFile: ${s.identityFile}, knownHosts: known_hosts }`),
      'apps:',
      `  - { name: steady, push: ${join(ROOT, 'test', 'fixtures')}, script: fixtures/steady.py, args: [--frames, ${FRAMES}] }`,
      '',
    ].join('\n'));
    const t1 = Date.now();
    const cli = startCli(['farm', 'run', join(work, 'farm.yaml'), '--concurrency', String(C), '--out', join(work, 'out'), '--json'], { timeoutMs: 1_800_000 });
    const peak = watchPeak(cli.child.pid!);
    let cpu = 0;
    const cpuTimer = setInterval(() => { const c = cpuSeconds(cli.child.pid!); if (c !== null) cpu = c; }, 200);
    const r = await cli.result;
    clearInterval(cpuTimer);
    const wall = (Date.now() - t1) / 1000;
    const hwm = peak.stop();
    if (r.code !== 0) throw new Error(`farm run exited ${r.code}: ${r.stderr.slice(-3000)}`);
    const s = JSON.parse(r.stdout.toString()) as FarmSummary;
    const verdicts = new Map<string, number>();
    for (const x of s.results) verdicts.set(x.verdict, (verdicts.get(x.verdict) ?? 0) + 1);
    const secs = s.results.map((x) => x.seconds).sort((a, b) => a - b);
    const q = (p: number) => secs[Math.min(secs.length - 1, Math.floor(p * secs.length))]!.toFixed(1);
    process.stderr.write([
      `farm-scale: ${N} devices, concurrency ${C}, steady.py ${FRAMES} frames`,
      `  wall ${wall.toFixed(1)} s (${(N / wall).toFixed(2)} runs/s); verdicts ${[...verdicts].map(([v, n]) => `${n} ${v}`).join(', ')}`,
      `  controller peak RSS ${hwm.toFixed(0)} MiB (VmHWM), ${(s.controllerMaxRssKiB / 1024).toFixed(0)} MiB (its own maxRSS); CPU ${cpu.toFixed(1)} s (${(cpu / N).toFixed(2)} s per run, ${(100 * cpu / wall).toFixed(0)} % of one core)`,
      `  per run: median ${q(0.5)} s, p90 ${q(0.9)} s, max ${secs.at(-1)!.toFixed(1)} s`,
      '',
    ].join('\n'));
  } finally {
    for (const sv of servers) await sv.stop().catch(() => undefined);
    for (const d of devices) { try { d.cleanup(); } catch { /* reported by the rig */ } }
    rmSync(work, { recursive: true, force: true });
  }
}, 1_800_000);
