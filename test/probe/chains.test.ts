/**
 * Issue 14: a holder that only carries the reference (a closure's cell, a function, a bound
 * method, an anonymous tuple) is followed up to the container a person edits, and said in
 * one phrase (`HOLDER in CONTAINER (via LINK, ...)`), under every interpreter found: a
 * closure in a (deadline, callback) tuple in a dict, a bound method in a (priority, handler)
 * tuple in a list, an object in an anonymous tuple in a module list, a closure kept by
 * another closure, a closure in an instance attribute, an argument of a functools.partial.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { interpreters } from '../helpers/pythons.js';
import { checkStream, kinds, readRecords, removeDir, runProbe, tempDir } from './harness.js';

const interps = interpreters();
const dirs: string[] = [];
afterAll(() => dirs.forEach(removeDir));

describe.skipIf(interps.length === 0).each(interps)('link chains under python $label', (py) => {
  it('follows cells, closures, bound methods and anonymous tuples to the named container', async () => {
    const out = tempDir('chains');
    dirs.push(out);
    const r = await runProbe(py, out, ['--interval', '0.05', '--watch-type', '__main__.Obj', '--watch-type', '__main__.Res'],
      ['chains_app.py', out]);
    expect(r.stderr.toString()).toBe('');
    expect(r.status).toBe(0);
    const recs = readRecords(out);
    checkStream(recs);
    const passes = kinds(recs, 'referrers');
    const obj = passes.find((x) => x.type === '__main__.Obj' && x.sampled === 3)!;
    const res = passes.find((x) => x.type === '__main__.Res' && x.sampled === 3)!;
    expect(obj).toBeDefined();
    expect(res).toBeDefined();
    // a bound method's type is `instancemethod` on 2.x
    const method = py.label.startsWith('2.') ? 'instancemethod' : 'method';
    expect(new Map(obj.holders)).toEqual(new Map([
      ['closure `tick` in dict `__main__.Scheduler.pending` (via a (float, function) tuple)', 1],
      [`bound method Obj.on_event in list \`__main__.Bus.listeners\` (via a (int, ${method}) tuple)`, 1],
      ['tuple item in list `__main__.JOBS` (via a (int, Obj) tuple)', 1],
    ]));
    expect(obj.unexplained).toBe(0);
    expect(new Map(res.holders)).toEqual(new Map([
      ['closure `inner` in dict `__main__.HOOKS` (via closure `wrapper`)', 1],
      ['closure `tick` in attribute `__main__.Button.on_press`', 1],
      ['tuple item in dict `__main__.HANDLERS` (via a (Res,) tuple, a partial)', 1],
    ]));
    expect(res.unexplained).toBe(0);
  });
});
