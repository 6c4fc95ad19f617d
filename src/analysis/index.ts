/**
 * The analysis: records → series → suspects → a refscope.report/1 report.
 * `analyseRecords` is pure (records in, report out); `analyseSession` reads a directory.
 */
import { basename, resolve } from 'node:path';
import { isLeading, REPORT_SCHEMA, type Report, type Suspect, type Verdict } from './report.js';
import type { ProbeRecord } from '../session/records.js';
import { readNative, type NativeSummary } from '../session/native.js';
import { openSession, type ReaderStats, type SessionReader } from '../session/reader.js';
import { fitGrowth, mainSlope } from './fit.js';
import { buildSeries, type Series } from './series.js';
import { findSuspects, reportable } from './suspects.js';
import { applyNarrow } from './narrow.js';
import { halfWidthOf, signed, suspectRates } from './figures.js';

/** Fewer census points than this, or fewer primary marks, and the verdict is inconclusive. */
export const MIN_CENSUSES = 5;
export const MIN_MARKS = 20;

export interface AnalysisMeta {
  /** session id (manifest id or folder name) */
  id: string;
  device?: string;
  /** app exit status from the manifest, used when there is no end record */
  exitCode?: number | null;
  /** ISO start time from the manifest, used when the start record has no wall clock */
  createdAt?: string;
  lostRecords?: number;
  /** cap on census/sample points kept per series (tests lower it) */
  maxPoints?: number;
}

export async function analyseRecords(
  records: AsyncIterable<ProbeRecord> | Iterable<ProbeRecord>,
  meta: AnalysisMeta,
): Promise<Report> {
  const series = await buildSeries(records, meta.maxPoints);
  return reportFromSeries(series, meta);
}

/** Read a session directory (SESSION/ or a bare folder of seg-*.jsonl) and analyse it. */
export async function analyseSession(dir: string): Promise<Report> {
  const session = await openSession(dir);
  const report = await analyseRecords(session.records(), sessionMeta(session, dir));
  await applySession(report, session, dir);
  return report;
}

/** The analysis meta a session folder gives (shared with analyseSessionDetailed). */
export function sessionMeta(session: SessionReader, dir: string): AnalysisMeta {
  return {
    id: session.manifest?.id || basename(resolve(dir)),
    device: session.manifest?.device,
    exitCode: session.manifest?.exitCode ?? null,
    createdAt: session.manifest?.createdAt,
  };
}

/**
 * What the folder adds to the records' report once they are read: the reader's counts and
 * the native sampler's summary (shared with analyseSessionDetailed, so both give one report).
 */
export async function applySession(report: Report, session: SessionReader, dir: string): Promise<void> {
  report.session.lostRecords = session.stats.lostRecords;
  applyThinned(report, session.stats);
  applyEarly(report, session.manifest?.earlyVerdict);
  const native = await readNative(dir).catch(() => null);
  if (native) applyNative(report, native);
}

/** --until-verdict's decision, from the manifest (checked: the manifest is a file like any other). */
export function applyEarly(report: Report, v: unknown): void {
  if (!v || typeof v !== 'object') return;
  const e = v as Record<string, unknown>;
  const num = (x: unknown): x is number => typeof x === 'number' && Number.isFinite(x);
  if ((e.verdict !== 'leak' && e.verdict !== 'no-leak') || !num(e.seconds) || !num(e.look) || !num(e.alpha)) return;
  report.session.untilVerdict = {
    verdict: e.verdict, marks: num(e.marks) ? e.marks : null, seconds: e.seconds, look: e.look, alpha: e.alpha,
    reason: typeof e.reason === 'string' ? e.reason.slice(0, 500) : '',
  };
}

/** What the probe thinned under --max-device-mb (additive: session.thinned, only when it did). */
export function applyThinned(report: Report, stats: ReaderStats): void {
  const th = stats.thinned;
  if (!th || (th.records === 0 && th.spans.length === 0)) return;
  const wall = Date.parse(report.session.startedAt);
  const iso = (t: number): string | null => (Number.isFinite(wall) ? new Date(wall + t * 1000).toISOString() : null);
  report.session.thinned = {
    records: th.records,
    spans: th.spans.map((s) => ({ kind: s.kind, factor: s.factor, fromSeconds: s.from, toSeconds: s.to, from: iso(s.from), to: iso(s.to) })),
  };
}

/**
 * What the native sampler adds (additive fields only): how the process ended, whether the
 * OOM killer did it, and the exit status when the probe could write no end record.
 */
export function applyNative(report: Report, native: NativeSummary): void {
  const { start, end } = native;
  const maxSample = native.samples.reduce((m, s) => Math.max(m, s.rss ?? 0), 0);
  report.session.native = {
    sampler: start?.sampler ?? '',
    machine: start?.machine ?? '',
    emulator: start?.emulator ?? null,
    samples: end?.samples ?? native.samples.length,
    maxRssKiB: Math.max(end?.maxRss ?? 0, maxSample),
    limitKiB: start?.limitKiB ?? null,
    how: end ? end.how : 'unknown',
    signal: end?.signalName ?? null,
    oomKill: end ? end.oomKill : null,
    samplerCpuSeconds: end ? end.samplerCpu[0] + end.samplerCpu[1] : 0,
    lostRecords: native.lost,
  };
  if (report.session.ended === 'abnormal' && end && report.session.exitCode === null) report.session.exitCode = end.exit;
}

/** The end record's error is clipped to this many characters in the report. */
const MAX_ERROR = 1000;

export function reportFromSeries(series: Series, meta: AnalysisMeta): Report {
  const { start, end } = series;
  // an app that never started ran none of its code: nothing in its records is its growth
  const suspects = startFailed(series) ? [] : reportable(findSuspects(series));
  applyNarrow(suspects, series);
  const { verdict, summary } = decide(series, suspects);
  const duration = series.lastT;
  const rssFit = fitGrowth(series.rss.t, series.rss.x, series.rss.kib);
  const kib = series.rss.kib;
  return {
    schema: REPORT_SCHEMA,
    session: {
      id: meta.id,
      device: meta.device || 'unknown',
      python: start?.python ?? 'unknown',
      startedAt: start && start.wall > 0 ? new Date(start.wall * 1000).toISOString() : meta.createdAt ?? '',
      durationSeconds: duration,
      exitCode: end ? end.exit : meta.exitCode ?? null,
      samples: series.samples,
      lostRecords: meta.lostRecords ?? 0,
      ended: end ? end.how : 'abnormal',
      ...(end?.error ? { error: end.error.length > MAX_ERROR ? `${end.error.slice(0, MAX_ERROR)}...` : end.error } : {}),
      censuses: series.censuses,
      marks: series.marks,
      argv: start?.argv ?? [],
    },
    verdict,
    summary,
    suspects,
    rss: {
      startKiB: kib.length ? kib[0]! : 0,
      endKiB: kib.length ? kib[kib.length - 1]! : 0,
      slopeKiBPerSecond: rssFit?.perSecond?.slope ?? 0,
      slopeKiBPerMark: rssFit?.perMark?.slope ?? null,
    },
    overhead: {
      probeCpuSeconds: series.probeCpu,
      probeCpuFraction: duration > 0 ? series.probeCpu / duration : 0,
      // the narrowing windows, stated apart: wall seconds open, CPU of the app's thread meanwhile (their hook included)
      narrowSeconds: series.narrowSeconds,
      narrowCpuSeconds: series.narrowCpu,
    },
  };
}

const plural = (n: number, one: string, many = one + 's'): string => `${n} ${n === 1 ? one : many}`;

const startFailed = (series: Series): boolean => series.end?.how === 'start-failed';

function decide(series: Series, suspects: Suspect[]): { verdict: Verdict; summary: string } {
  if (startFailed(series)) {
    // not "run longer": no run of any length helps until the app starts
    const error = series.end?.error ? ` (${series.end.error.slice(0, MAX_ERROR)})` : '';
    return { verdict: 'inconclusive', summary: `the app did not start${error}: none of its code ran, so there is nothing to analyse; fix the error and run it again` };
  }
  const mark = series.primaryMark;
  const marks = mark ? series.marks[mark] ?? 0 : 0;
  const censusPoints = series.census.t.length;
  const short: string[] = [];
  const needs: string[] = [];
  if (censusPoints < MIN_CENSUSES) {
    short.push(plural(censusPoints, 'census', 'censuses'));
    needs.push(`needs ${plural(MIN_CENSUSES - censusPoints, 'more census', 'more censuses')} (run longer)`);
  }
  if (mark && marks < MIN_MARKS) {
    short.push(plural(marks, `'${mark}' mark`));
    needs.push(`needs ${plural(MIN_MARKS - marks, 'more mark')}`);
  }
  if (needs.length && series.end?.how === 'exception') {
    // the app stopped on an error before there was enough to judge: running longer is not
    // the fix, the error is
    const error = series.end.error ? `: ${series.end.error.slice(0, MAX_ERROR)}` : '';
    return {
      verdict: 'inconclusive',
      summary: `the app stopped on an error after ${plural(censusPoints, 'census', 'censuses')}${error}; ` +
        'fix it (its traceback went to stderr) and run it again',
    };
  }
  if (needs.length) {
    return { verdict: 'inconclusive', summary: `only ${short.join(' and ')}: ${needs.join('; ')}` };
  }
  const lead = suspects.find(isLeading);
  if (lead) {
    const what = lead.type ?? 'native memory';
    const unit = lead.unit === 'bytes' ? 'bytes' : lead.unit === 'references' ? 'references' : 'objects';
    const rates = suspectRates(lead);
    const rate = lead.perMark && rates.perMark !== null
      ? `${rates.perMark} ${unit} per ${lead.perMark.mark}`
      : `${rates.perSecond} ${unit} per second`;
    return {
      verdict: 'leak',
      summary: `${lead.kind} of ${what}: ${rate} (confidence ${lead.confidence.toFixed(2)})`,
    };
  }
  const rss = fitGrowth(series.rss.t, series.rss.x, series.rss.kib);
  const rssSlope = rss ? mainSlope(rss) : null;
  const rssText = rssSlope
    ? `; RSS ${signed(rssSlope.slope, halfWidthOf(rssSlope.low, rssSlope.high))} KiB per ${rss?.perMark ? mark : 'second'}`
    : '';
  const over = mark ? ` and ${plural(marks, `'${mark}' mark`)}` : '';
  return {
    verdict: 'no-leak',
    summary: `no type grows steadily over ${plural(censusPoints, 'census', 'censuses')}${over}${rssText}`,
  };
}
