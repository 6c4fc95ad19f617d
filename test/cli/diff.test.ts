/**
 * `refscope diff` and the new report formats on real sessions recorded by the built CLI: a
 * run with a planted leak (object_growth.py) against a clean one (clean_churn.py), both ways.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SessionDiff } from '../../src/analysis/diff.js';
import { ROOT, runCli } from '../helpers/cli.js';
import { markupProblems } from '../helpers/markup.js';
import { coreInterpreters } from '../helpers/pythons.js';

const FIXTURES = join(ROOT, 'test', 'fixtures');
const py = coreInterpreters().pop();
let work: string;
let leak: string;
let clean: string;

async function record(out: string, script: string): Promise<void> {
  const r = await runCli(['run', '--local', '--python', py!.path, '--out', out,
    '--', join(FIXTURES, script), '--frames', '200'], { timeoutMs: 90_000 });
  if (r.code !== 0 && r.code !== 1) throw new Error(`run ${script} failed (${r.code}): ${r.stderr}`);
}

describe.skipIf(!py)(`refscope diff${py ? '' : ' (no CPython under pyenv: skipped)'}`, () => {
  beforeAll(async () => {
    work = mkdtempSync(join(tmpdir(), 'refscope-cli-diff-'));
    leak = join(work, 'leak');
    clean = join(work, 'clean');
    await Promise.all([record(leak, 'object_growth.py'), record(clean, 'clean_churn.py')]);
  }, 120_000);
  afterAll(() => { rmSync(work, { recursive: true, force: true }); });

  it('NEW with a planted leak BASE did not have: regressed, exit 1, the leak named', async () => {
    const r = await runCli(['diff', clean, leak]);
    const out = r.stdout.toString('utf8');
    expect(r.code, r.stderr).toBe(1);
    expect(out).toMatch(/^REGRESSED {2}new leak in NEW: object-growth of orders\.Order/);
    expect(out).toMatch(/\norders\.Order +- +\+1\.00 /);
    expect(out).toContain('New in NEW:');
    for (const line of out.split('\n')) expect(line.length).toBeLessThanOrEqual(80);
  });

  it('the reverse: improved, exit 0, the leak listed as fixed', async () => {
    const r = await runCli(['diff', leak, clean, '--json']);
    expect(r.code, r.stderr).toBe(0);
    const d = JSON.parse(r.stdout.toString('utf8')) as SessionDiff;
    expect(d).toMatchObject({ schema: 'refscope.diff/1', verdict: 'improved' });
    expect(d.fixedSuspects.map((s) => s.type)).toContain('orders.Order');
    expect(d.newSuspects).toEqual([]);
    const order = d.types.find((t) => t.type === 'orders.Order');
    expect(order?.base?.perMark).toBeCloseTo(1, 1);
  });

  it('the same session twice is the same, exit 0; a missing one is bad input, exit 2', async () => {
    const same = await runCli(['diff', leak, leak, '--json']);
    expect(same.code).toBe(0);
    expect((JSON.parse(same.stdout.toString('utf8')) as SessionDiff).verdict).toBe('same');
    const bad = await runCli(['diff', leak, join(work, 'nope')]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/^refscope: .*nope does not exist\. Give the directory passed to --out\n$/);
    expect(bad.stdout.length).toBe(0);
  });

  it('report --format html writes one file; --format junit validates; exit codes follow the verdict', async () => {
    const file = join(work, 'leak.html');
    const h = await runCli(['report', leak, '--format', 'html', '--output', file]);
    expect(h.code).toBe(1);
    const html = readFileSync(file, 'utf8');
    expect(markupProblems(html, 'html')).toEqual([]);
    expect(html).toContain('orders.Order');
    expect(html.match(/<svg /g)?.length).toBeGreaterThanOrEqual(2);
    const j = await runCli(['report', clean, '--format', 'junit']);
    expect(j.code).toBe(0);
    const xml = join(work, 'clean.xml');
    writeFileSync(xml, j.stdout);
    if (spawnSync('xmllint', ['--version']).status === 0) {
      const v = spawnSync('xmllint', ['--noout', '--schema', join(ROOT, 'test', 'report', 'junit.xsd'), xml], { encoding: 'utf8' });
      expect(v.status, v.stderr).toBe(0);
    }
    expect(j.stdout.toString('utf8')).toMatch(/failures="0"/);
    expect(existsSync(join(leak, 'report.html'))).toBe(false); // never writes into the session
  });
});
