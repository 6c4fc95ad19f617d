/**
 * Classify growth into suspects and rank them: object-growth (a type's live count climbs),
 * refcount-growth (count flat, summed refcount climbs), native-growth (RSS climbs beyond
 * what growing types explain). Builtin helpers that grow because an app type grows are
 * kept as dependents, ranked below it.
 */
import type { Referrer, Suspect } from './report.js';
import { adjustedP, fitGrowth, growthConfidence, isGrowing, mainSlope, mayGrow, OBJECT_TEST, round2, RSS_FLOOR_KIB, type GrowthFit } from './fit.js';
import { measuredSize, type CensusSeries, type DeepSpread, type ReferrerAgg, type Series } from './series.js';
import { median, studentTQuantile } from './stats.js';
import {
  bytesPerObject,
  holderMentions,
  isBuiltinHelper,
  isUserType,
  perInstanceHelper,
  shortName,
} from './types.js';

/**
 * Points a deep-census series needs in its fitted window before its growth counts: as many
 * as the census needs for any verdict (MIN_CENSUSES), the fewest with which the rank test
 * alone can reach its bar (1/5! < 0.01). Three points in a line are what a saw-tooth gives
 * when the deep census happens to land on its rising phases (case 3 on 3.11: garbage strings
 * at frames 50, 100 and 150 of a 40-frame cycle, +21 per frame, "confidence 0.5"), and a
 * straight line through three points passes the slope test.
 */
const MIN_DEEP_POINTS = 5;

/** What an untracked suspect's evidence says of where it was found. */
const UNTRACKED_PHRASE = 'objects the cycle collector does not track (counted by the deep census, among what tracked objects hold)';

/** …and of a C type's instances counted by the references they hold to their type. */
const TYPE_COUNTED_PHRASE =
  'instances of a C type built without GC support, counted by the references each holds to its type ' +
  '(the collector never sees them, and they need no referrer: a C extension that does not release them)';

/** Reported suspects have at least this confidence. */
export const MIN_CONFIDENCE = 0.3;
/** A dependent helper's confidence is scaled by this. */
const DEPENDENT_FACTOR = 0.5;
/** Native growth must be at least 4 KiB per 100 marks, or 4 KiB per minute without marks. */
const NATIVE_MIN_BYTES_PER_MARK = 4096 / 100;
const NATIVE_MIN_BYTES_PER_SECOND = 4096 / 60;
/**
 * …and at least 256 KiB unexplained over the fitted window: Python's allocator takes memory
 * in 256 KiB arenas and glibc trims in 128 KiB steps, so less is within allocator noise.
 */
const NATIVE_MIN_NET_KIB = 256;
/**
 * RSS that grows ever more slowly is the allocator settling (high-water marks, free lists,
 * fragmentation): the later half of the window must keep at least half the earlier pace.
 */
const NATIVE_MIN_PACE = 0.5;
/**
 * Factor on the bytes growing types explain before RSS growth counts as native: the size
 * table is good to about a factor of 2; sizes the probe measured on the objects miss only
 * the allocator's overhead (pool rounding, fragmentation), which for small objects is
 * as large: the same factor.
 */
const SIZE_SLACK = 2;
/** measured sizes miss the allocator's rounding and pools: small objects take up to ~2x in RSS */
const MEASURED_SLACK = 2;

/**
 * Who holds a suspect's objects: the census's referrer passes for tracked objects, the deep
 * census's for untracked ones (a type counted by its references is the census's own).
 */
function aggOf(series: Series, type: string, untracked: boolean | undefined, typeCounted = false): ReferrerAgg | undefined {
  return untracked && !typeCounted && !series.typeCounted.has(type) ? series.referrersUntracked.get(type) : series.referrers.get(type);
}

/** Bytes per object of a type: what the probe measured on its objects, else the table. */
function sizeOf(type: string, series: Series): { bytes: number; measured: boolean } {
  const m = measuredSize(series.referrers.get(type));
  return m !== null ? { bytes: m, measured: true } : { bytes: bytesPerObject(type), measured: false };
}
const MAX_VIAS = 1000;
const NO_REFERRER = /^no (tracked )?referrer\b/;

export interface RankedSuspect extends Suspect {
  /** bytes per mark (or per second without marks) × confidence, for ordering */
  score: number;
  /** the observation without the diagnosis, for when another suspect explains it */
  observed?: string;
  /** the growth test's corrected p-value (for sequential decisions: `sequential.ts`) */
  p: number;
}

export interface Rate {
  value: number;
  low: number;
  high: number;
  per: 'mark' | 'second';
}

function rateOf(f: GrowthFit): Rate {
  const s = mainSlope(f)!;
  return { value: s.slope, low: s.low, high: s.high, per: f.perMark ? 'mark' : 'second' };
}

/**
 * The rate of a type the deep census sampled (1 in k objects, by address), its interval
 * widened by what the sample itself can be off. The sampled objects fall in m sub-samples
 * (DeepRecord.parts): taken together the objects make k·m equal buckets, of which the
 * sample holds m, chosen by a hash that knows nothing of the app. From the growth of those
 * m (d_j), the estimate k·Σd_j has the standard error k·m·sqrt((1 − 1/k)·s²/m) of a sample
 * of m buckets from k·m (s² the variance of the d_j), on m − 1 degrees of freedom. A refsum
 * that climbs in all 60 strings of a catalog is measured closely; one that climbs in a
 * handful of objects, which the sample may or may not hold, gets the wide interval it
 * deserves. Its half-width is added in quadrature to the fit's.
 */
export function sampledRate(rate: Rate, spread: DeepSpread | undefined, what: 'count' | 'refsum'): Rate {
  if (!spread || spread.sample <= 1) return rate;
  const d = spread[what];
  const m = d.length;
  const total = d.reduce((a, b) => a + b, 0);
  if (m < 2 || !(total > 0)) return rate;
  const mean = total / m;
  const s2 = d.reduce((a, b) => a + (b - mean) ** 2, 0) / (m - 1);
  const k = spread.sample;
  const relSe = (k * m * Math.sqrt((1 - 1 / k) * s2 / m)) / (k * total);
  const half = studentTQuantile(0.025, m - 1) * relSe * Math.abs(rate.value);
  if (!(half > 0)) return rate;
  return {
    ...rate,
    low: rate.value - Math.hypot(rate.value - rate.low, half),
    high: rate.value + Math.hypot(rate.high - rate.value, half),
  };
}

const fmt = (v: number): string => {
  const a = Math.abs(v);
  if (a >= 100) return v.toFixed(0);
  if (a >= 10) return v.toFixed(1);
  if (a >= 0.01 || a === 0) return v.toFixed(2);
  return v.toPrecision(2);
};

/** Sampled references in all, and those with no referrer (the probe's mark of a C leak). */
function referenceCounts(agg: ReferrerAgg | undefined): { total: number; none: number } {
  let total = 0;
  let none = 0;
  for (const [via, n] of agg?.holders ?? []) {
    total += n;
    if (NO_REFERRER.test(via)) none += n;
  }
  return { total, none };
}

export function topReferrers(agg: ReferrerAgg | undefined, n = 5): Referrer[] {
  if (!agg) return [];
  return [...agg.holders]
    .map(([via, count]) => ({ via, count }))
    .sort((a, b) => b.count - a.count || (a.via < b.via ? -1 : a.via > b.via ? 1 : 0))
    .slice(0, n);
}

/**
 * "9 of 11 references are bound methods (on_click, on_key) stored in EventBus.handlers",
 * else "most are held by <top Python holder>"; "no referrer" holders only lead when they are
 * the majority (the probe's count of those is approximate).
 */
export function holderPhrase(agg: ReferrerAgg | undefined): string {
  if (!agg || agg.holders.size === 0) return 'no holders were sampled yet';
  let total = 0;
  let bound = 0;
  let none = 0;
  const methods: string[] = [];
  const stores: string[] = [];
  for (const [via, n] of agg.holders) {
    total += n;
    if (NO_REFERRER.test(via)) none += n;
    const m = /^bound method (\S+?) in (?:(?:list|dict|tuple|set) )?(.+?)(?:\[.*\])?$/.exec(via)
      ?? /^bound method (\S+)$/.exec(via);
    if (!m) continue;
    bound += n;
    const meth = shortName(m[1]!);
    if (!methods.includes(meth)) methods.push(meth);
    if (m[2] && !stores.includes(m[2])) stores.push(m[2]);
  }
  if (none * 2 > total) {
    // an untracked object's holder may be an untracked container get_referrers cannot see
    const untracked = [...agg.holders.keys()].some((via) => /^no tracked referrer\b/.test(via));
    return untracked
      ? `${none} of ${total} references have no tracked referrer (C code, or a tuple or dict the collector does not track)`
      : `${none} of ${total} references have no Python referrer (held or leaked by C code)`;
  }
  if (bound > 0 && bound * 2 >= total - none) {
    const list = (xs: string[]): string => (xs.length > 3 ? `${xs.slice(0, 3).join(', ')}, ...` : xs.join(', '));
    const where = stores.length ? ` stored in ${list(stores)}` : '';
    return `${bound} of ${total} references are bound methods (${list(methods)})${where}`;
  }
  // holders that differ only in the key (handlers['click'], handlers['key']) are one holder
  const groups = new Map<string, number>();
  for (const [via, n] of agg.holders) {
    if (NO_REFERRER.test(via)) continue;
    const key = via.replace(/\[[^\]]*\]$/, '[...]');
    groups.set(key, (groups.get(key) ?? 0) + n);
  }
  const top = topReferrers({ ...agg, holders: groups }, MAX_VIAS)[0];
  if (!top) return 'no holders were sampled yet';
  return top.count * 2 >= total - none
    ? `most are held by ${top.via}`
    : `the largest holder is ${top.via} (${top.count} of ${total} references)`;
}

function perText(rate: Rate, mark: string | null): string {
  return rate.per === 'mark' ? `per ${mark}` : 'per second';
}

interface Candidate {
  type: string;
  fit: GrowthFit;
  rate: Rate;
  confidence: number;
  p: number;
  /** from the deep census (objects the collector does not track) */
  untracked: boolean;
  /** from the census, counted by the references its instances hold to the type (untracked instances of a C heap type) */
  typeCounted: boolean;
}

/** The census table a suspect's series lives in: the deep census's for untracked objects. */
export function tableOf(series: Series, untracked: boolean | undefined, type?: string | null): CensusSeries {
  // untracked instances counted by their type's references live in the census's own table
  return untracked && !(type && series.typeCounted.has(type)) ? series.deep : series.census;
}

/**
 * Growth that follows the clock rather than the marks (a thread or a timer that never
 * marks): its points stray from the per-mark line more than 1.5 times as far as from the
 * per-second line (mean |residual| relative to the rise). Such growth is refitted and
 * reported per second, with no per-mark rate.
 */
export function timeDriven(f: GrowthFit): boolean {
  return f.strayMark !== null && f.strayMark > 0.02 && f.strayMark > 1.5 * f.straySecond;
}

function byClock(f: GrowthFit, t: Float64Array, y: Float64Array): GrowthFit {
  if (!timeDriven(f)) return f;
  const g = fitGrowth(t, null, y);
  return g && g.perSecond && g.perSecond.low > 0 ? g : f;
}

/**
 * A growing series, against the marks (then refitted against time when it follows the
 * clock), or, when it does not grow with the marks, against time alone: a thread that
 * never marks, in an app whose own marks stall (a loading pause), can look ragged against
 * the marks and straight against the clock. That second look is a second test of the
 * series: its correction counts both.
 */
function growthOf(t: Float64Array, x: Float64Array | null, y: Float64Array, tests: number): { fit: GrowthFit; tests: number } | null {
  const f = fitGrowth(t, x, y);
  if (!f) return null;
  if (isGrowing(f, OBJECT_TEST, tests)) return { fit: byClock(f, t, y), tests };
  if (!x) return null;
  const g = fitGrowth(t, null, y);
  return g && isGrowing(g, OBJECT_TEST, 2 * tests) ? { fit: g, tests: 2 * tests } : null;
}

/** Growth of every type's count and refsum in the census series. */
function typeCandidates(series: Series): { objects: Candidate[]; refs: Candidate[] } {
  const objects: Candidate[] = [];
  const refs: Candidate[] = [];
  // every type is tested twice (count, refsum): correct the trend tests for all of those
  // that could show one. A series that never changes after the baseline census (most of a
  // census: classes, functions, modules' dicts) can never pass a trend test, so it adds
  // nothing to the chance of a false alarm and is not counted (at least 1 is)
  const tests = Math.max(1, varyingSeries(series));
  for (const untracked of [false, true]) {
    const { t, x, types } = untracked ? series.deep : series.census;
    for (const [type, ys] of types) {
      const n = ys.count.length;
      if (n < 3) continue;
      // cheap pre-filter: nothing in the later half rose above the lowest of the earlier
      // half, in count or refsum (not above the first point: the deep census's first is
      // the baseline before the app ran, which its start-up often frees much of, as a
      // string cache growing one a frame on 3.11 showed: never tested)
      const half = Math.floor(n / 2);
      const maxCount = Math.max(...ys.count.subarray(half));
      const maxRef = Math.max(...ys.refsum.subarray(half));
      if (maxCount <= Math.min(...ys.count.subarray(0, half)) && maxRef <= Math.min(...ys.refsum.subarray(0, half))) continue;
      const may = mayGrow(ys.count, tests);
      const fc = may ? growthOf(t, x, ys.count, tests) : null;
      if (fc && untracked && fc.fit.points < MIN_DEEP_POINTS) continue;
      if (fc) {
        const rate = untracked ? sampledRate(rateOf(fc.fit), series.deepSpread.get(type), 'count') : rateOf(fc.fit);
        objects.push({ type, fit: fc.fit, rate, confidence: growthConfidence(fc.fit, fc.tests), p: adjustedP(fc.fit, fc.tests), untracked, typeCounted: !untracked && series.typeCounted.has(type) });
        continue;
      }
      const fr = mayGrow(ys.refsum, tests) ? growthOf(t, x, ys.refsum, tests) : null;
      if (fr && untracked && fr.fit.points < MIN_DEEP_POINTS) continue;
      if (fr) {
        const rate = untracked ? sampledRate(rateOf(fr.fit), series.deepSpread.get(type), 'refsum') : rateOf(fr.fit);
        refs.push({ type, fit: fr.fit, rate, confidence: growthConfidence(fr.fit, fr.tests), p: adjustedP(fr.fit, fr.tests), untracked, typeCounted: false });
      }
    }
  }
  return { objects, refs };
}

/** Count and refsum series that change at all after the baseline census (a cheap screen). */
export function varyingSeries(series: Series): number {
  let n = 0;
  const varies = (y: Float64Array): boolean => {
    for (let i = 2; i < y.length; i++) if (y[i] !== y[1]) return true;
    return false;
  };
  for (const ys of [...series.census.types.values(), ...series.deep.types.values()]) {
    if (varies(ys.count)) n++;
    if (varies(ys.refsum)) n++;
  }
  return n;
}

function objectSuspect(c: Candidate, series: Series): RankedSuspect {
  const mark = series.primaryMark;
  const agg = aggOf(series, c.type, c.untracked, c.typeCounted);
  const size = sizeOf(c.type, series).bytes;
  const accumulated = Math.max(0, Math.round(c.fit.total));
  const clock = c.rate.per === 'second' && mark ? `, with time, not with '${mark}' marks (a thread or a timer)` : '';
  const evidence =
    `${accumulated} ${c.type} objects accumulate, +${fmt(c.rate.value)} ${perText(c.rate, mark)} ` +
    `(95 % CI ${fmt(c.rate.low)}-${fmt(c.rate.high)})${clock}; ` +
    (c.typeCounted ? TYPE_COUNTED_PHRASE : c.untracked ? untrackedPhrase(agg) : holderPhrase(agg));
  return {
    kind: 'object-growth',
    type: c.type,
    ...(c.untracked || c.typeCounted ? { untracked: true as const } : {}),
    confidence: c.confidence,
    perSecond: c.fit.perSecond?.slope ?? 0,
    perMark: c.rate.per === 'mark' ? { mark: mark!, value: c.rate.value } : null,
    bytesPerMark: c.rate.per === 'mark' ? c.rate.value * size : null,
    evidence,
    referrers: topReferrers(agg),
    where: [],
    interval: { low: c.rate.low, high: c.rate.high, per: c.rate.per },
    unit: 'objects',
    score: c.rate.value * size * c.confidence,
    p: c.p,
  };
}

/** An untracked suspect's evidence: where it was counted, and who holds it when the deep census sampled some. */
function untrackedPhrase(agg: ReferrerAgg | undefined): string {
  return agg && agg.holders.size > 0 ? `${UNTRACKED_PHRASE}; ${holderPhrase(agg)}` : UNTRACKED_PHRASE;
}

function refcountSuspect(c: Candidate, series: Series): RankedSuspect {
  const mark = series.primaryMark;
  const agg = aggOf(series, c.type, c.untracked);
  const ys = tableOf(series, c.untracked, c.type).types.get(c.type)!;
  const count = Math.round(median(ys.count));
  const per = perText(c.rate, mark);
  const perObject = count > 0 ? c.rate.value / count : 0;
  const observed = `refcount sum of ${c.type} grows by ${fmt(c.rate.value)} ${per} while its count stays at ${count}`;
  let evidence =
    `${observed}: ` +
    `a reference leak (a missing Py_DECREF, e.g. after PyIter_Next), about ${fmt(perObject)} extra ` +
    `references per object ${per}`;
  if (c.untracked) {
    evidence += `; ${UNTRACKED_PHRASE}`;
    if (agg && agg.holders.size > 0) evidence += `; ${holderPhrase(agg)}`;
  } else if (agg) {
    const { total, none } = referenceCounts(agg);
    if (none > 0) evidence += `; ${none} of ${total} sampled references have no referrer (reference leaked by C code)`;
    else if (total > 0) evidence += `; but Python code holds them: ${holderPhrase(agg)}`;
  }
  const size = sizeOf(c.type, series).bytes;
  return {
    kind: 'refcount-growth',
    type: c.type,
    ...(c.untracked ? { untracked: true as const } : {}),
    confidence: c.confidence,
    perSecond: c.fit.perSecond?.slope ?? 0,
    perMark: c.rate.per === 'mark' ? { mark: mark!, value: c.rate.value } : null,
    bytesPerMark: null,
    evidence,
    referrers: topReferrers(agg),
    where: [],
    interval: { low: c.rate.low, high: c.rate.high, per: c.rate.per },
    unit: 'references',
    observed,
    // each leaked reference may pin an object for good: rank as if one object per reference
    score: c.rate.value * size * c.confidence,
    p: c.p,
  };
}

/**
 * Mark builtin helpers that follow an app type: the helper grows at >= 0.8 × the app type's
 * rate (the upper end of the helper's 95 % interval does: its pool churns). Which app type,
 * when several grow: the one the helper's own referrers name (`attribute Thumb.tiles`,
 * `__dict__ of Response`, `bound method Widget.on_click`), else one whose holders mention
 * the helper (or whose every instance carries one, like its __dict__), preferring a whole
 * number of helpers per object (a constructor makes 3 bound methods, not 2.7), then the more
 * confident. The helper's objects are then collapsed into that holder: its bytes per mark
 * count towards the holder's (see `collapseBytes`).
 */
function markDependents(suspects: RankedSuspect[], series: Series): void {
  const users = suspects.filter((s) => s.kind === 'object-growth' && s.type && isUserType(s.type));
  for (const s of suspects) {
    // untracked objects are found only as what tracked ones hold: while an app type grows,
    // they are taken as what its new objects hold (attribute values, their __dict__s)
    // (those counted by their type's references are all of them, held or not: no helper)
    const walked = s.untracked === true && !series.typeCounted.has(s.type ?? '');
    if (s.kind !== 'object-growth' || !s.type || !(isBuiltinHelper(s.type) || walked)) continue;
    const own = aggOf(series, s.type, s.untracked);
    const mps = marksPerSecond(series);
    let best: { user: RankedSuspect; ratio: number; key: number[] } | null = null;
    for (const u of users) {
      if (u === s) continue;
      // in the app type's unit: a helper whose fit followed the clock (or the marks) while the
      // app type's followed the other (few points: the deep census's) is brought to it at the
      // run's mark rate
      const perMark = u.perMark !== null;
      const urate = perMark ? u.perMark!.value : u.perSecond;
      const scale = perMark === (s.perMark !== null) ? 1 : perMark ? 1 / mps : mps;
      if (!(urate > 0) || !(scale > 0) || !Number.isFinite(scale)) continue;
      const rate = (s.perMark?.value ?? s.perSecond) * scale;
      const high = (s.interval?.high ?? s.perMark?.value ?? s.perSecond) * scale;
      const ratio = rate / urate;
      // a helper's rate is noisier than the app type's (its pool churns): its interval decides
      if (high / urate < 0.8) continue;
      const short = shortName(u.type!);
      const named = [...(own?.holders.keys() ?? [])].some((via) => namesClass(via, short));
      const agg = series.referrers.get(u.type!);
      const mentioned =
        named || !agg || agg.holders.size === 0 || perInstanceHelper(s.type) || walked ||
        [...agg.holders.keys()].some((via) => holderMentions(s.type!, via));
      if (!mentioned) continue;
      const whole = Math.abs(ratio - Math.round(ratio)) <= 0.2 && Math.round(ratio) >= 1;
      const key = [named ? 1 : 0, whole ? 1 : 0, u.confidence, urate];
      if (!best || compareKeys(key, best.key) > 0) best = { user: u, ratio, key };
    }
    if (!best) continue;
    const u = best.user.type!;
    const r = best.ratio;
    const near = Math.abs(r - Math.round(r)) <= 0.2 ? String(Math.round(r)) : r.toFixed(1);
    s.dependsOn = u;
    s.confidence = round2(s.confidence * DEPENDENT_FACTOR);
    s.score *= DEPENDENT_FACTOR;
    s.evidence = `follows ${u} (~${near} per ${shortName(u)}): ${s.evidence}`;
  }
}

function compareKeys(a: number[], b: number[]): number {
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return a[i]! - b[i]!;
  return 0;
}

/** Does a holder sentence name the class (`Thumb.tiles`, `of Thumb`, `method Thumb.draw`)? */
function namesClass(via: string, short: string): boolean {
  const esc = short.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  return new RegExp(`(^|[\\s(])${esc}(\\.|$|\\s)`).test(via);
}

/**
 * Bytes per mark of each app type with what it drags along (its dependents' bytes: the
 * lists and bound methods it holds; an instance's __dict__ is in its own estimate), then
 * calibrated by RSS: when RSS grows by more than the estimates say, but by less than
 * SIZE_SLACK times as much, the objects are bigger than the table thinks (strings, numbers,
 * untracked tuples they hold) and the estimates are scaled up to RSS; when RSS grows by less
 * (a 32-bit device), they are scaled down to it. Beyond SIZE_SLACK the rest is native growth.
 */
function collapseBytes(out: RankedSuspect[], series: Series): void {
  const perMark = series.primaryMark !== null;
  const own = new Map<RankedSuspect, number>();
  const measured = new Map<RankedSuspect, boolean>();
  for (const s of out) {
    if (s.kind !== 'object-growth' || !s.type) continue;
    const rate = s.perMark?.value ?? s.perSecond * marksPerSecond(series);
    const size = sizeOf(s.type, series);
    own.set(s, rate * size.bytes);
    measured.set(s, size.measured);
  }
  const total = new Map<RankedSuspect, number>();
  for (const [s, b] of own) if (!s.dependsOn) total.set(s, b);
  for (const [s, b] of own) {
    if (!s.dependsOn) continue;
    if (s.type === 'dict' && perInstanceHelper('dict')) {
      // an instance's __dict__ is already in INSTANCE_BYTES (and in a measured size)
      continue;
    }
    const holder = out.find((u) => u.type === s.dependsOn && !u.dependsOn);
    if (!holder || !total.has(holder)) continue;
    // a measured size already holds what the object alone holds (its __dict__, its lists);
    // only helpers that hold it instead (the bound methods in a registry that its own
    // referrers name) are leaked besides it and add their own bytes
    if (measured.get(holder) && !holdsIt(s, holder, series)) continue;
    total.set(holder, total.get(holder)! + b);
  }
  let estimated = 0;
  let allMeasured = total.size > 0;
  for (const [s, b] of total) {
    estimated += b;
    if (!measured.get(s)) allMeasured = false;
  }
  let factor = 1;
  const rss = perMark && estimated > 0 && !allMeasured ? fitGrowth(series.rss.t, series.rss.x, series.rss.kib) : null;
  if (rss?.perMark && isGrowing(rss, { minNet: 64, minRelative: 0, floor: RSS_FLOOR_KIB })) {
    // table estimates only: scale them to what RSS says (0.25-2x)
    const m = rss.perMark.slope * 1024;
    factor = Math.min(SIZE_SLACK, Math.max(0.25, m / estimated));
  }
  for (const [s, b] of total) {
    const bytes = measured.get(s) ? b : b * factor;
    const own1 = own.get(s) ?? 0;
    const held = b - own1;
    if (s.perMark) s.bytesPerMark = round0(bytes);
    s.score = bytes * s.confidence;
    if (held > 0.25 * own1 && s.perMark) {
      s.evidence += `; with what it holds, ~${fmtBytes(bytes)} per ${s.perMark.mark}`;
    } else if (measured.get(s) && s.perMark) {
      s.evidence += `; ~${fmtBytes(bytes)} per ${s.perMark.mark} (${fmtBytes(own1 / Math.max(1e-9, s.perMark.value))} per object, measured)`;
    }
  }
}

/** Does the helper hold the holder type (its referrers name the helper: `bound method …`)? */
function holdsIt(helper: RankedSuspect, holder: RankedSuspect, series: Series): boolean {
  // callables hold what they were bound to or closed over; a list or dict named among the
  // holders is the one container that keeps them all, not one per object
  if (!['method', 'instancemethod', 'function', 'cell'].includes(helper.type!)) return false;
  const agg = series.referrers.get(holder.type!);
  return [...(agg?.holders.keys() ?? [])].some((via) => holderMentions(helper.type!, via));
}

const round0 = (v: number): number => Math.round(v);

function fmtBytes(b: number): string {
  return b >= 1024 ? `${fmt(b / 1024)} KiB` : `${Math.round(b)} B`;
}

/** The primary mark's average rate over the session (1 without marks). */
function marksPerSecond(series: Series): number {
  const m = series.primaryMark ? series.marks[series.primaryMark] ?? 0 : 0;
  return m > 0 && series.lastT > 0 ? m / series.lastT : 1;
}

/**
 * New objects reference old ones: leaked Widgets raise the refcount sum of their class
 * (`type`), their bound methods' functions, their attribute-name strings. So while types'
 * counts grow, a refcount growth elsewhere of at most REFS_PER_NEW_OBJECT per new object is
 * taken as following the leading growing type, unless most of its sampled references have no
 * referrer at all (the probe's mark of a C leak).
 */
const REFS_PER_NEW_OBJECT = 16;
/** The types of class objects (new-style, and old-style on Python 2). */
export const CLASS_TYPES = new Set(['type', 'classobj']);

function markExplainedReferences(refs: RankedSuspect[], objects: RankedSuspect[], series: Series): void {
  const lead = objects.find((o) => !o.dependsOn && o.kind === 'object-growth');
  if (!lead?.type) return;
  const perMark = lead.perMark !== null;
  let newObjects = 0;
  for (const o of objects) if (o.kind === 'object-growth') newObjects += perMark ? o.perMark?.value ?? 0 : o.perSecond;
  for (const s of refs) {
    // in the lead's unit: a growth that follows the clock is brought to marks at the run's mark rate
    const rate = perMark ? s.perMark?.value ?? s.perSecond / marksPerSecond(series) : s.perSecond;
    if (rate > REFS_PER_NEW_OBJECT * newObjects) continue;
    // (untracked objects have no referrers sampled: a tracked type's of the same name are not theirs)
    // (an untracked object's holders are often untracked too, invisible to the walk: its
    // 'no tracked referrer' says nothing of C code, so only a tracked type's 'no referrer' counts)
    const { total, none } = s.untracked ? { total: 0, none: 0 } : referenceCounts(s.type ? aggOf(series, s.type, s.untracked) : undefined);
    // classes: every new instance of a heap type holds a reference to its class (Python 3), which
    // a referrer walk of a sampled class may not see; at most one per new object is just that
    const ownClassRefs = CLASS_TYPES.has(s.type ?? '') && rate <= 1.2 * newObjects;
    if (total > 0 && none * 2 > total && !ownClassRefs) continue;
    s.dependsOn = lead.type;
    s.confidence = round2(s.confidence * DEPENDENT_FACTOR);
    s.score = 0; // references the new objects hold pin nothing new: after every other suspect
    s.evidence = `follows ${lead.type}: ${s.observed ?? s.evidence}, as the new objects reference existing ones`;
  }
}

/**
 * A leak adds a little at every step; the allocator moves RSS in a few big jumps. The
 * steepest steps (rise per mark, or per second) that make half of the window's rise must
 * span at least this share of the window (a steady leak: about half; four jumps among ten
 * one-second samples: a fifth at most). Measured along the axis, not in steps, so it holds
 * whatever the sampling: samples a second apart, censuses at marks, or both interleaved.
 */
const NATIVE_MIN_SPAN_SHARE = 0.25;
/**
 * …or, where samples are dense and noisy (the steepest steps are noise), half of the
 * positive rises must take at least this many sample-to-sample rises.
 */
const NATIVE_MIN_STEPS = 6;

/** Rises from one point to the next needed to make up half of all its rises. */
export function risesForHalf(kib: Float64Array): number {
  const rises: number[] = [];
  let sum = 0;
  for (let i = 1; i < kib.length; i++) {
    const d = kib[i]! - kib[i - 1]!;
    if (d > 0) {
      rises.push(d);
      sum += d;
    }
  }
  rises.sort((a, b) => b - a);
  let acc = 0;
  for (let k = 0; k < rises.length; k++) {
    acc += rises[k]!;
    if (acc >= sum / 2) return k + 1;
  }
  return 0;
}


/** The running maximum of a series: its high-water mark at each point. */
export function highWater(kib: Float64Array): Float64Array {
  const out = new Float64Array(kib.length);
  let top = -Infinity;
  for (let i = 0; i < kib.length; i++) out[i] = top = Math.max(top, kib[i]!);
  return out;
}

/**
 * The share of the window (along marks or seconds) that the steepest rises making half of
 * all its rises span: about a half for a steady rise, whatever the sampling; near 0 for one
 * jump, however far apart the two samples around it.
 */
export function riseSpanShare(along: Float64Array, kib: Float64Array): number {
  const steps: Array<[rate: number, rise: number, span: number]> = [];
  let total = 0;
  let span = 0;
  for (let i = 1; i < kib.length; i++) {
    const d = kib[i]! - kib[i - 1]!;
    const dx = along[i]! - along[i - 1]!;
    span += Math.max(0, dx);
    if (d <= 0) continue;
    total += d;
    steps.push([dx > 0 ? d / dx : Infinity, d, Math.max(0, dx)]);
  }
  if (total <= 0 || span <= 0) return 0;
  steps.sort((a, b) => b[0] - a[0]);
  let acc = 0;
  let covered = 0;
  for (const [, d, dx] of steps) {
    if (acc + d >= total / 2) {
      // only the part of this rise that completes the half: a rise is spread evenly over
      // its step for all the samples can tell, so one jump between two samples far apart
      // (a heap's high-water mark moving once) does not count as its whole step's span
      covered += (dx * (total / 2 - acc)) / d;
      break;
    }
    acc += d;
    covered += dx;
  }
  return covered / span;
}


/** RSS growth that the growing types do not explain. */
function nativeSuspect(series: Series, objects: RankedSuspect[]): RankedSuspect | null {
  const { t, x, kib } = series.rss;
  const f = fitGrowth(t, x, kib);
  if (!f) return null;
  const s = mainSlope(f);
  if (!s || !isGrowing(f, { minNet: NATIVE_MIN_NET_KIB, minRelative: 0, floor: RSS_FLOOR_KIB })) return null;
  // the pace test looks past the change point: RSS that grows ever more slowly has a
  // flatter end that looks straight on its own; over the run after a fixed 20 % its later
  // half is much slower than its earlier half
  const pace = fitGrowth(t, x, kib, 0.2);
  if (f.lateSlope < NATIVE_MIN_PACE * f.earlySlope) return null;
  if (pace && pace.lateSlope < NATIVE_MIN_PACE * pace.earlySlope) return null;
  const perMark = f.perMark !== null;
  // bytes per mark (or per second) the growing types account for; a dict that follows an app
  // instance is its __dict__, already in the instance's estimate
  let explained = 0;
  let allMeasured = true;
  for (const o of objects) {
    if (o.kind !== 'object-growth' || !o.type) continue;
    if (o.dependsOn) continue; // collapsed into its holder's bytes
    const size = sizeOf(o.type, series);
    if (!size.measured) allMeasured = false;
    if (perMark && o.perMark && o.bytesPerMark !== null) explained += o.bytesPerMark;
    else explained += (perMark ? o.perMark?.value ?? 0 : o.perSecond) * size.bytes;
  }
  const slack = allMeasured ? MEASURED_SLACK : SIZE_SLACK;
  const unexplained = s.slope * 1024 - explained;
  const unexplainedLow = s.low * 1024 - explained;
  const min = perMark ? NATIVE_MIN_BYTES_PER_MARK : NATIVE_MIN_BYTES_PER_SECOND;
  // the per-object sizes are estimates, good to about a factor of 2: only RSS growth beyond
  // twice what the types explain counts as unexplained
  if (s.low * 1024 - slack * explained <= 0 || unexplained < min) return null;
  if ((unexplained * f.span) / 1024 < NATIVE_MIN_NET_KIB) return null;
  // …and the later half of the window alone must add half of that: RSS that rose in a few
  // allocator steps early on (arenas, the heap's high-water mark) and then crawls is no leak
  const lateUnexplained = f.lateSlope * 1024 - explained;
  if ((lateUnexplained * f.span) / 2 / 1024 < NATIVE_MIN_NET_KIB / 2) return null;
  // a leak adds a little at every sample; the allocator moves RSS in a few big jumps (a new
  // arena, the heap's top, a trim undone): half of the rise must take many of the rises.
  // Judged on the window's high-water mark: memory the process gave back and took again
  // (garbage freed in bursts, a pool that fills and empties) is not new, only what rises
  // above the highest RSS seen before is; a leak keeps setting new highs, a saw-tooth whose
  // troughs creep up while the allocator fragments sets one at a few of its peaks
  const along = f.perMark && x ? x : t;
  const w = highWater(kib.subarray(f.skip));
  if (riseSpanShare(along.subarray(f.skip), w) < NATIVE_MIN_SPAN_SHARE && risesForHalf(w) < NATIVE_MIN_STEPS) return null;
  const share = Math.min(1, unexplained / (s.slope * 1024));
  const confidence = round2(growthConfidence(f, 1, RSS_FLOOR_KIB) * share);
  const mark = series.primaryMark;
  const per = perMark ? `per ${mark}` : 'per second';
  const perSecondBytes = (f.perSecond?.slope ?? 0) * 1024 - (perMark ? 0 : explained);
  return {
    kind: 'native-growth',
    type: null,
    confidence,
    perSecond: perMark ? perSecondBytes * share : unexplained,
    perMark: perMark ? { mark: mark!, value: unexplained } : null,
    bytesPerMark: perMark ? unexplained : null,
    evidence:
      (explained > 0
        ? `RSS grows by ${fmt(s.slope)} KiB ${per} (95 % CI ${fmt(s.low)}-${fmt(s.high)}); growing Python objects ` +
          `explain ${fmt(explained / 1024)} KiB of it, leaving ${fmt(unexplained / 1024)} KiB ${per} ` +
          `(95 % CI ${fmt(Math.max(0, unexplainedLow) / 1024)}-${fmt((s.high * 1024 - explained) / 1024)}) that no Python type explains`
        : `RSS grows by ${fmt(unexplained / 1024)} KiB ${per} (95 % CI ${fmt(s.low)}-${fmt(s.high)}) and no Python type explains it`) +
      `: a native (C heap) leak` + cTypesPhrase(series, unexplained, per),
    referrers: [],
    where: [],
    interval: { low: unexplainedLow, high: s.high * 1024 - explained, per: perMark ? 'mark' : 'second' },
    unit: 'bytes',
    score: unexplained * confidence,
    p: adjustedP(f, 1, RSS_FLOOR_KIB),
  };
}

/**
 * The C types without GC support that the app's own extensions define as static types (the
 * Python 2 era's bindings): no census sees their instances, so when native memory grows they
 * are the likely cause. Each is named with the bytes an instance takes in the allocator
 * (pymalloc's 8-byte size classes up to 512 B, malloc's 16-byte header above) and how many a
 * mark would have to leak to make the growth: a handful of whole objects says more than a
 * fraction of one. At most three, the nearest to a whole number per mark first.
 */
function cTypesPhrase(series: Series, bytes: number, per: string): string {
  if (series.cTypes.size === 0 || !(bytes > 0)) return '';
  const sized = [...series.cTypes].map(([type, basic]) => {
    const size = basic <= 512 ? Math.ceil(basic / 8) * 8 : basic + 16;
    const n = bytes / size;
    return { type, size, n, off: n >= 1 ? Math.abs(n - Math.round(n)) / n : 1 };
  }).filter((c) => c.n >= 0.5).sort((a, b) => a.off - b.off || a.type.localeCompare(b.type)).slice(0, 3);
  if (sized.length === 0) return '';
  const list = sized.map((c) => `${c.type} (${c.size} B each: ~${fmt(c.n)} ${per} would make it)`).join(', ');
  return `; the app's C extensions define types without GC support whose instances no census counts, ` +
    `the likely cause: ${list}`;
}

/** All suspects, most likely first (dependents after the rest), before the confidence cut. */
export function findSuspects(series: Series): RankedSuspect[] {
  const { objects, refs } = typeCandidates(series);
  const out = objects.map((c) => objectSuspect(c, series));
  markDependents(out, series);
  collapseBytes(out, series);
  const refSuspects = refs.map((c) => refcountSuspect(c, series));
  markExplainedReferences(refSuspects, out, series);
  out.push(...refSuspects);
  const native = nativeSuspect(series, out);
  if (native) out.push(native);
  return out.sort(
    (a, b) =>
      Number(a.dependsOn !== undefined) - Number(b.dependsOn !== undefined) ||
      b.score - a.score ||
      (String(a.type) < String(b.type) ? -1 : 1),
  );
}

/** The report's suspects: confident enough, without the ranking score. */
export function reportable(ranked: RankedSuspect[]): Suspect[] {
  return ranked
    .filter((s) => s.confidence >= MIN_CONFIDENCE)
    .map(({ score: _score, observed: _observed, p: _p, ...s }) => s);
}
