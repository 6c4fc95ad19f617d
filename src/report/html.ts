/**
 * The HTML report: one self-contained file that opens offline and mails well. No script at
 * all (a Content-Security-Policy forbids scripts and any fetch, so even a markup mistake
 * could not run code or reach the network); charts are inline SVG drawn here; styles are
 * inline. Shows the verdict and each suspect's evidence, RSS over time with the primary
 * mark overlaid, each top suspect's count and refsum with the fitted trend, who holds the
 * survivors, and the session's facts. Every string from the session is escaped.
 */
import type { DetailedReport, SuspectSeries } from '../analysis/detail.js';
import { isLeading, LEAK_CONFIDENCE, type Report, type Suspect } from '../analysis/report.js';
import { esc, num } from './escape.js';
import { figure, suspectRates } from '../analysis/figures.js';
import { lineChart, shortDuration } from './svg.js';
import { START_FAILED_LABEL, startFailureText, facts as textFacts } from './text.js';
import { whereLines } from './where.js';

const VERDICT: Record<Report['verdict'], [string, string]> = {
  leak: ['LEAK', '#b3261e'],
  'no-leak': ['NO LEAK', '#1e7b34'],
  inconclusive: ['INCONCLUSIVE', '#8a6d00'],
};

// Type names never break inside (with overflow-wrap:anywhere a narrow table squeezed the
// type column until it read `__main__.Sched` / `uler`); a table too wide scrolls instead.
const CSS = `
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#1d1d24;margin:0;background:#fff}
main{max-width:880px;margin:0 auto;padding:16px 20px 40px}
h1{font-size:20px;margin:8px 0 4px}h2{font-size:17px;margin:28px 0 8px;border-bottom:1px solid #e2e2ea;padding-bottom:4px}
h3{font-size:15px;margin:18px 0 6px}
.verdict{display:inline-block;color:#fff;font-weight:700;padding:2px 10px;border-radius:4px;margin-right:8px}
.summary{font-size:15px}
table{border-collapse:collapse;width:100%;margin:6px 0}th,td{text-align:left;vertical-align:top;padding:4px 8px;border-bottom:1px solid #eee}
td.type{min-width:9em}th{font-weight:600;color:#444;background:#f6f6fa}
td.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
code,.mono{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:12.5px;overflow-wrap:anywhere}
code.type{overflow-wrap:normal;word-break:normal}.wide{overflow-x:auto}
tr.weak td{color:#666}
.evidence{margin:4px 0 8px}td.where div+div{margin-top:4px}
.bar{display:inline-block;height:9px;background:#6b7fd7;border-radius:2px;vertical-align:middle;margin-right:6px}
.dim{color:#666}.chart{max-width:100%;height:auto;display:block;margin:6px 0}
.facts th{width:170px;background:none}
`;

const pct = (v: number): string => `${num(v * 100, 1)} %`;

/** The growth column: per mark with its 95 % interval, per second; rounded as figures.ts says. */
function rate(s: Suspect): string {
  const unit = s.unit === 'bytes' ? ' B' : s.unit === 'references' ? ' refs' : '';
  const r = suspectRates(s);
  const ci = r.interval ? `<br><span class="dim">95 % CI ${esc(r.interval.low)} to ${esc(r.interval.high)}</span>` : '';
  const parts: string[] = [];
  if (s.perMark && r.perMark !== null) parts.push(`${esc(r.perMark)}${unit} per ${esc(s.perMark.mark, 80)}${r.interval?.per === 'mark' ? ci : ''}`);
  parts.push(`${esc(r.perSecond)}${unit}/s${r.interval?.per === 'second' ? ci : ''}`);
  return parts.join('<br>');
}

const nameOf = (s: Suspect): string => (s.type === null ? 'native memory' : s.type);

/** A suspect's where lines (the leaking call a narrowing window found), one block each. */
const whereHtml = (s: Suspect): string => whereLines(s).map((l) => `<div>${esc(l)}</div>`).join('');

function suspectsTable(r: Report): string {
  if (r.suspects.length === 0) return '<p>No suspects: no type and no unexplained RSS grows steadily.</p>';
  // the where column only once a narrowing window ran for some suspect
  const where = r.suspects.some((s) => whereLines(s).length > 0);
  const rows = r.suspects.map((s, i) => `<tr class="suspect${isLeading(s) ? '' : ' weak'}"><td class="num">${i + 1}</td>` +
    `<td class="type"><code class="type">${esc(nameOf(s), 300)}</code>${s.dependsOn ? `<div class="dim">follows <code class="type">${esc(s.dependsOn, 200)}</code></div>` : ''}</td>` +
    `<td>${esc(s.kind)}</td><td class="num">${s.confidence.toFixed(2)}</td><td class="num">${rate(s)}</td>` +
    `<td class="evidence">${esc(s.evidence)}</td>${where ? `<td class="where">${whereHtml(s)}</td>` : ''}</tr>`);
  const weak = r.suspects.some((s) => !isLeading(s))
    ? `<p class="dim">Rows in grey are weaker signals: confidence below ${LEAK_CONFIDENCE}, or growth another suspect explains.</p>` : '';
  return '<div class="wide"><table class="suspects"><thead><tr><th>#</th><th>type</th><th>kind</th><th>confidence</th><th>growth</th><th>evidence</th>' +
    `${where ? '<th>where</th>' : ''}</tr></thead><tbody>${rows.join('')}</tbody></table></div>${weak}`;
}

function referrersHtml(s: Suspect): string {
  if (s.referrers.length === 0) return s.type === null ? '' : '<p class="dim">No holders were sampled for this type.</p>';
  const total = s.referrers.reduce((a, ref) => a + Math.max(0, ref.count), 0) || 1;
  const items = s.referrers.map((ref) => {
    const share = Math.max(0, ref.count) / total;
    return `<li><span class="bar" style="width:${num(Math.max(2, share * 160), 0)}px"></span>` +
      `${esc(ref.count)} ${ref.count === 1 ? 'reference' : 'references'} (${pct(share)}) held by <code>${esc(ref.via)}</code></li>`;
  });
  return `<p>Who holds the sampled objects (${esc(total)} references in the largest holders):</p><ul class="referrers">${items.join('')}</ul>`;
}

function suspectSection(r: Report, d: DetailedReport['detail'], ss: SuspectSeries): string {
  const s = r.suspects[ss.index]!;
  const out = [`<section class="suspect-detail"><h3>${ss.index + 1}. <code>${esc(nameOf(s), 300)}</code> <span class="dim">${esc(s.kind)}, confidence ${s.confidence.toFixed(2)}</span></h3>`,
    `<p class="evidence">${esc(s.evidence)}</p>`];
  const where = whereLines(s);
  if (where.length) out.push(`<div class="where"><p>Where:</p><ul>${where.map((l) => `<li>${esc(l)}</li>`).join('')}</ul></div>`);
  if (ss.type === null) {
    out.push(lineChart({
      title: `RSS of the process and the fitted trend (${nameOf(s)})`, leftUnit: 'KiB',
      lines: [
        { points: d.rss, label: 'RSS (KiB)', color: '#3b5bdb' },
        ...(ss.trend ? [{ points: ss.trend.points, label: `trend, ${figure(ss.trend.slope)} KiB per ${ss.trend.per === 'mark' ? d.primaryMark ?? 'mark' : 'second'}`, color: '#e8590c', dashed: true }] : []),
      ],
    }));
  } else {
    const trendAxis = ss.trend?.of === 'refsum' ? 'right' : 'left';
    const per = ss.trend?.per === 'mark' ? d.primaryMark ?? 'mark' : 'second';
    out.push(lineChart({
      title: `${nameOf(s)}: live objects and summed refcount over time`, leftUnit: 'objects', rightUnit: 'references',
      lines: [
        { points: ss.count, label: 'live objects', color: '#3b5bdb' },
        { points: ss.refsum, label: 'summed refcount (right)', color: '#2f9e44', axis: 'right' },
        ...(ss.trend ? [{ points: ss.trend.points, label: `fitted trend of ${ss.trend.of === 'refsum' ? 'refcount' : 'objects'}, ${figure(ss.trend.slope)} per ${per}`, color: '#e8590c', dashed: true, axis: trendAxis as 'left' | 'right' }] : []),
      ],
    }));
  }
  out.push(referrersHtml(s), '</section>');
  return out.join('');
}

function factsTable(r: Report, d: DetailedReport['detail']): string {
  const s = r.session;
  // an app that never started has no run length, marks, cost or RSS to show
  const ran = s.ended !== 'start-failed';
  const rows: [string, string][] = [];
  const marks = Object.entries(s.marks ?? {}).sort((a, b) => b[1] - a[1]);
  rows.push(['session', esc(s.id)], ['device', esc(s.device)]);
  if (d.facts.uname) rows.push(['uname', esc(d.facts.uname)]);
  rows.push(['python', esc(`${s.python}${d.facts.impl ? ` (${d.facts.impl}${d.facts.platform ? `, ${d.facts.platform}` : ''})` : ''}`)]);
  if (s.argv?.length) rows.push(['app', `<code>${esc(s.argv.join(' '))}</code>`]);
  if (s.startedAt) rows.push(['started', esc(s.startedAt)]);
  if (ran) {
    rows.push(['duration', esc(`${shortDuration(s.durationSeconds)} (${num(s.durationSeconds, 1)} s)`)]);
    rows.push(['samples', esc(`${s.samples} samples${s.censuses !== undefined ? `, ${s.censuses} censuses` : ''}${d.facts.interval !== null ? `, every ${num(d.facts.interval, 3)} s` : ''}`)]);
    rows.push(['marks', marks.length ? marks.slice(0, 8).map(([k, v]) => `${esc(v)} <code>${esc(k, 100)}</code>`).join(', ') + (marks.length > 8 ? `, +${marks.length - 8} more` : '') : 'none']);
  }
  const exit = s.exitCode === null ? 'exit status unknown' : `exit status ${s.exitCode}`;
  rows.push(['ended', esc(s.ended === 'abnormal' ? `abnormally (no end record), ${exit}` : `${s.ended ?? 'exit'}, ${exit}`)]);
  if (s.error) rows.push(['error', `<code>${esc(s.error)}</code>`]);
  const rd = d.reader;
  const unread = rd ? ` (${rd.unparseable} unreadable lines, ${rd.truncated} truncated, ${rd.duplicates} duplicates dropped, ${rd.outOfOrder} out of order, ${rd.segments} segments)` : '';
  rows.push(['lost records', esc(`${s.lostRecords}${unread}`)]);
  // what other parts add to the text report's facts (native sampler, thinning): same words
  for (const [k, v] of textFacts(r)) if (k === 'killed' || k === 'native' || k === 'thinned') rows.push([k, esc(v)]);
  if (d.facts.droppedNames > 0) rows.push(['names dropped', esc(`${d.facts.droppedNames} (beyond the per-session caps)`)]);
  if (ran) {
    rows.push(['probe overhead', esc(`${num(r.overhead.probeCpuSeconds, 2)} s CPU, ${pct(r.overhead.probeCpuFraction)} of the run`)]);
    const perMark = r.rss.slopeKiBPerMark;
    rows.push(['RSS', esc(`${r.rss.startKiB} → ${r.rss.endKiB} KiB, ${figure(r.rss.slopeKiBPerSecond)} KiB/s` +
      (perMark !== undefined && perMark !== null && d.primaryMark ? `, ${figure(perMark)} KiB per ${d.primaryMark}` : ''))]);
  }
  const ev = Object.entries(d.eventCounts);
  if (ev.length) rows.push(['events', ev.map(([k, v]) => `${esc(v)} <code>${esc(k, 100)}</code>`).join(', ')]);
  if (d.facts.probe) rows.push(['probe', esc(d.facts.probe)]);
  return `<table class="facts">${rows.map(([k, v]) => `<tr><th>${esc(k)}</th><td>${v}</td></tr>`).join('')}</table>`;
}

export function renderHtml({ report: r, detail: d }: DetailedReport, opts: { generatedAt?: string } = {}): string {
  const startFailed = r.session.ended === 'start-failed';
  const [label, colour] = startFailed ? [START_FAILED_LABEL, VERDICT.leak[1]] : VERDICT[r.verdict];
  const rssLines = [
    { points: d.rss, label: 'RSS (KiB)', color: '#3b5bdb' },
    ...(d.rssTrend ? [{ points: d.rssTrend.points, label: 'RSS trend', color: '#e8590c', dashed: true }] : []),
    ...(d.marks.length ? [{ points: d.marks, label: `'${d.primaryMark ?? ''}' marks (right)`, color: '#868e96', axis: 'right' as const, dashed: true }] : []),
  ];
  // an app that never started: what stopped it, the session's facts, and no empty charts
  const analysis = startFailed
    ? ['<p>None of the app\'s code ran, so there is nothing to analyse. Fix the error and run it again.</p>']
    : [
      '<h2>Suspects</h2>', suspectsTable(r),
      '<h2>RSS over time</h2>',
      d.rss.length
        ? lineChart({
          title: 'RSS over time with marks overlaid', leftUnit: 'KiB', rightUnit: d.marks.length ? 'marks' : undefined, lines: rssLines,
          events: d.events.filter((e) => e.event !== 'segment').slice(0, 100).map((e) => ({ t: e.t, label: `${e.event}: ${e.detail}` })),
        })
        : '<p class="dim">No RSS samples (the probe could not read /proc).</p>',
      d.suspects.length ? '<h2>Top suspects over time</h2>' : '',
      ...d.suspects.map((ss) => suspectSection(r, d, ss)),
    ];
  const summary = startFailed ? startFailureText(r.session.error) : r.summary ?? '';
  const body = [
    `<header><h1>refscope report: <span class="mono">${esc(r.session.id, 200)}</span></h1>`,
    `<p class="summary"><span class="verdict" style="background:${colour}">${label}</span>${esc(summary)}</p></header>`,
    ...analysis,
    '<h2>Session</h2>', factsTable(r, d),
    `<footer><p class="dim">${esc(r.schema)}; charts downsampled to min/max per ${esc(shortDuration(d.bucketSeconds.rss))} (RSS) and ${esc(shortDuration(d.bucketSeconds.census))} (census) so spikes survive` +
    `${opts.generatedAt ? `; generated ${esc(opts.generatedAt)}` : ''}.</p></footer>`,
  ];
  return '<!doctype html>\n<html lang="en"><head><meta charset="utf-8">' +
    `<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; img-src data:">` +
    '<meta name="viewport" content="width=device-width,initial-scale=1">' +
    `<title>refscope: ${esc(label)} ${esc(r.session.id, 200)}</title><style>${CSS}</style></head>\n<body><main>\n` +
    body.join('\n') + '\n</main></body></html>\n';
}
