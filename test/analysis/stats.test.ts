import { describe, expect, it } from 'vitest';
import {
  autocorrelationFactor,
  kendallVariance,
  lag1Autocorrelation,
  mad,
  mannKendall,
  median,
  normalCdf,
  theilSen,
  thinIndices,
} from '../../src/analysis/stats.js';
import { prng } from './synth.js';

describe('median and mad', () => {
  it('takes the middle value, or the mean of the two middle ones', () => {
    expect(median([3, 1, 2])).toBe(2);
    expect(median([4, 1, 3, 2])).toBe(2.5);
    expect(median([])).toBeNaN();
  });
  it('does not reorder its input', () => {
    const a = [3, 1, 2];
    median(a);
    expect(a).toEqual([3, 1, 2]);
  });
  it('scales the MAD to σ for normal data', () => {
    const rng = prng(1);
    const xs = Array.from({ length: 20000 }, () => {
      // Box–Muller
      const u = 1 - rng();
      const v = rng();
      return 5 * Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
    });
    expect(mad(xs)).toBeGreaterThan(4.8);
    expect(mad(xs)).toBeLessThan(5.2);
  });
});

describe('normalCdf', () => {
  it('matches known quantiles', () => {
    expect(normalCdf(0)).toBeCloseTo(0.5, 6);
    expect(normalCdf(1.959964)).toBeCloseTo(0.975, 5);
    expect(normalCdf(-2.326348)).toBeCloseTo(0.01, 5);
  });
});

describe('Mann–Kendall', () => {
  it('gives S = n(n-1)/2 for a strictly increasing series', () => {
    const r = mannKendall([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    expect(r.s).toBe(45);
    expect(r.variance).toBeCloseTo((10 * 9 * 25) / 18, 9);
    expect(r.pUp).toBeLessThan(0.001);
  });
  it('corrects the variance for ties', () => {
    // one group of 3 ties: the term 3·2·11 = 66 comes off n(n-1)(2n+5)
    expect(kendallVariance([1, 1, 1, 2, 3])).toBeCloseTo((5 * 4 * 15 - 66) / 18, 9);
    const flat = mannKendall([7, 7, 7, 7, 7]);
    expect(flat.s).toBe(0);
    expect(flat.pUp).toBe(1);
  });
  it('does not call iid noise a trend (false positive rate near the level)', () => {
    const rng = prng(42);
    let hits = 0;
    const trials = 400;
    for (let k = 0; k < trials; k++) {
      const ys = Array.from({ length: 30 }, () => Math.round(rng() * 20));
      if (mannKendall(ys).pUp < 0.05) hits++;
    }
    expect(hits / trials).toBeLessThan(0.09);
    expect(hits / trials).toBeGreaterThan(0.02);
  });
});

describe('autocorrelation', () => {
  it('sees repeated samples as autocorrelated and widens Var(S) for them', () => {
    const rng = prng(3);
    const iid = Array.from({ length: 60 }, () => rng());
    const repeated = iid.flatMap((v) => [v, v]);
    expect(Math.abs(lag1Autocorrelation(iid))).toBeLessThan(0.3);
    expect(lag1Autocorrelation(repeated)).toBeGreaterThan(0.4);
    expect(autocorrelationFactor(iid)).toBe(1);
    expect(autocorrelationFactor(repeated)).toBeGreaterThan(1.8);
  });
  it('makes the trend test honest on repeated samples', () => {
    const ys = [3, 1, 4, 1, 5, 9, 2, 6, 5, 3, 5, 8, 9, 7, 9].flatMap((v) => [v, v, v]);
    const plain = mannKendall(ys);
    const corrected = mannKendall(ys, 3);
    expect(corrected.pUp).toBeGreaterThan(plain.pUp);
  });
});

describe('Theil–Sen', () => {
  it('recovers the slope of a line exactly', () => {
    const x = [0, 1, 2, 3, 4, 5];
    const fit = theilSen(x, x.map((v) => 3 * v + 7))!;
    expect(fit.slope).toBe(3);
    expect(fit.intercept).toBe(7);
    expect(fit.low).toBe(3);
    expect(fit.high).toBe(3);
  });
  it('ignores outliers', () => {
    const x = Array.from({ length: 20 }, (_, i) => i);
    const y = x.map((v) => 2 * v);
    y[5] = 500;
    y[12] = -300;
    expect(theilSen(x, y)!.slope).toBeCloseTo(2, 9);
  });
  it('covers the true slope about 95 % of the time under noise', () => {
    const rng = prng(7);
    let covered = 0;
    const trials = 300;
    for (let k = 0; k < trials; k++) {
      const x = Array.from({ length: 25 }, (_, i) => i * 10 + Math.floor(rng() * 5));
      const y = x.map((v) => 0.5 * v + (rng() - 0.5) * 20);
      const fit = theilSen(x, y)!;
      if (fit.low <= 0.5 && 0.5 <= fit.high) covered++;
    }
    expect(covered / trials).toBeGreaterThan(0.9);
    expect(covered / trials).toBeLessThanOrEqual(1);
  });
  it('skips pairs with equal x and returns null when x never changes', () => {
    expect(theilSen([1, 1, 1], [1, 2, 3])).toBeNull();
    expect(theilSen([0, 0, 1, 1], [0, 0, 2, 2])!.slope).toBe(2);
  });
});

describe('thinIndices', () => {
  it('keeps all points when there are few, else spreads max over them keeping both ends', () => {
    expect(Array.from(thinIndices(4, 10))).toEqual([0, 1, 2, 3]);
    const idx = thinIndices(1000, 5);
    expect(Array.from(idx)).toEqual([0, 250, 500, 749, 999]);
  });
});
