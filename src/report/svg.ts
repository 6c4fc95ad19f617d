/**
 * Small inline SVG line charts for the HTML report: time on x, one or two value axes,
 * min/max envelopes drawn as they come (a bucket with a spike draws a vertical stroke),
 * optional dashed trend lines and event ticks. Static markup, no script; every label is
 * escaped. Coordinates are rounded to 0.1 px so large sessions stay small.
 */
import type { EnvelopePoint } from '../analysis/detail.js';
import { esc, num } from './escape.js';

export interface ChartLine {
  points: EnvelopePoint[];
  label: string;
  color: string;
  axis?: 'left' | 'right';
  dashed?: boolean;
}

export interface ChartSpec {
  title: string;
  leftUnit: string;
  rightUnit?: string;
  lines: ChartLine[];
  events?: { t: number; label: string }[];
  width?: number;
  height?: number;
}

const PAD = { left: 64, right: 64, top: 24, bottom: 34 };

/** About `count` round tick values spanning [lo, hi]. */
export function niceTicks(lo: number, hi: number, count = 5): number[] {
  if (!(hi > lo)) return [lo];
  const raw = (hi - lo) / count;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((s) => s >= raw) ?? raw;
  const out: number[] = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9 && out.length < 50; v += step) out.push(Number(v.toPrecision(12)));
  return out;
}

export function shortNumber(v: number): string {
  const a = Math.abs(v);
  if (a >= 1e9) return `${num(v / 1e9, 1)}G`;
  if (a >= 1e6) return `${num(v / 1e6, 1)}M`;
  if (a >= 1e4) return `${num(v / 1e3, 1)}k`;
  return num(v, a >= 100 ? 0 : 2);
}

export function shortDuration(s: number): string {
  if (s >= 7200) return `${num(s / 3600, 1)} h`;
  if (s >= 120) return `${num(s / 60, 1)} min`;
  if (s > 0 && s < 1) return `${num(s * 1000, 0)} ms`;
  return `${num(s, 1)} s`;
}

function range(values: number[]): [number, number] {
  let lo = Infinity;
  let hi = -Infinity;
  for (const v of values) {
    if (!Number.isFinite(v)) continue;
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  if (lo === Infinity) return [0, 1];
  if (hi === lo) return [lo - 1, hi + 1];
  const pad = (hi - lo) * 0.05;
  return [lo - pad, hi + pad];
}

const round1 = (v: number): string => (Number.isFinite(v) ? String(Math.round(v * 10) / 10) : '0');

export function lineChart(spec: ChartSpec): string {
  const W = spec.width ?? 760;
  const H = spec.height ?? 240;
  const x0 = PAD.left;
  const x1 = W - PAD.right;
  const y0 = H - PAD.bottom;
  const y1 = PAD.top;
  const all = spec.lines.flatMap((l) => l.points);
  const [tLo, tHi] = ((): [number, number] => {
    const [lo, hi] = range(all.map((p) => p.t));
    return [Math.max(0, lo), hi];
  })();
  const left = range(spec.lines.filter((l) => l.axis !== 'right').flatMap((l) => l.points.map((p) => p.v)));
  const right = range(spec.lines.filter((l) => l.axis === 'right').flatMap((l) => l.points.map((p) => p.v)));
  const sx = (t: number): number => x0 + ((t - tLo) / (tHi - tLo)) * (x1 - x0);
  const sy = (v: number, [lo, hi]: [number, number]): number => y0 - ((v - lo) / (hi - lo)) * (y0 - y1);
  const parts: string[] = [];
  parts.push(
    `<svg xmlns="http://www.w3.org/2000/svg" class="chart" viewBox="0 0 ${W} ${H}" width="${W}" height="${H}" role="img" aria-label="${esc(spec.title)}">`,
    `<title>${esc(spec.title)}</title>`,
    `<rect x="${x0}" y="${y1}" width="${x1 - x0}" height="${y0 - y1}" fill="#fbfbfd" stroke="#d0d0d8"/>`,
  );
  for (const v of niceTicks(left[0], left[1])) {
    const y = round1(sy(v, left));
    parts.push(`<line x1="${x0}" x2="${x1}" y1="${y}" y2="${y}" stroke="#e6e6ee"/>`,
      `<text x="${x0 - 6}" y="${y}" text-anchor="end" dominant-baseline="middle" font-size="11" fill="#555">${esc(shortNumber(v))}</text>`);
  }
  if (spec.lines.some((l) => l.axis === 'right')) {
    for (const v of niceTicks(right[0], right[1])) {
      const y = round1(sy(v, right));
      parts.push(`<text x="${x1 + 6}" y="${y}" dominant-baseline="middle" font-size="11" fill="#888">${esc(shortNumber(v))}</text>`);
    }
    if (spec.rightUnit) parts.push(`<text x="${W - 4}" y="${y1 - 8}" text-anchor="end" font-size="11" fill="#888">${esc(spec.rightUnit)}</text>`);
  }
  for (const t of niceTicks(tLo, tHi, 6)) {
    const x = round1(sx(t));
    parts.push(`<line x1="${x}" x2="${x}" y1="${y0}" y2="${y0 + 4}" stroke="#888"/>`,
      `<text x="${x}" y="${y0 + 16}" text-anchor="middle" font-size="11" fill="#555">${esc(shortDuration(t))}</text>`);
  }
  parts.push(`<text x="${x0 - 56}" y="${y1 - 8}" font-size="11" fill="#555">${esc(spec.leftUnit)}</text>`);
  for (const e of spec.events ?? []) {
    if (!Number.isFinite(e.t) || e.t < tLo || e.t > tHi) continue;
    const x = round1(sx(e.t));
    parts.push(`<line class="event" x1="${x}" x2="${x}" y1="${y1}" y2="${y0}" stroke="#c77" stroke-dasharray="2 3"><title>${esc(e.label)}</title></line>`);
  }
  spec.lines.forEach((l) => {
    if (l.points.length === 0) return;
    const scale = l.axis === 'right' ? right : left;
    let d = '';
    for (const p of l.points) d += `${d ? 'L' : 'M'}${round1(sx(p.t))} ${round1(sy(p.v, scale))}`;
    if (l.points.length === 1) d += 'h1';
    const dash = l.dashed ? ' stroke-dasharray="6 4"' : '';
    parts.push(`<path class="series" d="${d}" fill="none" stroke="${esc(l.color)}" stroke-width="1.6"${dash}><title>${esc(l.label)}</title></path>`);
  });
  // legend
  let lx = x0;
  for (const l of spec.lines) {
    if (l.points.length === 0) continue;
    const dash = l.dashed ? ' stroke-dasharray="6 4"' : '';
    parts.push(`<line x1="${lx}" x2="${lx + 18}" y1="${y1 - 10}" y2="${y1 - 10}" stroke="${esc(l.color)}" stroke-width="2"${dash}/>`,
      `<text x="${lx + 22}" y="${y1 - 6}" font-size="11" fill="#333">${esc(l.label, 60)}</text>`);
    lx += 30 + Math.min(60, l.label.length) * 6.2;
  }
  parts.push('</svg>');
  return parts.join('');
}
