/**
 * The referrer walk must not disturb the app: naming a holder never runs the app's
 * attribute hooks (__getattribute__, __getattr__, a proxy's lying __class__, a __dict__
 * property, a metaclass's __getattribute__), and the walk stops at its time cap inside a
 * type's walk, not only between types.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { matrixInterpreters } from '../helpers/pythons.js';
import { checkStream, endOf, kinds, readRecords, removeDir, runProbe, tempDir } from './harness.js';

const interps = matrixInterpreters();

const dirs: string[] = [];
afterAll(() => dirs.forEach(removeDir));
function outDir(): string {
  const d = tempDir('holders');
  dirs.push(d);
  return d;
}

/** the probe's cap on the referrer walks after one census, CPU seconds (REFERRER_MAX) */
const WALK_CAP = 2.0;
const CUT = 'unnamed holder (the referrer walk reached its time cap)';

describe.skipIf(interps.length === 0).each(interps)('referrer walk under python $label', (py) => {
  it('names holders without running the app\'s attribute hooks', async () => {
    const out = outDir();
    const r = await runProbe(py, out,
      ['--interval', '0.05', '--watch-type', '__main__.Obj', '--watch-type', '__main__.Item', '--watch-type', '__main__.Opaque'],
      ['hooks_app.py', out], { timeoutMs: 90_000 });
    // the app exits 5 and lists the calls when any hook ran (the final census's walk too)
    expect(r.stderr.toString()).toBe('');
    expect(r.status).toBe(0);
    const recs = readRecords(out);
    checkStream(recs);
    const passes = kinds(recs, 'referrers');
    const obj = passes.find((x) => x.type === '__main__.Obj' && x.sampled === 3)!;
    expect(obj).toBeDefined();
    expect(new Map(obj.holders)).toEqual(new Map([
      ['attribute Hooked.leak', 1],
      ['attribute Lying.target', 1],          // its slot, named by type(proxy), not its __class__
      ['class attribute Registry.single', 1], // a class whose metaclass hooks __getattribute__
    ]));
    expect(obj.unexplained).toBe(0);
    const item = passes.find((x) => x.type === '__main__.Item' && x.sampled === 3)!;
    expect(item).toBeDefined();
    expect(new Map(item.holders)).toEqual(new Map([
      ['attribute OldHooked.held', 1],
      ['list item in attribute Hooked.items', 1],
      ['list item in module global __main__.KEEP', 1],
    ]));
    expect(item.unexplained).toBe(0);
    // an Item alone holds a Lying proxy, whose lie (its __class__ says it is a class, and
    // classes are shared, never counted) must not be believed: the size counts it
    expect(item.size!).toBeGreaterThan(obj.size!);
    // held in the instance dict of a class whose __dict__ is a property: that property is
    // never called, so the dict is not read through it (the holder is named less well)
    const opaque = passes.find((x) => x.type === '__main__.Opaque' && x.sampled === 1)!;
    expect(opaque).toBeDefined();
    expect(opaque.holders.reduce((n, h) => n + h[1], 0) + opaque.unexplained).toBe(1);
    expect(endOf(recs).how).toBe('exit');
  });

  it('stops a walk at its time cap inside a type\'s walk, and says so', async () => {
    const out = outDir();
    const r = await runProbe(py, out, ['--interval', '0.5', '--census-budget', '0.5', '--watch-type', '__main__.Leak'],
      ['walk_app.py', out], { timeoutMs: 150_000 });
    expect(r.stderr.toString()).toBe('');
    expect(r.status).toBe(0);
    const recs = readRecords(out);
    checkStream(recs);
    const pass = kinds(recs, 'referrers').find((x) => x.type === '__main__.Leak' && x.sampled === 3)!;
    expect(pass).toBeDefined();
    // named in full this walk takes thousands of heap scans (tens of seconds); it stops at
    // the cap, and every reference it did not name is counted under the cap's sentence
    expect(new Map(pass.holders)).toEqual(new Map([[CUT, 3]]));
    expect(pass.unexplained).toBe(0);
    expect(pass.dur).toBeGreaterThan(WALK_CAP * 0.75);
    // past the cap by at most one heap scan (a few ms here) and the bounded size walk
    expect(pass.dur).toBeLessThan(WALK_CAP + 0.5);
  });
});
