/**
 * Issue 15, "which call leaks it": through the BUILT CLI at the defaults (`refscope run
 * --local --json`), the leading suspect's `where` names the call or line a person edits:
 * - a C extension that forgets Py_DECREF after PyIter_Next on live objects: the C function
 *   (leakyiter.total) and the line that calls it, 1 reference per object per call;
 * - the same C function leaking fresh objects: the line that creates them, and the C call
 *   that keeps them;
 * - bound-method callbacks subscribed in __init__: the class's creating line, and the three
 *   subscribing lines inside Widget.__init__;
 * - a cache keyed by request id: the creating line and the line that stores (CACHE[...] = r);
 * - a builtin (dict) that grows on its own in a module-level list: the line that appends it;
 * - the same cache in an app that never calls refscope.mark(): a timed window, opened in the
 *   main thread, names the same lines;
 * - a clean app: no suspect carries a where that says something leaks;
 * - `--no-narrow`: no window at all.
 * On CPython 2.7, the oldest and newest 3.x found (3.12+ immortal objects included), and 2.5
 * when REFSCOPE_PY25 is set. The expected lines are read from the fixtures themselves.
 */
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Report, Suspect, Where } from '../../src/analysis/report.js';
import { buildLeakyIter, ExtUnavailable } from '../helpers/build-ext.js';
import { ROOT, runCli } from '../helpers/cli.js';
import { spreadInterpreters, type Interp } from '../helpers/pythons.js';
import { renderText } from '../../src/report/text.js';

let work: string;
let n = 0;
let keep = false;

beforeAll(() => { work = mkdtempSync(join(tmpdir(), 'refscope-where-')); });
afterEach((ctx) => { if (ctx.task.result?.state === 'fail') keep = true; });
afterAll(() => {
  if (work && !keep) rmSync(work, { recursive: true, force: true });
  else if (work) process.stderr.write(`where: sessions kept in ${work}\n`);
});

interface Ran { code: number | null; report: Report; dir: string }

async function run(interp: Interp, app: string, env: NodeJS.ProcessEnv = {}, opts: string[] = []): Promise<Ran> {
  const dir = join(work, `s${++n}-${app}-${interp.label}`);
  const r = await runCli(['run', '--local', '--python', interp.path, '--out', dir, '--json', ...opts, '--',
    join('test', 'fixtures', `${app}.py`)], { timeoutMs: 120_000, env });
  const text = r.stdout.toString();
  let report: Report;
  try {
    report = JSON.parse(text) as Report;
  } catch {
    throw new Error(`no JSON report (exit ${r.code}): ${text.slice(0, 300)}\n${r.stderr.slice(-1000)}`);
  }
  return { code: r.code, report, dir };
}

const said = (r: Ran): string =>
  `session ${r.dir}: exit ${r.code}, ${r.report.verdict}\n` +
  r.report.suspects.map((s) => `  ${s.kind} ${s.type} ${s.confidence}\n` +
    (s.where ?? []).map((w) => `      where: ${w.kind} ${w.function} ${w.file}:${w.line} ${w.evidence}\n`).join('') +
    (s.narrow ? `      narrow: ${s.narrow.status} ${s.narrow.reason ?? ''}\n` : '')).join('');

/** the 1-based line of `text` in a fixture (exactly one) */
function lineOf(file: string, text: string): number {
  const lines = readFileSync(join(ROOT, 'test', 'fixtures', file), 'utf8').split('\n');
  const at = lines.flatMap((l, i) => (l.includes(text) ? [i + 1] : []));
  expect(at, `${file}: ${text}`).toHaveLength(1);
  return at[0]!;
}

function lead(r: Ran, type: string, kind: Suspect['kind']): Suspect {
  expect(r.report.verdict, said(r)).toBe('leak');
  expect(r.code, said(r)).toBe(1);
  const s = r.report.suspects.find((x) => x.type === type && x.kind === kind);
  expect(s, said(r)).toBeDefined();
  expect(s!.narrow?.status, said(r)).toBe('found');
  return s!;
}

const at = (w: Where, file: string, line: number): boolean => (w.file ?? '').endsWith(`/${file}`) || w.file === file ? w.line === line : false;

async function withExt(interp: Interp, skip: (why: string) => void): Promise<NodeJS.ProcessEnv | null> {
  try {
    return { PYTHONPATH: await buildLeakyIter(interp) };
  } catch (err) {
    if (err instanceof ExtUnavailable) {
      skip(err.message);
      return null;
    }
    throw err;
  }
}

const pythons = spreadInterpreters();
if (pythons.length === 0) it.skip('needs CPython 2.7 and a 3.x under $(pyenv root)/versions', () => {});

describe.each(pythons.map((i) => [i.label, i] as const))('where the leak happens, refscope run --local on Python %s', (_label, interp) => {
  it('a C function that forgets Py_DECREF after PyIter_Next: the function, the calling line, 1 reference per object per call', async (ctx) => {
    const env = await withExt(interp, (why) => ctx.skip(why));
    if (!env) return;
    const r = await run(interp, 'refcount_leak', env);
    const s = lead(r, 'points.Point', 'refcount-growth');
    const w = s.where[0]!;
    expect(w, said(r)).toMatchObject({ kind: 'keeps-reference', function: 'leakyiter.total', native: true, caller: 'main', freed: 0 });
    expect(at(w, 'refcount_leak.py', lineOf('refcount_leak.py', 'length = leakyiter.total(shape)')), said(r)).toBe(true);
    // 50 points, each kept once by each call; one call per frame
    expect(w.perCall, said(r)).toBe(50);
    expect(w.callsPerMark, said(r)).toBe(1);
    expect(w.evidence, said(r)).toMatch(/leakyiter\.total \(C\), called from \S*refcount_leak\.py:\d+ in main, keeps 1 reference to each points\.Point/);
    // the window's cost is stated
    expect(s.narrow!.marks, said(r)).toBeGreaterThan(0);
    expect(r.report.overhead.narrowSeconds, said(r)).toBeGreaterThan(0);
  });

  it('fresh objects leaked by a C function: the creating line, and the C call that keeps them', async (ctx) => {
    const env = await withExt(interp, (why) => ctx.skip(why));
    if (!env) return;
    const r = await run(interp, 'fresh_leak', env);
    const s = lead(r, 'shapes.Segment', 'object-growth');
    const line = lineOf('fresh_leak.py', 'total += leakyiter.total([shapes.Segment(1)');
    const created = s.where.find((w) => w.kind === 'creates')!;
    expect(created, said(r)).toBeDefined();
    expect(at(created, 'fresh_leak.py', line), said(r)).toBe(true);
    expect(created.callsPerMark, said(r)).toBe(3);
    expect(created.freed, said(r)).toBe(0);
    const kept = s.where.find((w) => w.kind === 'keeps-reference')!;
    expect(kept, said(r)).toMatchObject({ function: 'leakyiter.total', native: true });
    expect(at(kept, 'fresh_leak.py', line), said(r)).toBe(true);
  });

  it('bound-method callbacks subscribed in __init__: the creating line and the subscribing lines', async () => {
    const r = await run(interp, 'callbacks');
    const s = lead(r, 'widgets.Widget', 'object-growth');
    const created = s.where.find((w) => w.kind === 'creates')!;
    expect(at(created, 'callbacks.py', lineOf('callbacks.py', 'popup = widgets.Widget(')), said(r)).toBe(true);
    expect(created.callsPerMark, said(r)).toBe(1);
    expect(created.freed, said(r)).toBe(0);
    expect(created.evidence, said(r)).toMatch(/^created at \S*callbacks\.py:\d+ in main, 1 per frame; 0 of \d+ freed/);
    const subs = s.where.filter((w) => w.kind === 'keeps-reference');
    const lines = ['click', 'key', 'resize'].map((e) => lineOf('widgets.py', `bus.subscribe('${e}'`));
    expect(subs.map((w) => w.line).sort(), said(r)).toEqual([...lines].sort());
    for (const w of subs) {
      expect(w.caller, said(r)).toBe('Widget.__init__');
      expect(w.evidence, said(r)).toMatch(/widgets\.py:\d+(-\d+)? in Widget\.__init__ (keeps|each keep) 1 reference to each new widgets\.Widget/);
    }
    // lines next to each other, alike, are worded once in the text (the three subscriptions)
    const sorted = [...lines].sort((a, b) => a - b);
    if (sorted[2]! - sorted[0]! === 2 && subs.every((w) => w.refs === subs[0]!.refs && w.calls === subs[0]!.calls)) {
      const text = renderText(r.report, { width: 200 });
      expect(text, said(r)).toContain(`widgets.py:${sorted[0]}-${sorted[2]} in Widget.__init__ each keep 1 reference to each new widgets.Widget`);
      expect(text, said(r)).not.toContain(`widgets.py:${sorted[1]} in`);
    }
  });

  it('a cache keyed by request id: the creating line and the line that stores', async () => {
    const r = await run(interp, 'request_cache');
    const s = lead(r, 'webcache.Response', 'object-growth');
    const created = s.where.find((w) => w.kind === 'creates')!;
    expect(at(created, 'webcache.py', lineOf('webcache.py', 'r = Response(request_id')), said(r)).toBe(true);
    const stores = s.where.filter((w) => w.kind === 'keeps-reference');
    // the store, and nothing else: neither the local `r` nor the value returned
    expect(stores.map((w) => w.line), said(r)).toEqual([lineOf('webcache.py', 'CACHE[request_id] = r')]);
    expect(stores[0]!.caller, said(r)).toBe('fetch');
  });

  it('a builtin type that grows on its own: the line that adds it to the container it piles up in', async () => {
    const r = await run(interp, 'dict_log');
    const s = lead(r, 'dict', 'object-growth');
    const w = s.where[0]!;
    expect(w, said(r)).toMatchObject({ kind: 'keeps-reference', caller: 'note', callsPerMark: 1, perCall: 1, freed: 0 });
    expect(at(w, 'dict_log.py', lineOf('dict_log.py', 'LOG.append(entry)')), said(r)).toBe(true);
    expect(w.evidence, said(r)).toMatch(/dict_log\.py:\d+ in note adds 1 dict to list item in module global __main__\.LOG each time it runs, 1 time per frame; none taken out/);
  });

  it('an app that never marks: the window opens in its main thread, times itself, names the same lines', async () => {
    const r = await run(interp, 'unmarked_cache');
    const s = lead(r, 'webcache.Response', 'object-growth');
    expect(s.narrow!.mark, said(r)).toBeNull();
    expect(s.narrow!.seconds, said(r)).toBeGreaterThan(0.5);
    // its cap is 2 s, checked every 64 of the app's events: a loaded machine stretches those
    expect(s.narrow!.seconds, said(r)).toBeLessThan(5);
    const created = s.where.find((w) => w.kind === 'creates')!;
    expect(at(created, 'webcache.py', lineOf('webcache.py', 'r = Response(request_id')), said(r)).toBe(true);
    expect(created.evidence, said(r)).toMatch(/ in fetch, \d+ in [\d.]+ s; 0 of \d+ freed/);
    const stores = s.where.filter((w) => w.kind === 'keeps-reference');
    expect(stores.map((w) => w.line), said(r)).toEqual([lineOf('webcache.py', 'CACHE[request_id] = r')]);
  });

  it('a clean app: no window says that something leaks', async () => {
    const r = await run(interp, 'clean_churn');
    expect(r.report.verdict, said(r)).toBe('no-leak');
    for (const s of r.report.suspects) {
      for (const w of s.where ?? []) {
        if (w.kind === 'creates') expect(w.freed, said(r)).toBeGreaterThan(0);
      }
    }
    // a window ran, and its CPU is in the overhead; the app kept its exit status
    expect(r.code, said(r)).toBe(0);
  });

  // the flag's way to the probe is the same on every interpreter: one is enough
  it.skipIf(interp.label !== '2.7')('--no-narrow: no window runs, and the leak is still found', async () => {
    const r = await run(interp, 'request_cache', {}, ['--no-narrow']);
    const s = r.report.suspects.find((x) => x.type === 'webcache.Response')!;
    expect(r.report.verdict, said(r)).toBe('leak');
    expect(s.where, said(r)).toEqual([]);
    expect(s.narrow, said(r)).toBeUndefined();
    const segs = join(r.dir, 'segments');
    const text = readdirSync(segs).map((f) => readFileSync(join(segs, f), 'utf8')).join('');
    expect(text).not.toContain('"k":"narrow"');
  });
});
