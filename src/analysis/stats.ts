/**
 * Robust statistics for short, noisy, possibly tied series: medians, the Theil–Sen slope
 * with Sen's confidence interval, and the Mann–Kendall trend test with tie correction.
 * Inputs are plain numeric arrays (or typed arrays) of equal length; nothing here allocates
 * more than O(n²) for n points, so callers thin long series first (see `thin`).
 */

export type Num = ArrayLike<number>;

/** Median of the values (NaN for none). Does not modify the input. */
export function median(values: Num): number {
  const n = values.length;
  if (n === 0) return NaN;
  const s = Float64Array.from(values as ArrayLike<number>).sort();
  const mid = n >> 1;
  return n % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

/** Median absolute deviation from the median, scaled to estimate σ for normal data. */
export function mad(values: Num): number {
  const m = median(values);
  const dev = new Float64Array(values.length);
  for (let i = 0; i < values.length; i++) dev[i] = Math.abs(values[i]! - m);
  return 1.4826 * median(dev);
}

/** Standard normal CDF (Abramowitz & Stegun 7.1.26 via erfc; |error| < 1.5e-7). */
export function normalCdf(z: number): number {
  const x = Math.abs(z) / Math.SQRT2;
  const t = 1 / (1 + 0.3275911 * x);
  const poly = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429))));
  const erfc = poly * Math.exp(-x * x);
  return z >= 0 ? 1 - erfc / 2 : erfc / 2;
}

/** Σ t(t-1)(2t+5) over groups of tied values: the tie term of Var(S). */
function tieTerm(values: Num): number {
  const s = Float64Array.from(values as ArrayLike<number>).sort();
  let term = 0;
  let run = 1;
  for (let i = 1; i <= s.length; i++) {
    if (i < s.length && s[i] === s[i - 1]) {
      run++;
    } else {
      if (run > 1) term += run * (run - 1) * (2 * run + 5);
      run = 1;
    }
  }
  return term;
}

/** Var(S) of the Mann–Kendall statistic with the correction for ties in y. */
export function kendallVariance(y: Num): number {
  const n = y.length;
  return (n * (n - 1) * (2 * n + 5) - tieTerm(y)) / 18;
}

export interface MannKendall {
  /** Kendall's S: Σ sign(y_j − y_i) over i < j */
  s: number;
  variance: number;
  /** continuity-corrected normal score */
  z: number;
  /** one-sided p-value for an increasing trend */
  pUp: number;
  /** two-sided p-value */
  p: number;
}

/**
 * Lag-1 autocorrelation of a series (0 for fewer than 3 points or no spread). Used on
 * detrended residuals: samples taken faster than the app changes repeat each other.
 */
export function lag1Autocorrelation(r: Num): number {
  const n = r.length;
  if (n < 3) return 0;
  let mean = 0;
  for (let i = 0; i < n; i++) mean += r[i]!;
  mean /= n;
  let num = 0;
  let den = 0;
  for (let i = 0; i < n; i++) {
    const d = r[i]! - mean;
    den += d * d;
    if (i > 0) num += d * (r[i - 1]! - mean);
  }
  return den > 0 ? num / den : 0;
}

/**
 * The factor n/n* by which positive lag-1 autocorrelation ρ inflates Var(S) (Yue & Wang's
 * effective-sample-size correction, first lag only): 1 + 2(1 − 1/n)ρ when ρ is significant,
 * else 1.
 */
export function autocorrelationFactor(resid: Num): number {
  const n = resid.length;
  const rho = lag1Autocorrelation(resid);
  // only a significant autocorrelation counts (Hamed & Rao): |ρ| > 1.96/√n
  if (n < 3 || rho <= 1.96 / Math.sqrt(n)) return 1;
  return 1 + 2 * (1 - 1 / n) * rho;
}

/**
 * Mann–Kendall trend test of y in the given order, with tie correction; `varianceFactor`
 * scales Var(S) for autocorrelated data (see autocorrelationFactor).
 */
export function mannKendall(y: Num, varianceFactor = 1): MannKendall {
  const n = y.length;
  let s = 0;
  for (let i = 0; i < n - 1; i++) {
    const yi = y[i]!;
    for (let j = i + 1; j < n; j++) {
      const d = y[j]! - yi;
      s += d > 0 ? 1 : d < 0 ? -1 : 0;
    }
  }
  const variance = kendallVariance(y) * varianceFactor;
  let z = 0;
  if (variance > 0) z = s > 0 ? (s - 1) / Math.sqrt(variance) : s < 0 ? (s + 1) / Math.sqrt(variance) : 0;
  let pUp = variance > 0 ? 1 - normalCdf(z) : s > 0 ? 0 : 1;
  // the normal approximation is far too conservative in the tail for short series (13
  // strictly increasing points: 1e-6 instead of 1/13! = 2e-10), which is where a short
  // test run's leak lives. Without autocorrelation, take the exact tail of S under no
  // ties; with ties it is the more conservative of the two in the tail (ties shrink S).
  if (varianceFactor === 1 && n >= 3 && n <= EXACT_MK_MAX_N && variance > 0 && s > 0) {
    pUp = exactKendallTail(n, s);
  }
  const p = variance > 0 ? Math.min(1, 2 * (1 - normalCdf(Math.abs(z)))) : 1;
  return { s, variance, z, pUp, p };
}

/** Series up to this long get the exact Mann–Kendall tail. */
export const EXACT_MK_MAX_N = 60;
const mahonianCache = new Map<number, Float64Array>();

/**
 * The distribution of inversions of a random permutation of n (Mahonian numbers ÷ n!), as
 * cumulative probabilities: cdf[k] = P(inversions <= k). O(n³) once per n, n <= 60.
 */
function inversionCdf(n: number): Float64Array {
  let cdf = mahonianCache.get(n);
  if (cdf) return cdf;
  let dist = new Float64Array([1]);
  for (let m = 2; m <= n; m++) {
    const size = dist.length + m - 1;
    const next = new Float64Array(size);
    let window = 0;
    for (let k = 0; k < size; k++) {
      if (k < dist.length) window += dist[k]!;
      if (k - m >= 0 && k - m < dist.length) window -= dist[k - m]!;
      next[k] = window / m;
    }
    dist = next;
  }
  cdf = new Float64Array(dist.length);
  let acc = 0;
  for (let k = 0; k < dist.length; k++) cdf[k] = acc += dist[k]!;
  mahonianCache.set(n, cdf);
  return cdf;
}

/**
 * P(S >= s) for Kendall's S of n untied values in random order: S = N − 2·inversions with
 * N = n(n−1)/2, so this is P(inversions <= (N − s)/2).
 */
export function exactKendallTail(n: number, s: number): number {
  const pairs = (n * (n - 1)) / 2;
  const k = Math.floor((pairs - s) / 2 + 1e-9);
  if (k < 0) return 0;
  const cdf = inversionCdf(n);
  return Math.min(1, cdf[Math.min(k, cdf.length - 1)]!);
}

/**
 * The end of a warm-up: the split k (points [0, k) are warm-up) that best fits the series as
 * two straight lines (least squares, each segment its own line) instead of one, when that
 * is worth the three extra parameters (BIC). k ranges over [minSkip, maxSkip]; returns minSkip when one line is as good.
 * Counts are integers: each segment's squared error has a floor of 1/12 a point
 * (rounding), so a perfect line is not "improved" by a split.
 */
export function changePoint(x: Num, y: Num, minSkip: number, maxSkip: number): number {
  const n = Math.min(x.length, y.length);
  if (maxSkip <= minSkip || n < 6) return minSkip;
  // prefix sums for O(1) least-squares cost of any segment
  const sx = new Float64Array(n + 1);
  const sy = new Float64Array(n + 1);
  const sxx = new Float64Array(n + 1);
  const sxy = new Float64Array(n + 1);
  const syy = new Float64Array(n + 1);
  // centre x and y for numerical stability
  const x0 = x[0]!;
  const y0 = y[0]!;
  for (let i = 0; i < n; i++) {
    const xi = x[i]! - x0;
    const yi = y[i]! - y0;
    sx[i + 1] = sx[i]! + xi;
    sy[i + 1] = sy[i]! + yi;
    sxx[i + 1] = sxx[i]! + xi * xi;
    sxy[i + 1] = sxy[i]! + xi * yi;
    syy[i + 1] = syy[i]! + yi * yi;
  }
  const seg = (a: number, b: number): { sse: number; slope: number; mx: number; my: number } => {
    const m = b - a;
    const mx = (sx[b]! - sx[a]!) / m;
    const my = (sy[b]! - sy[a]!) / m;
    const vxx = sxx[b]! - sxx[a]! - m * mx * mx;
    const vxy = sxy[b]! - sxy[a]! - m * mx * my;
    const vyy = syy[b]! - syy[a]! - m * my * my;
    const slope = vxx > 1e-12 ? vxy / vxx : 0;
    const sse = Math.max(0, vyy - (vxx > 1e-12 ? (vxy * vxy) / vxx : 0));
    return { sse: sse + m / 12, slope, mx, my };
  };
  const whole = seg(0, n);
  let best = minSkip;
  let bestCost = Infinity;
  for (let k = Math.max(minSkip, 2); k <= maxSkip; k++) {
    const cost = seg(0, k).sse + seg(k, n).sse;
    if (cost < bestCost) {
      bestCost = cost;
      best = k;
    }
  }
  if (best === minSkip || !(bestCost < whole.sse)) return minSkip;
  // BIC: n·ln(SSE) + params·ln(n); one line has 2 parameters, two lines and a break 5
  const gain = n * Math.log(whole.sse / bestCost);
  if (gain <= 3 * Math.log(n) + 2) return minSkip;
  // and the break must matter: the slopes differ by more than half the larger one, or the
  // lines jump at the break by more than a fifth of the series' range. A steady leak whose
  // pace wavers by 10 % (a thread starved on a busy machine) has a "better" two-line fit
  // with tiny residuals, but no warm-up to cut.
  const a = seg(0, best);
  const b = seg(best, n);
  const xk = x[best]! - x0;
  const jump = Math.abs(b.my + b.slope * (xk - b.mx) - (a.my + a.slope * (xk - a.mx)));
  let lo = Infinity;
  let hi = -Infinity;
  for (let i = 0; i < n; i++) {
    lo = Math.min(lo, y[i]!);
    hi = Math.max(hi, y[i]!);
  }
  const slopesDiffer = Math.abs(a.slope - b.slope) > 0.5 * Math.max(Math.abs(a.slope), Math.abs(b.slope));
  if (!slopesDiffer && jump <= 0.2 * (hi - lo)) return minSkip;
  // either a warm-up that grew faster than what follows (a cache filling, imports), or a
  // flat start before a leak that began late: both times only what follows is the app's
  // steady state
  return best;
}

export interface SenSlope {
  slope: number;
  intercept: number;
  /** 95 % confidence interval of the slope (Sen 1968, from Var(S)) */
  low: number;
  high: number;
  /** number of pairwise slopes (pairs with distinct x) */
  pairs: number;
}

/**
 * Theil–Sen estimator: the median of the pairwise slopes (pairs with equal x are skipped),
 * intercept the median of y − slope·x. The interval takes the order statistics
 * (N − C)/2 and (N + C)/2 + 1 of the N sorted slopes, C = z·√Var(S) (× varianceFactor).
 * Returns null when no two points have distinct x.
 */
export function theilSen(x: Num, y: Num, z = 1.959964, varianceFactor = 1): SenSlope | null {
  const sorted = sortedSlopes(x, y);
  return sorted ? senFromSorted(sorted, x, y, z, varianceFactor) : null;
}

/** The sorted pairwise slopes (pairs with equal x skipped), null when there are none. */
export function sortedSlopes(x: Num, y: Num): Float64Array | null {
  const n = Math.min(x.length, y.length);
  const slopes = new Float64Array((n * (n - 1)) / 2);
  let k = 0;
  for (let i = 0; i < n - 1; i++) {
    const xi = x[i]!;
    const yi = y[i]!;
    for (let j = i + 1; j < n; j++) {
      const dx = x[j]! - xi;
      if (dx !== 0) slopes[k++] = (y[j]! - yi) / dx;
    }
  }
  if (k === 0) return null;
  return slopes.subarray(0, k).sort();
}

/** Theil–Sen from already sorted slopes: the interval for any variance factor, one sort. */
export function senFromSorted(sorted: Float64Array, x: Num, y: Num, z = 1.959964, varianceFactor = 1): SenSlope {
  const n = Math.min(x.length, y.length);
  const k = sorted.length;
  const mid = k >> 1;
  const slope = k % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
  const resid = new Float64Array(n);
  for (let i = 0; i < n; i++) resid[i] = y[i]! - slope * x[i]!;
  const intercept = median(resid);
  const c = z * Math.sqrt(kendallVariance(y) * varianceFactor);
  const loRank = Math.max(1, Math.min(k, Math.round((k - c) / 2)));
  const hiRank = Math.max(1, Math.min(k, Math.round((k + c) / 2) + 1));
  return { slope, intercept, low: sorted[loRank - 1]!, high: sorted[hiRank - 1]!, pairs: k };
}

/**
 * Indices of at most `max` points spread evenly over [0, n): deterministic thinning so the
 * O(n²) estimators stay cheap on long series. Always keeps the first and the last point.
 */
export function thinIndices(n: number, max: number): Uint32Array {
  if (n <= max) return Uint32Array.from({ length: n }, (_, i) => i);
  const out = new Uint32Array(max);
  for (let i = 0; i < max; i++) out[i] = Math.round((i * (n - 1)) / (max - 1));
  return out;
}

/** Pick the given indices out of a numeric array. */
export function pick(values: Num, idx: Uint32Array): Float64Array {
  const out = new Float64Array(idx.length);
  for (let i = 0; i < idx.length; i++) out[i] = values[idx[i]!]!;
  return out;
}

export const clamp01 = (v: number): number => (v < 0 ? 0 : v > 1 ? 1 : Number.isFinite(v) ? v : 0);

/** ln Γ(x), x > 0 (Lanczos, g = 7, 9 terms; ~1e-15 relative). */
export function logGamma(x: number): number {
  const c = [0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313,
    -176.61502916214059, 12.507343278686905, -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7];
  if (x < 0.5) return Math.log(Math.PI / Math.sin(Math.PI * x)) - logGamma(1 - x);
  x -= 1;
  let a = c[0]!;
  const t = x + 7.5;
  for (let i = 1; i < 9; i++) a += c[i]! / (x + i);
  return 0.5 * Math.log(2 * Math.PI) + (x + 0.5) * Math.log(t) - t + Math.log(a);
}

/** The regularized incomplete beta function I_x(a, b), by its continued fraction (Lentz). */
export function incompleteBeta(x: number, a: number, b: number): number {
  if (x <= 0) return 0;
  if (x >= 1) return 1;
  const front = Math.exp(logGamma(a + b) - logGamma(a) - logGamma(b) + a * Math.log(x) + b * Math.log(1 - x));
  // the continued fraction converges fast for x < (a + 1) / (a + b + 2); use the symmetry otherwise
  if (x > (a + 1) / (a + b + 2)) return 1 - incompleteBeta(1 - x, b, a);
  const tiny = 1e-300;
  let f = 1;
  let c = 1;
  let d = 0;
  for (let i = 0; i <= 400; i++) {
    const m = i >> 1;
    let num: number;
    if (i === 0) num = 1;
    else if (i % 2 === 0) num = (m * (b - m) * x) / ((a + 2 * m - 1) * (a + 2 * m));
    else num = -((a + m) * (a + b + m) * x) / ((a + 2 * m) * (a + 2 * m + 1));
    d = 1 + num * d;
    if (Math.abs(d) < tiny) d = tiny;
    d = 1 / d;
    c = 1 + num / c;
    if (Math.abs(c) < tiny) c = tiny;
    const cd = c * d;
    f *= cd;
    if (Math.abs(1 - cd) < 1e-14) break;
  }
  return (front * (f - 1)) / a;
}

/** One-sided upper tail P(T >= t) of Student's t with `df` degrees of freedom. */
export function studentTUpper(t: number, df: number): number {
  if (!Number.isFinite(t)) return t > 0 ? 0 : 1;
  if (df <= 0) return 1;
  const tail = 0.5 * incompleteBeta(df / (df + t * t), df / 2, 0.5);
  return t >= 0 ? tail : 1 - tail;
}

const quantiles = new Map<string, number>();

/** The t such that P(T >= t) = p for Student's t with `df` degrees of freedom (bisection; cached). */
export function studentTQuantile(p: number, df: number): number {
  const key = `${p}:${df}`;
  const hit = quantiles.get(key);
  if (hit !== undefined) return hit;
  const t = tQuantile(p, df);
  if (quantiles.size < 4096) quantiles.set(key, t);
  return t;
}

function tQuantile(p: number, df: number): number {
  let lo = 0;
  let hi = 1;
  while (studentTUpper(hi, df) > p && hi < 1e6) hi *= 2;
  for (let i = 0; i < 100; i++) {
    const mid = (lo + hi) / 2;
    if (studentTUpper(mid, df) > p) lo = mid;
    else hi = mid;
  }
  return (lo + hi) / 2;
}
