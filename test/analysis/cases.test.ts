import { describe, expect, it } from 'vitest';
import { analyseRecords } from '../../src/analysis/index.js';
import { int, leaking, synthSession } from './synth.js';

const meta = { id: 'synthetic', device: 'test' };

describe('analyseRecords on synthetic sessions', () => {
  it('finds a steady 1-object-per-mark leak under noise, culprit first', async () => {
    const records = synthSession({ seed: 1, marks: 600, types: { 'app.Particle': leaking(1, 10, 6) } });
    const r = await analyseRecords(records, meta);
    expect(r.verdict).toBe('leak');
    const top = r.suspects[0]!;
    expect(top.type).toBe('app.Particle');
    expect(top.kind).toBe('object-growth');
    expect(top.perMark!.mark).toBe('frame');
    expect(Math.abs(top.perMark!.value - 1)).toBeLessThan(0.1);
    expect(top.confidence).toBeGreaterThanOrEqual(0.8);
    expect(top.evidence).toMatch(/app\.Particle objects accumulate, \+1\.\d+ per frame \(95 % CI/);
    expect(r.suspects.filter((s) => !s.dependsOn && s.type !== 'app.Particle')).toEqual([]);
  });

  it('holds across seeds: the leak is found, and nothing else is blamed', async () => {
    for (let seed = 10; seed < 20; seed++) {
      const records = synthSession({ seed, marks: 400, types: { 'app.Particle': leaking(1, 10, 6) } });
      const r = await analyseRecords(records, meta);
      expect(r.suspects[0]?.type, `seed ${seed}`).toBe('app.Particle');
      expect(Math.abs(r.suspects[0]!.perMark!.value - 1), `seed ${seed}`).toBeLessThan(0.1);
    }
  });

  it('ranks the culprit class first in the bound-method callback case, helpers as dependents', async () => {
    const via = (m: string, ev: string): [string, number] => [`bound method Widget.${m} in list EventBus.handlers['${ev}']`, 3];
    const records = synthSession({
      seed: 2,
      marks: 600,
      types: {
        'app.Widget': leaking(1, 4, 2, 4),
        method: leaking(3, 0, 4),
        dict: leaking(1, 0, 10),
      },
      holders: {
        'app.Widget': [via('on_click', 'click'), via('on_key', 'key'), via('on_tick', 'tick'), ['list item in module global app.WIDGETS', 2]],
        method: [["list item in list EventBus.handlers['click']", 1], ["list item in list EventBus.handlers['key']", 1], ['attribute A.b', 1]],
      },
    });
    const r = await analyseRecords(records, meta);
    expect(r.verdict).toBe('leak');
    const [first, ...rest] = r.suspects;
    expect(first!.type).toBe('app.Widget');
    expect(first!.evidence).toContain('9 of 11 references are bound methods (on_click, on_key, on_tick) stored in EventBus.handlers');
    expect(first!.referrers[0]!.count).toBe(3);
    const method = rest.find((s) => s.type === 'method')!;
    const dict = rest.find((s) => s.type === 'dict')!;
    expect(method.dependsOn).toBe('app.Widget');
    expect(dict.dependsOn).toBe('app.Widget');
    expect(method.evidence).toMatch(/^follows app\.Widget \(~3 per Widget\)/);
    expect(method.evidence).toContain("most are held by list item in list EventBus.handlers[...]");
    expect(dict.evidence).toMatch(/^follows app\.Widget \(~1 per Widget\)/);
    expect(method.confidence).toBeLessThan(first!.confidence);
    expect(Math.abs(method.perMark!.value - 3)).toBeLessThan(0.3);
    // the helpers' and the instances' bytes explain the RSS growth: no native suspect
    expect(r.suspects.some((s) => s.kind === 'native-growth')).toBe(false);
  });

  it('finds a native leak next to an object leak, subtracting what the objects explain', async () => {
    const records = synthSession({
      seed: 12, marks: 600, types: { 'app.Particle': leaking(1, 10, 6) }, nativeKiB: (m) => 16 * m,
    });
    const r = await analyseRecords(records, meta);
    const native = r.suspects.find((s) => s.kind === 'native-growth')!;
    expect(native).toBeDefined();
    // 16 KiB per frame of native growth, plus ~300 B per Particle that the objects explain
    expect(Math.abs(native.bytesPerMark! - 16384) / 16384).toBeLessThan(0.15);
    expect(r.suspects[0]!.kind).toBe('native-growth');
    expect(r.suspects.some((s) => s.type === 'app.Particle')).toBe(true);
  });

  it('ranks refcount growth that new objects cause below the growing type', async () => {
    const records = synthSession({
      seed: 13,
      marks: 600,
      types: {
        'app.Widget': leaking(1, 4, 2, 4),
        // each Widget references its class; each bound method its function
        type: (m) => [0, m],
        function: (m) => [0, 3 * m],
      },
    });
    const r = await analyseRecords(records, meta);
    expect(r.suspects[0]!.type).toBe('app.Widget');
    const refs = r.suspects.filter((x) => x.kind === 'refcount-growth');
    expect(refs.map((x) => x.type)).toContain('function');
    for (const s of refs) {
      expect(s.dependsOn).toBe('app.Widget');
      expect(s.evidence).toMatch(/^follows app\.Widget/);
    }
  });

  it('reports a refcount-only leak as refcount-growth first', async () => {
    const records = synthSession({
      seed: 3,
      marks: 600,
      types: { 'gfx.Color': (m) => [200, 400 + 200 * m] },
      holders: { 'gfx.Color': [['no referrer (reference leaked by C code)', 40], ['dict value in module global gfx.PALETTE', 3]] },
    });
    const r = await analyseRecords(records, meta);
    expect(r.verdict).toBe('leak');
    const top = r.suspects[0]!;
    expect(top.kind).toBe('refcount-growth');
    expect(top.type).toBe('gfx.Color');
    expect(Math.abs(top.perMark!.value - 200)).toBeLessThan(5);
    expect(top.evidence).toContain('while its count stays at 200');
    expect(top.evidence).toContain('about 1.00 extra references per object per frame');
    expect(top.evidence).toContain('no referrer (reference leaked by C code)');
    expect(r.suspects.filter((s) => s.kind === 'object-growth')).toEqual([]);
  });

  it('reports RSS growth that no type explains as native-growth with bytes per mark', async () => {
    const records = synthSession({ seed: 4, marks: 600, nativeKiB: (m) => 64 * m });
    const r = await analyseRecords(records, meta);
    expect(r.verdict).toBe('leak');
    const top = r.suspects[0]!;
    expect(top.kind).toBe('native-growth');
    expect(top.type).toBeNull();
    expect(Math.abs(top.bytesPerMark! - 65536) / 65536).toBeLessThan(0.15);
    expect(top.evidence).toMatch(/^RSS grows by 6\d\.\d KiB per frame .*no Python type explains it: a native \(C heap\) leak$/);
    expect(r.rss.slopeKiBPerMark).toBeGreaterThan(55);
  });

  it('does not call an allocator settling (RSS growing ever more slowly) a native leak', async () => {
    // RSS follows the running maximum of a random pool: fast at first, then slower and slower
    const records = synthSession({ seed: 14, marks: 600, nativeKiB: (m) => 900 * Math.log1p(m / 40) });
    const r = await analyseRecords(records, meta);
    expect(r.suspects.filter((s) => s.kind === 'native-growth')).toEqual([]);
    expect(r.verdict).toBe('no-leak');
  });

  it('finds a slow native leak once it has run long enough', async () => {
    const records = synthSession({ seed: 15, marks: 3000, rate: 20, nativeKiB: (m) => 0.5 * m });
    const r = await analyseRecords(records, meta);
    const native = r.suspects.find((s) => s.kind === 'native-growth')!;
    expect(native).toBeDefined();
    expect(Math.abs(native.bytesPerMark! - 512) / 512).toBeLessThan(0.15);
  });

  it('gives no-leak for a clean app with heavy churn, across seeds', async () => {
    for (let seed = 100; seed < 110; seed++) {
      const records = synthSession({
        seed,
        marks: 600,
        churn: 4,
        types: { 'app.Sprite': (_m, _t, rng) => { const c = int(rng, 50, 150); return [c, 2 * c]; } },
      });
      const r = await analyseRecords(records, meta);
      expect(r.verdict, `seed ${seed}: ${r.summary}`).toBe('no-leak');
      expect(r.suspects.filter((s) => s.confidence >= 0.3), `seed ${seed}`).toEqual([]);
    }
  });

  it('gives no-leak for a bounded cache after its warm-up', async () => {
    const records = synthSession({
      seed: 5,
      marks: 600,
      types: {
        'cache.Entry': (m, _t, rng) => { const c = Math.min(m, 100) - (m > 100 ? int(rng, 0, 4) : 0); return [c, c]; },
        dict: (m) => [Math.min(m, 100), Math.min(m, 100)],
      },
    });
    const r = await analyseRecords(records, meta);
    expect(r.verdict, r.summary).toBe('no-leak');
    expect(r.suspects).toEqual([]);
  });

  it('is inconclusive with too few marks and says how many more it needs', async () => {
    const records = synthSession({ seed: 6, marks: 12, rate: 0.6, censusEvery: 1, types: { 'app.Particle': leaking(1) } });
    const r = await analyseRecords(records, meta);
    expect(r.verdict).toBe('inconclusive');
    expect(r.summary).toContain('needs 8 more marks');
  });

  it('is inconclusive with fewer than 5 censuses', async () => {
    const records = synthSession({ seed: 7, marks: 100, rate: 20, censusEvery: 2.5 });
    const r = await analyseRecords(records, meta);
    expect(r.session.censuses).toBeLessThan(5);
    expect(r.verdict).toBe('inconclusive');
    expect(r.summary).toMatch(/needs \d more census/);
  });

  it('without marks, reports growth per second and perMark null', async () => {
    const records = synthSession({ seed: 8, marks: 600, noMarks: true, types: { 'app.Particle': leaking(1, 10, 6) } });
    const r = await analyseRecords(records, meta);
    expect(r.verdict).toBe('leak');
    const top = r.suspects[0]!;
    expect(top.type).toBe('app.Particle');
    expect(top.perMark).toBeNull();
    expect(top.bytesPerMark).toBeNull();
    expect(top.perSecond).toBeGreaterThan(8);
    expect(top.perSecond).toBeLessThan(12);
    expect(top.evidence).toContain('per second');
  });

  it('fills the session facts from the start and end records', async () => {
    const records = synthSession({ seed: 9, marks: 200 });
    const r = await analyseRecords(records, { id: 'abc' });
    expect(r.schema).toBe('refscope.report/1');
    expect(r.session).toMatchObject({
      id: 'abc', device: 'unknown', python: '2.7.18', startedAt: new Date(1764169000 * 1000).toISOString(),
      exitCode: 0, ended: 'exit', argv: ['app.py', '--frames', '200'], marks: { frame: 200 },
    });
    expect(r.session.samples).toBeGreaterThan(15);
    expect(r.overhead.probeCpuSeconds).toBeGreaterThan(0);
    expect(r.overhead.probeCpuFraction).toBeCloseTo(r.overhead.probeCpuSeconds / r.session.durationSeconds, 6);
    expect(r.rss.startKiB).toBeGreaterThan(9000);
  });

  it('marks a session without an end record as ended abnormally', async () => {
    const records = synthSession({ seed: 9, marks: 200 }).filter((rec) => rec.k !== 'end');
    const r = await analyseRecords(records, { id: 'x', exitCode: null });
    expect(r.session.ended).toBe('abnormal');
    expect(r.session.exitCode).toBeNull();
  });
});
