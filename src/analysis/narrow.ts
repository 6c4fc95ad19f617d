/**
 * Where a suspect leaks (issue 15): a narrowing window's `narrow` record mapped onto the
 * suspects of its type, as `where` entries a person can act on ("leakyiter.total (C), called
 * from scene.py:88 in Scene.draw, keeps 1 reference to each points.Point it is given: 50 per
 * call, 1 call per frame; none released"), and a `narrow` summary of the window itself.
 *
 * A keeps-reference window follows the refcounts of `samples` of the type's `population`
 * live objects: what a call kept on those, times population / samples, is what it keeps on
 * the whole type. A creates window sees every instance created while it is open, and may
 * follow the newest one's refcount line by line: its keeps-reference sites are the lines that
 * kept a reference to a new instance (the registry it subscribed to), listed after the lines
 * that created them.
 */
import type { NarrowRecord, NarrowSite } from '../session/records.js';
import type { NarrowSummary, Suspect, Where } from './report.js';
import type { Series } from './series.js';

/** A suspect lists at most this many sites, most kept first. */
export const MAX_WHERE = 5;
/** refs / (calls × samples) this close to a whole number k ≥ 1 reads "keeps k references to each". */
const WHOLE_SLACK = 0.1;

const finite = (v: number): number | null => (Number.isFinite(v) ? v : null);
const round1 = (v: number): number | null => finite(Math.round(v * 10) / 10);
const plural = (n: number, one: string, many = `${one}s`): string => `${fmt(n)} ${n === 1 ? one : many}`;

/** A figure for a sentence: whole numbers as they are, else one decimal (two below 1). */
export function fmt(v: number): string {
  if (!Number.isFinite(v)) return '?';
  if (Number.isInteger(v)) return String(v);
  const a = Math.abs(v);
  const s = a >= 100 ? v.toFixed(0) : a >= 1 ? v.toFixed(1) : v.toFixed(2);
  return s.replace(/(\.\d*?)0+$/, '$1').replace(/\.$/, '');
}

/** How the followed samples' figures scale to the whole type; null when none were followed. */
const scaleOf = (r: NarrowRecord): number | null => (r.samples > 0 ? finite(r.population / r.samples) : null);

/** Calls (or creations) per mark of the window's mark; null for a timed window or one that saw no mark. */
const perMark = (n: number, r: NarrowRecord): number | null => (r.mark !== null && r.marks > 0 ? finite(n / r.marks) : null);

/**
 * Whether the window's record says what happened after it: a window paced by marks counts
 * the marks up to its check (0: the run ended first); a timed one's check goes by the clock.
 */
const checked = (r: NarrowRecord): boolean => r.mark === null || r.checkMarks > 0;

/** Whether a site kept something: references (keeps-reference) or instances (creates). */
const kept = (s: NarrowSite): boolean => (s.kind === 'keeps-reference' ? s.refs > 0 : s.created > 0);
/** How much: references kept, or instances still alive. */
const amount = (s: NarrowSite): number => (s.kind === 'keeps-reference' ? s.refs : s.alive);

function keptSites(r: NarrowRecord): NarrowSite[] {
  return r.sites.filter(kept);
}

/**
 * A device path as a person reads it: relative to the app's working folder when under it
 * (`gallery/views.py`, as the user pushed or ran it), else whole. The JSON's `file` keeps it whole.
 */
export function shortPath(file: string, cwd: string | null): string {
  if (cwd === null || cwd === '/') return file;
  const base = cwd.endsWith('/') ? cwd : `${cwd}/`;
  return file.startsWith(base) && file.length > base.length ? file.slice(base.length) : file;
}

/** `scene.py:88 in Scene.draw` (lines `27-29` for a run of them), or null when the site names no line. */
function lineOf(s: NarrowSite, cwd: string | null, lastLine: number | null = null): string | null {
  if (s.file === null) return s.caller !== null ? `in ${s.caller}` : null;
  const line = s.line === null ? '' : lastLine !== null && lastLine !== s.line ? `:${s.line}-${lastLine}` : `:${s.line}`;
  return `${shortPath(s.file, cwd)}${line}${s.caller !== null ? ` in ${s.caller}` : ''}`;
}

function keepsEvidence(s: NarrowSite, r: NarrowRecord, w: Where, cwd: string | null): string {
  const head = s.function !== null ? `${s.function} (${s.native ? 'C' : 'Python'})` : 'a call';
  const at = lineOf(s, cwd);
  const parts = [at !== null ? `${head}, called from ${at}` : head];
  const each = r.samples > 0 && s.calls > 0 ? s.refs / (s.calls * r.samples) : NaN;
  const k = Math.round(each);
  const perCall = w.perCall !== null ? `${fmt(w.perCall)} per call` : null;
  if (k >= 1 && Math.abs(each - k) <= WHOLE_SLACK) {
    parts.push(`keeps ${plural(k, 'reference')} to each ${r.type} it is given${perCall !== null ? `: ${perCall}` : ''}`);
  } else if (w.perCall !== null) {
    parts.push(`keeps ${plural(w.perCall, 'reference')} to ${r.type} per call`);
  } else {
    parts.push(`keeps ${plural(s.refs, 'reference')} to ${r.type} over ${plural(s.calls, 'call')}`);
  }
  const rate = w.callsPerMark !== null
    ? `${plural(w.callsPerMark, 'call')} per ${r.mark}`
    : `${plural(s.calls, 'call')} in ${fmt(r.seconds)} s`;
  let text = `${parts.join(', ')}, ${rate}`;
  if (!checked(r)) text += '; not checked after the window';
  else if (w.freed === 0) text += '; none released';
  else if (w.freed !== null) text += `; ${plural(w.freed, 'reference')} released after the window`;
  return text;
}

/** A line that grew the container a builtin type's objects pile up in (a window on a holder). */
function holderEvidence(s: NarrowSite, r: NarrowRecord, w: Where, cwd: string | null): string {
  const at = lineOf(s, cwd) ?? s.function ?? 'a line';
  const each = s.calls > 0 ? s.refs / s.calls : NaN;
  const k = Math.round(each);
  const adds = k >= 1 && Math.abs(each - k) <= WHOLE_SLACK
    ? `adds ${plural(k, r.type)} to ${r.holder} each time it runs`
    : `adds ${plural(s.refs, r.type)} to ${r.holder} over ${plural(s.calls, 'run')}`;
  const rate = w.callsPerMark !== null ? `, ${plural(w.callsPerMark, 'time')} per ${r.mark}` : `, ${plural(s.calls, 'time')} in ${fmt(r.seconds)} s`;
  let text = `${at} ${adds}${rate}`;
  if (!checked(r)) text += '; not checked after the window';
  else if (w.freed === 0) text += '; none taken out';
  else if (w.freed !== null) text += `; ${plural(w.freed, 'item')} taken out after the window`;
  return text;
}

/** A line a new instance's creation ran that kept a reference to it (a creates window's keeps-reference site). */
function holdsNewEvidence(s: NarrowSite, r: NarrowRecord, w: Where, cwd: string | null, lastLine: number | null = null): string {
  const at = lineOf(s, cwd, lastLine) ?? s.function ?? 'a line';
  const each = s.calls > 0 ? s.refs / s.calls : NaN;
  const k = Math.round(each);
  const run = lastLine !== null && s.line !== null && lastLine !== s.line;
  const keeps = k >= 1 && Math.abs(each - k) <= WHOLE_SLACK
    ? `${run ? 'each keep' : 'keeps'} ${plural(k, 'reference')} to each new ${r.type}`
    : `keeps ${plural(s.refs, 'reference')} to new ${r.type} over ${plural(s.calls, 'run')}`;
  const rate = w.callsPerMark !== null ? `, ${plural(w.callsPerMark, 'time')} per ${r.mark}` : '';
  return `${at} ${keeps}${rate}`;
}

function createsEvidence(s: NarrowSite, r: NarrowRecord, w: Where, cwd: string | null): string {
  const at = lineOf(s, cwd);
  const head = at !== null ? `created at ${at}` : `created by ${s.function ?? 'an unnamed call'}`;
  const rate = w.callsPerMark !== null ? `${fmt(w.callsPerMark)} per ${r.mark}` : `${fmt(s.created)} in ${fmt(r.seconds)} s`;
  const freed = w.freed !== null ? `${fmt(w.freed)} of ${fmt(s.created)} freed` : 'not checked after the window';
  return `${head}, ${rate}; ${freed}`;
}

/** One site as a `where` entry. */
function whereOf(s: NarrowSite, r: NarrowRecord, cwd: string | null): Where {
  const keeps = s.kind === 'keeps-reference';
  // a keeps-reference window's figures are the followed samples', scaled to the type; a
  // creates window's references are those kept on the new instances it followed
  const ofNew = keeps && r.kind === 'creates';
  // a holder window counts items added to one container: no scaling
  const scale = ofNew || r.holder !== null ? 1 : scaleOf(r);
  const w: Where = {
    kind: s.kind,
    function: s.function,
    file: s.file,
    line: s.line,
    callsPerMark: perMark(keeps ? s.calls : s.created, r),
    perCall: keeps ? (scale !== null && s.calls > 0 ? round1((s.refs / s.calls) * scale) : null) : 1,
    freed: ofNew || !checked(r) ? null : keeps ? (scale !== null ? finite(Math.round(r.released * scale)) : null) : s.freed,
    ...(r.holder !== null ? { holder: r.holder } : {}),
    evidence: '',
    native: s.native,
    caller: s.caller,
    ...(keeps ? { calls: s.calls, refs: s.refs } : { created: s.created, alive: s.alive }),
    stack: s.stack.map((f) => [f[0], f[1], f[2]]),
    method: r.method,
  };
  w.evidence = r.holder !== null && keeps ? holderEvidence(s, r, w, cwd)
    : ofNew ? holdsNewEvidence(s, r, w, cwd) : keeps ? keepsEvidence(s, r, w, cwd) : createsEvidence(s, r, w, cwd);
  return w;
}

/**
 * Lines that keep references to each new instance, next to each other in one function and
 * alike in what they keep and how often (three subscriptions in one __init__), are worded as
 * one: the first entry's evidence reads `views.py:27-29 in SlideView.__init__ each keep 1
 * reference ...` and its `through` names the last line; the others stay entries of their own
 * in the JSON, and the renderers leave out those a `through` covers.
 */
function mergeRuns(list: { s: NarrowSite; w: Where }[], r: NarrowRecord, cwd: string | null): void {
  if (r.kind !== 'creates' || r.holder !== null) return;
  const alike = (a: { s: NarrowSite; w: Where }, b: { s: NarrowSite; w: Where }, next: number): boolean =>
    a.s.kind === 'keeps-reference' && b.s.kind === 'keeps-reference' && a.s.file !== null && b.s.file === a.s.file
    && b.s.caller === a.s.caller && b.s.line === next && b.s.calls === a.s.calls && b.s.refs === a.s.refs;
  for (let i = 0; i < list.length; i++) {
    const head = list[i]!;
    if (head.s.line === null) continue;
    let j = i;
    while (j + 1 < list.length && alike(head, list[j + 1]!, head.s.line + (j + 1 - i))) j++;
    if (j === i) continue;
    const last = list[j]!.s.line!;
    head.w.through = last;
    head.w.evidence = holdsNewEvidence(head.s, r, head.w, cwd, last);
    i = j;
  }
}

/**
 * A window's sites as `where` entries: those that kept something, those of the window's own
 * kind first, most kept first (then, of creating lines, most created; then in line order
 * within a file; then as the probe listed them), at most MAX_WHERE.
 */
/** Among sites that kept alike, in one file: in line order (a run of lines reads as one). */
function byLine(a: NarrowSite, b: NarrowSite): number {
  if (a.file === null || b.file === null || a.file !== b.file || a.line === null || b.line === null) return 0;
  return a.line - b.line;
}

export function whereList(r: NarrowRecord, cwd: string | null = null): Where[] {
  const other = (s: NarrowSite): number => (s.kind === r.kind ? 0 : 1);
  const created = (s: NarrowSite): number => (s.kind === 'creates' ? s.created : 0);
  const list = keptSites(r)
    .map((s, i) => ({ s, i }))
    .sort((a, b) => other(a.s) - other(b.s) || amount(b.s) - amount(a.s) || created(b.s) - created(a.s)
      || byLine(a.s, b.s) || a.i - b.i)
    .slice(0, MAX_WHERE)
    .map(({ s }) => ({ s, w: whereOf(s, r, cwd) }));
  mergeRuns(list, r, cwd);
  return list.map((x) => x.w);
}

function summaryOf(r: NarrowRecord, windows: number): NarrowSummary {
  return {
    kind: r.kind, status: r.status, reason: r.reason, method: r.method, marks: r.marks, mark: r.mark,
    seconds: r.seconds, cpu: r.cpu, peakKiB: r.peakKiB, windows,
  };
}

/**
 * The window that speaks for a suspect when its type had several (--narrow-again): one of the
 * kind that fits the suspect (references kept for refcount growth, objects created for object
 * growth) before another, one that found sites before one that did not, the latest among equals.
 */
export function windowFor(records: readonly NarrowRecord[], s: Suspect): NarrowRecord | null {
  const want = s.kind === 'refcount-growth' ? 'keeps-reference' : 'creates';
  let best: NarrowRecord | null = null;
  let bestScore = -1;
  for (const r of records) {
    // a window on a builtin's container counts the objects it gains: it speaks for object growth
    const fits = r.kind === want || (r.holder !== null && want === 'creates');
    const score = (fits ? 2 : 0) + (keptSites(r).length > 0 ? 1 : 0);
    if (score >= bestScore) {
      best = r;
      bestScore = score;
    }
  }
  return best;
}

/** Give each suspect its `where` (and `narrow` when a window ran for its type). */
export function applyNarrow(suspects: Suspect[], series: Series): void {
  for (const s of suspects) {
    s.where = [];
    if (s.type === null) continue;
    const records = series.narrow.get(s.type);
    const r = records ? windowFor(records, s) : null;
    if (!records || !r) continue;
    s.where = whereList(r, series.start?.cwd ?? null);
    s.narrow = summaryOf(r, records.length);
  }
}
