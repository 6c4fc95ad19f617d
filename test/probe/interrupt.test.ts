/**
 * Issue 11: a soak stopped with SIGINT once lost one record in the middle of its numbering.
 * The app's signal handler raises KeyboardInterrupt in its thread, and a census at the app's
 * mark builds records there: an interrupt while a line was built took its seq and queued
 * nothing. Now the record still goes out and the interrupt goes on to the app. Every
 * interpreter found, the probe loaded as a module.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { afterAll, describe, expect, it } from 'vitest';
import { ROOT } from '../helpers/cli.js';
import { interpreters } from '../helpers/pythons.js';

const dirs: string[] = [];
afterAll(() => { for (const d of dirs) rmSync(d, { recursive: true, force: true }); });

const PROBE = join(ROOT, 'device-scripts', 'refscope_probe.py');
const APP = join(ROOT, 'test', 'probe', 'apps', 'interrupted_emit.py');

for (const py of interpreters()) {
  describe(`records under an interrupt, python ${py.label}`, () => {
    it('a KeyboardInterrupt while a record is built: the interrupt reaches the app, and the records keep every seq', () => {
      const out = mkdtempSync(join(tmpdir(), 'refscope-interrupt-'));
      dirs.push(out);
      const r = spawnSync(py.path, [APP, PROBE, out], { encoding: 'utf8', timeout: 30_000 });
      expect(r.status, r.stderr).toBe(0);
      expect(r.stdout).toBe('interrupted\n');
      const lines = readdirSync(out).filter((n) => /^seg-\d+\.jsonl$/.test(n)).sort()
        .flatMap((n) => readFileSync(join(out, n), 'utf8').split('\n').filter(Boolean))
        .map((l) => JSON.parse(l) as { seq: number; detail?: string });
      expect(lines.map((l) => l.seq)).toEqual([0, 1, 2]);
      expect(lines.map((l) => l.detail)).toEqual(['first', 'second', 'third']);
    });
  });
}
