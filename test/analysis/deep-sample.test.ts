/**
 * Issue 13: a deep census that samples (1 in k objects, by address) measures a type's growth
 * from the objects it happened to take. Its record gives each type's sub-samples (`parts`);
 * the report's interval for an untracked type widens by how far they disagree: growth spread
 * over many objects is measured closely, growth in a few objects (which the sample may or may
 * not hold) gets a wide interval. At 1 in 1 nothing is sampled and nothing widens.
 */
import { describe, expect, it } from 'vitest';
import { analyseRecords } from '../../src/analysis/index.js';
import { sampledRate } from '../../src/analysis/suspects.js';
import type { Report } from '../../src/analysis/report.js';
import { DEEP_PARTS, toRecord, type ProbeRecord } from '../../src/session/records.js';
import { synthSession } from './synth.js';

/** A clean synthetic app plus a deep census at each census: `str` refsum growing by `perMark` (the estimate of all), split over the sub-samples by `split`. */
function withDeep(sample: number, perMark: number, split: number[], parts: boolean): ProbeRecord[] {
  const base = synthSession({ seed: 7, marks: 300, rate: 100, censusEvery: 0.25 });
  const out: ProbeRecord[] = [];
  for (const r of base) {
    out.push(r);
    if (r.k !== 'census') continue;
    const m = r.marks.frame ?? 0;
    // what the sample sees: 1/sample of the growth, shared out by `split`
    const seen = split.map((w) => Math.round((perMark / sample) * w * m));
    const counts = split.map(() => 250);
    const refs = seen.map((g, j) => 1200 + 10 * j + g);
    out.push({
      seq: 0, t: r.t + 0.001, k: 'deep', marks: { ...r.marks }, dur: 0.02, sample, walked: 50_000, held: 2000,
      types: [['str', 2000, refs.reduce((a, b) => a + b, 0)]],
      ...(parts ? { parts: [['str', counts, refs]] } : {}),
    } as ProbeRecord);
  }
  return out.map((r, i) => ({ ...r, seq: i }));
}

const EVEN = new Array<number>(DEEP_PARTS).fill(1 / DEEP_PARTS);
const ONE = [1, ...new Array<number>(DEEP_PARTS - 1).fill(0)];

async function strSuspect(records: ProbeRecord[]): Promise<Report['suspects'][number]> {
  const report = await analyseRecords(records, { id: 'deep-sample' });
  const s = report.suspects.find((x) => x.type === 'str' && x.kind === 'refcount-growth');
  expect(s, JSON.stringify(report.suspects.map((x) => [x.kind, x.type, x.confidence]))).toBeDefined();
  return s!;
}

describe('the interval of a sampled deep census', () => {
  it('growth spread over the whole sample: a close interval around the true rate', async () => {
    const s = await strSuspect(withDeep(4, 60, EVEN, true));
    expect(s.untracked).toBe(true);
    expect(s.perMark!.value).toBeCloseTo(60, 0);
    expect(s.interval!.low).toBeGreaterThan(50);
    expect(s.interval!.high).toBeLessThan(70);
  });

  it('growth in one sub-sample only: the same estimate, an interval wide enough to say the sample may be far off', async () => {
    const even = await strSuspect(withDeep(4, 60, EVEN, true));
    const lumpy = await strSuspect(withDeep(4, 60, ONE, true));
    expect(lumpy.perMark!.value).toBeCloseTo(60, 0);
    const width = (x: typeof even) => x.interval!.high - x.interval!.low;
    expect(width(lumpy)).toBeGreaterThan(10 * Math.max(1, width(even)));
    expect(lumpy.interval!.low).toBeLessThan(0);
    expect(lumpy.interval!.high).toBeGreaterThan(150);
  });

  it('without sub-samples (1 in 1, or an older probe) the interval is the fit\'s', async () => {
    const plain = await strSuspect(withDeep(4, 60, ONE, false));
    expect(plain.interval!.high - plain.interval!.low).toBeLessThan(5);
    const rate = { value: 60, low: 59, high: 61, per: 'mark' as const };
    expect(sampledRate(rate, undefined, 'refsum')).toEqual(rate);
    const zero = new Array<number>(DEEP_PARTS).fill(0);
    expect(sampledRate(rate, { sample: 1, count: zero, refsum: ONE }, 'refsum')).toEqual(rate);
    // a spread of zero widens nothing
    expect(sampledRate(rate, { sample: 8, count: zero, refsum: EVEN }, 'refsum')).toEqual(rate);
  });

  it('parses a deep record\'s sub-samples, and refuses malformed ones', () => {
    const ones = new Array<number>(DEEP_PARTS).fill(1);
    const twos = new Array<number>(DEEP_PARTS).fill(2);
    const ok = toRecord({ seq: 1, t: 1, k: 'deep', marks: {}, dur: 0, sample: 4, walked: 1, held: 1, types: [['str', 4, 8]],
      parts: [['str', ...ones, ...twos]] });
    expect(ok).toMatchObject({ k: 'deep', parts: [['str', ones, twos]] });
    for (const parts of [[['str', ...ones, ...twos.slice(1)]], [['str', ...ones.slice(1), 'x', ...twos]], 'str', [[5, ...ones, ...twos]]]) {
      expect(toRecord({ seq: 1, t: 1, k: 'deep', marks: {}, dur: 0, sample: 4, types: [['str', 4, 8]], parts }), JSON.stringify(parts)).toBeNull();
    }
  });
});
