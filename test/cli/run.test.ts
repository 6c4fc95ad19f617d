/**
 * `refscope run --local` end to end, on the real interpreters (2.7 and 3.x): the session
 * on disk, the app's output passing through untouched, exit codes, --json, --duration.
 */
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Manifest } from '../../src/session/manifest.js';
import type { Report } from '../../src/analysis/report.js';
import { ROOT, runCli } from '../helpers/cli.js';
import { coreInterpreters } from '../helpers/pythons.js';

const APPS = join(ROOT, 'test', 'cli', 'apps');
// the defaults: a diagnosis test runs what users run
const FAST: string[] = [];
const interps = coreInterpreters();

let work: string;
beforeAll(() => { work = mkdtempSync(join(tmpdir(), 'refscope-cli-run-')); });
afterAll(() => { rmSync(work, { recursive: true, force: true }); });

const readJson = <T>(p: string): T => JSON.parse(readFileSync(p, 'utf8')) as T;
const verdictExit = (r: Report): number => (r.verdict === 'leak' ? 1 : 0);

if (interps.length === 0) {
  describe.skip('refscope run (no CPython 2.7 or 3.x under pyenv: skipped)', () => { it('needs interpreters', () => undefined); });
}

describe.each(interps.map((i) => [i.label, i] as const))('refscope run --local on Python %s', (_label, py) => {
  it('records a session, passes the app output through byte for byte, and reports its exit status', async () => {
    const out = join(work, `spam-${py.label}`);
    const r = await runCli(['run', '--local', '--python', py.path, '--out', out, ...FAST, '--', join(APPS, 'spam.py')],
      { timeoutMs: 90_000 });
    expect(r.timedOut).toBe(false);

    let expected = '';
    for (let i = 0; i < 10000; i++) expected += `line ${i} of the app\n`;
    expected += 'last line, no newline';
    const stdout = r.stdout.toString('utf8');
    expect(stdout.slice(0, expected.length) === expected, 'app output altered').toBe(true);

    const m = readJson<Manifest>(join(out, 'manifest.json'));
    expect(m).toMatchObject({ schema: 'refscope.session/1', device: 'local', transport: 'local', state: 'complete', exitCode: 3 });
    expect(m.python).toEqual({ path: py.path, version: py.version });
    expect(m.id).toMatch(/^[0-9a-f]{8}$/);
    expect(m.probeVersion).toBeTruthy();
    expect(m.command).toEqual([join(APPS, 'spam.py')]);
    expect(m.endedAt).toBeTruthy();
    expect(readdirSync(join(out, 'segments')).some((n) => /^seg-\d{6}\.jsonl$/.test(n))).toBe(true);

    const report = readJson<Report>(join(out, 'report.json'));
    expect(report.schema).toBe('refscope.report/1');
    expect(report.session.exitCode).toBe(3);
    const txt = readFileSync(join(out, 'report.txt'), 'utf8');
    expect(txt.length).toBeGreaterThan(0);
    // the text report follows the app's output on stdout
    expect(stdout.slice(expected.length)).toBe(txt);
    // our exit code is the verdict's, not the app's 3
    expect(r.code).toBe(verdictExit(report));
    expect(r.stderr).toContain(`refscope: session ${out}`);
    expect(r.stderr).toContain('reports written to');
    expect(readdirSync(out).filter((n) => n.includes('.tmp'))).toEqual([]);
    expect(existsSync(join(out, 'refscope.log'))).toBe(true);
  });

  it('--json prints only the JSON report on stdout', async () => {
    const out = join(work, `json-${py.label}`);
    const r = await runCli(['run', '--local', '--python', py.path, '--out', out, ...FAST, '--json', '--', join(APPS, 'quiet.py'), '10'],
      { timeoutMs: 60_000 });
    const report = JSON.parse(r.stdout.toString('utf8')) as Report;
    expect(report.schema).toBe('refscope.report/1');
    expect(report.session.exitCode).toBe(0);
    expect(r.code).toBe(verdictExit(report));
    expect(readFileSync(join(out, 'report.json'), 'utf8')).toBe(r.stdout.toString('utf8'));
  });

  it('--json with an app that prints a lot: stdout is the JSON report alone (a parser takes it whole), the app\'s output is on stderr, in order', async () => {
    const out = join(work, `json-spam-${py.label}`);
    const r = await runCli(['run', '--local', '--python', py.path, '--out', out, '--json', '--', join(APPS, 'spam.py')], { timeoutMs: 60_000 });
    const text = r.stdout.toString('utf8');
    const report = JSON.parse(text) as Report;
    expect(report.session.exitCode).toBe(3);
    expect(text).not.toContain('of the app');
    const err = r.stderr.toString('utf8');
    expect(err).toContain('line 0 of the app\nline 1 of the app\n');
    expect(err).toContain('line 9999 of the app\nlast line, no newline');
  });

  it('an app that does not compile: exit 4, and the session says why', async () => {
    const out = join(work, `syntax-${py.label}`);
    const r = await runCli(['run', '--local', '--python', py.path, '--out', out, ...FAST, '--', join(APPS, 'syntax_error.py')],
      { timeoutMs: 60_000 });
    expect(r.code, r.stderr).toBe(4);
    expect(r.stderr).toMatch(/refscope: the app (could|did) not start/);
    expect(readJson<Manifest>(join(out, 'manifest.json')).state).toMatch(/complete|aborted/);
  });

  it('an app that stops on its own error before enough censuses: the headline names the error, not "run longer"', async () => {
    const out = join(work, `importerr-${py.label}`);
    const r = await runCli(['run', '--local', '--python', py.path, '--out', out, '--', join(APPS, 'import_error.py')], { timeoutMs: 60_000 });
    expect(r.stderr.toString()).toMatch(/no_such_module_refscope_test/);
    const report = readJson<Report>(join(out, 'report.json'));
    expect(report.verdict).toBe('inconclusive');
    expect(report.summary).toMatch(/^the app stopped on an error after \d+ census(es)?: \w*Error: No module named '?no_such_module_refscope_test'?; fix it/);
    expect(report.summary).not.toMatch(/run longer/);
    expect(r.stdout.toString()).toMatch(/^INCONCLUSIVE {2}the app stopped on an error/m);
  });

  it('--duration 2 stops an app that loops forever after 2 s of its own time (counted from its start, however slow the interpreter was to start), then reports', async () => {
    const out = join(work, `duration-${py.label}`);
    const t0 = Date.now();
    const r = await runCli(['run', '--local', '--python', py.path, '--out', out, ...FAST, '--duration', '2', '--', join(APPS, 'forever.py')],
      { timeoutMs: 40_000 });
    expect(r.timedOut).toBe(false);
    expect(Date.now() - t0).toBeLessThan(30_000);
    expect(r.stderr).toContain('forever: interrupted');
    const report = readJson<Report>(join(out, 'report.json'));
    expect(r.code).toBe(verdictExit(report));
    // the probe's own clock, from its start record to its end record
    expect(report.session.durationSeconds).toBeGreaterThanOrEqual(1.9);
    expect(readJson<Manifest>(join(out, 'manifest.json'))).toMatchObject({ state: 'complete', exitCode: 0 });
  });
});

describe('refscope run --local, an interpreter that dies at once', () => {
  it('exits 4 when the probe wrote no records at all', async () => {
    const fake = join(work, 'fakepython');
    writeFileSync(fake, '#!/bin/sh\n[ "$1" = -c ] && { printf 3.11.7; exit 0; }\necho "fakepython: cannot run" >&2\nexit 1\n', { mode: 0o755 });
    const out = join(work, 'dies');
    const r = await runCli(['run', '--local', '--python', fake, '--out', out, '--', join(APPS, 'quiet.py')], { timeoutMs: 30_000 });
    expect(r.code, r.stderr).toBe(4);
    expect(r.stderr).toContain('fakepython: cannot run');
    expect(r.stderr).toContain('refscope: the app did not start: the probe wrote no records (python exited with status 1)');
    expect(readJson<Manifest>(join(out, 'manifest.json'))).toMatchObject({ state: 'aborted', exitCode: 1 });
  });
});

describe('refscope run --local, defaults', () => {
  it.skipIf(interps.length === 0)('puts the session under ./refscope-sessions/<time>-<app> and passes args verbatim', async () => {
    const cwd = mkdtempSync(join(work, 'default-'));
    const py = interps[interps.length - 1]!;
    const r = await runCli(['run', '--local', '--python', py.path, ...FAST, '--', join(APPS, 'args.py'), 'a b', "it's", '--out', '$X'],
      { cwd, timeoutMs: 60_000 });
    expect(r.stdout.toString('utf8').split('\n')[0]).toBe(`['a b', "it's", '--out', '$X']`);
    const sessions = readdirSync(join(cwd, 'refscope-sessions'));
    expect(sessions).toHaveLength(1);
    expect(sessions[0]).toMatch(/^\d{8}-\d{6}-args$/);
    expect(r.stderr).toContain(`refscope: session refscope-sessions/${sessions[0]}`);
    expect(readdirSync(cwd)).toEqual(['refscope-sessions']);
  });

  it.skipIf(interps.length === 0)('runs -m MODULE from the current directory and names the session after it', async () => {
    const py = interps[interps.length - 1]!;
    const r = await runCli(['run', '--local', '--python', py.path, '--out', join(work, 'module'), ...FAST, '--', '-m', 'args', 'x y'],
      { cwd: APPS, timeoutMs: 60_000 });
    expect([0, 1]).toContain(r.code);
    expect(r.stdout.toString('utf8').split('\n')[0]).toBe(`['x y']`);
    expect(readJson<Manifest>(join(work, 'module', 'manifest.json')).command).toEqual(['-m', 'args', 'x y']);
  });

  it.skipIf(interps.length === 0)('gives the app the user\'s stdin', async () => {
    const py = interps[0]!;
    const r = await runCli(['run', '--local', '--python', py.path, '--out', join(work, 'stdin'), ...FAST, '--', join(APPS, 'upper.py')],
      { input: 'hello\nworld\n', timeoutMs: 60_000 });
    expect([0, 1]).toContain(r.code);
    expect(r.stdout.toString('utf8').startsWith('HELLO\nWORLD\n')).toBe(true);
  });

  it.skipIf(interps.length === 0)('--force replaces an earlier session in --out, never other files', async () => {
    const py = interps[interps.length - 1]!;
    const out = join(work, 'again');
    const args = ['run', '--local', '--python', py.path, '--out', out, ...FAST, '--', join(APPS, 'quiet.py'), '5'];
    const first = await runCli(args, { timeoutMs: 60_000 });
    expect([0, 1]).toContain(first.code);
    const id1 = readJson<Manifest>(join(out, 'manifest.json')).id;
    const refused = await runCli(args, { timeoutMs: 60_000 });
    expect(refused.code).toBe(2);
    const second = await runCli([...args.slice(0, 2), '--force', ...args.slice(2)], { timeoutMs: 60_000 });
    expect([0, 1]).toContain(second.code);
    expect(readJson<Manifest>(join(out, 'manifest.json')).id).not.toBe(id1);
    expect(readdirSync(join(out, 'segments')).length).toBeGreaterThan(0);
  });
});
