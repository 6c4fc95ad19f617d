/**
 * Figures a person reads, rounded to what is known of them: a rate known to ±300 B is
 * `+1770 B per frame`, never `+1770.579 B per frame`. One rule for the text report, the
 * HTML report and the verdict sentence:
 *
 * - With a 95 % interval, the interval's half-width ((high - low) / 2) keeps two
 *   significant digits, and the figure and both ends of the interval are rounded to that
 *   same decimal place.
 * - Never more than three significant digits of the figure itself: a person reads no
 *   more, and an interval of width 0 (an exact +1 per frame) would otherwise support any.
 *   Without an interval, the figure gets those three.
 * - A per-second figure derived from a per-mark one has the same relative uncertainty
 *   (its half-width is the per-mark half-width scaled by perSecond / perMark).
 *
 * Trailing zeros are kept (`1.00` says the hundredths are known); rounding to tens or more
 * writes zeros (`86000`), never an exponent.
 */
import type { Suspect } from '../analysis/report.js';

/** Significant digits of a figure at most, and of an interval's half-width. */
export const MAX_SIGNIFICANT = 3;
export const HALF_WIDTH_SIGNIFICANT = 2;
/** Never more decimals than this (a rate of 1e-9 per second is shown as 0.000000). */
const MAX_DECIMALS = 6;

const magnitude = (v: number): number => Math.floor(Math.log10(Math.abs(v)));

/**
 * The power of ten of the last digit kept: -2 keeps hundredths, 1 rounds to tens.
 * `halfWidth` is the 95 % interval's half-width (undefined or null: none known).
 */
export function placeOf(value: number, halfWidth?: number | null): number {
  let place = Number.NEGATIVE_INFINITY;
  if (Number.isFinite(value) && value !== 0) place = magnitude(value) - (MAX_SIGNIFICANT - 1);
  if (halfWidth !== undefined && halfWidth !== null && Number.isFinite(halfWidth) && halfWidth > 0) {
    place = Math.max(place, magnitude(halfWidth) - (HALF_WIDTH_SIGNIFICANT - 1));
  }
  if (place === Number.NEGATIVE_INFINITY) return 0;
  return Math.max(place, -MAX_DECIMALS);
}

/** `value` written to the decimal place `place` (see placeOf). Not finite: `?`. */
export function atPlace(value: number, place: number): string {
  if (!Number.isFinite(value)) return '?';
  let s: string;
  if (place < 0) s = value.toFixed(-place);
  else {
    const unit = 10 ** place;
    s = (Math.round(value / unit) * unit).toFixed(0);
  }
  // -0.00 is 0.00
  return /^-[0.]+$/.test(s) ? s.slice(1) : s;
}

/** One figure, rounded to what its interval's half-width supports (three significant digits at most). */
export function figure(value: number, halfWidth?: number | null): string {
  return atPlace(value, placeOf(value, halfWidth));
}

/** A written figure with its sign: `+1.00`, `-0.25`, and `0` (no sign) for a zero. */
export function withSign(s: string): string {
  return s.startsWith('-') || s === '?' || /^[0.]+$/.test(s) ? s : `+${s}`;
}

/** A figure with a sign: `+1.00`, `-0.25`, `0`. */
export function signed(value: number, halfWidth?: number | null): string {
  return withSign(figure(value, halfWidth));
}

/** A figure and its 95 % interval, all three at the decimal place the interval supports. */
export function withInterval(value: number, low: number, high: number): { value: string; low: string; high: string } {
  const place = placeOf(value, halfWidthOf(low, high));
  return { value: atPlace(value, place), low: atPlace(low, place), high: atPlace(high, place) };
}

export function halfWidthOf(low: number, high: number): number | null {
  const hw = (high - low) / 2;
  return Number.isFinite(hw) && hw >= 0 ? hw : null;
}

/** A suspect's rates as written in every report: signed, rounded by the rule above. */
export interface SuspectRates {
  /** `+1.00`, or null without marks */
  perMark: string | null;
  /** `+9.41` */
  perSecond: string;
  /** the 95 % interval's ends at the same place as the figure they belong to */
  interval: { low: string; high: string; per: 'mark' | 'second' } | null;
}

export function suspectRates(s: Suspect): SuspectRates {
  const iv = s.interval;
  const hw = iv ? halfWidthOf(iv.low, iv.high) : null;
  let perMark: string | null = null;
  let interval: SuspectRates['interval'] = null;
  // the per-second figure's half-width: its own interval, or the per-mark one scaled
  let hwSecond: number | null = null;
  if (s.perMark) {
    if (iv?.per === 'mark') {
      const r = withInterval(s.perMark.value, iv.low, iv.high);
      perMark = withSign(r.value);
      interval = { low: r.low, high: r.high, per: 'mark' };
      if (hw !== null && s.perMark.value !== 0) hwSecond = hw * Math.abs(s.perSecond / s.perMark.value);
    } else perMark = signed(s.perMark.value);
  }
  let perSecond: string;
  if (!s.perMark && iv?.per === 'second') {
    const r = withInterval(s.perSecond, iv.low, iv.high);
    perSecond = withSign(r.value);
    interval = { low: r.low, high: r.high, per: 'second' };
  } else perSecond = signed(s.perSecond, hwSecond);
  return { perMark, perSecond, interval };
}
