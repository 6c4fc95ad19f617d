/**
 * The probe pins glibc's mmap threshold at its default (device-scripts/probe/loader.py): its
 * own big temporary blocks (the census's object list, the deep census's table) go back to the
 * system when freed, instead of staying as heap that moves RSS in steps of the probe's making
 * (a clean app's RSS jumped once mid-run and was called a native leak on 2.7; a leak of C
 * objects on 2.5 stayed flat, then jumped, and was missed). It starts again with the variable
 * set (same pid) and takes it out of the app's environment. Every interpreter found.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ROOT } from '../helpers/cli.js';
import { interpreters } from '../helpers/pythons.js';

const dirs: string[] = [];
afterAll(() => { for (const d of dirs) rmSync(d, { recursive: true, force: true }); });

const PROBE = join(ROOT, 'device-scripts', 'refscope_probe.py');
const APP = join(ROOT, 'test', 'probe', 'apps', 'big_blocks.py');

interface Seen { held: number; variable: string; marker: string; pid: number; startPid: number | null }

function run(py: string, probed: boolean, env: NodeJS.ProcessEnv = {}): Seen {
  const out = mkdtempSync(join(tmpdir(), 'refscope-malloc-'));
  dirs.push(out);
  const base = { ...process.env };
  delete base.MALLOC_MMAP_THRESHOLD_;
  delete base.GLIBC_TUNABLES;
  delete base.REFSCOPE_MALLOC;
  const argv = probed ? [PROBE, '--out', out, '--', APP] : [APP];
  const r = spawnSync(py, argv, { encoding: 'utf8', timeout: 60_000, env: { ...base, ...env } });
  expect(r.status, r.stderr).toBe(0);
  const m = /^held=(-?\d+) var=(\S+) marker=(\S+) pid=(\d+)$/m.exec(r.stdout);
  expect(m, r.stdout).not.toBeNull();
  let startPid: number | null = null;
  if (probed) {
    const first = readFileSync(join(out, 'seg-000001.jsonl'), 'utf8').split('\n')[0]!;
    startPid = (JSON.parse(first) as { pid: number }).pid;
  }
  return { held: Number(m![1]), variable: m![2]!, marker: m![3]!, pid: Number(m![4]), startPid };
}

const glibc = ((): boolean => {
  const r = spawnSync('getconf', ['GNU_LIBC_VERSION'], { encoding: 'utf8' });
  return r.status === 0 && r.stdout.startsWith('glibc');
})();

for (const py of interpreters()) {
  describe(`glibc's mmap threshold under the probe, python ${py.label}`, () => {
    it.skipIf(!glibc)(`big blocks freed go back to the system under the probe, not bare; the app sees its own environment${glibc ? '' : ' (skipped: not glibc)'}`, () => {
      const bare = run(py.path, false);
      // bare, glibc keeps freed big blocks once its threshold has risen: the effect pinned away
      expect(bare.held).toBeGreaterThan(3 * 1024);
      const probed = run(py.path, true);
      expect(probed.held).toBeLessThan(1024);
      // the app's environment is its own, and the probe's restart kept the pid
      expect(probed.variable).toBe('-');
      expect(probed.marker).toBe('-');
      expect(probed.startPid).toBe(probed.pid);
    });

    it.skipIf(!glibc)(`left alone when the user set the threshold, or with REFSCOPE_MALLOC=keep${glibc ? '' : ' (skipped: not glibc)'}`, () => {
      const own = run(py.path, true, { MALLOC_MMAP_THRESHOLD_: '65536' });
      expect(own.variable).toBe('65536');
      expect(own.held).toBeLessThan(1024); // the user's own pin, at 64 KiB
      const keep = run(py.path, true, { REFSCOPE_MALLOC: 'keep' });
      expect(keep.variable).toBe('-');
      expect(keep.held).toBeGreaterThan(3 * 1024);
    });
  });
}
