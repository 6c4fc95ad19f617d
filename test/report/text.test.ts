import { describe, expect, it } from 'vitest';
import { analyseRecords } from '../../src/analysis/index.js';
import { printable, renderText, wrap } from '../../src/report/text.js';
import type { Report } from '../../src/analysis/report.js';
import { leaking, synthSession } from '../analysis/synth.js';

const ESC = '\u001b';

function baseReport(): Report {
  return {
    schema: 'refscope.report/1',
    session: {
      id: 'run-1', device: 'n810.local', python: '2.5.6', startedAt: '2026-11-26T10:00:00.000Z',
      durationSeconds: 61.2, exitCode: 0, samples: 60, lostRecords: 2, ended: 'exit', censuses: 12,
      marks: { frame: 600 }, argv: ['app.py'],
    },
    verdict: 'leak',
    summary: 'object-growth of app.Widget: +1.00 objects per frame (confidence 0.97)',
    suspects: [
      {
        kind: 'object-growth', type: 'app.Widget', confidence: 0.97, perSecond: 9.8,
        perMark: { mark: 'frame', value: 1.0 }, bytesPerMark: 300,
        evidence: '590 app.Widget objects accumulate, +1.00 per frame (95 % CI 0.98-1.02); 9 of 11 references are bound methods (on_click, on_key) stored in EventBus.handlers',
        referrers: [{ via: "bound method Widget.on_click in list EventBus.handlers['click']", count: 9 }],
        interval: { low: 0.98, high: 1.02, per: 'mark' }, unit: 'objects',
      },
    ],
    rss: { startKiB: 10432, endKiB: 12000, slopeKiBPerSecond: 25.6, slopeKiBPerMark: 2.6 },
    overhead: { probeCpuSeconds: 0.95, probeCpuFraction: 0.0155 },
  };
}

describe('renderText', () => {
  it('leads with the verdict, then the session facts, then the suspects', () => {
    const text = renderText(baseReport(), { color: false });
    const lines = text.split('\n');
    expect(lines[0]).toMatch(/^LEAK  object-growth of app\.Widget/);
    expect(text).toContain('python 2.5.6');
    expect(text).toContain("600 'frame', 9.8/s");
    expect(text).toContain('2 records lost');
    expect(text).toContain('1.6 % of the run');
    expect(text).toContain('exit, exit status 0');
    expect(text).toMatch(/ 1\. app\.Widget {2}object-growth {2}confidence 0\.97/);
    expect(text).toContain('+1.00 per frame (95 % CI 0.98 to 1.02), +9.80/s, ~300 B per frame');
    expect(text).toContain("bound method Widget.on_click in list EventBus.handlers['click']");
    expect(text).not.toContain(ESC);
  });

  it('fits 80 columns (and a narrower width when asked)', () => {
    const r = baseReport();
    r.suspects[0]!.referrers.push({ via: 'x'.repeat(200), count: 1 });
    r.suspects[0]!.type = 'a.' + 'VeryLongName'.repeat(10);
    for (const width of [80, 60]) {
      for (const l of renderText(r, { color: false, width }).split('\n')) expect(l.length, l).toBeLessThanOrEqual(width);
    }
  });

  it('colours only when asked', () => {
    expect(renderText(baseReport(), { color: true })).toContain(`${ESC}[31m`);
    expect(renderText(baseReport(), { color: false })).not.toContain(ESC);
  });

  it('escapes control characters and ANSI sequences from untrusted names visibly', () => {
    const r = baseReport();
    r.suspects[0]!.type = `evil.${ESC}[2JWidget`;
    r.suspects[0]!.referrers[0]!.via = `attribute A.b\r\u0007\u202e`;
    r.session.id = `id${ESC}]0;title\u0007`;
    const text = renderText(r, { color: false });
    expect(text).not.toContain(ESC);
    expect(text).not.toContain('\r');
    expect(text).not.toContain('\u0007');
    expect(text).not.toContain('\u202e');
    expect(text).toContain('evil.\\x1b[2JWidget');
    expect(text).toContain('attribute A.b\\x0d\\x07\\u202e');
    // with colour on, the only escapes are our own SGR sequences
    const coloured = renderText(r, { color: true });
    expect(coloured.replace(/\u001b\[\d+m/g, '')).not.toContain(ESC);
  });

  it('says when there are no marks and when the session ended abnormally', () => {
    const r = baseReport();
    r.session.marks = {};
    r.session.ended = 'abnormal';
    r.session.exitCode = null;
    r.verdict = 'no-leak';
    r.suspects = [];
    const text = renderText(r, { color: false });
    expect(text).toMatch(/^NO LEAK/);
    expect(text).toContain('call refscope.mark()');
    expect(text).toContain('abnormally (no end record), exit status unknown');
    expect(text).toContain('No suspects.');
  });

  it('renders real analyses of every kind within 80 columns', async () => {
    const cases = [
      synthSession({ seed: 1, marks: 600, types: { 'app.Particle': leaking(1, 10, 6) } }),
      synthSession({ seed: 4, marks: 600, nativeKiB: (m) => 64 * m }),
      synthSession({ seed: 3, marks: 600, types: { 'gfx.Color': (m) => [200, 400 + 200 * m] } }),
      synthSession({ seed: 6, marks: 12, rate: 0.6, censusEvery: 1 }),
    ];
    for (const records of cases) {
      const text = renderText(await analyseRecords(records, { id: 'x' }), { color: false });
      for (const l of text.split('\n')) expect(l.length, l).toBeLessThanOrEqual(80);
      expect(text).toMatch(/^(LEAK|NO LEAK|INCONCLUSIVE)  /);
    }
  });
});

describe('wrap and printable', () => {
  it('wraps at word boundaries and cuts words longer than the line', () => {
    expect(wrap('aaa bbb ccc', 7)).toEqual(['aaa bbb', 'ccc']);
    expect(wrap('x'.repeat(25), 10)).toEqual(['x'.repeat(10), 'x'.repeat(10), 'x'.repeat(5)]);
  });
  it('leaves ordinary text alone', () => {
    expect(printable("bound method W.f in list B.h['k']")).toBe("bound method W.f in list B.h['k']");
    expect(printable('caf\u00e9')).toBe('caf\u00e9');
  });
});
