/**
 * Measurement, not a check (runs only with REFSCOPE_BENCH=1): on the emulated N810, the
 * native sampler's CPU per 1000 samples against the probe's own Python sampling, both at a
 * 0.05 s interval over the same 30 s idle app, the census pushed out of the way.
 *
 *   REFSCOPE_BENCH=1 npx vitest run test/emulated/cost
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readNative } from '../../src/session/native.js';
import { openSession } from '../../src/session/reader.js';
import { runCli } from '../helpers/cli.js';
import { emulatedUnavailable, startEmulated } from '../rig/emulated.js';

const bench = process.env.REFSCOPE_BENCH === '1';
const why = bench ? emulatedUnavailable() : 'REFSCOPE_BENCH=1 not set';

describe.skipIf(why !== null)(`sampling cost on the emulated N810${why ? ` (skipped: ${why})` : ''}`, () => {
  it('native sampler vs the probe, CPU per 1000 samples', async () => {
    const dev = await startEmulated();
    const home = mkdtempSync(join(tmpdir(), 'refscope-home-'));
    const work = mkdtempSync(join(tmpdir(), 'refscope-cost-'));
    try {
      mkdirSync(join(home, '.ssh'), { mode: 0o700 });
      writeFileSync(join(home, '.ssh', 'config'), `Host n810\n  HostName 127.0.0.1\n  Port ${dev.port}\n  User root\n  IdentityFile ${dev.identityFile}\n`);
      writeFileSync(join(home, '.ssh', 'known_hosts'), readFileSync(dev.knownHosts));
      const s = join(work, 'idle');
      const r = await runCli(['run', 'n810', '--push', 'test/emulated/apps', '--out', s, '--interval', '0.05', '--census-budget', '0.0001', '--', 'apps/idle.py', '30'],
        { env: { HOME: home, SSH_AUTH_SOCK: '', REFSCOPE_SAMPLER_INTERVAL: '0.05' }, timeoutMs: 300_000 });
      expect(r.code, r.stderr).toBe(0);
      const session = await openSession(s);
      let samples = 0, probeCpu = 0, other = 0;
      for await (const rec of session.records()) {
        if (rec.k === 'sample') { samples++; probeCpu = rec.probeCpu; }
        if (rec.k === 'census' || rec.k === 'referrers') other += rec.dur;
      }
      const native = (await readNative(s))!;
      const nCpu = native.end!.samplerCpu[0] + native.end!.samplerCpu[1];
      const line = `emulated N810, 30 s idle app, 0.05 s interval: native sampler ${native.end!.samples} samples, ${(nCpu * 1000 / native.end!.samples).toFixed(3)} s CPU per 1000 (whole process, qemu included); ` +
        `probe ${samples} samples, ${(((probeCpu - other) * 1000) / samples).toFixed(3)} s CPU per 1000 (its sampling thread, census excluded)\n`;
      process.stderr.write(line);
      writeFileSync(join(tmpdir(), 'refscope-emulated-cost.txt'), line);
    } finally {
      await dev.stop();
      rmSync(home, { recursive: true, force: true });
      rmSync(work, { recursive: true, force: true });
    }
  }, 400_000);
});
