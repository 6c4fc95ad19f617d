import { describe, expect, it } from 'vitest';
import type { Suspect } from '../../src/analysis/report.js';
import { figure, placeOf, signed, suspectRates, withInterval } from '../../src/analysis/figures.js';

const native = (over: Partial<Suspect> = {}): Suspect => ({
  kind: 'native-growth', type: null, confidence: 0.9, perSecond: 85812.234,
  perMark: { mark: 'frame', value: 1770.579 }, bytesPerMark: 1770.579, evidence: 'RSS grows',
  referrers: [], interval: { low: 1470.2, high: 2070.9, per: 'mark' }, unit: 'bytes', ...over,
});

describe('figures rounded to what the 95 % interval supports', () => {
  it('keeps two significant digits of the half-width, at most three of the figure', () => {
    // ±300: tens are the last digit known
    expect(figure(1770.579, 300)).toBe('1770');
    expect(withInterval(1770.579, 1470.2, 2070.9)).toEqual({ value: '1770', low: '1470', high: '2070' });
    // ±0.02: hundredths
    expect(withInterval(1.0, 0.98, 1.02)).toEqual({ value: '1.00', low: '0.98', high: '1.02' });
    // an exact figure (half-width 0) still shows three significant digits, not seventeen
    expect(withInterval(1, 1, 1)).toEqual({ value: '1.00', low: '1.00', high: '1.00' });
    // a figure smaller than its uncertainty is shown to the uncertainty's place
    expect(figure(0.0031, 0.5)).toBe('0.00');
    expect(figure(-0.0001, 0.5)).toBe('0.00');
  });

  it('without an interval, three significant digits; never an exponent', () => {
    expect(figure(85812.234)).toBe('85800');
    expect(figure(9.41234)).toBe('9.41');
    expect(figure(0.012345)).toBe('0.0123');
    expect(figure(0)).toBe('0');
    expect(figure(1.2e9)).toBe('1200000000');
    expect(figure(3e-12)).toBe('0.000000');
    expect(figure(Number.NaN)).toBe('?');
    expect(placeOf(1234)).toBe(1);
  });

  it('signs positive figures only', () => {
    expect(signed(3)).toBe('+3.00');
    expect(signed(-0.25)).toBe('-0.250');
    expect(signed(0)).toBe('0');
  });

  it('a per-second figure keeps the per-mark figure\'s relative uncertainty', () => {
    // issue 14: `+1770.579 B per frame +85812.234 B/s` for a rate known to ±300 B per frame
    expect(suspectRates(native())).toEqual({
      perMark: '+1770', perSecond: '+86000', interval: { low: '1470', high: '2070', per: 'mark' },
    });
  });

  it('an interval per second (no marks) rounds the per-second figure', () => {
    const r = suspectRates(native({ perMark: null, perSecond: 12.3456, interval: { low: 12.1, high: 12.6, per: 'second' } }));
    expect(r).toEqual({ perMark: null, perSecond: '+12.3', interval: { low: '12.1', high: '12.6', per: 'second' } });
  });

  it('no interval at all: three significant digits each', () => {
    expect(suspectRates(native({ interval: undefined }))).toEqual({ perMark: '+1770', perSecond: '+85800', interval: null });
  });
});
