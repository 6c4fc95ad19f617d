/**
 * The deep census (issue 13 item 1) on objects of known number and references, on every
 * interpreter found: untracked floats counted once each (3000 held by a list), with one
 * reference each (the observer's own references corrected by the calibration), the
 * interpreter's cached small ints left out,
 * and the walk's bound (ids held) reported and within its cap; and, with more objects than
 * that cap, the walk sampling less as it goes (no deep census lost), its sub-samples adding up.
 */
import { afterAll, describe, expect, it } from 'vitest';
import type { DeepRecord } from '../../src/session/records.js';
import { matrixInterpreters } from '../helpers/pythons.js';
import { readRecords, removeDir, runProbe, tempDir } from './harness.js';

const dirs: string[] = [];
afterAll(() => { for (const d of dirs) removeDir(d); });

for (const py of matrixInterpreters()) {
  describe(`the deep census under python ${py.label}`, () => {
    it('counts untracked objects once each, with their references, and leaves the cached small ints out', async () => {
      const out = tempDir('deep');
      dirs.push(out);
      // a generous budget: deep censuses at most marks, so the app's state is counted several times
      const r = await runProbe(py, out, ['--census-budget', '0.5'], ['deep_app.py'], { timeoutMs: 60_000 });
      expect(r.status, r.stderr.toString()).toBe(0);
      const records = readRecords(out).all;
      // the probe's own steps all ran (a calibration that raised was once only an event)
      expect(records.filter((x) => x.k === 'event' && x.event === 'probe-error')).toEqual([]);
      const deep = records.filter((x): x is DeepRecord => x.k === 'deep');
      // the baseline's, and at least two while the app holds its objects
      expect(deep.length).toBeGreaterThanOrEqual(3);
      const during = deep.filter((d) => (d.marks.frame ?? 0) >= 1 && (d.marks.frame ?? 0) < 60);
      expect(during.length).toBeGreaterThanOrEqual(2);
      for (const d of during) {
        expect(d.held).toBeLessThanOrEqual(8192);
        const of = (name: string) => d.types.find((e) => e[0] === name);
        const floats = of('float')!;
        // 3000 of the app's, a few of the interpreter's and the probe's own (its clocks)
        expect(floats[1] * d.sample).toBeGreaterThanOrEqual(3000);
        expect(floats[1] * d.sample).toBeLessThan(3000 + 200);
        if (d.sample === 1) {
          // each held once: the float refsum is one per float, give or take the few others
          expect(floats[2]).toBeGreaterThanOrEqual(3000);
          expect(floats[2]).toBeLessThan(3000 + 400);
        }
      }
      // from frame 30 the app holds 500 references to cached small ints: left out, so the
      // ints' summed references do not jump by them
      const intRefs = (d: DeepRecord) => (d.types.find((e) => e[0] === 'int')?.[2] ?? 0) * d.sample;
      const before = during.filter((d) => d.marks.frame! < 30).at(-1);
      const after = during.filter((d) => d.marks.frame! > 31).at(-1);
      expect(before && after).toBeTruthy();
      expect(Math.abs(intRefs(after!) - intRefs(before!))).toBeLessThan(100);
    });

    it('meeting more objects than it may hold ids for, it samples less and goes on: no deep census lost, its sub-samples add up', async () => {
      const out = tempDir('deep-many');
      dirs.push(out);
      const r = await runProbe(py, out, ['--census-budget', '0.5'], ['deep_many.py'], { timeoutMs: 60_000 });
      expect(r.status, r.stderr.toString()).toBe(0);
      const all = readRecords(out).all;
      const deep = all.filter((x): x is DeepRecord => x.k === 'deep');
      // the very first census (before the app's first frame) has its deep census: the walk
      // that met too many went on with half the buckets instead of being thrown away
      const firstCensus = all.find((x) => x.k === 'census')!;
      expect(deep.length).toBeGreaterThanOrEqual(2);
      expect(Math.abs(deep[0]!.t - firstCensus.t)).toBeLessThan(1);
      for (const d of deep.filter((x) => (x.marks.frame ?? 0) >= 1)) {
        expect(d.held).toBeLessThanOrEqual(8192);
        expect(d.sample).toBeGreaterThanOrEqual(4);
        const floats = d.types.find((e) => e[0] === 'float')!;
        // 20000 floats (and a few of the interpreter's), estimated from 1 in `sample`: within a fifth
        expect(floats[1] * d.sample).toBeGreaterThan(16000);
        expect(floats[1] * d.sample).toBeLessThan(24000);
        // each float has two references
        expect(floats[2] / floats[1]).toBeGreaterThan(1.8);
        expect(floats[2] / floats[1]).toBeLessThan(2.3);
        // the sub-samples are the sample split in 8: they add up to it
        const parts = d.parts!.find((e) => e[0] === 'float')!;
        expect(parts[1].length).toBe(8);
        expect(parts[1].reduce((a, b) => a + b, 0)).toBe(floats[1]);
        expect(parts[2].reduce((a, b) => a + b, 0)).toBe(floats[2]);
      }
    });
  });
}
