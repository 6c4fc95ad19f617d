/**
 * One growth fit: a series y over census (or sample) points, against the primary-mark
 * count x and against time t, on the window after the warm-up.
 */
import {
  autocorrelationFactor,
  clamp01,
  mad,
  changePoint,
  mannKendall,
  median,
  pick,
  senFromSorted,
  sortedSlopes,
  studentTQuantile,
  studentTUpper,
  theilSen,
  thinIndices,
  type MannKendall,
  type SenSlope,
} from './stats.js';

/** Points given to the O(n²) estimators at most (the series itself may hold more). */
export const MAX_FIT_POINTS = 300;
/** Trend significance of the Mann–Kendall test (one-sided, increasing). */
export const TREND_P = 0.01;

/**
 * The least a fit skips at the start: the baseline census is taken before the app's own
 * imports, and the first frames build what the app keeps for good. Without a change point
 * this is all that is skipped.
 */
export function warmupSkip(n: number): number {
  return n >= 10 ? 2 : n >= 5 ? 1 : 0;
}

/**
 * Where the warm-up ends, on the (thinned) series: a change point (see `changePoint`),
 * searched over the first 60 % of the run along x (marks, or seconds), leaving at least 5
 * points to fit. Along x, not by point count: censuses come faster at the start of a run
 * (and while a type grows), so 60 % of the points can be far less than 60 % of the run.
 * Without an x that advances, the first 60 % of the points, leaving max(5, 40 %).
 */
export function warmupEnd(x: Float64Array, y: Float64Array): number {
  const n = y.length;
  const min = warmupSkip(n);
  const span = n > 0 ? x[n - 1]! - x[0]! : 0;
  let max: number;
  if (span > 0) {
    max = n - 5;
    while (max > min && x[max]! - x[0]! > 0.6 * span) max--;
  } else {
    max = Math.min(Math.floor(0.6 * n), n - Math.max(5, Math.ceil(0.4 * n)));
  }
  return changePoint(x, y, min, max);
}

export interface GrowthFit {
  /** slope per primary mark, null without marks (or when marks never advanced) */
  perMark: SenSlope | null;
  perSecond: SenSlope | null;
  mk: MannKendall;
  /** points in the fitted window (after thinning) */
  points: number;
  /** index in the raw series where the fitted window starts (the end of the warm-up) */
  skip: number;
  /** first and last raw values of the whole series */
  first: number;
  last: number;
  /** median of y over the window */
  level: number;
  /** growth over the window predicted by the slope */
  net: number;
  /** growth over the whole series predicted by the slope (the last census, taken after the
   * app ended, may already show objects freed at exit, so raw end values understate it) */
  total: number;
  /** robust spread (1.4826·MAD) of the residuals around the fit, or of their steps ÷ √2 */
  noise: number;
  /** span of the window in the main slope's unit (marks, or seconds) */
  span: number;
  /**
   * how far the points stray from the line, as mean |residual| ÷ the rise over the window,
   * against marks and against time (null without marks): the clock that explains the
   * growth better has the smaller value
   */
  strayMark: number | null;
  straySecond: number;
  /** slopes over the earlier and the later half of the window, in the main slope's unit */
  earlySlope: number;
  lateSlope: number;
  /** Σ(x − x̄)² of the window along the main slope's axis (marks, or seconds) */
  sxx: number;
  /** the lag-1 autocorrelation factor on the residuals' variance (1 when none) */
  acFactor: number;
  /**
   * the growth read as a random walk with drift (see `driftP`): the drift (total rise ÷
   * span), Σ of the steps' spans, the robust spread of the scaled steps around it, and
   * the mean step span
   */
  drift: { slope: number; sumDx: number; spread: number; meanDx: number; steps: number };
  /**
   * variance ratio: how far the residuals wander (their robust variance) against what
   * their steps would give independent noise (step variance ÷ 2); about 1 for noise around
   * a line, growing with the number of points for a random walk
   */
  wander: number;
}

/** The slope the rest of the analysis uses: per mark when there are marks, else per second. */
export function mainSlope(f: GrowthFit): SenSlope | null {
  return f.perMark ?? f.perSecond;
}

/**
 * Fit y against marks (x) and time (t) over the window after the warm-up: the change point
 * by default, or a fixed fraction of the points when `fixedWarmup` is given.
 */
export function fitGrowth(
  t: Float64Array,
  x: Float64Array | null,
  y: Float64Array,
  fixedWarmup?: number,
): GrowthFit | null {
  const n = y.length;
  if (n < 3) return null;
  // thin first (the change point is O(n)), then find the end of the warm-up on the thinned
  // series, against marks when they advance, else time
  const all = thinIndices(n, MAX_FIT_POINTS);
  const ax = x && x[n - 1]! > x[0]! ? pick(x, all) : pick(t, all);
  const skip =
    fixedWarmup === undefined
      ? warmupEnd(ax, pick(y, all))
      : Math.max(0, Math.min(Math.max(2, Math.floor(fixedWarmup * all.length)), all.length - 3));
  const idx = all.subarray(skip);
  const wy = pick(y, idx);
  const wt = pick(t, idx);
  const wx = x ? pick(x, idx) : null;
  // the pairwise slopes are sorted once per clock; the interval for the autocorrelation
  // factor comes from the same sorted slopes
  const sx = wx ? sortedSlopes(wx, wy) : null;
  const st = sortedSlopes(wt, wy);
  const first = sx ? senFromSorted(sx, wx!, wy) : st ? senFromSorted(st, wt, wy) : null;
  if (!first) return null;
  const wm = sx ? wx! : wt;
  const m = wy.length;
  const resid = new Float64Array(m);
  for (let i = 0; i < m; i++) resid[i] = wy[i]! - first.slope * wm[i]! - first.intercept;
  // samples taken faster than the app changes repeat each other: widen the tests for that
  const factor = autocorrelationFactor(resid);
  const perSecond = st ? senFromSorted(st, wt, wy, undefined, factor) : null;
  const perMark = sx ? senFromSorted(sx, wx!, wy, undefined, factor) : null;
  const main = (perMark ?? perSecond)!;
  // noise: the residuals' spread, or their point-to-point spread (÷√2) when larger, which
  // sees through a few lucky points that make iid noise look like a trend
  const steps = new Float64Array(Math.max(0, m - 1));
  for (let i = 1; i < m; i++) steps[i - 1] = resid[i]! - resid[i - 1]!;
  const noise = Math.max(mad(resid), m > 2 ? mad(steps) / Math.SQRT2 : 0);
  const stray = (along: Float64Array, fit: SenSlope | null): number => {
    if (!fit) return Infinity;
    const rise = Math.abs(fit.slope * (along[m - 1]! - along[0]!));
    let sum = 0;
    for (let i = 0; i < m; i++) sum += Math.abs(wy[i]! - fit.slope * along[i]! - fit.intercept);
    return rise > 0 ? sum / m / rise : Infinity;
  };
  let mean = 0;
  for (let i = 0; i < m; i++) mean += wm[i]!;
  mean /= m;
  let sxx = 0;
  for (let i = 0; i < m; i++) sxx += (wm[i]! - mean) ** 2;
  // the random-walk reading: step i rises d_i over a span dx_i; with a walk's variance
  // growing with the span, d_i/√dx_i = b·√dx_i + u_i, b = Σd/Σdx
  let sumDx = 0;
  for (let i = 1; i < m; i++) sumDx += wm[i]! - wm[i - 1]!;
  const driftSlope = sumDx > 0 ? (wy[m - 1]! - wy[0]!) / sumDx : 0;
  const scaled = new Float64Array(Math.max(0, m - 1));
  for (let i = 1; i < m; i++) {
    const dx = wm[i]! - wm[i - 1]!;
    scaled[i - 1] = dx > 0 ? (wy[i]! - wy[i - 1]! - driftSlope * dx) / Math.sqrt(dx) : 0;
  }
  const drift = { slope: driftSlope, sumDx, spread: m > 2 ? mad(scaled) : 0, meanDx: m > 1 ? sumDx / (m - 1) : 0, steps: m - 1 };
  const stepNoise = m > 2 ? mad(steps) / Math.SQRT2 : 0;
  const levelNoise = mad(resid);
  const wander = stepNoise > 0 ? (levelNoise / stepNoise) ** 2 : levelNoise > 0 ? Infinity : 1;
  const half = m >> 1;
  const early = theilSen(wm.subarray(0, half + 1), wy.subarray(0, half + 1));
  const late = theilSen(wm.subarray(half), wy.subarray(half));
  return {
    perMark,
    perSecond,
    mk: mannKendall(wy, factor),
    points: m,
    skip: idx[0]!,
    first: y[0]!,
    last: y[n - 1]!,
    level: median(wy),
    net: main.slope * (wm[m - 1]! - wm[0]!),
    total: main.slope * (perMark ? x![n - 1]! - x![0]! : t[n - 1]! - t[0]!),
    noise,
    span: wm[m - 1]! - wm[0]!,
    strayMark: perMark ? stray(wx!, perMark) : null,
    straySecond: stray(wt, perSecond),
    earlySlope: early ? early.slope : 0,
    lateSlope: late ? late.slope : 0,
    sxx,
    acFactor: factor,
    drift,
    wander,
  };
}

export interface GrowthTest {
  /** smallest net growth over the window, in units of y */
  minNet: number;
  /** smallest net growth relative to the level */
  minRelative: number;
  /**
   * the least noise the data can have, in units of y: integer counts are only known to
   * ±0.5, RSS to a page. A series with no noise at all (a count that rises by exactly the
   * marks) is judged against this, not against zero.
   */
  floor: number;
}

export const OBJECT_TEST: GrowthTest = { minNet: 3, minRelative: 0.01, floor: 0.5 };
/** RSS in KiB: read in pages (4 KiB). */
export const RSS_FLOOR_KIB = 4;

/** The rank test's uncorrected bar that the slope test needs too (the order agrees). */
const RANK_AGREES_P = 0.05;

/**
 * The slope test: the slope against the residuals' spread (robust, at least `floor`,
 * widened for autocorrelation), Student's t with points − 2 degrees of freedom, one-sided.
 * Valid from 4 points, and it weighs how far the growth stands above the noise, which the
 * rank test alone cannot: any 7 points in order have the same rank p (1/5040), whether the
 * count rose by 3 or by 3000.
 */
export function slopeP(f: GrowthFit, floor: number): number {
  const s = mainSlope(f);
  if (!s || f.points < 4 || !(f.sxx > 0)) return 1;
  const sigma = Math.max(f.noise, floor) * Math.sqrt(Math.max(1, f.acFactor));
  return studentTUpper((s.slope * Math.sqrt(f.sxx)) / sigma, f.points - 2);
}

/**
 * The random-walk test: could a walk without drift (a pool whose size wanders: sessions
 * that come and go) have risen this far? Student t of the drift against the robust spread
 * of the steps (at least √2 × floor over a mean step), points − 2 degrees of freedom. A
 * leak rises by about the same at every step, so its steps barely spread; a walk's steps
 * spread as much as they rise.
 */
export function driftP(f: GrowthFit, floor: number): number {
  const d = f.drift;
  if (d.steps < 2 || !(d.sumDx > 0) || d.slope <= 0) return 1;
  const spread = Math.max(d.spread, (Math.SQRT2 * floor) / Math.sqrt(Math.max(d.meanDx, 1e-12)));
  return studentTUpper((d.slope * Math.sqrt(d.sumDx)) / spread, Math.max(1, f.points - 2));
}

/** Few points cannot tell a walk from a trend; many can, by how far the residuals wander. */
export const WALK_POINTS = 20;
export const WALK_WANDER = 3;

export function walkPlausible(f: GrowthFit): boolean {
  return f.points <= WALK_POINTS || f.wander >= WALK_WANDER;
}

/**
 * The trend's p-value, Bonferroni-corrected for the number of series tested together
 * (with hundreds of types in a census, some look like a trend by chance): the better of
 * the rank test (Mann–Kendall, exact up to 60 points) and the slope test (which must agree
 * with the rank order: uncorrected rank p < 0.05); and, where the series is short or its
 * residuals wander like a walk's, no better than the random-walk test (`driftP`).
 */
export function adjustedP(f: GrowthFit, tests: number, floor = OBJECT_TEST.floor): number {
  const k = Math.max(1, tests);
  const rank = f.mk.pUp * k;
  const slope = f.mk.pUp < RANK_AGREES_P ? slopeP(f, floor) * k : 1;
  const p = Math.min(1, rank, slope);
  // where a random walk is as plausible as noise around a line, it must be ruled out too
  return walkPlausible(f) ? Math.max(p, Math.min(1, driftP(f, floor) * k)) : p;
}

/**
 * Is y growing? All of: the trend's corrected p < 0.01 (`adjustedP`); the slope's 95 % CI
 * above 0; net growth over the window >= minNet, >= minRelative × level, and >= 3 × the
 * residual noise (big random swings with a small net change are not growth); and still
 * growing in the later half of the window (>= 25 % of the slope: a cache that filled and
 * stopped is not a leak).
 */
export function isGrowing(f: GrowthFit, test: GrowthTest, tests = 1): boolean {
  const s = mainSlope(f);
  if (!s) return false;
  return (
    adjustedP(f, tests, test.floor) < TREND_P &&
    s.low > 0 &&
    f.net >= test.minNet &&
    f.net >= test.minRelative * Math.abs(f.level) &&
    f.net >= 3 * f.noise &&
    f.lateSlope >= 0.25 * s.slope
  );
}

/**
 * Confidence in a growth, 0..1, from the evidence itself: the trend's corrected p-value
 * (0 at 0.01, 1 at <= 1e-6), how tight the slope's interval is relative to the slope, and
 * how far the net growth stands above the noise (0 at 3σ, 1 from 8σ; σ at least the
 * floor); scaled down when the growth is near the noise. Not how many points there were:
 * ten censuses of a count rising by exactly 20 a mark are as certain as a hundred.
 */
export function growthConfidence(f: GrowthFit, tests = 1, floor = OBJECT_TEST.floor): number {
  const s = mainSlope(f);
  if (!s || s.slope <= 0) return 0;
  const cP = clamp01((-Math.log10(Math.max(adjustedP(f, tests, floor), 1e-300)) - 2) / 4);
  // the interval's width: Sen's (robust, but on 5 points it is the whole range of the
  // pairwise slopes) or the slope test's own (slope ± t·σ/√Sxx), whichever is tighter
  let width = s.high - s.low;
  if (f.points >= 4 && f.sxx > 0) {
    const sigma = Math.max(f.noise, floor) * Math.sqrt(Math.max(1, f.acFactor));
    width = Math.min(width, (2 * studentTQuantile(0.025, f.points - 2) * sigma) / Math.sqrt(f.sxx));
  }
  const cW = clamp01(1 - width / (2 * s.slope));
  const margin = f.net / Math.max(f.noise, floor);
  const cM = clamp01((margin - 3) / 5);
  return round2((0.5 * cP + 0.3 * cW + 0.2 * cM) * (0.4 + 0.6 * cM));
}

/**
 * A cheap first look (no slopes): could this series pass the trend test at all? The
 * Mann–Kendall p of the thinned series after the shortest warm-up, without the
 * autocorrelation correction (which only makes p larger), must be below 1/tests, a
 * hundredth of the real test's bar at most; or, on a short series (where the rank test
 * cannot reach that bar and the slope test decides), below the slope test's own rank bar.
 * Random long series fail it 99 times in 100.
 */
export function mayGrow(y: Float64Array, tests: number): boolean {
  const n = y.length;
  if (n < 3) return false;
  const all = thinIndices(n, MAX_FIT_POINTS);
  const w = pick(y, all.subarray(warmupSkip(all.length)));
  const mk = mannKendall(w);
  if (mk.s <= 0) return false;
  return mk.pUp * Math.max(1, tests) < 1 || (w.length <= 60 && mk.pUp < RANK_AGREES_P);
}

export const round2 = (v: number): number => Math.round(v * 100) / 100;
