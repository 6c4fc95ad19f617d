import { describe, expect, it } from 'vitest';
import { EnvelopeTable } from '../../src/analysis/envelope.js';

describe('EnvelopeTable (min/max per bucket)', () => {
  it('keeps a one-sample spike and the dip of a long series in a bounded number of points', () => {
    const e = new EnvelopeTable(100, 4, null);
    for (let i = 0; i < 200_000; i++) {
      const v = i === 123_457 ? 99_999 : i === 150_001 ? -5 : 1000 + (i % 7);
      e.add(i * 0.5, new Map([['rss', v]]));
    }
    const pts = e.points('rss');
    expect(pts.length).toBeLessThanOrEqual(200);
    expect(Math.max(...pts.map((p) => p.v))).toBe(99_999);
    expect(Math.min(...pts.map((p) => p.v))).toBe(-5);
    for (let i = 1; i < pts.length; i++) expect(pts[i]!.t).toBeGreaterThanOrEqual(pts[i - 1]!.t);
    expect(e.bucketSeconds * 100).toBeGreaterThanOrEqual(100_000);
  });

  it('is exact while every bucket holds one point, and orders min and max as they came', () => {
    const e = new EnvelopeTable(64, 4, null);
    [5, 9, 1].forEach((v, i) => e.add(i * 0.001, new Map([['x', v]])));
    e.add(10, new Map([['x', 3]]));
    const pts = e.points('x');
    // the first three fall into one bucket after widening: max 9 came before min 1
    expect(pts.map((p) => p.v)).toEqual([9, 1, 3]);
  });

  it('counts a type missing from a census as 0 (census tables), and a hostile t does not hang', () => {
    const e = new EnvelopeTable(16, 10, 0);
    e.add(0, new Map([['c:a', 5]]));
    e.add(1, new Map([['c:b', 7]]));
    expect(e.points('c:a').map((p) => p.v)).toEqual([5, 0]);
    expect(e.points('c:b').map((p) => p.v)).toEqual([0, 7]);
    const t0 = Date.now();
    e.add(1e300, new Map([['c:a', 1]]));
    e.add(-1e300, new Map([['c:a', 2]]));
    e.add(Number.NaN, new Map([['c:a', 3]]));
    expect(Date.now() - t0).toBeLessThan(200);
    expect(e.points('c:a').length).toBeLessThanOrEqual(32);
  });
});
