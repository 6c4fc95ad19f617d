/**
 * Bad input: one clear line naming the fix, exit 2, and nothing written anywhere.
 */
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT, runCli } from '../helpers/cli.js';

const APPS = join(ROOT, 'test', 'cli', 'apps');
let work: string;
beforeAll(() => { work = mkdtempSync(join(tmpdir(), 'refscope-cli-err-')); });
afterAll(() => { rmSync(work, { recursive: true, force: true }); });

/** a fresh empty directory to run in, so "nothing written" can be checked */
function cwd(name: string): string {
  const d = join(work, name);
  mkdirSync(d);
  return d;
}

function oneLine(stderr: string): string {
  const lines = stderr.split('\n').filter((l) => l !== '');
  expect(lines, stderr).toHaveLength(1);
  return lines[0]!;
}

describe('refscope CLI usage', () => {
  it('--help prints the commands and exits 0, fast', async () => {
    const t0 = Date.now();
    const r = await runCli(['--help']);
    expect(r.code).toBe(0);
    expect(r.stdout.toString()).toMatch(/refscope run/);
    expect(r.stdout.toString()).toMatch(/refscope report/);
    expect(Date.now() - t0).toBeLessThan(5000);
  });

  it('run --help and report --help exit 0', async () => {
    for (const cmd of ['run', 'report']) {
      const r = await runCli([cmd, '--help']);
      expect(r.code).toBe(0);
      expect(r.stdout.toString()).toMatch(new RegExp(`refscope ${cmd}`));
    }
  });

  it('no command, an unknown command or an unknown option: exit 2, one line', async () => {
    for (const args of [[], ['bogus'], ['run', '--local', '--bogus', '--', 'x.py'], ['report', '.', '--format', 'pdf'], ['report']]) {
      const r = await runCli(args);
      expect(r.code, args.join(' ')).toBe(2);
      expect(oneLine(r.stderr)).toMatch(/^refscope: .+\. Run refscope --help$/);
    }
  });

  it('run without DEVICE or --local says how, exit 2', async () => {
    const r = await runCli(['run', '--', 'x.py']);
    expect(r.code).toBe(2);
    expect(oneLine(r.stderr)).toBe('refscope: run needs DEVICE or --local. For this machine: refscope run --local -- app.py');
  });

  it('a device that does not resolve: exit 3, one line naming the fix, nothing written', async () => {
    const d = cwd('remote');
    const r = await runCli(['run', 'no-such-device.invalid', '--', join(APPS, 'quiet.py')], { cwd: d, env: { HOME: d } });
    expect(r.code).toBe(3);
    expect(oneLine(r.stderr)).toMatch(/^refscope: cannot (resolve|reach) no-such-device\.invalid\b.*\. /);
    expect(readdirSync(d)).toEqual([]);
  });
});

describe('refscope run, bad input', () => {
  it('a missing script: exit 2, one line, no session directory created', async () => {
    const d = cwd('missing');
    const r = await runCli(['run', '--local', '--', 'x.py'], { cwd: d });
    expect(r.code).toBe(2);
    expect(oneLine(r.stderr)).toBe("refscope: script 'x.py' not found. Check the path; it is relative to the current directory");
    expect(r.stdout.length).toBe(0);
    expect(readdirSync(d)).toEqual([]);
  });

  it('an interpreter that is not there: exit 2, one line naming the fix', async () => {
    const d = cwd('nopython');
    for (const py of ['python9.9', '/nonexistent/bin/python']) {
      const r = await runCli(['run', '--local', '--python', py, '--', join(APPS, 'quiet.py')], { cwd: d });
      expect(r.code).toBe(2);
      expect(oneLine(r.stderr)).toBe(`refscope: python interpreter '${py}' not found. Install it or pass --python PATH`);
    }
    expect(readdirSync(d)).toEqual([]);
  });

  it('an interpreter that is there but does not run: its path and the first line of its error, escapes removed, exit 2', async () => {
    const d = cwd('brokenpython');
    // what a pyenv shim of an inactive version says (the advice comes last), plus a terminal escape
    const shim = join(d, 'python3.5');
    writeFileSync(shim, [
      '#!/bin/sh',
      "printf 'pyenv: python3.5: command not found\\033]52;c;aGk=\\007\\n\\nThe `python3.5\\x27 command exists in these Python versions:\\n  3.5.10\\n' >&2",
      "printf 'Note: See pyenv help global for tips on allowing both\\n      python2 and python3 to be found at the same time.\\n' >&2",
      'exit 127', ''].join('\n'), { mode: 0o755 });
    const r = await runCli(['run', '--local', '--python', shim, '--', join(APPS, 'quiet.py')], { cwd: d });
    expect(r.code).toBe(2);
    const line = oneLine(r.stderr);
    expect(line).toContain(`'${shim}' (${shim}) does not run (exit 127: pyenv: python3.5: command not found`);
    expect(line).not.toContain('same time');
    expect(line).not.toMatch(/[\u0000-\u001f\u007f]/);
    expect(readdirSync(d)).toEqual(['python3.5']);
  });

  it('strings from outside (a device, an argument) reach the terminal escaped: no OSC or CSI sequence gets through an error line', async () => {
    const d = cwd('escapes');
    const evil = 'py\u001b]52;c;aGk=\u0007\u001b[2J\u009b31m\u202eon';
    const r = await runCli(['run', '--local', '--python', evil, '--', join(APPS, 'quiet.py')], { cwd: d });
    expect(r.code).toBe(2);
    const line = oneLine(r.stderr);
    expect(line).not.toMatch(/[\u0000-\u001f\u007f-\u009f\u202e]/);
    expect(line).toContain('py\\x1b]52;c;aGk=\\x07\\x1b[2J\\x9b31m\\u202eon');
  });

  it('--out that already holds files: exit 2, and the files are untouched', async () => {
    const d = cwd('nonempty');
    mkdirSync(join(d, 'runs'));
    writeFileSync(join(d, 'runs', 'notes.txt'), 'mine\n');
    const r = await runCli(['run', '--local', '--out', 'runs', '--', join(APPS, 'quiet.py')], { cwd: d });
    expect(r.code).toBe(2);
    expect(oneLine(r.stderr)).toBe(`refscope: --out ${join(d, 'runs')} already holds files. Choose a new directory or remove it`);
    expect(readdirSync(join(d, 'runs'))).toEqual(['notes.txt']);
    expect(readFileSync(join(d, 'runs', 'notes.txt'), 'utf8')).toBe('mine\n');
  });

  it('--out that cannot be written: exit 2, one line, nothing created', async () => {
    const d = cwd('unwritable');
    writeFileSync(join(d, 'afile'), '');
    const r = await runCli(['run', '--local', '--out', 'afile/session', '--', join(APPS, 'quiet.py')], { cwd: d });
    expect(r.code).toBe(2);
    expect(oneLine(r.stderr)).toMatch(/^refscope: cannot write --out .*afile\/session \(ENOTDIR\)\. Choose a directory you can write to$/);
    expect(readdirSync(d)).toEqual(['afile']);
  });

  it('bad numbers are usage errors', async () => {
    const d = cwd('numbers');
    for (const opt of [['--interval', '0'], ['--census-budget', '2'], ['--duration', '-1'], ['--interval', 'abc']]) {
      const r = await runCli(['run', '--local', ...opt, '--', join(APPS, 'quiet.py')], { cwd: d });
      expect(r.code, opt.join(' ')).toBe(2);
      oneLine(r.stderr);
    }
    expect(readdirSync(d)).toEqual([]);
  });
});

describe('refscope report, bad input', () => {
  it('a folder that is no session: exit 2, one line', async () => {
    const d = cwd('notasession');
    writeFileSync(join(d, 'hello.txt'), 'hi');
    for (const target of [d, join(d, 'nope')]) {
      const r = await runCli(['report', target]);
      expect(r.code).toBe(2);
      expect(oneLine(r.stderr)).toMatch(/^refscope: /);
      expect(r.stdout.length).toBe(0);
    }
  });

  it('--output into a missing directory: exit 2, one line, nothing written', async () => {
    const d = cwd('outmissing');
    const r = await runCli(['report', d, '--output', join(d, 'no', 'such', 'report.txt')]);
    expect(r.code).toBe(2);
    expect(oneLine(r.stderr)).toMatch(/^refscope: cannot write --output .*: directory .* does not exist\. Create the directory first or choose another path$/);
    expect(readdirSync(d)).toEqual([]);
  });
});
