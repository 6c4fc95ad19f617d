import { describe, expect, it } from 'vitest';
import { analyseRecords } from '../../src/analysis/index.js';
import { renderJson } from '../../src/report/json.js';
import { renderText } from '../../src/report/text.js';
import type { ProbeRecord } from '../../src/session/records.js';
import { int, leaking, prng, synthSession } from './synth.js';

describe('analysis of hostile or odd record streams', () => {
  it('survives names like __proto__ and constructor, escapes, huge names and extreme numbers', async () => {
    const rng = prng(99);
    const records: ProbeRecord[] = [];
    const names = ['__proto__', 'constructor', 'toString', 'evil.\u001b[2J', 'x'.repeat(100_000), 'app.W'];
    for (let i = 0; i < 60; i++) {
      records.push({
        seq: i, t: i, k: 'census', dur: 0, n: 0,
        marks: { ['__proto__']: i * 10, constructor: i },
        types: names.map((n, j): [string, number, number] => [n, j === 5 ? 10 + 10 * i : int(rng, 0, 1e6) * (j === 4 ? 1e300 : 1), -5]),
      });
      records.push({
        seq: i, t: i + 0.5, k: 'sample', rss: i % 7 === 0 ? null : 1e12 * rng(), peak: null, gc: [], marks: {}, cpu: [0, 0],
        probeCpu: 0, threads: 0, watch: [],
      });
      records.push({ seq: i, t: i + 0.6, k: 'referrers', type: 'app.W', sampled: 1, unexplained: 0, dur: 0,
        holders: [['bound method ' + '['.repeat(5000) + ' in list ' + '['.repeat(5000), 1], ['\u001b]0;pwned\u0007', 2]] });
    }
    const t0 = Date.now();
    const r = await analyseRecords(records, { id: '\u001b[31mid' });
    expect(Date.now() - t0).toBeLessThan(5000);
    expect(r.session.marks).toEqual(expect.objectContaining({ constructor: 59 }));
    expect(Object.keys(r.session.marks!)).toContain('__proto__');
    const w = r.suspects.find((s) => s.type === 'app.W');
    expect(w?.perMark?.mark).toBe('__proto__');
    const json = JSON.parse(renderJson(r)) as { session: { marks: Record<string, number> } };
    expect(Object.keys(json.session.marks)).toContain('__proto__');
    const text = renderText(r, { color: false });
    expect(text).not.toContain('\u001b');
    for (const l of text.split('\n')) expect(l.length).toBeLessThanOrEqual(80);
  });

  it('gives the same report for the same records, and never throws on an empty stream', async () => {
    const records = synthSession({ seed: 1, marks: 300, types: { 'app.P': leaking(1) } });
    expect(renderJson(await analyseRecords(records, { id: 'a' }))).toBe(renderJson(await analyseRecords(records, { id: 'a' })));
    const empty = await analyseRecords([], { id: 'e' });
    expect(empty.verdict).toBe('inconclusive');
    expect(empty.session.ended).toBe('abnormal');
  });
});
