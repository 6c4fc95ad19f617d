import { describe, expect, it } from 'vitest';
import { analyseRecordsDetailed } from '../../src/analysis/detail.js';
import { columns, sparkline, utf8Locale } from '../../src/report/sparkline.js';
import { chartsOf, renderText } from '../../src/report/text.js';
import { leaking, synthSession } from '../analysis/synth.js';

describe('sparklines', () => {
  it('squeezes a series into columns keeping the spike, Unicode blocks or an ASCII ramp', () => {
    const pts = Array.from({ length: 1000 }, (_, i) => ({ t: i, v: i === 500 ? 100 : 1 }));
    const cols = columns(pts, 20);
    expect(cols).toHaveLength(20);
    expect(Math.max(...cols)).toBe(100);
    expect(sparkline([0, 1, 2, 3, 4, 5, 6, 7], true)).toBe('▁▂▃▄▅▆▇█');
    expect(sparkline([0, 1, 2, 3, 4, 5, 6, 7], false)).toBe('_.,-=+*#');
    expect(sparkline([3, 3, 3], false)).toBe('___');
    expect(columns([], 10)).toEqual([]);
  });

  it('reads the locale as setlocale does: LC_ALL, then LC_CTYPE, then LANG', () => {
    expect(utf8Locale({ LANG: 'en_US.UTF-8' })).toBe(true);
    expect(utf8Locale({ LC_ALL: 'C', LANG: 'en_US.UTF-8' })).toBe(false);
    expect(utf8Locale({ LC_CTYPE: 'C.utf8' })).toBe(true);
    expect(utf8Locale({})).toBe(false);
  });

  it('the text report shows RSS and the top suspect as sparklines within 80 columns, ASCII-only when asked', async () => {
    const d = await analyseRecordsDetailed(synthSession({ seed: 4, marks: 500, types: { ['app.' + 'VeryLong'.repeat(20)]: leaking(1) } }), { id: 'r' });
    const ascii = renderText(d.report, { color: false, charts: chartsOf(d), unicode: false });
    expect(ascii).toMatch(/\nrss chart  [_.,\-=+*#]{20,40}  \d+-\d+ KiB\n/);
    expect(ascii).toMatch(/\ntop chart  [_.,\-=+*#]{20,40}  \d+-\d+ objects\n/);
    expect(ascii).toMatch(/^[\x20-\x7e\n]*$/);
    for (const l of ascii.split('\n')) expect(l.length).toBeLessThanOrEqual(80);
    const uni = renderText(d.report, { color: false, charts: chartsOf(d), unicode: true, width: 60 });
    expect(uni).toMatch(/\nrss chart  [▁▂▃▄▅▆▇█]+/);
    for (const l of uni.split('\n')) expect(l.length).toBeLessThanOrEqual(60);
  });
});
