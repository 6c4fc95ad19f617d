/**
 * The text report: a verdict line, the session's facts, then the suspects, most likely
 * first, wrapped to the width (80 by default). Every string that came from the device
 * (type names, holders, argv, ids) is made visible-safe first: control characters, ANSI
 * escapes and bidi overrides are shown as escapes, never passed to the terminal.
 */
import type { DetailedReport, EnvelopePoint } from '../analysis/detail.js';
import { columns, sparkline } from './sparkline.js';
import type { Report, Suspect } from '../analysis/report.js';

/** Series to draw as sparklines under the facts (from analyseSessionDetailed). */
export interface TextCharts {
  rss: EnvelopePoint[];
  /** the top suspect's series: its count (or refsum for refcount-growth) */
  top?: { label: string; unit: string; points: EnvelopePoint[] };
}

export interface TextOptions {
  color: boolean;
  width?: number;
  charts?: TextCharts;
  /** Unicode block characters for sparklines; ASCII otherwise */
  unicode?: boolean;
}

/** Untrusted strings longer than this are clipped before rendering. */
const MAX_SHOWN = 2000;

/**
 * Escape C0/C1 controls, DEL and bidi controls visibly (ESC → `\x1b`, U+202E → `\u202e`),
 * clipping strings longer than 2000 characters.
 */
export function printable(text: string): string {
  const s = text.length > MAX_SHOWN ? `${text.slice(0, MAX_SHOWN)}...` : text;
  return s.replace(/[\u0000-\u001f\u007f-\u009f\u200e\u200f\u202a-\u202e\u2066-\u2069]/g, (c) => {
    const code = c.charCodeAt(0);
    return code <= 0xff ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u${code.toString(16).padStart(4, '0')}`;
  });
}

type Paint = (s: string) => string;
interface Palette {
  bold: Paint;
  dim: Paint;
  red: Paint;
  green: Paint;
  yellow: Paint;
}
const sgr = (open: number, close: number): Paint => (s) => `\x1b[${open}m${s}\x1b[${close}m`;
const id: Paint = (s) => s;
const COLOR: Palette = { bold: sgr(1, 22), dim: sgr(2, 22), red: sgr(31, 39), green: sgr(32, 39), yellow: sgr(33, 39) };
const PLAIN: Palette = { bold: id, dim: id, red: id, green: id, yellow: id };

/** Greedy word wrap; words longer than the line are cut. Returns the lines without indent. */
export function wrap(text: string, width: number): string[] {
  const w = Math.max(10, width);
  const lines: string[] = [];
  let line = '';
  for (let word of text.split(/\s+/).filter(Boolean)) {
    while (word.length > w) {
      if (line) {
        lines.push(line);
        line = '';
      }
      lines.push(word.slice(0, w));
      word = word.slice(w);
    }
    if (!line) line = word;
    else if (line.length + 1 + word.length <= w) line += ' ' + word;
    else {
      lines.push(line);
      line = word;
    }
  }
  if (line) lines.push(line);
  return lines;
}

const indentWrap = (text: string, indent: number, width: number): string[] =>
  wrap(text, width - indent).map((l) => ' '.repeat(indent) + l);

function n(v: number, digits = 2): string {
  if (!Number.isFinite(v)) return '?';
  const a = Math.abs(v);
  if (a >= 1000) return v.toFixed(0);
  if (a >= 100) return v.toFixed(Math.min(digits, 1));
  return v.toFixed(digits);
}

function bytes(b: number): string {
  const a = Math.abs(b);
  if (a >= 1024 * 1024) return `${n(b / (1024 * 1024), 1)} MiB`;
  if (a >= 1024) return `${n(b / 1024, 1)} KiB`;
  return `${b.toFixed(0)} B`;
}

function duration(s: number): string {
  if (s >= 3600) return `${Math.floor(s / 3600)} h ${Math.round((s % 3600) / 60)} min`;
  if (s >= 120) return `${Math.floor(s / 60)} min ${Math.round(s % 60)} s`;
  return `${n(s, 1)} s`;
}

const LABEL: Record<Report['verdict'], [string, keyof Palette]> = {
  leak: ['LEAK', 'red'],
  'no-leak': ['NO LEAK', 'green'],
  inconclusive: ['INCONCLUSIVE', 'yellow'],
};

function verdictLines(r: Report, width: number, p: Palette): string[] {
  const [label, colour] = LABEL[r.verdict];
  const body = wrap(r.summary ? printable(r.summary) : '', width - label.length - 2);
  const out = [`${p[colour](p.bold(label))}  ${body[0] ?? ''}`.trimEnd()];
  for (const more of body.slice(1)) out.push(' '.repeat(label.length + 2) + more);
  return out;
}

/** The session facts as [label, visible-safe text] rows (the HTML report reuses the ones it has no own row for). */
export function facts(r: Report): [string, string][] {
  const s = r.session;
  const rows: [string, string][] = [];
  rows.push(['session', `${printable(s.id)} on ${printable(s.device)}, python ${printable(s.python)}`]);
  if (s.argv && s.argv.length) rows.push(['app', printable(s.argv.join(' '))]);
  if (s.startedAt) rows.push(['started', printable(s.startedAt)]);
  const markEntries = Object.entries(s.marks ?? {}).sort((a, b) => b[1] - a[1]);
  let run = `${duration(s.durationSeconds)}, ${s.samples} samples`;
  if (s.censuses !== undefined) run += `, ${s.censuses} censuses`;
  rows.push(['duration', run]);
  if (markEntries.length) {
    const [name, count] = markEntries[0]!;
    const rate = s.durationSeconds > 0 ? `, ${n(count / s.durationSeconds, 1)}/s` : '';
    const others = markEntries.length > 1 ? ` (+${markEntries.length - 1} other mark names)` : '';
    rows.push(['marks', `${count} '${printable(name)}'${rate}${others}`]);
  } else {
    rows.push(['marks', 'none (growth is per second only; call refscope.mark() once per iteration)']);
  }
  const how = s.ended ?? 'exit';
  const exit = s.exitCode === null ? 'exit status unknown' : `exit status ${s.exitCode}`;
  rows.push(['ended', how === 'abnormal' ? `abnormally (no end record), ${exit}` : `${how}, ${exit}`]);
  const uv = s.untilVerdict;
  if (uv) {
    const at = uv.marks !== null ? `${uv.marks} marks, ` : '';
    rows.push(['decided', `${uv.verdict === 'leak' ? 'leak' : 'no leak'} after ${at}${n(uv.seconds, 1)} s (--until-verdict: the app was stopped then)`]);
  }
  const nat = s.native;
  if (nat) {
    if (nat.how === 'signal') {
      const by = nat.oomKill ? ' by the OOM killer' : '';
      const limit = nat.oomKill && nat.limitKiB ? ` (memory limit ${Math.round(nat.limitKiB / 1024)} MiB, peak RSS ${Math.round(nat.maxRssKiB / 1024)} MiB)` : '';
      rows.push(['killed', `${printable(nat.signal ?? 'signal')}${by}${limit}`]);
    }
    const emu = nat.emulator ? `, emulated by ${printable(nat.emulator)} (RSS includes the emulator's own memory)` : '';
    rows.push(['native', `${nat.samples} samples by refscope-sampler on ${printable(nat.machine)}, max RSS ${nat.maxRssKiB} KiB${emu}`]);
  }
  rows.push(['lost', s.lostRecords === 0 ? 'no records lost' : `${s.lostRecords} records lost`]);
  if (s.thinned) rows.push(['thinned', thinnedText(s.thinned)]);
  const o = r.overhead;
  rows.push(['probe', `${n(o.probeCpuSeconds)} s CPU, ${n(o.probeCpuFraction * 100, 1)} % of the run`]);
  const perMark = r.rss.slopeKiBPerMark;
  const markName = markEntries[0]?.[0];
  const rssPerMark = perMark !== undefined && perMark !== null && markName ? `, ${n(perMark)} KiB per ${printable(markName)}` : '';
  rows.push([
    'rss',
    `${r.rss.startKiB} -> ${r.rss.endKiB} KiB, ${n(r.rss.slopeKiBPerSecond)} KiB/s${rssPerMark}`,
  ]);
  return rows;
}

function rateText(s: Suspect): string {
  const unit = s.unit === 'bytes' ? ' B' : s.unit === 'references' ? ' refs' : '';
  const parts: string[] = [];
  if (s.perMark) {
    let t = `${sign(s.perMark.value)}${unit} per ${printable(s.perMark.mark)}`;
    if (s.interval?.per === 'mark') t += ` (95 % CI ${n(s.interval.low)} to ${n(s.interval.high)})`;
    parts.push(t);
  }
  let ps = `${sign(s.perSecond)}${unit}/s`;
  if (!s.perMark && s.interval?.per === 'second') ps += ` (95 % CI ${n(s.interval.low)} to ${n(s.interval.high)})`;
  parts.push(ps);
  if (s.bytesPerMark !== null && s.perMark && s.unit !== 'bytes') {
    parts.push(`~${bytes(s.bytesPerMark)} per ${printable(s.perMark.mark)}`);
  }
  return parts.join(', ');
}

const sign = (v: number): string => (v >= 0 ? '+' : '') + n(v);

/** "census to 1/4 from 14:00:05 to 20:00:10, to 1/2 to 21:00:00; 1234 records thinned to fit --max-device-mb (not lost)" */
function thinnedText(th: NonNullable<Report['session']['thinned']>): string {
  const at = (iso: string | null, sec: number): string => (iso ? iso.slice(11, 19) : `${n(sec, 1)} s`);
  const kinds: string[] = [];
  for (const kind of [...new Set(th.spans.map((x) => x.kind))]) {
    const parts = th.spans.filter((x) => x.kind === kind).map((x, i) =>
      i === 0 ? `to 1/${x.factor} from ${at(x.from, x.fromSeconds)} to ${at(x.to, x.toSeconds)}` : `to 1/${x.factor} to ${at(x.to, x.toSeconds)}`);
    kinds.push(`${printable(kind)} ${parts.join(', ')}`);
  }
  return `${kinds.join('; ')}${kinds.length ? '; ' : ''}${th.records} records thinned to fit --max-device-mb (not lost)`;
}

function suspectBlock(s: Suspect, rank: number, width: number, p: Palette): string[] {
  const name = s.type === null ? 'native memory' : printable(s.type);
  const tail = `${s.kind}  confidence ${s.confidence.toFixed(2)}`;
  const out: string[] = [];
  if (5 + name.length + 2 + tail.length <= width) {
    out.push(`${String(rank).padStart(2)}. ${p.bold(name)}  ${tail}`);
  } else {
    const names = wrap(name, width - 4);
    out.push(`${String(rank).padStart(2)}. ${p.bold(names[0] ?? '')}`);
    for (const more of names.slice(1)) out.push(`    ${p.bold(more)}`);
    out.push(`    ${tail}`);
  }
  if (s.dependsOn) out.push(...indentWrap(`(ranked below ${printable(s.dependsOn)}, whose growth explains it)`, 4, width).map(p.dim));
  out.push(...indentWrap(rateText(s), 4, width));
  out.push(...indentWrap(printable(s.evidence), 4, width));
  if (s.referrers.length) {
    out.push('    held by:');
    for (const ref of s.referrers) {
      const count = String(ref.count).padStart(5);
      const lines = wrap(printable(ref.via), width - 13);
      out.push(`    ${count}  ${lines[0] ?? ''}`);
      for (const more of lines.slice(1)) out.push(`           ${more}`);
    }
  }
  return out;
}

function chartLine(key: string, points: EnvelopePoint[], what: string, width: number, unicode: boolean): string[] {
  const cols = columns(points, Math.min(40, width - 11 - 12));
  if (cols.length < 2) return [];
  const lo = Math.min(...cols);
  const hi = Math.max(...cols);
  const range = `${n(lo, 0)}-${n(hi, 0)} ${what}`;
  const line = `${key.padEnd(9)}  ${sparkline(cols, unicode)}  `;
  return width - line.length >= range.length ? [line + range] : [line.trimEnd(), ' '.repeat(11) + range.slice(0, width - 11)];
}

function chartLines(c: TextCharts, width: number, unicode: boolean): string[] {
  const out = chartLine('rss chart', c.rss, 'KiB', width, unicode);
  const top = c.top ? chartLine('top chart', c.top.points, c.top.unit, width, unicode) : [];
  if (c.top && top.length) out.push(...top, ...indentWrap(`(${printable(c.top.label)})`, 11, width));
  return out;
}

/** The sparklines' series from a detailed analysis: RSS, and the top suspect's growing series. */
export function chartsOf({ report, detail }: DetailedReport): TextCharts {
  const charts: TextCharts = { rss: detail.rss };
  const ss = detail.suspects[0];
  const s = report.suspects[0];
  if (ss && s && ss.type !== null) {
    const refs = s.kind === 'refcount-growth';
    charts.top = { label: `${s.type} ${refs ? 'summed refcount' : 'live objects'}`, unit: refs ? 'refs' : 'objects', points: refs ? ss.refsum : ss.count };
  }
  return charts;
}

export function renderText(report: Report, opts: TextOptions): string {
  const width = Math.max(40, opts.width ?? 80);
  const p = opts.color ? COLOR : PLAIN;
  const lines: string[] = [];
  lines.push(...verdictLines(report, width, p));
  lines.push('');
  for (const [k, v] of facts(report)) {
    const body = wrap(v, width - 11);
    lines.push(`${k.padEnd(9)}  ${body[0] ?? ''}`);
    for (const more of body.slice(1)) lines.push(' '.repeat(11) + more);
  }
  if (opts.charts) lines.push(...chartLines(opts.charts, width, opts.unicode ?? false));
  lines.push('');
  if (report.suspects.length === 0) {
    lines.push('No suspects.');
  } else {
    lines.push(p.bold('Suspects, most likely first:'));
    report.suspects.forEach((s, i) => {
      lines.push('');
      lines.push(...suspectBlock(s, i + 1, width, p));
    });
  }
  return lines.join('\n') + '\n';
}
