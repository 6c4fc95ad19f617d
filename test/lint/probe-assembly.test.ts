/**
 * The probe is authored as modules under device-scripts/probe/ and assembled into the one
 * deployed file, device-scripts/refscope_probe.py (node device-scripts/assemble.mjs). The
 * committed file must be what the modules assemble to, and each module stays small enough
 * to read top to bottom.
 */
import { spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

const ROOT = resolve(__dirname, '..', '..');
const DEVICE = join(ROOT, 'device-scripts');
const ASSEMBLE = join(DEVICE, 'assemble.mjs');
const MAX_LINES = 700;

const tmp = mkdtempSync(join(tmpdir(), 'refscope-assembly-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

function assemble(args: string[], script = ASSEMBLE) {
  return spawnSync(process.execPath, [script, ...args], { encoding: 'utf8', timeout: 60_000 });
}

/** A copy of assemble.mjs and probe/ (and the assembled file) to break on purpose. */
function scratch(name: string): string {
  const dir = join(tmp, name);
  cpSync(join(DEVICE, 'probe'), join(dir, 'probe'), { recursive: true });
  cpSync(ASSEMBLE, join(dir, 'assemble.mjs'));
  cpSync(join(DEVICE, 'refscope_probe.py'), join(dir, 'refscope_probe.py'));
  return dir;
}

describe('probe assembly', () => {
  it('refscope_probe.py is what device-scripts/probe/ assembles to', () => {
    const r = assemble(['--check']);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
  });

  it('every module is under 700 lines', () => {
    const mods = readdirSync(join(DEVICE, 'probe')).filter((n) => n.endsWith('.py'));
    expect(mods.length).toBeGreaterThanOrEqual(9);
    const long = mods
      .map((n) => [n, readFileSync(join(DEVICE, 'probe', n), 'latin1').split('\n').length - 1] as const)
      .filter(([, lines]) => lines > MAX_LINES);
    expect(long).toEqual([]);
  });

  it('each module starts with a header saying what it is', () => {
    for (const n of readdirSync(join(DEVICE, 'probe')).filter((x) => x.endsWith('.py') && x !== 'loader.py')) {
      const head = readFileSync(join(DEVICE, 'probe', n), 'latin1').split('\n')[0]!;
      expect(head, n).toMatch(new RegExp(`^# -+ .+\\(probe/${n.replace('.', '\\.')}\\)$`));
    }
  });

  it('the assembled body starts on _BODY_LINE and holds every module, in order', () => {
    const text = readFileSync(join(DEVICE, 'refscope_probe.py'), 'latin1');
    const lines = text.split('\n');
    const at = lines.findIndex((l) => l.startsWith('_BODY_LINE = sys._getframe().f_lineno + 2'));
    expect(at).toBeGreaterThan(0);
    expect(lines[at + 1]).toBe("r'''");
    // the first body line (1-based at + 3) is the first line of the first module
    const base = readFileSync(join(DEVICE, 'probe', 'base.py'), 'latin1').split('\n');
    expect(lines[at + 2]).toBe(base[0]);
    const order = lines.map((l) => /\(probe\/(\w+\.py)\)$/.exec(l)?.[1]).filter(Boolean);
    expect(order).toEqual(['base.py', 'encoder.py', 'writer.py', 'storage.py', 'census.py', 'deep.py', 'referrers.py', 'links.py',
      'sizes.py', 'narrow.py', 'hooks.py', 'sampler.py', 'api.py', 'runner.py']);
  });

  it('--check fails with a one-line fix when a module changed and the file was not assembled', () => {
    const dir = scratch('stale');
    const p = join(dir, 'probe', 'encoder.py');
    writeFileSync(p, `${readFileSync(p, 'latin1')}\n\n# an edit\n`);
    const r = assemble(['--check'], join(dir, 'assemble.mjs'));
    expect(r.status).toBe(1);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toContain('node device-scripts/assemble.mjs');
    // assembling fixes it
    expect(assemble([], join(dir, 'assemble.mjs')).status).toBe(0);
    expect(assemble(['--check'], join(dir, 'assemble.mjs')).status).toBe(0);
  });

  it('refuses a module that is not in the assembly order, or one that would end the string', () => {
    const dir = scratch('bad');
    writeFileSync(join(dir, 'probe', 'stray.py'), 'x = 1\n');
    let r = assemble(['--check'], join(dir, 'assemble.mjs'));
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('probe/stray.py is not in the assembly order');
    rmSync(join(dir, 'probe', 'stray.py'));
    const p = join(dir, 'probe', 'api.py');
    writeFileSync(p, `${readFileSync(p, 'latin1')}X = '''a'''\n`);
    r = assemble([], join(dir, 'assemble.mjs'));
    expect(r.status).toBe(1);
    expect(r.stderr).toContain("probe/api.py: contains '''");
  });
});
