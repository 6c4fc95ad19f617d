import { describe, expect, it } from 'vitest';
import { analyseRecordsDetailed } from '../../src/analysis/detail.js';
import { analyseRecords } from '../../src/analysis/index.js';
import { chartsOf, printable, renderText, startFailureText, wrap } from '../../src/report/text.js';
import type { Report, Suspect } from '../../src/analysis/report.js';
import type { ProbeRecord } from '../../src/session/records.js';
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

  it('never breaks a name: a word longer than the line breaks after a dot or at a bracket', () => {
    // issue 14: `__main__.Sched uler`
    const word = "__main__.Scheduler.pending['timers']";
    const lines = wrap(`held by ${word}`, 16);
    expect(lines).toEqual(['held by', '__main__.', 'Scheduler.', "pending['timers'", ']']);
    for (const l of lines) expect(l.length).toBeLessThanOrEqual(16);
    expect(wrap('a.VeryLongName.Other', 12)).toEqual(['a.', 'VeryLongName', '.Other']);
    // the rest of a broken word goes on with the words after it
    expect(wrap('x __main__.Scheduler y', 12)).toEqual(['x', '__main__.', 'Scheduler y']);
  });

  it('a long qualified type name at a narrow width keeps every identifier whole', () => {
    const r = baseReport();
    r.suspects[0]!.type = '__main__.Scheduler.PendingTimerRegistryEntry.CallbackHolder';
    const text = renderText(r, { color: false, width: 40 });
    for (const part of r.suspects[0]!.type.split('.')) expect(text).toContain(part);
    for (const l of text.split('\n')) expect(l.length, l).toBeLessThanOrEqual(40);
  });
  it('leaves ordinary text alone', () => {
    expect(printable("bound method W.f in list B.h['k']")).toBe("bound method W.f in list B.h['k']");
    expect(printable('caf\u00e9')).toBe('caf\u00e9');
  });
});

/** The records of an app that never started: python's own error in the end record. */
function startFailedRecords(error: string | null): ProbeRecord[] {
  return [
    { seq: 0, t: 0.001, k: 'start', schema: 'refscope.records/1', probe: '0.1.0', wall: 1796188820.5, pid: 7, python: '3.11.7', impl: 'CPython',
      platform: 'linux', executable: 'python3', argv: ['app.py'], target: 'app.py', module: false, interval: 1, censusBudget: 0.02, pageKiB: 4,
      observer: { refcountOffset: 3 } },
    { seq: 1, t: 0.007, k: 'end', how: 'start-failed', exit: 1, error, probeCpu: 0, censuses: 0, records: 2 },
  ];
}

describe('an app that did not start', () => {
  it('is headed APP DID NOT START with the error, and has no advice to run longer, no charts, no suspects', async () => {
    const d = await analyseRecordsDetailed(startFailedRecords('SyntaxError: invalid syntax (app.py, line 12)'), { id: 's' });
    const r = d.report;
    expect(r.session.ended).toBe('start-failed');
    expect(r.session.error).toBe('SyntaxError: invalid syntax (app.py, line 12)');
    expect(r.verdict).toBe('inconclusive');
    expect(r.summary).not.toMatch(/run longer|more census|more mark/);
    expect(r.summary).toContain('the app did not start (SyntaxError: invalid syntax (app.py, line 12))');
    const text = renderText(r, { color: false, charts: chartsOf(d) });
    expect(text.split('\n')[0]).toBe('APP DID NOT START  SyntaxError at app.py:12: invalid syntax');
    expect(text).not.toMatch(/run longer|INCONCLUSIVE|chart|rss|Suspects|No suspects|0 censuses|call refscope\.mark/);
    expect(text).toContain('ended      start-failed, exit status 1');
    expect(text).toContain('nothing to analyse');
  });

  it('says any other start error as it is, and escapes it', async () => {
    const r = await analyseRecords(startFailedRecords('cannot open app.py\u001b[2J'), { id: 's' });
    expect(renderText(r, { color: false }).split('\n')[0]).toBe('APP DID NOT START  cannot open app.py\\x1b[2J');
    const none = await analyseRecords(startFailedRecords(null), { id: 's' });
    expect(renderText(none, { color: false }).split('\n')[0]).toMatch(/^APP DID NOT START {2}python gave no reason/);
    expect(startFailureText('IndentationError: unexpected indent (gui.py, line 3)')).toBe('IndentationError at gui.py:3: unexpected indent');
  });

  it('an app that raised after it started keeps its verdict and shows the error among the facts', () => {
    const r = baseReport();
    r.session.ended = 'exception';
    r.session.error = 'ValueError: boom';
    const text = renderText(r, { color: false });
    expect(text).toMatch(/^LEAK {2}/);
    expect(text).toContain('error      ValueError: boom');
  });
});

describe('weaker signals', () => {
  const weak = (i: number, over: Partial<Suspect> = {}): Suspect => ({
    kind: 'refcount-growth', type: `weak.T${i}`, confidence: 0.5, perSecond: 9.81234, perMark: { mark: 'frame', value: 1.001 },
    bytesPerMark: null, evidence: `weak evidence ${i}`, referrers: [{ via: `holder of T${i}`, count: 2 }],
    interval: { low: 0.99, high: 1.01, per: 'mark' }, unit: 'references', dependsOn: 'app.Widget', ...over,
  });

  it('lists the suspects below the confidence line one line each, at most 5, and counts the rest', () => {
    const r = baseReport();
    r.suspects.push(...Array.from({ length: 7 }, (_, i) => weak(i + 2)));
    r.suspects[3] = weak(4, { dependsOn: undefined, confidence: 0.41, kind: 'object-growth', unit: 'objects' });
    const text = renderText(r, { color: false });
    const [full, weaker] = text.split('Weaker signals');
    expect(full).toContain(' 1. app.Widget  object-growth  confidence 0.97');
    expect(full).not.toContain('weak.T');
    expect(weaker).toContain(' 2. weak.T2  +1.00 refs per frame (0.50, follows #1)\n');
    expect(weaker).toContain(' 4. weak.T4  +1.00 objects per frame (0.41)\n');
    expect(weaker).toContain(' 6. weak.T6  ');
    expect(weaker).not.toContain('weak.T7');
    expect(weaker).not.toContain('weak evidence');
    expect(weaker).toContain('\n    (2 more in report.json; `refscope report --all` shows all in full)\n');
  });

  it('--all shows every suspect in full', () => {
    const r = baseReport();
    r.suspects.push(...Array.from({ length: 7 }, (_, i) => weak(i + 2)));
    const text = renderText(r, { color: false, all: true });
    expect(text).not.toContain('Weaker signals');
    for (let i = 2; i <= 8; i++) expect(text).toContain(`weak evidence ${i}`);
    expect(text).toContain(' 8. weak.T8  refcount-growth  confidence 0.50');
  });

  it('with no suspect at the line, says so and keeps the weaker ones short', () => {
    const r = baseReport();
    r.verdict = 'no-leak';
    r.suspects = [weak(1, { dependsOn: undefined, confidence: 0.3 })];
    const text = renderText(r, { color: false });
    expect(text).toContain('No suspect reaches the confidence line (0.6).');
    expect(text).toContain(' 1. weak.T1  +1.00 refs per frame (0.30)\n');
    expect(text).not.toContain('weak evidence');
  });

  it('rounds each figure to what its interval supports', () => {
    const r = baseReport();
    r.suspects[0] = { ...r.suspects[0]!, kind: 'native-growth', type: null, unit: 'bytes', perSecond: 85812.234,
      perMark: { mark: 'frame', value: 1770.579 }, bytesPerMark: 1770.579, interval: { low: 1470.2, high: 2070.9, per: 'mark' } };
    const text = renderText(r, { color: false });
    expect(text).toContain('+1770 B per frame (95 % CI 1470 to 2070), +86000 B/s');
    expect(text.slice(text.indexOf('Suspects'))).not.toMatch(/\d\.\d{3}/);
  });
});
