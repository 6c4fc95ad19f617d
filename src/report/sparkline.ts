/**
 * Small sparklines for the text report: a series squeezed into `width` columns, each column
 * the maximum of its time slice (a spike shows). Unicode block characters on a UTF-8
 * terminal, an ASCII ramp otherwise.
 */
import type { EnvelopePoint } from '../analysis/detail.js';

const BLOCKS = '▁▂▃▄▅▆▇█';
const ASCII = '_.,-=+*#';

/** Whether the locale says UTF-8 (LC_ALL, then LC_CTYPE, then LANG, as setlocale reads them). */
export function utf8Locale(env: NodeJS.ProcessEnv = process.env): boolean {
  const v = env.LC_ALL || env.LC_CTYPE || env.LANG || '';
  return /utf-?8/i.test(v);
}

/** Resample points over time into `width` columns (max per column); empty columns repeat the last value. */
export function columns(points: EnvelopePoint[], width: number): number[] {
  const pts = points.filter((p) => Number.isFinite(p.t) && Number.isFinite(p.v));
  if (pts.length === 0 || width <= 0) return [];
  let lo = Infinity;
  let hi = -Infinity;
  for (const p of pts) {
    if (p.t < lo) lo = p.t;
    if (p.t > hi) hi = p.t;
  }
  const n = Math.min(width, pts.length);
  const cols = new Array<number>(n).fill(-Infinity);
  const span = hi - lo;
  for (const p of pts) {
    const i = span > 0 ? Math.min(n - 1, Math.floor(((p.t - lo) / span) * n)) : 0;
    if (p.v > cols[i]!) cols[i] = p.v;
  }
  for (let i = 0; i < n; i++) if (cols[i] === -Infinity) cols[i] = i > 0 ? cols[i - 1]! : pts[0]!.v;
  return cols;
}

export function sparkline(values: number[], unicode: boolean): string {
  const ramp = unicode ? BLOCKS : ASCII;
  let lo = Infinity;
  let hi = -Infinity;
  for (const v of values) {
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  if (!(hi > lo)) return ramp[0]!.repeat(values.length);
  const top = ramp.length - 1;
  return values.map((v) => ramp[Math.round(((v - lo) / (hi - lo)) * top)]!).join('');
}
