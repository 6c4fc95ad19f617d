/**
 * The report plus what drawing it needs: RSS, marks and the top suspects' count and refsum
 * over time as min/max envelopes (spikes survive downsampling), each suspect's fitted
 * trend, reader counts and session facts. One pass over the records, bounded memory: the
 * envelopes hold a fixed number of buckets per channel whatever the session's length.
 * `analyseSessionDetailed(dir).report` is what `analyseSession(dir)` returns.
 */
import type { Report } from './report.js';
import type { ProbeRecord } from '../session/records.js';
import { openSession, type ReaderStats } from '../session/reader.js';
import { EnvelopeTable, type EnvelopePoint } from './envelope.js';
import { fitGrowth, mainSlope, warmupSkip } from './fit.js';
import { applySession, applyThinned, reportFromSeries, sessionMeta, type AnalysisMeta } from './index.js';
import { clipName, MAX_MARK_NAMES, MAX_TYPES, SeriesBuilder, type Series } from './series.js';
import { tableOf } from './suspects.js';

export type { EnvelopePoint } from './envelope.js';

/** Buckets per chart: RSS and marks, and each type's census series. */
export const RSS_BUCKETS = 600;
export const CENSUS_BUCKETS = 300;
/** Suspects drawn with their own charts. */
export const TOP_SUSPECTS = 5;
/** Events kept for the timeline (the rest are only counted). */
export const MAX_EVENTS = 200;

export interface TrendLine {
  /** what the trend was fitted on */
  of: 'count' | 'refsum' | 'rss';
  /** the fitted line at the points of the fitted window (after the warm-up) */
  points: EnvelopePoint[];
  /** slope per mark (or second when there are no marks) */
  slope: number;
  per: 'mark' | 'second';
}

export interface SuspectSeries {
  /** index into report.suspects */
  index: number;
  type: string | null;
  count: EnvelopePoint[];
  refsum: EnvelopePoint[];
  trend: TrendLine | null;
}

export interface ReportDetail {
  rss: EnvelopePoint[];
  /** cumulative count of the primary mark over time (samples), empty without marks */
  marks: EnvelopePoint[];
  primaryMark: string | null;
  rssTrend: TrendLine | null;
  suspects: SuspectSeries[];
  events: { t: number; event: string; detail: string }[];
  eventCounts: Record<string, number>;
  bucketSeconds: { rss: number; census: number };
  /** what the reader could not use (null when the records did not come from a folder) */
  reader: Omit<ReaderStats, 'hasEnd'> | null;
  facts: { uname: string | null; probe: string | null; impl: string | null; platform: string | null; interval: number | null; droppedNames: number };
}

export interface DetailedReport {
  report: Report;
  detail: ReportDetail;
  /** the analysis series (decimated, in memory only: for diff) */
  series: Series;
}

/** Collects the envelopes while the SeriesBuilder collects the analysis series. */
class DetailBuilder {
  readonly rss = new EnvelopeTable(RSS_BUCKETS, MAX_MARK_NAMES + 1, null);
  readonly census = new EnvelopeTable(CENSUS_BUCKETS, 2 * MAX_TYPES, 0);
  readonly events: ReportDetail['events'] = [];
  readonly eventCounts: Record<string, number> = Object.create(null) as Record<string, number>;
  private marks = new Map<string, number>();
  /** the newest census row is held back: the one after the app ended is teardown, not the app */
  private pending: { t: number; row: Map<string, number> } | null = null;
  private censusRows = 0;

  add(r: ProbeRecord): void {
    switch (r.k) {
      case 'sample': {
        for (const [name, n] of Object.entries(r.marks)) {
          const key = clipName(name);
          if (this.marks.has(key) || this.marks.size < MAX_MARK_NAMES) this.marks.set(key, n);
        }
        const row = new Map<string, number>();
        if (r.rss !== null) row.set('rss', r.rss);
        for (const [name, n] of this.marks) row.set('m:' + name, n);
        this.rss.add(r.t, row);
        break;
      }
      case 'census': {
        const row = new Map<string, number>();
        for (const [raw, count, refsum] of r.types) {
          const type = clipName(raw);
          row.set('c:' + type, (row.get('c:' + type) ?? 0) + count);
          row.set('r:' + type, (row.get('r:' + type) ?? 0) + refsum);
        }
        if (this.pending) this.census.add(this.pending.t, this.pending.row);
        this.pending = { t: r.t, row };
        this.censusRows++;
        break;
      }
      case 'event': {
        const name = clipName(r.event);
        if (name in this.eventCounts || Object.keys(this.eventCounts).length < 64) {
          this.eventCounts[name] = (this.eventCounts[name] ?? 0) + 1;
        }
        if (this.events.length < MAX_EVENTS) this.events.push({ t: r.t, event: name, detail: clipName(r.detail) });
        break;
      }
      default:
        break;
    }
  }

  finish(series: Series): void {
    const dropLast = series.end !== null && series.end.how !== 'start-failed' && this.censusRows >= 2;
    if (this.pending && !dropLast) this.census.add(this.pending.t, this.pending.row);
    this.pending = null;
  }
}

function trendOf(t: Float64Array, x: Float64Array | null, y: Float64Array, of: TrendLine['of']): TrendLine | null {
  const f = fitGrowth(t, x, y);
  const s = f ? mainSlope(f) : null;
  if (!f || !s) return null;
  const per = f.perMark ? 'mark' : 'second';
  const along = per === 'mark' ? x! : t;
  const n = y.length;
  const skip = warmupSkip(n);
  const points: EnvelopePoint[] = [];
  const step = Math.max(1, Math.floor((n - skip) / 200));
  for (let i = skip; i < n; i += step) points.push({ t: t[i]!, v: s.slope * along[i]! + s.intercept });
  if (n > skip && points[points.length - 1]?.t !== t[n - 1]) points.push({ t: t[n - 1]!, v: s.slope * along[n - 1]! + s.intercept });
  return { of, points, slope: s.slope, per };
}

function detailFrom(series: Series, b: DetailBuilder, report: Report, reader: ReaderStats | null, uname: string | null): ReportDetail {
  const suspects: SuspectSeries[] = [];
  report.suspects.slice(0, TOP_SUSPECTS).forEach((s, index) => {
    if (s.type === null) {
      suspects.push({ index, type: null, count: [], refsum: [], trend: trendOf(series.rss.t, series.rss.x, series.rss.kib, 'rss') });
      return;
    }
    const table = tableOf(series, s.untracked, s.type);
    const ys = table.types.get(s.type);
    const of = s.kind === 'refcount-growth' ? 'refsum' : 'count';
    const trend = ys ? trendOf(table.t, table.x, of === 'count' ? ys.count : ys.refsum, of) : null;
    // the charts' points are the plain census's (an untracked type's deep census has none there)
    const points = (key: string) => (table === series.deep ? [] : b.census.points(key));
    suspects.push({ index, type: s.type, count: points('c:' + s.type), refsum: points('r:' + s.type), trend });
  });
  const start = series.start;
  let readerCounts: ReportDetail['reader'] = null;
  if (reader) {
    const { hasEnd: _hasEnd, ...rest } = reader;
    readerCounts = { ...rest };
  }
  return {
    rss: b.rss.points('rss'),
    marks: series.primaryMark ? b.rss.points('m:' + series.primaryMark) : [],
    primaryMark: series.primaryMark,
    rssTrend: trendOf(series.rss.t, series.rss.x, series.rss.kib, 'rss'),
    suspects,
    events: b.events,
    eventCounts: b.eventCounts,
    bucketSeconds: { rss: b.rss.bucketSeconds, census: b.census.bucketSeconds },
    reader: readerCounts,
    facts: {
      uname,
      probe: start?.probe || null,
      impl: start?.impl || null,
      platform: start?.platform || null,
      interval: start ? start.interval : null,
      droppedNames: series.droppedNames,
    },
  };
}

/** The detailed analysis of a record stream (pure, like analyseRecords). */
export async function analyseRecordsDetailed(
  records: AsyncIterable<ProbeRecord> | Iterable<ProbeRecord>,
  meta: AnalysisMeta,
  extra: { reader?: ReaderStats; uname?: string | null } = {},
): Promise<DetailedReport> {
  const sb = new SeriesBuilder(meta.maxPoints);
  const db = new DetailBuilder();
  for await (const r of records) {
    sb.add(r);
    db.add(r);
  }
  const series = sb.finish();
  db.finish(series);
  const report = reportFromSeries(series, meta);
  if (extra.reader) report.session.lostRecords = extra.reader.lostRecords;
  if (extra.reader) applyThinned(report, extra.reader);
  return { report, detail: detailFrom(series, db, report, extra.reader ?? null, extra.uname ?? null), series };
}

/** Read a session directory and analyse it, keeping what the charts need. */
export async function analyseSessionDetailed(dir: string): Promise<DetailedReport> {
  const session = await openSession(dir);
  const m = session.manifest;
  const detailed = await analyseRecordsDetailed(session.records(), sessionMeta(session, dir), {
    reader: session.stats,
    uname: typeof m?.uname === 'string' ? m.uname : null,
  });
  // the same finishing steps as analyseSession: reader counts, thinned spans, the native sampler's records
  await applySession(detailed.report, session, dir);
  return detailed;
}
