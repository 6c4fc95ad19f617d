/**
 * The anytime verdict (`--until-verdict`): while the app runs, the analysis looks again at
 * each new census and stops the run once a verdict is decided at the declared error rate,
 * in a way that stays valid however often it looks: look j may spend only
 * α_j = α · 6 / (π² j²) of the error rate (Σ α_j = α), so a leak must be significant at
 * α_j, not at α. The same suspects and tests as the verdict at the end (`suspects.ts`).
 *
 * - leak: a suspect that is not a dependent, at confidence >= LEAK_CONFIDENCE, whose
 *   corrected p-value is below α_j.
 * - no leak: every type's count and refcount sum, and RSS, grow by less than a tolerance
 *   (NO_LEAK_PER_MARK objects or references per mark, NO_LEAK_KIB_PER_MARK of RSS; per
 *   second without marks) at the upper end of a one-sided (1 − α_j / series) interval
 *   (least squares, the residuals' robust spread, floored as in the growth test).
 * Both need the verdict's own minimums (censuses, marks).
 */
import { OBJECT_TEST, RSS_FLOOR_KIB, TREND_P } from './fit.js';
import { MIN_CENSUSES, MIN_MARKS } from './index.js';
import { isLeading } from './report.js';
import type { Manifest } from '../session/manifest.js';
import type { Series } from './series.js';
import { mad, studentTQuantile } from './stats.js';
import { CLASS_TYPES, findSuspects } from './suspects.js';

/** The least growth a "no leak" verdict rules out: one object (or reference) in 20 marks. */
export const NO_LEAK_PER_MARK = 0.05;
/** …and 1 KiB of RSS per mark. */
export const NO_LEAK_KIB_PER_MARK = 1;

/** What was decided, when and at what error rate (stored in the session's manifest). */
export type EarlyVerdict = NonNullable<Manifest['earlyVerdict']>;

export function lookAlpha(look: number, alpha = TREND_P): number {
  return (alpha * 6) / (Math.PI ** 2 * look ** 2);
}

/** Upper end of a one-sided (1 − a) interval on the least-squares slope of y over x. */
export function slopeUpper(x: Float64Array, y: Float64Array, floor: number, a: number): number {
  const n = y.length;
  if (n < 4) return Infinity;
  let mx = 0;
  let my = 0;
  for (let i = 0; i < n; i++) {
    mx += x[i]!;
    my += y[i]!;
  }
  mx /= n;
  my /= n;
  let sxx = 0;
  let sxy = 0;
  for (let i = 0; i < n; i++) {
    sxx += (x[i]! - mx) ** 2;
    sxy += (x[i]! - mx) * (y[i]! - my);
  }
  if (!(sxx > 0)) return Infinity;
  const b = sxy / sxx;
  const resid = new Float64Array(n);
  for (let i = 0; i < n; i++) resid[i] = y[i]! - my - b * (x[i]! - mx);
  const steps = new Float64Array(n - 1);
  for (let i = 1; i < n; i++) steps[i - 1] = resid[i]! - resid[i - 1]!;
  const sigma = Math.max(mad(resid), mad(steps) / Math.SQRT2, floor);
  return b + (studentTQuantile(a, n - 2) * sigma) / Math.sqrt(sxx);
}

/** Has the session the verdict's own minimums (censuses, marks)? Only then is it a look. */
export function readyToDecide(series: Series): boolean {
  const marks = series.primaryMark ? series.marks[series.primaryMark] ?? 0 : null;
  return series.census.t.length >= MIN_CENSUSES && (marks === null || marks >= MIN_MARKS);
}

/** Decide early, at look `look` (counted over the sessions that were ready), or say null (not yet). */
export function decideEarly(series: Series, look: number): EarlyVerdict | null {
  const marks = series.primaryMark ? series.marks[series.primaryMark] ?? 0 : null;
  if (!readyToDecide(series)) return null;
  const alpha = lookAlpha(look);
  const seconds = series.lastT;
  const per = marks !== null ? `per ${series.primaryMark}` : 'per second';
  const ranked = findSuspects(series);
  // the summed references of class objects grow with the instances of any class (each holds
  // its class): a look does not decide on them, but on the type whose instances they are,
  // at a later look; the report at the end of a run may still name them
  const lead = ranked.find((s) => isLeading(s) && s.p < alpha && !(s.kind === 'refcount-growth' && CLASS_TYPES.has(s.type ?? '')));
  if (lead) {
    return {
      verdict: 'leak', look, alpha, marks, seconds,
      reason: `${lead.kind} of ${lead.type ?? 'native memory'} decided at look ${look} (p ${lead.p.toPrecision(2)} < ${alpha.toPrecision(2)})`,
    };
  }
  // no leak: every series' growth bounded below the tolerance, after the baseline census:
  // the census's types and the deep census's (objects the collector does not track), each
  // table on its own points
  const series2 = 2 * (series.census.types.size + series.deep.types.size) + 1;
  const a = alpha / series2;
  for (const table of [series.census, series.deep]) {
    const from = Math.min(1, table.t.length - 1);
    const ax = (marks !== null && table.x ? table.x : table.t).subarray(from);
    if (ax.length < 3) continue;
    for (const ys of table.types.values()) {
      for (const y of [ys.count, ys.refsum]) {
        const w = y.subarray(from);
        let varies = false;
        for (let i = 1; i < w.length; i++) if (w[i] !== w[0]) varies = true;
        if (!varies) continue;
        if (slopeUpper(ax, w, OBJECT_TEST.floor, a) >= NO_LEAK_PER_MARK) return null;
      }
    }
  }
  const rss = series.rss;
  const rx = marks !== null && rss.x ? rss.x : rss.t;
  if (rss.kib.length >= 4 && slopeUpper(rx, rss.kib, RSS_FLOOR_KIB, a) >= NO_LEAK_KIB_PER_MARK) return null;
  return {
    verdict: 'no-leak', look, alpha, marks, seconds,
    reason: `no type grows by ${NO_LEAK_PER_MARK} or more ${per}, nor RSS by ${NO_LEAK_KIB_PER_MARK} KiB or more ${per}, ` +
      `at look ${look} (error rate ${alpha.toPrecision(2)})`,
  };
}

/**
 * One look at what a session folder holds so far (a soak's `--until-verdict`: each collect is
 * one look; the looks made before are counted in the manifest). Null when the session is not
 * ready to decide yet (then it was not a look); else the look's number and what it decided.
 */
export async function lookAtSession(dir: string, looksBefore: number): Promise<{ look: number; decided: EarlyVerdict | null } | null> {
  const [{ openSession }, { buildSeries }] = await Promise.all([import('../session/reader.js'), import('./series.js')]);
  const session = await openSession(dir);
  const series = await buildSeries(session.records());
  if (!readyToDecide(series)) return null;
  const look = looksBefore + 1;
  return { look, decided: decideEarly(series, look) };
}
