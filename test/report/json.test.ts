import { describe, expect, it } from 'vitest';
import { analyseRecords } from '../../src/analysis/index.js';
import { renderJson } from '../../src/report/json.js';
import { leaking, synthSession } from '../analysis/synth.js';

describe('renderJson', () => {
  it('writes the contract keys in the contract order, added keys after', async () => {
    const r = await analyseRecords(synthSession({ seed: 1, marks: 300, types: { 'app.P': leaking(1) } }), { id: 'j' });
    const text = renderJson(r);
    const v = JSON.parse(text) as Record<string, unknown>;
    expect(Object.keys(v)).toEqual(['schema', 'session', 'verdict', 'summary', 'suspects', 'rss', 'overhead']);
    expect(Object.keys(v.session as object).slice(0, 8)).toEqual([
      'id', 'device', 'python', 'startedAt', 'durationSeconds', 'exitCode', 'samples', 'lostRecords',
    ]);
    const s = (v.suspects as Record<string, unknown>[])[0]!;
    expect(Object.keys(s).slice(0, 9)).toEqual([
      'kind', 'type', 'confidence', 'perSecond', 'perMark', 'bytesPerMark', 'evidence', 'referrers', 'where',
    ]);
    expect(Object.keys(v.rss as object)).toEqual(['startKiB', 'endKiB', 'slopeKiBPerSecond', 'slopeKiBPerMark']);
    expect(Object.keys(v.overhead as object)).toEqual(['probeCpuSeconds', 'probeCpuFraction', 'narrowSeconds', 'narrowCpuSeconds']);
    expect(text.endsWith('}\n')).toBe(true);
    expect(text).toContain('\n  "schema": "refscope.report/1",\n');
  });

  it('is byte-for-byte stable for the same input, whatever the key insertion order', async () => {
    const records = synthSession({ seed: 2, marks: 300, types: { 'app.P': leaking(1) } });
    const a = await analyseRecords(records, { id: 'j' });
    const b = await analyseRecords(records, { id: 'j' });
    const reordered = Object.fromEntries(Object.entries(b).reverse()) as unknown as typeof b;
    expect(renderJson(a)).toBe(renderJson(b));
    expect(renderJson(reordered)).toBe(renderJson(a));
  });

  it('writes null for non-finite numbers and keeps null fields', () => {
    const text = renderJson({
      schema: 'refscope.report/1',
      session: { id: 'x', device: 'd', python: '?', startedAt: '', durationSeconds: 0, exitCode: null, samples: 0, lostRecords: 0 },
      verdict: 'inconclusive',
      suspects: [],
      rss: { startKiB: 0, endKiB: 0, slopeKiBPerSecond: NaN, slopeKiBPerMark: null },
      overhead: { probeCpuSeconds: 0, probeCpuFraction: Infinity },
    });
    const v = JSON.parse(text) as { session: { exitCode: unknown }; rss: Record<string, unknown>; overhead: Record<string, unknown> };
    expect(v.session.exitCode).toBeNull();
    expect(v.rss.slopeKiBPerSecond).toBeNull();
    expect(v.rss.slopeKiBPerMark).toBeNull();
    expect(v.overhead.probeCpuFraction).toBeNull();
  });
});
