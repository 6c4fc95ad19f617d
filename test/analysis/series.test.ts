import { describe, expect, it } from 'vitest';
import { buildSeries } from '../../src/analysis/series.js';
import type { ProbeRecord } from '../../src/session/records.js';

function census(seq: number, t: number, marks: Record<string, number>, types: [string, number, number][]): ProbeRecord {
  return { seq, t, k: 'census', marks, dur: 0.01, n: 0, types };
}

describe('buildSeries', () => {
  it('chooses the most-called mark as primary and keeps final mark counts', async () => {
    const s = await buildSeries([
      census(1, 1, { frame: 10, click: 2 }, [['list', 5, 5]]),
      census(2, 2, { frame: 20, click: 40 }, [['list', 6, 6]]),
    ]);
    expect(s.primaryMark).toBe('click');
    expect(s.marks).toEqual({ frame: 20, click: 40 });
    expect(Array.from(s.census.x!)).toEqual([2, 40]);
  });

  it('gives a type absent from a census a count of 0 there', async () => {
    const s = await buildSeries([
      census(1, 1, {}, [['list', 5, 5]]),
      census(2, 2, {}, [['list', 5, 5], ['app.A', 2, 3]]),
      census(3, 3, {}, [['list', 5, 5]]),
    ]);
    expect(Array.from(s.census.types.get('app.A')!.count)).toEqual([0, 2, 0]);
    expect(Array.from(s.census.types.get('app.A')!.refsum)).toEqual([0, 3, 0]);
    expect(s.primaryMark).toBeNull();
    expect(s.census.x).toBeNull();
  });

  it('thins long sessions deterministically, keeping the first and the last census', async () => {
    function* records(): Generator<ProbeRecord> {
      for (let i = 0; i < 10_001; i++) yield census(i, i, { frame: i }, [['app.A', i, 2 * i]]);
    }
    const a = await buildSeries(records(), 200);
    const b = await buildSeries(records(), 200);
    expect(a.census.t.length).toBeLessThanOrEqual(200);
    expect(a.census.t.length).toBeGreaterThanOrEqual(100);
    expect(a.census.t[0]).toBe(0);
    expect(a.census.t[a.census.t.length - 1]).toBe(10_000);
    expect(Array.from(a.census.t)).toEqual(Array.from(b.census.t));
    // the rows stay aligned: count = t, refsum = 2t, x = t
    const A = a.census.types.get('app.A')!;
    for (let i = 0; i < a.census.t.length; i++) {
      expect(A.count[i]).toBe(a.census.t[i]);
      expect(A.refsum[i]).toBe(2 * a.census.t[i]!);
      expect(a.census.x![i]).toBe(a.census.t[i]);
    }
    // evenly spread: strictly increasing, equal steps except possibly the last
    const steps = new Set<number>();
    for (let i = 1; i < a.census.t.length - 1; i++) steps.add(a.census.t[i]! - a.census.t[i - 1]!);
    expect(steps.size).toBe(1);
    expect(a.censuses).toBe(10_001);
  });

  it('leaves out the census taken after the app ended (teardown frees the objects)', async () => {
    const s = await buildSeries([
      census(1, 1, { frame: 1 }, [['app.A', 1, 1]]),
      census(2, 2, { frame: 2 }, [['app.A', 2, 2]]),
      census(3, 3, { frame: 2 }, []),
      { seq: 4, t: 3.1, k: 'end', how: 'exit', exit: 0, error: null, probeCpu: 0, censuses: 3, records: 5 },
    ]);
    expect(Array.from(s.census.t)).toEqual([1, 2]);
    expect(Array.from(s.census.types.get('app.A')!.count)).toEqual([1, 2]);
    expect(s.censuses).toBe(3);
  });

  it('sorts census points by time when records came out of order', async () => {
    const s = await buildSeries([
      census(1, 1, {}, [['list', 1, 1]]),
      census(3, 3, {}, [['list', 3, 3]]),
      census(2, 2, {}, [['list', 2, 2]]),
    ]);
    expect(Array.from(s.census.t)).toEqual([1, 2, 3]);
    expect(Array.from(s.census.types.get('list')!.count)).toEqual([1, 2, 3]);
  });

  it('merges referrers records: a holder keeps its largest count in one record', async () => {
    const s = await buildSeries([
      { seq: 1, t: 1, k: 'referrers', type: 'app.W', sampled: 3, holders: [['attribute A.b', 3], ['x', 1]], unexplained: 0, dur: 0 },
      { seq: 2, t: 2, k: 'referrers', type: 'app.W', sampled: 3, holders: [['attribute A.b', 2], ['y', 4]], unexplained: 1, dur: 0 },
    ]);
    const agg = s.referrers.get('app.W')!;
    expect(Object.fromEntries(agg.holders)).toEqual({ 'attribute A.b': 3, x: 1, y: 4 });
    expect(agg.records).toBe(2);
  });
});
