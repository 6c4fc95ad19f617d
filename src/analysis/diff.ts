/**
 * Regression between two runs (`refscope diff BASE NEW`): per type, growth per mark and per
 * second side by side; RSS slopes; suspects that are new, fixed, or grew faster; and a
 * verdict. `regressed` when NEW has a leak BASE did not (a leading suspect, as the report's
 * verdict counts it, that BASE does not lead with), or a shared leak grows clearly faster
 * (NEW's 95 % interval above BASE's and at least 1.5 times the rate); `improved` when not
 * regressed and BASE's leak is gone or clearly slower; `same` otherwise.
 */
import type { DetailedReport } from './detail.js';
import { fitGrowth } from './fit.js';
import { isLeading, type Report, type Suspect, type Where } from './report.js';
import type { Series } from './series.js';

export const DIFF_SCHEMA = 'refscope.diff/1';
export type DiffVerdict = 'regressed' | 'improved' | 'same';
/** Types listed besides the suspects: the largest growers of either run. */
const TOP_GROWERS = 8;
const FASTER = 1.5;
/** A type counts as a grower when its count rose at least this much over the run. */
const MIN_RISE = 3;

export interface Growth {
  /** per mark of that run's primary mark, null without marks */
  perMark: number | null;
  perSecond: number | null;
  first: number;
  last: number;
}

export interface TypeDiff {
  type: string;
  base: Growth | null;
  new: Growth | null;
}

export interface SuspectRef {
  kind: Suspect['kind'];
  type: string | null;
  confidence: number;
  perMark: Suspect['perMark'];
  perSecond: number;
  evidence: string;
}

/** A site of a suspect's `where` list, as the diff matches it: by (function, file, line). */
export interface SiteRef {
  kind: Where['kind'];
  function: string | null;
  file: string | null;
  line: number | null;
  /** the site's evidence in the run it comes from (NEW's for a site in both) */
  evidence: string;
}

/**
 * The leaking call of a suspect present in both runs (same kind, same type), as their
 * narrowing windows found it: sites only NEW lists, sites only BASE lists, sites both list.
 */
export interface SitesDiff {
  kind: Suspect['kind'];
  type: string;
  new: SiteRef[];
  gone: SiteRef[];
  persist: SiteRef[];
}

export interface RunSide {
  id: string;
  device: string;
  python: string;
  verdict: Report['verdict'];
  durationSeconds: number;
  mark: string | null;
  rss: { startKiB: number; endKiB: number; slopeKiBPerSecond: number; slopeKiBPerMark: number | null };
}

export interface SessionDiff {
  schema: typeof DIFF_SCHEMA;
  verdict: DiffVerdict;
  /** one sentence per finding that decided the verdict */
  reasons: string[];
  base: RunSide;
  new: RunSide;
  types: TypeDiff[];
  newSuspects: SuspectRef[];
  fixedSuspects: SuspectRef[];
  /** leaks in both runs: [base, new] */
  changedSuspects: { base: SuspectRef; new: SuspectRef; change: 'faster' | 'slower' | 'same' }[];
  /**
   * added (issue 15): for each suspect in both runs whose where list is not empty in either,
   * its sites compared (among those each report lists, at most 5)
   */
  sites: SitesDiff[];
}

const keyOf = (s: Suspect): string => `${s.kind}\u0000${s.type ?? ''}`;
const ref = (s: Suspect): SuspectRef => ({
  kind: s.kind, type: s.type, confidence: s.confidence, perMark: s.perMark, perSecond: s.perSecond, evidence: s.evidence,
});

function side(d: DetailedReport): RunSide {
  const r = d.report;
  return {
    id: r.session.id, device: r.session.device, python: r.session.python, verdict: r.verdict,
    durationSeconds: r.session.durationSeconds, mark: d.series.primaryMark,
    rss: { ...r.rss, slopeKiBPerMark: r.rss.slopeKiBPerMark ?? null },
  };
}

function growthOf(series: Series, type: string): Growth | null {
  const ys = series.census.types.get(type);
  if (!ys || ys.count.length === 0) return null;
  const f = fitGrowth(series.census.t, series.census.x, ys.count);
  return {
    perMark: f?.perMark?.slope ?? null,
    perSecond: f?.perSecond?.slope ?? null,
    first: ys.count[0]!,
    last: ys.count[ys.count.length - 1]!,
  };
}

/** The types whose count rose most from the first census to the last. */
function topGrowers(series: Series, n: number): string[] {
  const rises: [string, number][] = [];
  for (const [type, ys] of series.census.types) {
    const len = ys.count.length;
    if (len >= 2) rises.push([type, ys.count[len - 1]! - ys.count[0]!]);
  }
  return rises.filter(([, d]) => d >= MIN_RISE).sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1)).slice(0, n).map(([t]) => t);
}

/** Rate in the unit both runs share: per mark when they mark with the same name, else per second. */
function comparable(b: Suspect, n: Suspect): { base: number; new: number; baseHigh: number; newLow: number; baseLow: number; newHigh: number } {
  const sameMark = b.perMark && n.perMark && b.perMark.mark === n.perMark.mark;
  const val = (s: Suspect): number => (sameMark ? s.perMark!.value : s.perSecond);
  const lo = (s: Suspect): number => (s.interval && (s.interval.per === 'mark') === Boolean(sameMark) ? s.interval.low : val(s));
  const hi = (s: Suspect): number => (s.interval && (s.interval.per === 'mark') === Boolean(sameMark) ? s.interval.high : val(s));
  return { base: val(b), new: val(n), baseHigh: hi(b), baseLow: lo(b), newLow: lo(n), newHigh: hi(n) };
}

const siteKey = (w: Where): string => `${w.function ?? ''}\u0000${w.file ?? ''}\u0000${w.line ?? ''}`;
const siteRef = (w: Where): SiteRef => ({ kind: w.kind, function: w.function, file: w.file, line: w.line, evidence: w.evidence });

/** The sites of the suspects both runs have, matched by (function, file, line). */
export function diffSites(base: Report, next: Report): SitesDiff[] {
  const before = new Map(base.suspects.filter((s) => s.type !== null).map((s) => [keyOf(s), s]));
  const out: SitesDiff[] = [];
  for (const n of next.suspects) {
    const b = n.type !== null ? before.get(keyOf(n)) : undefined;
    if (!b) continue;
    // reports written before issue 15 have no where lists
    const bw = b.where ?? [];
    const nw = n.where ?? [];
    if (bw.length === 0 && nw.length === 0) continue;
    const had = new Set(bw.map(siteKey));
    const has = new Set(nw.map(siteKey));
    out.push({
      kind: n.kind, type: n.type!,
      new: nw.filter((w) => !had.has(siteKey(w))).map(siteRef),
      gone: bw.filter((w) => !has.has(siteKey(w))).map(siteRef),
      persist: nw.filter((w) => had.has(siteKey(w))).map(siteRef),
    });
    before.delete(keyOf(n));
  }
  return out;
}

const what = (s: Suspect): string => `${s.kind} of ${s.type ?? 'native memory'}`;

export function diffSessions(base: DetailedReport, next: DetailedReport): SessionDiff {
  const bLead = new Map(base.report.suspects.filter(isLeading).map((s) => [keyOf(s), s]));
  const nLead = new Map(next.report.suspects.filter(isLeading).map((s) => [keyOf(s), s]));
  const reasons: string[] = [];
  const newSuspects: SuspectRef[] = [];
  const fixedSuspects: SuspectRef[] = [];
  const changed: SessionDiff['changedSuspects'] = [];
  let worse = false;
  let better = false;
  for (const [k, s] of nLead) {
    const b = bLead.get(k);
    if (!b) {
      newSuspects.push(ref(s));
      reasons.push(`new leak in NEW: ${what(s)}`);
      worse = true;
      continue;
    }
    const c = comparable(b, s);
    let change: 'faster' | 'slower' | 'same' = 'same';
    if (c.newLow > c.baseHigh && c.new >= FASTER * c.base) {
      change = 'faster';
      worse = true;
      reasons.push(`${what(s)} grows faster in NEW`);
    } else if (c.newHigh < c.baseLow && c.base >= FASTER * c.new) {
      change = 'slower';
      better = true;
      reasons.push(`${what(s)} grows slower in NEW`);
    }
    changed.push({ base: ref(b), new: ref(s), change });
  }
  for (const [k, s] of bLead) {
    if (nLead.has(k)) continue;
    fixedSuspects.push(ref(s));
    reasons.push(`fixed in NEW: ${what(s)}`);
    better = true;
  }
  const names = new Set<string>();
  for (const d of [base, next]) {
    for (const s of d.report.suspects) if (s.type !== null) names.add(s.type);
    for (const t of topGrowers(d.series, TOP_GROWERS)) names.add(t);
  }
  const pace = (t: TypeDiff): number => Math.max(Math.abs(t.base?.perSecond ?? 0), Math.abs(t.new?.perSecond ?? 0));
  const types = [...names]
    .map((type) => ({ type, base: growthOf(base.series, type), new: growthOf(next.series, type) }))
    .sort((a, b) => pace(b) - pace(a) || (a.type < b.type ? -1 : a.type > b.type ? 1 : 0));
  const verdict: DiffVerdict = worse ? 'regressed' : better ? 'improved' : 'same';
  if (reasons.length === 0) reasons.push('no leak appeared, disappeared or changed pace');
  if (next.report.verdict === 'inconclusive') reasons.push(`NEW is inconclusive: ${next.report.summary ?? ''}`);
  if (base.report.verdict === 'inconclusive') reasons.push(`BASE is inconclusive: ${base.report.summary ?? ''}`);
  return {
    schema: DIFF_SCHEMA, verdict, reasons, base: side(base), new: side(next), types, newSuspects, fixedSuspects, changedSuspects: changed,
    sites: diffSites(base.report, next.report),
  };
}
