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
import { isLeading, type Report, type Suspect } from './report.js';
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
  };
}
