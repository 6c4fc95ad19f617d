/**
 * The narrowing window's records (issue 15) on the host: parsed at the edge (bounded, hostile
 * fields dropped), collected per type, mapped onto the suspects' `where` lists with their
 * figures and sentences, shown by the text, HTML, JUnit and JSON reports, and compared by
 * `refscope diff`.
 */
import { describe, expect, it } from 'vitest';
import { analyseRecordsDetailed } from '../../src/analysis/detail.js';
import { diffSessions } from '../../src/analysis/diff.js';
import { analyseRecords } from '../../src/analysis/index.js';
import type { Report, Suspect } from '../../src/analysis/report.js';
import { buildSeries, MAX_NARROW_PER_TYPE } from '../../src/analysis/series.js';
import { renderDiffText } from '../../src/report/diff.js';
import { renderHtml } from '../../src/report/html.js';
import { renderJson } from '../../src/report/json.js';
import { renderJunit } from '../../src/report/junit.js';
import { renderText } from '../../src/report/text.js';
import { MAX_NARROW_CHARS, toRecord, type NarrowRecord, type ProbeRecord } from '../../src/session/records.js';
import { HOSTILE, markupProblems } from '../helpers/markup.js';
import { leaking, synthSession, type TypeModel } from './synth.js';

/** points.Point: 50 of them, each gaining one reference a frame (a C call that keeps what it is given). */
const refLeak: TypeModel = (m) => [50, 100 + 50 * m];

const KEEPS_SITE = {
  function: 'leakyiter.total', native: true, file: 'scene.py', line: 88, caller: 'Scene.draw',
  calls: 8, refs: 64, created: 0, alive: 0, freed: 0,
  stack: [['scene.py', 88, 'Scene.draw'], ['main.py', 12, 'main']],
};

/** A narrow record as the probe writes it (decoded JSON), with `over` replacing fields. */
function narrowJson(over: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    seq: 10_000, t: 20, k: 'narrow', type: 'points.Point', kind: 'keeps-reference', status: 'found', reason: null,
    method: 'profile', mark: 'frame', marks: 8, seconds: 0.31, cpu: 0.12, peakKiB: 40, population: 50, samples: 8,
    checkMarks: 8, released: 0, sites: [KEEPS_SITE], ...over,
  };
}

/** Parsed at the edge, as the session reader does. */
function narrow(over: Record<string, unknown> = {}): NarrowRecord {
  const r = toRecord(JSON.parse(JSON.stringify(narrowJson(over))));
  if (r?.k !== 'narrow') throw new Error('not a narrow record');
  return r;
}

/** A synthetic session with these narrow records placed before its final census. */
function session(types: Record<string, TypeModel>, narrows: ProbeRecord[], seed = 11): ProbeRecord[] {
  const rs = synthSession({ seed, marks: 400, types });
  rs.splice(rs.length - 2, 0, ...narrows);
  return rs;
}

const suspectOf = (r: Report, type: string, kind?: Suspect['kind']): Suspect => {
  const s = r.suspects.find((x) => x.type === type && (kind === undefined || x.kind === kind));
  if (!s) throw new Error(`no suspect ${type}: ${r.suspects.map((x) => `${x.kind} ${x.type}`).join(', ')}`);
  return s;
};

const flat = (text: string): string => text.replace(/\n +/g, ' ');

describe('narrow records at the edge', () => {
  it('parses a well-formed record as written', () => {
    const r = narrow();
    expect(r).toMatchObject({ k: 'narrow', type: 'points.Point', kind: 'keeps-reference', status: 'found', mark: 'frame', marks: 8, population: 50, samples: 8 });
    // a site without its own kind is of the record's
    expect(r.sites).toEqual([{ kind: 'keeps-reference', ...KEEPS_SITE }]);
    expect(narrow({ kind: 'creates', method: 'trace', sites: [{ ...KEEPS_SITE, kind: 'keeps-reference' }, { ...KEEPS_SITE, kind: 'other' }] }))
      .toMatchObject({ kind: 'creates', method: 'trace', sites: [{ kind: 'keeps-reference' }, { kind: 'creates' }] });
  });

  it('drops a record with no type or an unknown kind (counted as lost by the reader)', () => {
    expect(toRecord(narrowJson({ type: undefined }))).toBeNull();
    expect(toRecord(narrowJson({ type: 42 }))).toBeNull();
    expect(toRecord(narrowJson({ kind: 'leaks' }))).toBeNull();
  });

  it('bounds hostile fields: huge strings, NaN and Infinity, 1000 sites, stacks that are not lists', () => {
    const huge = 'x'.repeat(1_000_000);
    const sites: unknown[] = [
      { ...KEEPS_SITE, function: huge, file: huge, caller: huge, stack: 'scene.py:88' },
      { ...KEEPS_SITE, calls: NaN, refs: Infinity, line: -3, stack: Array.from({ length: 10 }, (_, i) => ['f.py', i + 1, 'g']) },
      { ...KEEPS_SITE, stack: [['ok.py', 1, 'f'], 'junk', [1, 2, 3], [null, null, null], ['x.py', 'l', { no: 1 }], [null, 7, 'h']] },
      null, 7, 'site', [KEEPS_SITE],
      { ...KEEPS_SITE, function: null, file: null },
      ...Array.from({ length: 1000 }, (_, i) => ({ ...KEEPS_SITE, line: i + 1 })),
    ];
    const r = toRecord({
      ...narrowJson({ sites }), marks: NaN, seconds: Infinity, cpu: -1, peakKiB: '40', population: 1e400, samples: null,
      reason: huge, mark: huge, status: 'exploded', method: { name: 'perf' },
    });
    if (r?.k !== 'narrow') throw new Error('dropped');
    expect(r.sites.length).toBe(32);
    const [a, b, c] = r.sites;
    for (const s of [a!.function, a!.file, a!.caller, r.mark]) {
      expect(s!.length).toBeLessThan(MAX_NARROW_CHARS + 30);
      expect(s).toMatch(/^x+\.\.\.\(999488 more\)$/);
    }
    expect(r.reason!.length).toBeLessThan(1030);
    expect(a!.stack).toEqual([]);
    expect(b).toMatchObject({ calls: 0, refs: 0, line: null });
    expect(b!.stack.length).toBe(3);
    expect(c!.stack).toEqual([['ok.py', 1, 'f'], [null, 7, 'h']]);
    // non-objects, arrays, and sites naming neither function nor file are dropped: the rest are the 1000
    expect(r.sites.slice(3).map((s) => s.line)).toEqual(Array.from({ length: 29 }, (_, i) => i + 1));
    expect(r).toMatchObject({ marks: 0, seconds: 0, cpu: 0, peakKiB: 0, population: 0, samples: 0, method: null });
    // an unknown status reads as what the sites say
    expect(r.status).toBe('found');
    const none = toRecord(narrowJson({ status: 'exploded', sites: 'none' }));
    expect(none).toMatchObject({ status: 'nothing', sites: [] });
  });

  it('is collected per type, the latest few of each, every window\'s cost summed', async () => {
    const records: ProbeRecord[] = [];
    for (let i = 0; i < MAX_NARROW_PER_TYPE + 4; i++) records.push(narrow({ seq: i, t: i, seconds: 0.5, cpu: 0.25 }));
    records.push(narrow({ seq: 99, t: 99, type: 'gallery.Thumb', kind: 'creates', seconds: 1, cpu: 1 }));
    const s = await buildSeries(records);
    expect(s.narrow.get('points.Point')!.length).toBe(MAX_NARROW_PER_TYPE);
    expect(s.narrow.get('points.Point')!.at(-1)!.seq).toBe(MAX_NARROW_PER_TYPE + 3);
    expect(s.narrow.get('gallery.Thumb')!.length).toBe(1);
    expect(s.narrowSeconds).toBeCloseTo((MAX_NARROW_PER_TYPE + 4) * 0.5 + 1, 9);
    expect(s.narrowCpu).toBeCloseTo((MAX_NARROW_PER_TYPE + 4) * 0.25 + 1, 9);
  });
});

describe('where: a suspect\'s leaking call', () => {
  it('keeps-reference: the call, scaled to the whole type, per mark, in one sentence', async () => {
    const r = await analyseRecords(session({ 'points.Point': refLeak }, [
      narrow({ sites: [KEEPS_SITE, { ...KEEPS_SITE, function: 'Scene.tidy', native: false, line: 95, calls: 16, refs: 0 }] }),
    ]), { id: 'keeps' });
    const s = suspectOf(r, 'points.Point', 'refcount-growth');
    expect(s.where.length).toBe(1); // the call that kept nothing is not a site
    expect(s.where[0]).toMatchObject({
      kind: 'keeps-reference', function: 'leakyiter.total', file: 'scene.py', line: 88, callsPerMark: 1, perCall: 50, freed: 0,
      native: true, caller: 'Scene.draw', calls: 8, refs: 64, method: 'profile',
      stack: [['scene.py', 88, 'Scene.draw'], ['main.py', 12, 'main']],
    });
    expect(s.where[0]!.evidence).toBe('leakyiter.total (C), called from scene.py:88 in Scene.draw, keeps 1 reference to each ' +
      'points.Point it is given: 50 per call, 1 call per frame; none released');
    expect(s.narrow).toEqual({ kind: 'keeps-reference', status: 'found', reason: null, method: 'profile', marks: 8, mark: 'frame', seconds: 0.31, cpu: 0.12, peakKiB: 40, windows: 1 });
    expect(r.overhead).toMatchObject({ narrowSeconds: 0.31, narrowCpuSeconds: 0.12 });
  });

  it('keeps-reference: a Python function, a share that is no whole number, references released', () => {
    return analyseRecords(session({ 'points.Point': refLeak }, [
      narrow({ released: 4, sites: [{ ...KEEPS_SITE, function: 'Scene.cache', native: false, calls: 4, refs: 20 }] }),
    ]), { id: 'py' }).then((r) => {
      const w = suspectOf(r, 'points.Point', 'refcount-growth').where[0]!;
      // 20 refs over 4 calls on 8 of 50: 31.25 per call on all of them, 0.625 per sample per call
      expect(w).toMatchObject({ perCall: 31.3, callsPerMark: 0.5, freed: 25 });
      expect(w.evidence).toBe('Scene.cache (Python), called from scene.py:88 in Scene.draw, keeps 31.3 references to points.Point ' +
        'per call, 0.5 calls per frame; 25 references released after the window');
    });
  });

  it('creates: the lines that create the survivors, most still alive first, freed counted', async () => {
    const r = await analyseRecords(session({ 'gallery.Thumb': leaking(1) }, [narrow({
      type: 'gallery.Thumb', kind: 'creates', method: 'profile', samples: 0, population: 120, sites: [
        { function: 'Cache.fill', native: false, file: 'gallery/cache.py', line: 10, caller: 'Cache.fill', calls: 30, refs: 0, created: 30, alive: 2, freed: 28, stack: [['gallery/cache.py', 10, 'Cache.fill']] },
        { function: 'Thumb.__init__', native: false, file: 'gallery/views.py', line: 41, caller: 'Gallery.show', calls: 8, refs: 0, created: 8, alive: 8, freed: 0, stack: [['gallery/views.py', 41, 'Gallery.show']] },
        { function: 'Gallery.prefetch', native: false, file: 'gallery/views.py', line: 60, caller: 'Gallery.prefetch', calls: 0, refs: 0, created: 0, alive: 0, freed: 0, stack: [] },
      ],
    })]), { id: 'creates' });
    const s = suspectOf(r, 'gallery.Thumb', 'object-growth');
    expect(s.where.map((w) => [w.file, w.line, w.callsPerMark, w.perCall, w.freed, w.created, w.alive])).toEqual([
      ['gallery/views.py', 41, 1, 1, 0, 8, 8],
      ['gallery/cache.py', 10, 3.75, 1, 28, 30, 2],
    ]);
    expect(s.where.map((w) => w.evidence)).toEqual([
      'created at gallery/views.py:41 in Gallery.show, 1 per frame; 0 of 8 freed',
      'created at gallery/cache.py:10 in Cache.fill, 3.8 per frame; 28 of 30 freed',
    ]);
  });

  it('creates: a tracemalloc site without names, not checked when no mark came before the check', async () => {
    const r = await analyseRecords(session({ 'gallery.Thumb': leaking(1) }, [narrow({
      type: 'gallery.Thumb', kind: 'creates', method: 'tracemalloc', status: 'stopped', reason: 'the run ended while the window was open',
      checkMarks: 0, samples: 0, sites: [{ function: null, native: false, file: 'gallery/views.py', line: 41, caller: null, created: 30, alive: 30, freed: 0, stack: [['gallery/views.py', 41, null]] }],
    })]), { id: 'tm' });
    const s = suspectOf(r, 'gallery.Thumb', 'object-growth');
    expect(s.where[0]).toMatchObject({ function: null, freed: null, method: 'tracemalloc', stack: [['gallery/views.py', 41, null]] });
    expect(s.where[0]!.evidence).toBe('created at gallery/views.py:41, 3.8 per frame; not checked after the window');
    const text = flat(renderText(r, { color: false, all: true }));
    expect(text).toContain('where: (a narrowing window (8 frames, 0.31 s) was cut short: the run ended while the window was open)');
  });

  it('creates: the line of a new instance\'s creation that kept a reference to it, after the creating lines', async () => {
    // as the probe writes it: the creating line, then the __init__ line that subscribed the new instance
    const r = await analyseRecords(session({ 'gallery.Thumb': leaking(1) }, [narrow({
      type: 'gallery.Thumb', kind: 'creates', method: 'trace', samples: 0, population: 28, checkMarks: 35, sites: [
        { kind: 'keeps-reference', function: 'Thumb.__init__', native: false, file: 'gallery/thumb.py', line: 12, caller: 'Thumb.__init__', calls: 8, refs: 8, created: 0, alive: 0, freed: 0, stack: [['gallery/thumb.py', 12, 'Thumb.__init__']] },
        { kind: 'creates', function: 'Gallery.show', native: false, file: 'gallery/views.py', line: 41, caller: 'Gallery.show', calls: 8, refs: 0, created: 8, alive: 8, freed: 0, stack: [['gallery/views.py', 41, 'Gallery.show']] },
      ],
    })]), { id: 'holds' });
    const s = suspectOf(r, 'gallery.Thumb', 'object-growth');
    expect(s.where.map((w) => [w.kind, w.line, w.callsPerMark, w.perCall, w.freed])).toEqual([
      ['creates', 41, 1, 1, 0],
      ['keeps-reference', 12, 1, 1, null],
    ]);
    expect(s.where.map((w) => w.evidence)).toEqual([
      'created at gallery/views.py:41 in Gallery.show, 1 per frame; 0 of 8 freed',
      'gallery/thumb.py:12 in Thumb.__init__ keeps 1 reference to each new gallery.Thumb, 1 time per frame',
    ]);
    expect(s.narrow?.method).toBe('trace');
  });

  it('lines next to each other that keep alike are worded once (27-29), paths under the app\'s folder made relative', async () => {
    const keep = (line: number, refs = 8): Record<string, unknown> => ({ kind: 'keeps-reference', function: 'SlideView.__init__', native: false,
      file: '/home/user/app/gallery/views.py', line, caller: 'SlideView.__init__', calls: 8, refs, created: 0, alive: 0, freed: 0, stack: [] });
    const records = session({ 'gallery.SlideView': leaking(1) }, [narrow({
      type: 'gallery.SlideView', kind: 'creates', method: 'trace', samples: 0, population: 28, checkMarks: 35, sites: [
        { kind: 'creates', function: 'main', native: false, file: '/home/user/app/slides.py', line: 48, caller: 'main', calls: 8, refs: 0, created: 8, alive: 8, freed: 0, stack: [] },
        keep(27), keep(28), keep(29),
        keep(31, 16),                            // next to 29 but not alike: 2 references each
        { ...keep(33), file: '/usr/lib/python3/bus.py', caller: 'Bus.add' },
      ],
    })]);
    const start = records[0] as unknown as Record<string, unknown>;
    start.cwd = '/home/user/app';
    const r = await analyseRecords(records, { id: 'runs' });
    const s = suspectOf(r, 'gallery.SlideView', 'object-growth');
    // every line stays an entry of the JSON (most kept first), with its file whole
    expect(s.where.map((w) => [w.line, w.through])).toEqual([[48, undefined], [31, undefined], [27, 29], [28, undefined], [29, undefined]]);
    expect(s.where[2]!.file).toBe('/home/user/app/gallery/views.py');
    const text = flat(renderText(r, { width: 200 }));
    expect(text).toContain('where: created at slides.py:48 in main, 1 per frame; 0 of 8 freed');
    expect(text).toContain('where: gallery/views.py:27-29 in SlideView.__init__ each keep 1 reference to each new gallery.SlideView, 1 time per frame');
    expect(text).toContain('where: gallery/views.py:31 in SlideView.__init__ keeps 2 references to each new gallery.SlideView');
    expect(text).not.toContain('views.py:28 ');
    // without the folder (an older probe), paths stay whole
    delete start.cwd;
    const old = await analyseRecords(records, { id: 'runs-old' });
    expect(suspectOf(old, 'gallery.SlideView', 'object-growth').where[0]!.evidence).toContain('/home/user/app/slides.py:48');
  });

  it('at most 5 sites, the most references kept first', async () => {
    const sites = [3, 9, 1, 7, 5, 8, 2].map((k, i) => ({ ...KEEPS_SITE, line: 100 + i, refs: 8 * k }));
    const r = await analyseRecords(session({ 'points.Point': refLeak }, [narrow({ sites })]), { id: 'top' });
    expect(suspectOf(r, 'points.Point').where.map((w) => [w.line, w.refs])).toEqual([[101, 72], [105, 64], [103, 56], [104, 40], [100, 24]]);
  });

  it('a window that found nothing: no where entries, and the suspect says a window ran', async () => {
    const r = await analyseRecords(session({ 'points.Point': refLeak }, [narrow({ status: 'nothing', sites: [] })]), { id: 'nothing' });
    const s = suspectOf(r, 'points.Point', 'refcount-growth');
    expect(s.where).toEqual([]);
    expect(s.narrow).toMatchObject({ status: 'nothing', marks: 8, mark: 'frame', seconds: 0.31 });
    const text = renderText(r, { color: false, all: true });
    expect(flat(text)).toContain('where: a narrowing window (8 frames, 0.31 s) found no call that keeps references');
  });

  it('a window that could not see where: its reason', async () => {
    const reason = "no refscope.mark() came within 5 s: a window opens at a mark in the app's thread";
    const r = await analyseRecords(session({ 'points.Point': refLeak }, [narrow({ status: 'no-site', reason, mark: null, marks: 0, seconds: 5, sites: [] })]), { id: 'nosite' });
    const s = suspectOf(r, 'points.Point', 'refcount-growth');
    expect(s.where).toEqual([]);
    expect(s.narrow).toMatchObject({ status: 'no-site', reason, mark: null });
    expect(flat(renderText(r, { color: false, all: true }))).toContain(`where: a narrowing window (5 s) could not see where: ${reason}`);
  });

  it('only for the suspect of the record\'s type; none without a record, and no narrow field then', async () => {
    const r = await analyseRecords(session({ 'points.Point': refLeak, 'gallery.Thumb': leaking(1) }, [narrow()]), { id: 'only' });
    expect(suspectOf(r, 'points.Point').where.length).toBe(1);
    const thumb = suspectOf(r, 'gallery.Thumb');
    expect(thumb.where).toEqual([]);
    expect(thumb).not.toHaveProperty('narrow');
    const plain = await analyseRecords(session({ 'gallery.Thumb': leaking(1) }, []), { id: 'plain' });
    for (const s of plain.suspects) {
      expect(s.where).toEqual([]);
      expect(s).not.toHaveProperty('narrow');
    }
    expect(plain.overhead).toMatchObject({ narrowSeconds: 0, narrowCpuSeconds: 0 });
  });

  it('of several windows for a type, the one of the fitting kind that found sites speaks', async () => {
    const r = await analyseRecords(session({ 'points.Point': refLeak }, [
      narrow({ seq: 1, t: 10 }),
      narrow({ seq: 2, t: 12, status: 'nothing', sites: [] }),
      narrow({ seq: 3, t: 14, kind: 'creates', sites: [{ ...KEEPS_SITE, created: 5, alive: 5 }] }),
    ]), { id: 'again' });
    const s = suspectOf(r, 'points.Point', 'refcount-growth');
    expect(s.where.map((w) => w.kind)).toEqual(['keeps-reference']);
    expect(s.narrow).toMatchObject({ status: 'found', windows: 3 });
    expect(r.overhead.narrowSeconds).toBeCloseTo(0.93, 9);
  });
});

describe('where in the reports', () => {
  const records = (): ProbeRecord[] => session({ 'points.Point': refLeak }, [narrow()]);
  const SENTENCE = 'leakyiter.total (C), called from scene.py:88 in Scene.draw, keeps 1 reference to each points.Point it is given: 50 per call, 1 call per frame; none released';

  it('text: one where line per site under the suspect, within the width', async () => {
    const r = await analyseRecords(records(), { id: 'text' });
    const text = renderText(r, { color: false });
    expect(flat(text)).toContain(`where: ${SENTENCE}`);
    for (const l of text.split('\n')) expect(l.length, l).toBeLessThanOrEqual(80);
    // under the suspect it belongs to, before its holders
    const lines = text.split('\n');
    const at = lines.findIndex((l) => l.startsWith('    where: leakyiter.total'));
    expect(lines.slice(0, at).reverse().find((l) => /^ ?\d+\. /.test(l))).toMatch(/points\.Point {2}refcount-growth/);
    expect(lines[at + 1]).toMatch(/^ {11}\S/);
  });

  it('HTML: a where column with the sentences, every device string escaped', async () => {
    const d = await analyseRecordsDetailed(records(), { id: 'html' });
    const html = renderHtml(d);
    expect(html).toContain('<th>where</th>');
    expect(html).toContain(`<td class="where"><div>${SENTENCE}</div></td>`);
    expect(markupProblems(html, 'html')).toEqual([]);
    const plain = renderHtml(await analyseRecordsDetailed(session({ 'gallery.Thumb': leaking(1) }, []), { id: 'plain' }));
    expect(plain).not.toContain('<th>where</th>');

    const evil = HOSTILE.join(' ');
    const hostile = renderHtml(await analyseRecordsDetailed(session({ 'points.Point': refLeak }, [
      narrow({ sites: [{ ...KEEPS_SITE, function: evil, file: HOSTILE[1], caller: HOSTILE[5] }] }),
      narrow({ seq: 10_001, type: 'points.Point', kind: 'creates', status: 'no-site', reason: evil, sites: [] }),
    ]), { id: 'hostile' }));
    expect(markupProblems(hostile, 'html')).toEqual([]);
    expect(hostile).toContain('&lt;script&gt;alert(1)&lt;/script&gt;');
    expect(hostile).not.toContain('<script>');
  });

  it('text: hostile site strings reach no terminal raw', async () => {
    const r = await analyseRecords(session({ 'points.Point': refLeak }, [
      narrow({ sites: [{ ...KEEPS_SITE, function: '\u001b[2Jevil\u202e', caller: '\u001b]0;pwned\u0007' }] }),
    ]), { id: 'esc' });
    const text = renderText(r, { color: false });
    expect(text).not.toContain('\u001b');
    expect(text).not.toContain('\u202e');
    expect(text).toContain('\\x1b[2Jevil\\u202e (C)');
  });

  it('JUnit: the failure lists the where lines with the holders', async () => {
    const r = await analyseRecords(records(), { id: 'junit' });
    expect(r.verdict).toBe('leak');
    const xml = renderJunit(r);
    expect(xml).toContain(`where: ${SENTENCE}`);
    expect(markupProblems(xml, 'xml')).toEqual([]);
  });

  it('JSON: where in the contract\'s key order, after the referrers', async () => {
    const v = JSON.parse(renderJson(await analyseRecords(records(), { id: 'json' }))) as { suspects: Record<string, unknown>[]; overhead: object };
    const s = v.suspects.find((x) => x.type === 'points.Point' && x.kind === 'refcount-growth')!;
    const keys = Object.keys(s);
    expect(keys.indexOf('where')).toBe(keys.indexOf('referrers') + 1);
    const w = (s.where as Record<string, unknown>[])[0]!;
    expect(Object.keys(w).slice(0, 8)).toEqual(['kind', 'function', 'file', 'line', 'callsPerMark', 'perCall', 'freed', 'evidence']);
    expect(Object.keys(v.overhead)).toEqual(['probeCpuSeconds', 'probeCpuFraction', 'narrowSeconds', 'narrowCpuSeconds']);
  });
});

describe('refscope diff: the sites of a suspect in both runs', () => {
  const at = (line: number, fn = 'leakyiter.total') => ({ ...KEEPS_SITE, function: fn, line });

  it('says which sites are new, gone, or persist, in the JSON and the text', async () => {
    const base = await analyseRecordsDetailed(session({ 'points.Point': refLeak }, [narrow({ sites: [at(88), at(95, 'Scene.tidy')] })], 11), { id: 'base' });
    const next = await analyseRecordsDetailed(session({ 'points.Point': refLeak }, [narrow({ sites: [at(88), at(120, 'Scene.blit')] })], 12), { id: 'new' });
    const d = diffSessions(base, next);
    const sites = d.sites.find((x) => x.type === 'points.Point' && x.kind === 'refcount-growth')!;
    const ids = (l: { function: string | null; line: number | null }[]) => l.map((x) => `${x.function}:${x.line}`);
    expect(ids(sites.new)).toEqual(['Scene.blit:120']);
    expect(ids(sites.gone)).toEqual(['Scene.tidy:95']);
    expect(ids(sites.persist)).toEqual(['leakyiter.total:88']);
    const text = renderDiffText(d);
    expect(text).toContain('Where the leak happens');
    expect(text).toMatch(/\n {4}new {7}Scene\.blit at scene\.py:120\n/);
    expect(text).toMatch(/\n {4}gone {6}Scene\.tidy at scene\.py:95\n/);
    expect(text).toMatch(/\n {4}persists {2}leakyiter\.total at scene\.py:88\n/);
    for (const l of text.split('\n')) expect(l.length, l).toBeLessThanOrEqual(80);
  });

  it('lists nothing for suspects whose windows found no sites in either run', async () => {
    const base = await analyseRecordsDetailed(session({ 'points.Point': refLeak }, [], 11), { id: 'base' });
    const next = await analyseRecordsDetailed(session({ 'points.Point': refLeak }, [narrow({ status: 'nothing', sites: [] })], 12), { id: 'new' });
    const d = diffSessions(base, next);
    expect(d.sites).toEqual([]);
    expect(renderDiffText(d)).not.toContain('Where the leak happens');
  });
});
