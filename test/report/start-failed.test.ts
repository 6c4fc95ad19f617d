/**
 * An app with a syntax error, run as a user runs it (the built CLI, the real probe, on 2.7
 * and 3.x): refscope exits 4, and the report it prints, writes and later re-reads is headed
 * APP DID NOT START with python's error and where it is, with no advice to run longer and
 * no empty charts (issue 14 item 3).
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { Report } from '../../src/analysis/report.js';
import { ROOT, runCli } from '../helpers/cli.js';
import { coreInterpreters } from '../helpers/pythons.js';
import { skipWhy } from '../helpers/prereq.js';

const APP = join(ROOT, 'test', 'cli', 'apps', 'syntax_error.py');
const interps = coreInterpreters();
const none = skipWhy('python', interps.length ? null : 'no CPython 2.7 or 3.x under pyenv');

describe.skipIf(none !== null)(`an app that does not start${none ? ` (skipped: ${none})` : ''}`, () => {
  const work = mkdtempSync(join(tmpdir(), 'refscope-start-failed-'));
  afterAll(() => rmSync(work, { recursive: true, force: true }));

  for (const py of interps) {
    it(`python ${py.label}: run and report say APP DID NOT START with the error and its line, exit 4`, async () => {
      const out = join(work, `syntax-${py.label}`);
      const run = await runCli(['run', '--local', '--python', py.path, '--out', out, '--', APP], { timeoutMs: 90_000 });
      expect(run.code, run.stderr).toBe(4);
      const text = run.stdout.toString('utf8');
      expect(text.split('\n')[0]).toBe('APP DID NOT START  SyntaxError at syntax_error.py:2: invalid syntax');
      expect(text).not.toMatch(/INCONCLUSIVE|run longer|more census|rss|chart|Suspects|No suspects/);
      expect(text).toContain('nothing to analyse');
      const json = JSON.parse(readFileSync(join(out, 'report.json'), 'utf8')) as Report;
      expect(json.session).toMatchObject({ ended: 'start-failed', error: 'SyntaxError: invalid syntax (syntax_error.py, line 2)' });
      expect(json.verdict).toBe('inconclusive');
      expect(json.summary).not.toContain('run longer');
      expect(readFileSync(join(out, 'report.txt'), 'utf8')).toBe(text);

      const again = await runCli(['report', out], { timeoutMs: 60_000 });
      expect(again.code).toBe(4);
      expect(again.stdout.toString('utf8')).toBe(text);
      const html = await runCli(['report', out, '--format', 'html'], { timeoutMs: 60_000 });
      expect(html.code).toBe(4);
      expect(html.stdout.toString('utf8')).toContain('APP DID NOT START</span>SyntaxError at syntax_error.py:2: invalid syntax');
      expect(html.stdout.toString('utf8')).not.toContain('<svg');
    }, 120_000);
  }
});
