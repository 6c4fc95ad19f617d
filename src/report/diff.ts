/**
 * `refscope diff` output: the text (80 columns, device strings made visible-safe) and the
 * JSON (refscope.diff/1, stable key order by construction).
 */
import type { Growth, RunSide, SessionDiff, SiteRef, SuspectRef } from '../analysis/diff.js';
import { printable, wrap } from './text.js';

const LABEL: Record<SessionDiff['verdict'], string> = { regressed: 'REGRESSED', improved: 'IMPROVED', same: 'SAME' };

function f(v: number | null | undefined): string {
  if (v === null || v === undefined || !Number.isFinite(v)) return '-';
  const a = Math.abs(v);
  const s = a >= 1000 ? v.toFixed(0) : a >= 10 ? v.toFixed(1) : v.toFixed(2);
  return v > 0 ? `+${s}` : s === '-0.00' ? '0.00' : s;
}

function clipTo(s: string, w: number): string {
  return s.length > w ? `${s.slice(0, w - 3)}...` : s;
}

function runLine(r: RunSide): string {
  const mark = r.mark ? `, marks '${printable(r.mark)}'` : '';
  return `${printable(r.id)} on ${printable(r.device)}, python ${printable(r.python)}, ${r.durationSeconds.toFixed(1)} s${mark}: ${r.verdict}`;
}

function suspectLines(s: SuspectRef, width: number): string[] {
  const head = `${s.kind} ${s.type === null ? 'native memory' : printable(s.type)} (confidence ${s.confidence.toFixed(2)})`;
  return [...wrap(head, width - 2).map((l) => `  ${l}`), ...wrap(printable(s.evidence), width - 4).map((l) => `    ${l}`)];
}

/** `leakyiter.total at scene.py:88` */
function siteText(s: SiteRef): string {
  const where = s.file !== null ? `${s.file}${s.line !== null ? `:${s.line}` : ''}` : null;
  if (s.function === null) return where !== null ? `line ${where}` : 'an unnamed site';
  return where !== null ? `${s.function} at ${where}` : s.function;
}

/** Per suspect in both runs: its sites, new, gone or in both (the diff's `sites`). */
function sitesLines(d: SessionDiff, w: number): string[] {
  const sites = d.sites ?? [];
  if (!sites.length) return [];
  const out = wrap('Where the leak happens (the sites of the suspects in both runs):', w);
  for (const s of sites) {
    out.push(...wrap(`${s.kind} ${printable(s.type)}`, w - 2).map((l) => `  ${l}`));
    for (const [label, list] of [['new', s.new], ['gone', s.gone], ['persists', s.persist]] as const) {
      for (const site of list) {
        const lines = wrap(printable(siteText(site)), w - 14);
        out.push(`    ${label.padEnd(8)}  ${lines[0] ?? ''}`, ...lines.slice(1).map((l) => `${' '.repeat(14)}${l}`));
      }
    }
  }
  out.push('');
  return out;
}

export function renderDiffText(d: SessionDiff, width = 80): string {
  const w = Math.max(60, width);
  const out: string[] = [];
  const reasons = wrap(printable(d.reasons.join('; ')), w - LABEL[d.verdict].length - 2);
  out.push(`${LABEL[d.verdict]}  ${reasons[0] ?? ''}`);
  for (const more of reasons.slice(1)) out.push(' '.repeat(LABEL[d.verdict].length + 2) + more);
  out.push('');
  for (const [k, r] of [['base', d.base], ['new', d.new]] as const) {
    const lines = wrap(runLine(r), w - 6);
    out.push(`${k.padEnd(4)}  ${lines[0] ?? ''}`, ...lines.slice(1).map((l) => `      ${l}`));
  }
  out.push('');
  const rss = (r: RunSide): string => `${f(r.rss.slopeKiBPerSecond)} KiB/s` + (r.rss.slopeKiBPerMark !== null && r.mark ? `, ${f(r.rss.slopeKiBPerMark)} KiB/mark` : '');
  out.push(`RSS slope  base ${rss(d.base)}`, `           new  ${rss(d.new)}`);
  out.push('');
  if (d.types.length) {
    const nameW = w - 4 * 10 - 1;
    out.push('Growth per type (live objects):');
    out.push(`${'type'.padEnd(nameW)} ${'base/mark'.padStart(9)} ${'new/mark'.padStart(9)} ${'base/s'.padStart(9)} ${'new/s'.padStart(9)}`);
    const cell = (g: Growth | null, k: 'perMark' | 'perSecond'): string => f(g ? g[k] : null).padStart(9);
    for (const t of d.types) {
      out.push(`${clipTo(printable(t.type), nameW).padEnd(nameW)} ${cell(t.base, 'perMark')} ${cell(t.new, 'perMark')} ${cell(t.base, 'perSecond')} ${cell(t.new, 'perSecond')}`);
    }
    out.push('');
  }
  const section = (title: string, list: SuspectRef[]): void => {
    if (!list.length) return;
    out.push(title);
    for (const s of list) out.push(...suspectLines(s, w));
    out.push('');
  };
  section('New in NEW:', d.newSuspects);
  section('Fixed in NEW (leaks of BASE):', d.fixedSuspects);
  if (d.changedSuspects.length) {
    out.push('In both:');
    for (const c of d.changedSuspects) {
      const name = c.new.type === null ? 'native memory' : printable(c.new.type);
      const rate = (s: SuspectRef): string => (s.perMark ? `${f(s.perMark.value)}/${printable(s.perMark.mark)}` : `${f(s.perSecond)}/s`);
      out.push(...wrap(`${c.new.kind} ${name}: ${rate(c.base)} -> ${rate(c.new)} (${c.change})`, w - 2).map((l) => `  ${l}`));
    }
    out.push('');
  }
  out.push(...sitesLines(d, w));
  while (out[out.length - 1] === '') out.pop();
  return out.join('\n') + '\n';
}

export function renderDiffJson(d: SessionDiff): string {
  return JSON.stringify(d, (_k, v: unknown) => (typeof v === 'number' && !Number.isFinite(v) ? null : typeof v === 'number' && !Number.isInteger(v) ? Number(v.toPrecision(6)) : v), 2) + '\n';
}
