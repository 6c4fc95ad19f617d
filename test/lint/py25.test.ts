/**
 * The device side must stay inside the Python 2.5 subset (DESIGN.md §4): the lint rejects
 * newer constructs, and every .py under device-scripts/ must compile under 2.7, every 3.x
 * found, and the real 2.5 when REFSCOPE_PY25 is set. That covers the probe twice: each
 * module it is authored as (device-scripts/probe/, which may use names another module
 * defines) and the assembled refscope_probe.py (whose body, a string, is compiled too).
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { interpreters, type Interp } from '../helpers/pythons.js';

const ROOT = resolve(__dirname, '..', '..');
const LINT = join(ROOT, 'test', 'lint', 'py25_lint.py');
const DEVICE = join(ROOT, 'device-scripts');
const PROBE_DIR = join(DEVICE, 'probe');
const ASSEMBLED = join(DEVICE, 'refscope_probe.py');

function pyFiles(dir: string): string[] {
  const out: string[] = [];
  for (const n of readdirSync(dir).sort()) {
    const p = join(dir, n);
    if (statSync(p).isDirectory()) out.push(...pyFiles(p));
    else if (n.endsWith('.py')) out.push(p);
  }
  return out;
}

const all = interpreters();
const py3 = all.find((i) => i.label === '3.11') ?? all.filter((i) => i.label.startsWith('3.')).pop();
const tmp = mkdtempSync(join(tmpdir(), 'refscope-lint-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

function lint(...paths: string[]) {
  return spawnSync(py3!.path, [LINT, ...paths], { encoding: 'utf8', timeout: 60_000 });
}

describe.skipIf(!py3)('py25 lint', () => {
  it('finds device-side Python files to check', () => {
    expect(pyFiles(DEVICE).length).toBeGreaterThan(0);
  });

  it('passes every .py under device-scripts/', () => {
    const r = lint(DEVICE);
    expect(r.stdout).toBe('');
    expect(r.status).toBe(0);
  });

  it('checks each probe module and the assembled probe, body included', () => {
    const files = [...pyFiles(PROBE_DIR), ASSEMBLED];
    expect(files.map((f) => f.slice(DEVICE.length + 1))).toEqual(expect.arrayContaining([
      'probe/loader.py', 'probe/base.py', 'probe/encoder.py', 'probe/writer.py', 'probe/storage.py',
      'probe/census.py', 'probe/referrers.py', 'probe/sampler.py', 'probe/api.py', 'probe/runner.py',
      'refscope_probe.py']));
    for (const f of files) {
      const r = lint(f);
      expect(r.stdout, f).toBe('');
      expect(r.status, f).toBe(0);
    }
  });

  it('lints the assembled body: a slip in a module is reported at its line in refscope_probe.py', () => {
    const text = readFileSync(ASSEMBLED, 'latin1');
    const lines = text.split('\n');
    const at = lines.findIndex((l) => /^def encode\(v\):$/.test(l));
    expect(at).toBeGreaterThan(0);
    lines.splice(at, 0, 'with open(os.sep) as f:', '    pass');
    const bad = join(tmp, 'refscope_probe.py');
    writeFileSync(bad, lines.join('\n'));
    const r = lint(bad);
    expect(r.status).toBe(1);
    expect(r.stdout).toContain(`${bad}:${at + 1}: \`with\` statement`);
  });

  it('rejects a with statement, naming file and line', () => {
    const bad = join(tmp, 'bad_with.py');
    writeFileSync(bad, 'import sys\nwith open(sys.argv[0]) as f:\n    pass\n');
    const r = lint(bad);
    expect(r.status).toBe(1);
    expect(r.stdout).toContain(`${bad}:2: \`with\` statement`);
  });

  it('lints the body a module-level string holds, with file line numbers', () => {
    const bad = join(tmp, 'bad_body.py');
    writeFileSync(bad, "import sys\nr'''\nimport os\nwith open(os.sep) as f:\n    pass\n'''\n");
    const r = lint(bad);
    expect(r.status).toBe(1);
    expect(r.stdout).toContain(`${bad}:4: \`with\` statement`);
  });

  it('rejects the other post-2.5 constructs it knows', () => {
    const bad = join(tmp, 'bad_many.py');
    writeFileSync(bad, [
      'import json',
      'try:',
      '    pass',
      'except ValueError as e:',
      '    pass',
      's = {1, 2}',
      'd = {k: 1 for k in s}',
      "m = 0o644",
      "b = b'x'",
      'n = next(iter(s))',
      "t = '{}'.format(1)",
      "f = f'{t}'",
      'def g(a, *, k=1):',
      '    nonlocal_ = 1',
      'import sys',
      'sys.getsizeof(1)',
      "if hasattr(sys, 'getsizeof'):",
      '    sys.getsizeof(2)',
      '',
    ].join('\n'));
    const r = lint(bad);
    expect(r.status).toBe(1);
    const lines = r.stdout.trim().split('\n').map((l) => Number(l.split(':')[1]));
    for (const n of [1, 4, 6, 7, 8, 9, 10, 11, 12, 13, 16]) expect(lines).toContain(n);
    expect(lines).not.toContain(18); // guarded by hasattr
  });
});

// Compiles each file, and the body a bare r''' string holds (refscope_probe.py), in the 2.5 subset.
const PY_COMPILE = [
  'import sys',
  'bad = 0',
  'for fn in sys.argv[1:]:',
  '    f = open(fn)',
  '    src = f.read()',
  '    f.close()',
  '    try:',
  '        compile(src, fn, "exec")',
  "        start = src.find(\"\\nr'''\\n\")",
  '        if start >= 0:',
  "            end = src.index(\"\\n'''\\n\", start + 5)",
  "            compile(src[start + 5:end + 1], fn + ':body', 'exec')",
  '    except SyntaxError:',
  "        sys.stderr.write('%s: %s\\n' % (fn, sys.exc_info()[1]))",
  '        bad = 1',
  'sys.exit(bad)',
  '',
].join('\n');

const compilers: Interp[] = all.filter((i) => i.label === '2.7' || i.label === '2.5' || i.label.startsWith('3.'));
describe.skipIf(compilers.length === 0)('device scripts compile', () => {
  it('compiles the probe modules and the assembled probe among them', () => {
    const files = pyFiles(DEVICE);
    expect(files).toContain(ASSEMBLED);
    expect(files).toContain(join(PROBE_DIR, 'referrers.py'));
  });

  it.each(compilers.map((i) => [i.label, i] as const))('under Python %s', (_label, interp) => {
    const r = spawnSync(interp.path, ['-c', PY_COMPILE, ...pyFiles(DEVICE)],
      { encoding: 'utf8', timeout: 60_000, env: { ...process.env, PYTHONDONTWRITEBYTECODE: '1' } });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
  });
});
