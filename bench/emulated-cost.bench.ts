/**
 * Sampling cost on the emulated N810 (a measurement, not a check; was test/emulated/cost.test.ts):
 * the native sampler's CPU per 1000 samples against the probe's own Python sampling, both
 * at a 0.05 s interval over the same 30 s idle app, the census pushed out of the way.
 *
 *   npm run bench:emulated      # = npm run build && npm run build:cross && vitest run --config bench/vitest.config.ts bench/emulated-cost.bench.ts
 *
 * Prints one line of figures (and keeps it in $TMPDIR/refscope-emulated-cost.txt); without
 * the emulated device (root, qemu-user, binfmt, the armel rootfs) it prints why and measures
 * nothing. A run that fails throws with the CLI's stderr.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { it } from 'vitest';
import { readNative } from '../src/session/native.js';
import { openSession } from '../src/session/reader.js';
import { ROOT, runCli } from '../test/helpers/cli.js';
import { emulatedUnavailable, startEmulated } from '../test/rig/emulated.js';

const APP_SECONDS = 30;
const INTERVAL = 0.05;

it('emulated N810: native sampler vs the probe, CPU per 1000 samples', async () => {
  const why = emulatedUnavailable();
  if (why !== null) {
    process.stdout.write(`\nrefscope emulated cost bench: skipped (${why})\n\n`);
    return;
  }
  const dev = await startEmulated();
  const home = mkdtempSync(join(tmpdir(), 'refscope-home-'));
  const work = mkdtempSync(join(tmpdir(), 'refscope-cost-'));
  try {
    mkdirSync(join(home, '.ssh'), { mode: 0o700 });
    writeFileSync(join(home, '.ssh', 'config'), `Host n810\n  HostName 127.0.0.1\n  Port ${dev.port}\n  User root\n  IdentityFile ${dev.identityFile}\n`);
    writeFileSync(join(home, '.ssh', 'known_hosts'), readFileSync(dev.knownHosts));
    const s = join(work, 'idle');
    const r = await runCli(['run', 'n810', '--push', join(ROOT, 'bench', 'apps', 'emulated'), '--out', s, '--interval', String(INTERVAL), '--census-budget', '0.0001',
      '--', 'emulated/idle.py', String(APP_SECONDS)],
    { env: { HOME: home, SSH_AUTH_SOCK: '', REFSCOPE_SAMPLER_INTERVAL: String(INTERVAL) }, timeoutMs: 300_000 });
    if (r.code !== 0) throw new Error(`refscope run on the emulated N810 exited ${r.code}:\n${r.stderr}`);
    const session = await openSession(s);
    let samples = 0;
    let probeCpu = 0;
    let other = 0;
    for await (const rec of session.records()) {
      if (rec.k === 'sample') { samples++; probeCpu = rec.probeCpu; }
      if (rec.k === 'census' || rec.k === 'referrers') other += rec.dur;
    }
    const native = await readNative(s);
    if (!native?.end) throw new Error(`no native sampler records in ${s}: the sampler did not run (cross/build.sh built it?)`);
    const nCpu = native.end.samplerCpu[0] + native.end.samplerCpu[1];
    const line = `emulated N810, ${APP_SECONDS} s idle app, ${INTERVAL} s interval: native sampler ${native.end.samples} samples, ${(nCpu * 1000 / native.end.samples).toFixed(3)} s CPU per 1000 (whole process, qemu included); `
      + `probe ${samples} samples, ${(((probeCpu - other) * 1000) / samples).toFixed(3)} s CPU per 1000 (its sampling thread, census excluded)`;
    process.stdout.write(`\nrefscope emulated cost bench\n  ${line}\n\n`);
    writeFileSync(join(tmpdir(), 'refscope-emulated-cost.txt'), `${line}\n`);
  } finally {
    await dev.stop();
    rmSync(home, { recursive: true, force: true });
    rmSync(work, { recursive: true, force: true });
  }
}, 400_000);
