/**
 * The text report: a verdict line, the session's facts, then the suspects, most likely
 * first, wrapped to the width (80 by default). Every string that came from the device
 * (type names, holders, argv, ids) is made visible-safe first: control characters, ANSI
 * escapes and bidi overrides are shown as escapes, never passed to the terminal.
 */
import type { DetailedReport, EnvelopePoint } from '../analysis/detail.js';
import { columns, sparkline } from './sparkline.js';
import { isLeading, LEAK_CONFIDENCE, type Report, type Suspect } from '../analysis/report.js';
import { suspectRates } from '../analysis/figures.js';
import { whereLines } from './where.js';

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
  /**
   * every suspect in full (`refscope report --all`). By default the suspects at or above the
   * confidence line that no other explains (isLeading) are shown in full, and the rest one line
   * each under "Weaker signals", at most WEAK_SHOWN of them
   */
  all?: boolean;
  /** how many weaker signals are listed one line each (WEAK_SHOWN unless given) */
  weakShown?: number;
}

/** Weaker signals listed by default; the rest are counted ("N more in report.json"). */
export const WEAK_SHOWN = 5;

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

/** Letters, digits and `_`: the characters of an identifier, never split by wrap (nor a surrogate pair). */
const IDENT = /[\p{L}\p{N}_\ud800-\udfff]/u;

/**
 * Split one word longer than `w` into pieces of at most `w`, only where no identifier is cut:
 * `__main__.Scheduler.pending['timers']` breaks after a dot or at a bracket, never inside
 * `Scheduler`. Only an identifier itself longer than the line is cut (nothing else fits).
 */
function splitWord(word: string, w: number): string[] {
  const pieces: string[] = [];
  let rest = word;
  while (rest.length > w) {
    let cut = 0;
    for (let i = w; i > 0; i--) {
      if (!(IDENT.test(rest[i - 1]!) && IDENT.test(rest[i]!))) { cut = i; break; }
    }
    if (cut === 0) cut = w;
    pieces.push(rest.slice(0, cut));
    rest = rest.slice(cut);
  }
  pieces.push(rest);
  return pieces;
}

/**
 * Greedy word wrap at spaces. A word longer than the line is broken between identifiers
 * (after a dot, at a bracket), never inside a name. Returns the lines without indent.
 */
export function wrap(text: string, width: number): string[] {
  const w = Math.max(10, width);
  const lines: string[] = [];
  let line = '';
  for (const whole of text.split(/\s+/).filter(Boolean)) {
    const pieces = whole.length > w ? splitWord(whole, w) : [whole];
    if (pieces.length > 1 && line) {
      lines.push(line);
      line = '';
    }
    for (const [i, word] of pieces.entries()) {
      if (i < pieces.length - 1) { lines.push(word); continue; }
      if (!line) line = word;
      else if (line.length + 1 + word.length <= w) line += ' ' + word;
      else {
        lines.push(line);
        line = word;
      }
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

/**
 * What stopped the app, from the probe's error: `SyntaxError: invalid syntax (app.py, line
 * 12)` reads `SyntaxError at app.py:12: invalid syntax`; anything else as it is. Not escaped.
 */
export function startFailureText(error: string | undefined): string {
  if (!error) return 'python gave no reason (its own message, if any, went to stderr)';
  const m = /^([\w.]+): ([\s\S]*) \(([^()]*), line (\d+)\)$/.exec(error);
  return m ? `${m[1]} at ${m[3]}:${m[4]}: ${m[2]}` : error;
}

export const START_FAILED_LABEL = 'APP DID NOT START';

function verdictLines(r: Report, width: number, p: Palette): string[] {
  const startFailed = r.session.ended === 'start-failed';
  const [label, colour]: [string, keyof Palette] = startFailed ? [START_FAILED_LABEL, 'red'] : LABEL[r.verdict];
  const said = startFailed ? startFailureText(r.session.error) : r.summary ?? '';
  const body = wrap(printable(said), width - label.length - 2);
  const out = [`${p[colour](p.bold(label))}  ${body[0] ?? ''}`.trimEnd()];
  for (const more of body.slice(1)) out.push(' '.repeat(label.length + 2) + more);
  return out;
}

/** The session facts as [label, visible-safe text] rows (the HTML report reuses the ones it has no own row for). */
export function facts(r: Report): [string, string][] {
  const s = r.session;
  // an app that never started has no measurements to show: no run length, marks, RSS or cost
  const ran = s.ended !== 'start-failed';
  const rows: [string, string][] = [];
  rows.push(['session', `${printable(s.id)} on ${printable(s.device)}, python ${printable(s.python)}`]);
  if (s.argv && s.argv.length) rows.push(['app', printable(s.argv.join(' '))]);
  if (s.startedAt) rows.push(['started', printable(s.startedAt)]);
  const markEntries = Object.entries(s.marks ?? {}).sort((a, b) => b[1] - a[1]);
  if (ran) rows.push(...runRows(r, markEntries));
  const how = s.ended ?? 'exit';
  const exit = s.exitCode === null ? 'exit status unknown' : `exit status ${s.exitCode}`;
  rows.push(['ended', how === 'abnormal' ? `abnormally (no end record), ${exit}` : `${how}, ${exit}`]);
  // the headline says a start failure's error; any other error is said here
  if (ran && s.error) rows.push(['error', printable(s.error)]);
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
  if (!ran) return rows;
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

/** The run's length and its marks. */
function runRows(r: Report, markEntries: [string, number][]): [string, string][] {
  const s = r.session;
  const rows: [string, string][] = [];
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
  return rows;
}

const unitOf = (s: Suspect): string => (s.unit === 'bytes' ? ' B' : s.unit === 'references' ? ' refs' : '');

/** `+1.00 per frame (95 % CI 0.98 to 1.02), +9.80/s, ~300 B per frame`, rounded as figures.ts says. */
function rateText(s: Suspect): string {
  const unit = unitOf(s);
  const r = suspectRates(s);
  const ci = r.interval ? ` (95 % CI ${r.interval.low} to ${r.interval.high})` : '';
  const parts: string[] = [];
  if (s.perMark && r.perMark !== null) parts.push(`${r.perMark}${unit} per ${printable(s.perMark.mark)}${r.interval?.per === 'mark' ? ci : ''}`);
  parts.push(`${r.perSecond}${unit}/s${r.interval?.per === 'second' ? ci : ''}`);
  if (s.bytesPerMark !== null && s.perMark && s.unit !== 'bytes') {
    parts.push(`~${bytes(s.bytesPerMark)} per ${printable(s.perMark.mark)}`);
  }
  return parts.join(', ');
}

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
  // the leaking call a narrowing window found (or what the window saw): "where: <sentence>"
  for (const line of whereLines(s)) {
    const body = wrap(printable(line), width - 11);
    out.push(`    where: ${body[0] ?? ''}`, ...body.slice(1).map((l) => ' '.repeat(11) + l));
  }
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

/**
 * One line for a weaker signal: ` 2. method  +3.00 objects per slide (0.50, follows #1)`,
 * the confidence in brackets, what explains it by its rank (or its name when unranked).
 */
function weakLines(s: Suspect, rank: number, ranks: Map<string, number>, width: number): string[] {
  const name = s.type === null ? 'native memory' : printable(s.type);
  const unit = s.unit === 'bytes' ? ' B' : s.unit === 'references' ? ' refs' : ' objects';
  const r = suspectRates(s);
  const rate = s.perMark && r.perMark !== null ? `${r.perMark}${unit} per ${printable(s.perMark.mark)}` : `${r.perSecond}${unit}/s`;
  const by = s.dependsOn === undefined ? undefined : ranks.get(s.dependsOn);
  const follows = s.dependsOn === undefined ? '' : `, follows ${by !== undefined ? `#${by}` : printable(s.dependsOn)}`;
  const tail = `${rate} (${s.confidence.toFixed(2)}${follows})`;
  const head = `${String(rank).padStart(2)}. ${name}`;
  if (head.length + 2 + tail.length <= width) return [`${head}  ${tail}`];
  return [...wrap(name, width - 4).map((l, i) => (i === 0 ? `${String(rank).padStart(2)}. ${l}` : `    ${l}`)), ...indentWrap(tail, 4, width)];
}

/**
 * The suspects: in full those that carry a verdict (all of them with `all`), then the
 * weaker signals one line each, at most WEAK_SHOWN, ranks as in report.json.
 */
function suspectLines(r: Report, width: number, p: Palette, all: boolean, shown: number): string[] {
  if (r.suspects.length === 0) return ['No suspects.'];
  const ranked = r.suspects.map((s, i) => ({ s, rank: i + 1 }));
  const full = all ? ranked : ranked.filter(({ s }) => isLeading(s));
  const weak = all ? [] : ranked.filter(({ s }) => !isLeading(s));
  const lines: string[] = [];
  if (full.length) {
    lines.push(p.bold('Suspects, most likely first:'));
    for (const { s, rank } of full) lines.push('', ...suspectBlock(s, rank, width, p));
  } else {
    lines.push(...wrap(`No suspect reaches the confidence line (${LEAK_CONFIDENCE}).`, width));
  }
  if (weak.length) {
    lines.push('', ...wrap(`Weaker signals (confidence below ${LEAK_CONFIDENCE}, or explained by one above):`, width).map(p.bold));
    // a type ranked twice (object and refcount growth) is named by its first rank
    const ranks = new Map<string, number>();
    for (const { s, rank } of ranked) if (s.type !== null && !ranks.has(s.type)) ranks.set(s.type, rank);
    for (const { s, rank } of weak.slice(0, shown)) lines.push(...weakLines(s, rank, ranks, width));
    const more = weak.length - shown;
    const hint = more > 0 ? `(${more} more in report.json; \`refscope report --all\` shows all in full)` : '(`refscope report --all` shows them in full)';
    lines.push(...indentWrap(hint, 4, width).map(p.dim));
  }
  return lines;
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
  if (report.session.ended === 'start-failed') {
    // nothing ran: no charts, no suspects, and no advice to run longer
    lines.push('', ...wrap('None of the app\'s code ran, so there is nothing to analyse. Fix the error ' +
      '(python\'s own message went to stderr when it ran) and run it again.', width));
    return lines.join('\n') + '\n';
  }
  if (opts.charts) lines.push(...chartLines(opts.charts, width, opts.unicode ?? false));
  lines.push('');
  lines.push(...suspectLines(report, width, p, opts.all ?? false, opts.weakShown ?? WEAK_SHOWN));
  return lines.join('\n') + '\n';
}
