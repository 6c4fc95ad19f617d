/**
 * The probe watches the app without becoming part of it: nothing of the app's is kept alive
 * by the probe (a referrers pass found each growing class's container, and the probe once kept
 * up to 32 of them for good), and the probe's own bookkeeping is not counted as the app's
 * growth (its per-type history, a new tuple per type per census, crept into a clean app's
 * tuple count on 3.13: a tuple suspect at confidence 0.5), nor are the modules it imports in the
 * middle of a run (tracemalloc's import read as a dict refcount leak). 2.7, the oldest and
 * newest 3.x, 2.5.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ROOT } from '../helpers/cli.js';
import { spreadInterpreters } from '../helpers/pythons.js';

const dirs: string[] = [];
afterAll(() => { for (const d of dirs) rmSync(d, { recursive: true, force: true }); });

const PROBE = join(ROOT, 'device-scripts', 'refscope_probe.py');

interface Census { seq: number; marks: Record<string, number>; types: [string, number, number][] }

function probe(py: string, app: string, args: string[]): { stdout: string; stderr: string; censuses: Census[]; kinds: Set<string>; narrows: { method: string; type: string }[] } {
  const out = mkdtempSync(join(tmpdir(), 'refscope-own-'));
  dirs.push(out);
  const r = spawnSync(py, [PROBE, '--out', out, '--', app, ...args], {
    encoding: 'utf8', timeout: 90_000, cwd: ROOT,
    env: { ...process.env, PYTHONPATH: join(ROOT, 'test', 'fixtures') },
  });
  expect(r.status, r.stderr).toBe(0);
  const censuses: Census[] = [];
  const kinds = new Set<string>();
  const narrows: { method: string; type: string }[] = [];
  for (const line of readFileSync(join(out, 'seg-000001.jsonl'), 'utf8').split('\n')) {
    if (line === '') continue;
    const rec = JSON.parse(line) as { k: string } & Census;
    kinds.add(rec.k);
    if (rec.k === 'census') censuses.push(rec);
    if (rec.k === 'narrow') narrows.push(rec as unknown as { method: string; type: string });
  }
  return { stdout: r.stdout, stderr: r.stderr, censuses, kinds, narrows };
}

function count(c: Census, type: string): number {
  const e = c.types.find((t) => t[0] === type);
  return e ? e[1] : 0;
}

for (const py of spreadInterpreters()) {
  describe(`the probe's own state, python ${py.label}`, () => {
    it('keeps none of the app\'s objects alive: 40 growing pools dropped, 0 instances left', () => {
      const r = probe(py.path, join(ROOT, 'test', 'probe', 'apps', 'dropped_pools.py'), ['150']);
      // the pools were suspects and their holders were looked for, so the probe met them
      expect(r.kinds.has('referrers'), r.stderr).toBe(true);
      expect(r.stdout).toMatch(/^alive=0 frames=150$/m);
    });

    it('is not counted as the app\'s tuples: a clean app with 300 classes, tuples flat from the 3rd census on', () => {
      const r = probe(py.path, join(ROOT, 'test', 'fixtures', 'many_types.py'), ['--frames', '300', '--clean']);
      const mid = r.censuses.filter((c) => (c.marks.frame ?? 0) > 0);
      expect(mid.length, r.stderr).toBeGreaterThanOrEqual(8);
      // the app keeps no tuple from frame to frame: what changes is the probe's, or noise of a few
      const first = count(mid[1]!, 'tuple');
      const last = count(mid[mid.length - 2]!, 'tuple');
      expect(Math.abs(last - first), mid.map((c) => count(c, 'tuple')).join(' ')).toBeLessThanOrEqual(3);
    });

    it.skipIf(py.label.startsWith('2.'))('its own import mid-run (tracemalloc, for a window) is not the app\'s growth: dicts and functions flat', () => {
      const r = probe(py.path, join(ROOT, 'test', 'probe', 'apps', 'set_growth.py'), ['300']);
      // the window ran, by tracemalloc, which the probe imported then (the app never does)
      expect(r.narrows.some((n) => n.method === 'tracemalloc'), JSON.stringify(r.narrows)).toBe(true);
      expect(r.stdout).toMatch(/^kept=300 tracemalloc=True$/m);
      const mid = r.censuses.filter((c) => (c.marks.frame ?? 0) > 0);
      for (const type of ['dict', 'function']) {
        const counts = mid.slice(1, -1).map((c) => count(c, type));
        // its import adds hundreds of dicts and functions (tracemalloc, pickle, fnmatch ...)
        expect(Math.max(...counts) - Math.min(...counts), `${type}: ${counts.join(' ')}`).toBeLessThanOrEqual(5);
      }
    });
  });
}
