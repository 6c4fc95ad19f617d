/**
 * `refscope run --until-verdict` through the built CLI on 2.7 and 3.x: an app that would
 * run for 100 000 frames is stopped once the verdict is decided, and the report says after
 * how many marks and seconds. A leak is decided within the 150 marks; a steady app
 * is decided no-leak; each exits with the verdict's code.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Report } from '../../src/analysis/report.js';
import { ROOT, runCli } from '../helpers/cli.js';
import { coreInterpreters } from '../helpers/pythons.js';

const FIXTURES = join(ROOT, 'test', 'fixtures');
let work = '';
beforeAll(() => { work = mkdtempSync(join(tmpdir(), 'refscope-until-')); });
afterAll(() => { rmSync(work, { recursive: true, force: true }); });

describe.each(coreInterpreters().map((i) => [i.label, i] as const))('refscope run --until-verdict on Python %s', (_label, py) => {
  it('stops a leaking app once the leak is decided: orders.Order within 150 marks, exit 1', async () => {
    const out = join(work, `leak-${py.label}`);
    const r = await runCli(['run', '--local', '--python', py.path, '--out', out, '--until-verdict', '--',
      join(FIXTURES, 'object_growth.py'), '--frames', '100000'], { timeoutMs: 120_000 });
    expect(r.timedOut).toBe(false);
    const report = JSON.parse(readFileSync(join(out, 'report.json'), 'utf8')) as Report;
    const msg = JSON.stringify(report.session);
    expect(r.code, msg).toBe(1);
    expect(report.verdict).toBe('leak');
    expect(report.suspects[0]?.type).toBe('orders.Order');
    const decided = report.session.untilVerdict;
    expect(decided?.verdict, msg).toBe('leak');
    expect(decided!.marks!, msg).toBeLessThanOrEqual(150);
    expect(decided!.marks!, msg).toBeGreaterThanOrEqual(20);
    // the app was stopped, not run to its end
    expect(report.session.marks?.frame ?? 0, msg).toBeLessThan(1000);
    expect(r.stdout.toString('utf8') + r.stderr.toString('utf8')).toMatch(/leak/i);
  });

  it('stops a steady app once no leak is decided, exit 0', async () => {
    const out = join(work, `steady-${py.label}`);
    // no leak is decided when every type, the deep census's untracked ones too, is bounded:
    // on 2.7 its walk of the steady app's 100 000 ints comes every few seconds, and the
    // decision took 119 s on a quiet machine (3.11: well under a minute)
    const r = await runCli(['run', '--local', '--python', py.path, '--out', out, '--until-verdict', '--',
      join(FIXTURES, 'steady.py'), '--frames', '100000'], { timeoutMs: 230_000 });
    expect(r.timedOut).toBe(false);
    const report = JSON.parse(readFileSync(join(out, 'report.json'), 'utf8')) as Report;
    const msg = JSON.stringify(report.session);
    expect(r.code, msg).toBe(0);
    expect(report.verdict, msg).toBe('no-leak');
    expect(report.session.untilVerdict?.verdict, msg).toBe('no-leak');
    expect(report.session.marks?.frame ?? 0, msg).toBeLessThan(40000);
  }, 240_000);
});
