/**
 * The app runs under the probe exactly as under bare python: same stdout and stderr
 * bytes, same exit status; and the records say how it ended.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { matrixInterpreters, type Interp } from '../helpers/pythons.js';
import { checkStream, endOf, readRecords, removeDir, run, runProbe, tempDir, type Ran } from './harness.js';

const interps = matrixInterpreters();

const dirs: string[] = [];
afterAll(() => dirs.forEach(removeDir));

function expectSame(bare: Ran, probed: Ran): void {
  expect(probed.stderr.toString('latin1')).toBe(bare.stderr.toString('latin1'));
  expect(probed.stdout.equals(bare.stdout)).toBe(true);
  expect(probed.status).toBe(bare.status);
  expect(probed.signal).toBe(bare.signal);
}

async function compare(py: Interp, app: string[]) {
  const out = tempDir('runner');
  dirs.push(out);
  const bare = await run(py.path, app);
  const probed = await runProbe(py, out, ['--interval', '0.05'], app);
  expectSame(bare, probed);
  const recs = readRecords(out);
  checkStream(recs);
  return { bare, probed, recs, end: endOf(recs) };
}

describe.skipIf(interps.length === 0).each(interps)('probe runs apps like python $label', (py) => {
  const exits: [string, number | null, string][] = [
    ['zero', 0, 'exit'], ['three', 3, 'exit'], ['none', 0, 'exit'], ['msg', 1, 'exit'],
    ['raise', 1, 'exception'], ['big', 2, 'exit'],
  ];
  it.each(exits)('chatty app ending with %s: same bytes, status %s, end how=%s', async (how, status, endHow) => {
    const { bare, end } = await compare(py, ['chatty.py', how]);
    expect(bare.status).toBe(status);
    expect(bare.stdout.toString().endsWith('unterminated last line')).toBe(true);
    expect(end.how).toBe(endHow);
    expect(end.exit).toBe(status);
    if (how === 'raise') expect(end.error).toBe('ValueError: deep failure 2');
  });

  it('KeyboardInterrupt: traceback, status or SIGINT like python, how=interrupt', async () => {
    const { bare, end } = await compare(py, ['chatty.py', 'kbd']);
    expect(bare.stderr.toString()).toContain('KeyboardInterrupt');
    expect(end.how).toBe('interrupt');
  });

  it('argv, sys.path[0], __file__, __name__ and a fresh __main__', async () => {
    const { probed } = await compare(py, ['show_env.py', 'a', 'b c']);
    const text = probed.stdout.toString();
    expect(text).toContain("argv=['show_env.py', 'a', 'b c']");
    expect(text).toContain("name='__main__'");
    expect(text).toContain('main_is_me=True');
    expect(text).not.toMatch(/'(main|emit|_S|census)'/);
  });

  it('waits for non-daemon threads that outlive the main script', async () => {
    const { probed, end } = await compare(py, ['threads.py']);
    expect(probed.stdout.toString()).toBe('main done\nworker done\n');
    expect(end.how).toBe('exit');
  });

  // Python 2.5 does not wait for threads on sys.exit: what the still-running thread then
  // prints during interpreter teardown is a race in 2.5 itself, with or without the probe.
  it.skipIf(py.label === '2.5')('sys.exit with a thread still running', async () => {
    const { end } = await compare(py, ['threads.py', '4']);
    expect(end.exit).toBe(4);
  });

  it('-m module with args, and a failing module', async () => {
    const ok = await compare(py, ['-m', 'modapp', 'x']);
    expect(ok.probed.stdout.toString()).toContain("name='__main__'");
    expect(ok.end.how).toBe('exit');
    expect(ok.end.exit).toBe(2);
    const bad = await compare(py, ['-m', 'modapp', 'fail']);
    expect(bad.end.how).toBe('exception');
    const pkg = await compare(py, ['-m', 'pkg']);   // 2.5 cannot run a package: same error either way
    if (py.label !== '2.5') expect(pkg.probed.stdout.toString()).toBe("package main '__main__'\n");
  });

  it('start failures: missing script, syntax error, missing module', async () => {
    const missing = await compare(py, ['no_such_script.py']);
    expect(missing.probed.stderr.toString()).toContain("can't open file");
    expect(missing.end.how).toBe('start-failed');
    expect(missing.end.exit).toBe(2);
    const syntax = await compare(py, ['bad_syntax.py']);
    expect(syntax.probed.stderr.toString()).toContain('SyntaxError');
    expect(syntax.end.how).toBe('start-failed');
    expect(syntax.end.exit).toBe(1);
    const nomod = await compare(py, ['-m', 'no_such_module_here']);
    expect(nomod.end.how).toBe('start-failed');
  });

  it('survives fork, a closed stdin and a replaced sys.stdout; the child writes no records', async () => {
    const { probed, recs } = await compare(py, ['robust.py']);
    expect(probed.stdout.toString()).toBe('child\nparent\n');
    const pids = new Set(recs.all.filter((r) => r.k === 'start').map((r) => (r.k === 'start' ? r.pid : 0)));
    expect(pids.size).toBe(1);
  });

  it('a probe error is recorded as an event and the app never sees it', async () => {
    const { recs, end } = await compare(py, ['probe_error.py']);
    expect(end.how).toBe('exit');
    expect(end.exit).toBe(0);
    const errors = recs.all.filter((r) => r.k === 'event' && r.event === 'probe-error');
    expect(errors.length).toBeGreaterThan(0);
    expect(errors.map((e) => (e.k === 'event' ? e.detail : '')).join('\n')).toContain('no module for you');
  });
});

describe.skipIf(interps.length === 0)('probe usage', () => {
  const py = interps[interps.length - 1]!;
  it.each([
    [['--interval', 'soon', '--', 'chatty.py', 'zero']],
    [['--bogus', '--', 'chatty.py', 'zero']],
    [['--out']],
    [['--census-budget', '2', '--', 'chatty.py', 'zero']],
    [['--']],
    [['--', '-m']],
  ])('bad usage %j: one line on stderr, exit 2, app not run', async (args) => {
    const r = await run(py.path, [(await import('./harness.js')).PROBE, ...args]);
    expect(r.status).toBe(2);
    expect(r.stdout.length).toBe(0);
    const lines = r.stderr.toString().split('\n').filter(Boolean);
    expect(lines.length).toBe(1);
    expect(lines[0]).toMatch(/^refscope_probe: /);
  });

  it('an --out that cannot be created: exit 2 before the app runs', async () => {
    const r = await run(py.path, [(await import('./harness.js')).PROBE, '--out', '/proc/refscope-nope/x', '--', 'chatty.py', 'zero']);
    expect(r.status).toBe(2);
    expect(r.stdout.length).toBe(0);
    expect(r.stderr.toString()).toMatch(/^refscope_probe: cannot write to --out/);
  });
});
