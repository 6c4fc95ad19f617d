/**
 * Issue 13: objects the cycle collector does not track, through the BUILT CLI at the
 * defaults (`refscope run --local --json`), on CPython 2.7, 3.x and 2.5 when REFSCOPE_PY25
 * is set. A pool that keeps one lock per job in a set (locks are untracked on 2.x; the
 * plain census finds them where the interpreter tracks them): the lock type first,
 * +10 per frame; on an interpreter where locks are untracked, said so (`untracked`). A C
 * type without GC whose instances a C extension leaks with no referrer (3.8+: counted by
 * the references they hold to their type), and the fixed call, clean. A clean app whose
 * strings, numbers and tuples churn heavily: no leak, no suspect. A C encoder that keeps a
 * reference to every dict key it reads (key strings: count flat, references climbing), and
 * its fixed call, clean.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Report } from '../../src/analysis/report.js';
import { buildChandle, buildKeyleak, ExtUnavailable } from '../helpers/build-ext.js';
import { runCli } from '../helpers/cli.js';
import { coreInterpreters, interpreter, interpreters, type Interp } from '../helpers/pythons.js';

const CLEAN = 0.3;
let work: string;
let n = 0;

beforeAll(() => { work = mkdtempSync(join(tmpdir(), 'refscope-untracked-')); });
afterAll(() => { if (work) rmSync(work, { recursive: true, force: true }); });

async function run(interp: Interp, app: string, args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ code: number | null; report: Report; stderr: string; out: string }> {
  const out = join(work, `s${++n}-${app}-${interp.label}`);
  const r = await runCli(['run', '--local', '--python', interp.path, '--out', out, '--json', '--', join('test', 'fixtures', `${app}.py`), ...args], { timeoutMs: 120_000, env });
  const text = r.stdout.toString();
  let report: Report;
  try {
    report = JSON.parse(text) as Report;
  } catch {
    throw new Error(`no JSON report (exit ${r.code}): ${text.slice(0, 300)}\n${r.stderr.slice(-1000)}`);
  }
  return { code: r.code, report, stderr: r.stderr, out };
}

/** PYTHONPATH for a test C extension built for `interp`, or null when it cannot be built here (the test skips). */
async function extEnv(build: (i: Interp) => Promise<string>, interp: Interp): Promise<NodeJS.ProcessEnv | null> {
  try {
    return { PYTHONPATH: await build(interp) };
  } catch (e) {
    if (e instanceof ExtUnavailable) return null;
    throw e;
  }
}

/** whether the session holds a referrers record of the deep census's samples of `type` */
function untrackedPassRan(session: string, type: string): boolean {
  const dir = join(session, 'segments');
  return readdirSync(dir).filter((f) => f.endsWith('.jsonl')).some((f) => readFileSync(join(dir, f), 'utf8').split('\n')
    .some((l) => l.includes('"k":"referrers"') && l.includes('"untracked":1') && l.includes(`"type":${JSON.stringify(type)}`)));
}

const said = (r: { report: Report }): string =>
  `${r.report.verdict}: ${r.report.summary}\n${r.report.suspects.map((s) => `  ${s.kind} ${s.type} ${s.confidence}${s.untracked ? ' untracked' : ''}${s.dependsOn ? ` (follows ${s.dependsOn})` : ''}`).join('\n')}`;

const subjects = [...coreInterpreters(), ...interpreters().filter((i) => i.label === '2.5')];
if (subjects.length === 0) it.skip('needs CPython 2.7 and a 3.x under $(pyenv root)/versions', () => {});

for (const interp of subjects) {
  describe(`objects the collector does not see, at the defaults, on Python ${interp.label}`, () => {
    it('locks kept in a set by a pool: the lock type first, +10 per frame', async () => {
      // 600 jobs-frames, as the issue's own runs: the deep census paces itself on half the
      // census budget, and a 4-second run can give it too few points to decide
      const r = await run(interp, 'lock_pool', ['--frames', '600']);
      expect(r.report.verdict, said(r)).toBe('leak');
      expect(r.code, said(r)).toBe(1);
      const first = r.report.suspects[0]!;
      expect(first.kind, said(r)).toBe('object-growth');
      expect(first.type, said(r)).toMatch(/^_?thread\.lock$/);
      expect(first.perMark?.mark).toBe('frame');
      expect(Math.abs(first.perMark!.value - 10), said(r)).toBeLessThan(1.5);
      // Python 2 does not track locks: only the deep census sees them, and says so
      if (interp.label.startsWith('2.')) {
        expect(first.untracked, said(r)).toBe(true);
        expect(first.evidence).toMatch(/does not track/);
      }
      // who holds them (sampled by the deep census where locks are untracked): the pool's set
      expect(first.referrers.map((x) => x.via), said(r)).toContain('set member in class attribute Dispatcher.live_locks');
      expect(first.evidence, said(r)).toMatch(/most are held by set member in class attribute Dispatcher\.live_locks/);
      // nothing else stands on its own
      expect(r.report.suspects.slice(1).filter((s) => !s.dependsOn && s.confidence >= CLEAN), said(r)).toEqual([]);
    });

    // a C type without GC, leaked by C code with no referrer: counted by the references its
    // instances hold to their heap type (Python 3.8+); Python 2's static types are not
    const heapTypes = /^3\.(\d+)$/.exec(interp.label) !== null && Number(interp.label.split('.')[1]) >= 8;
    it.skipIf(!heapTypes)(`C objects without GC leaked with no referrer: chandle.Handle first, +5 per frame; the fixed call is clean${heapTypes ? '' : ' (skipped: 3.8+ heap types only)'}`, async (ctx) => {
      const env = await extEnv(buildChandle, interp);
      if (!env) { ctx.skip(); return; }
      const r = await run(interp, 'handles', ['--frames', '300'], env);
      expect(r.report.verdict, said(r)).toBe('leak');
      const first = r.report.suspects[0]!;
      expect(first, said(r)).toMatchObject({ kind: 'object-growth', type: 'chandle.Handle', untracked: true });
      expect(Math.abs(first.perMark!.value - 5), said(r)).toBeLessThan(0.5);
      expect(first.evidence).toMatch(/C type built without GC support/);
      expect(r.report.suspects.slice(1).filter((s) => !s.dependsOn && s.confidence >= CLEAN), said(r)).toEqual([]);
      const fixed = await run(interp, 'handles', ['--frames', '300', '--fixed'], env);
      expect(fixed.report.verdict, said(fixed)).toBe('no-leak');
      expect(fixed.report.suspects.filter((s) => s.confidence > CLEAN), said(fixed)).toEqual([]);
    });

    // the same leak where the type is static (Python 2's bindings): no census can count its
    // instances; native growth is found, and the type named as the likely cause, with its size
    const staticTypes = interp.label.startsWith('2.');
    it.skipIf(!staticTypes)(`C objects of a static type leaked with no referrer: native growth, chandle.Handle named as the likely cause; the fixed call is clean${staticTypes ? '' : ' (skipped: Python 2 builds chandle as a static type)'}`, async (ctx) => {
      const env = await extEnv(buildChandle, interp);
      if (!env) { ctx.skip(); return; }
      // 5 handles of 72 B a frame: ~0.4 KiB, so 2000 short frames (~6 s) to rise clear of the allocator
      const r = await run(interp, 'handles', ['--frames', '2000', '--sleep', '0.002'], env);
      expect(r.report.verdict, said(r)).toBe('leak');
      const first = r.report.suspects[0]!;
      expect(first.kind, said(r)).toBe('native-growth');
      expect(first.bytesPerMark!, said(r)).toBeGreaterThan(300);
      expect(first.bytesPerMark!, said(r)).toBeLessThan(700);
      expect(first.evidence, said(r)).toMatch(/C extensions define types without GC support .*: chandle\.Handle \(72 B each: ~[\d.]+ per frame would make it\)/);
      const fixed = await run(interp, 'handles', ['--frames', '2000', '--sleep', '0.002', '--fixed'], env);
      expect(fixed.report.verdict, said(fixed)).toBe('no-leak');
      expect(fixed.report.suspects.filter((s) => s.confidence > CLEAN), said(fixed)).toEqual([]);
    });

    // a C encoder keeps a reference to every dict key it reads: 60 str keys, their count flat,
    // their summed references climbing (3.12+ makes interned strings immortal: nothing leaks)
    const mortalKeys = interp.label.startsWith('2.') || Number(interp.label.split('.')[1]) < 12;
    it.skipIf(!mortalKeys)(`a C extension leaking a reference to each dict key: str refs +60 per frame, untracked; the fixed call is clean${mortalKeys ? '' : ' (skipped: interned strings are immortal from 3.12)'}`, async (ctx) => {
      const env = await extEnv(buildKeyleak, interp);
      if (!env) { ctx.skip(); return; }
      // 600 frames: the deep census's referrer pass for a type whose references grow records
      // their counts at one walk and samples those that grew at the next
      const r = await run(interp, 'key_leak', ['--frames', '600'], env);
      expect(r.report.verdict, said(r)).toBe('leak');
      const first = r.report.suspects[0]!;
      expect(first, said(r)).toMatchObject({ kind: 'refcount-growth', type: 'str', untracked: true });
      // the rate's interval (widened by the sample's own spread where the deep census samples)
      // holds the truth, give or take a tenth (a 95 % interval misses 1 time in 20 by design)
      expect(first.interval!.low, said(r)).toBeLessThanOrEqual(66);
      expect(first.interval!.high, said(r)).toBeGreaterThanOrEqual(54);
      expect(Math.abs(first.perMark!.value - 60), said(r)).toBeLessThan(20);
      expect(first.evidence).toMatch(/a reference leak/);
      // the keys sampled are the catalog's, and most of their references have no holder Python
      // can see. The sample takes three deep censuses after the choice (counts recorded at one,
      // those that grew taken at the next): on 2.7 a 600-frame run has them; on 3.x (whose deep
      // census costs more here) and 2.5 a run of this length has them only some of the time
      if (interp.label === '2.7') {
        const vias = first.referrers.map((x) => x.via);
        expect(vias, said(r)).toContain('list item in module global catalog.FIELDS');
        expect(first.evidence, said(r)).toMatch(/\d+ of \d+ references have no tracked referrer \(C code, or a tuple or dict the collector does not track\)/);
      }
      expect(r.report.suspects.slice(1).filter((s) => !s.dependsOn && s.confidence >= CLEAN), said(r)).toEqual([]);
      const fixed = await run(interp, 'key_leak', ['--frames', '300', '--fixed'], env);
      expect(fixed.report.verdict, said(fixed)).toBe('no-leak');
      expect(fixed.report.suspects.filter((s) => s.confidence > CLEAN), said(fixed)).toEqual([]);
    });

    // a short run (300 frames, ~4 s) of the plainest leaks of untracked objects: the deep
    // census must give it enough points, count each string once however many untracked
    // containers share it, and sample the new strings (not old ones) for who holds them
    it('an access log never trimmed: str +1 per frame, untracked, held by the list LOG; trimmed: no leak', async () => {
      const r = await run(interp, 'access_log', ['--frames', '300']);
      expect(r.report.verdict, said(r)).toBe('leak');
      expect(r.code, said(r)).toBe(1);
      const first = r.report.suspects[0]!;
      expect(first, said(r)).toMatchObject({ kind: 'object-growth', type: 'str', untracked: true });
      expect(Math.abs(first.perMark!.value - 1), said(r)).toBeLessThan(0.2);
      expect(first.referrers.map((x) => x.via), said(r)).toContain('list item in module global __main__.LOG');
      const clean = await run(interp, 'access_log', ['--frames', '300', '--clean']);
      expect(clean.report.verdict, said(clean)).toBe('no-leak');
      expect(clean.report.suspects.filter((s) => s.confidence > CLEAN), said(clean)).toEqual([]);
    });

    it('a session table never evicted (a dict of ints to strs): str and int +5 per frame, untracked, held by the dict SESSIONS; evicted: no leak', async () => {
      const r = await run(interp, 'session_table', ['--frames', '300']);
      expect(r.report.verdict, said(r)).toBe('leak');
      const first = r.report.suspects[0]!;
      expect(first.kind, said(r)).toBe('object-growth');
      expect(first.type, said(r)).toMatch(/^(str|int)$/);
      expect(first.untracked, said(r)).toBe(true);
      expect(Math.abs(first.perMark!.value - 5), said(r)).toBeLessThan(0.5);
      // the table holding only ints and strs is untracked itself (2.7+): found among what
      // tracked objects hold, and named as any holder
      // (its holders are sampled two deep censuses after the type is chosen: on 2.5, slower,
      // a loaded 4-s run can end first; whatever is named must be the table)
      const vias = first.referrers.map((x) => x.via);
      // named whenever the probe's pass over the untracked samples ran: a pass that ran and
      // missed the table fails; a loaded run that ended first has none to show
      if (untrackedPassRan(r.out, first.type!)) expect(vias, said(r)).toContainEqual(expect.stringMatching(/^dict (value|key) in module global __main__\.SESSIONS$/));
      expect(vias.filter((v) => !/^dict (value|key) in module global __main__\.SESSIONS$/.test(v)), said(r)).toEqual([]);
      const clean = await run(interp, 'session_table', ['--frames', '300', '--clean']);
      expect(clean.report.verdict, said(clean)).toBe('no-leak');
      expect(clean.report.suspects.filter((s) => s.confidence > CLEAN), said(clean)).toEqual([]);
    });

    it('heavy churn of strings, numbers and tuples: no leak, no suspect', async () => {
      const r = await run(interp, 'string_churn', ['--frames', '300']);
      expect(r.report.verdict, said(r)).toBe('no-leak');
      expect(r.code, said(r)).toBe(0);
      expect(r.report.suspects.filter((s) => s.confidence > CLEAN), said(r)).toEqual([]);
    });
  });
}

// memory no object explains: Python 3.12 makes interned strings immortal (the same app is a
// clean control on the other interpreters): native growth of a few KiB per frame, found at
// the defaults with 1-second samples
const py312 = interpreter('3.12');
describe('memory no Python object explains, at the defaults', () => {
  it.skipIf(!py312)(`interned names kept for good by Python 3.12: native growth, a few KiB per frame${py312 ? '' : ' (skipped: no CPython 3.12 under pyenv)'}`, async () => {
    const r = await run(py312!, 'intern_leak', ['--frames', '600']);
    expect(r.report.verdict, said(r)).toBe('leak');
    const first = r.report.suspects[0]!;
    expect(first.kind, said(r)).toBe('native-growth');
    // 100 names of ~45 characters a frame: 7-15 KiB with the table's growth
    expect(first.bytesPerMark! / 1024, said(r)).toBeGreaterThan(4);
    expect(first.bytesPerMark! / 1024, said(r)).toBeLessThan(20);
  });

  for (const interp of coreInterpreters()) {
    it(`the same app on Python ${interp.label}, where interned names die: no leak`, async () => {
      const r = await run(interp, 'intern_leak', ['--frames', '600']);
      expect(r.report.verdict, said(r)).toBe('no-leak');
      expect(r.report.suspects.filter((s) => s.confidence > CLEAN), said(r)).toEqual([]);
    });
  }
});
