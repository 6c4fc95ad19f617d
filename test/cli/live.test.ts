/**
 * The live status line: on a terminal it shows (and is cleared at the end); on a pipe it
 * never appears. Ctrl-C on the terminal reaches the app, which ends; the report follows.
 */
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Manifest } from '../../src/session/manifest.js';
import type { Report } from '../../src/analysis/report.js';
import { formatLive } from '../../src/cli/live.js';
import { killCli, ROOT, runCli, startCli, startCliPty, within } from '../helpers/cli.js';
import { coreInterpreters } from '../helpers/pythons.js';
import { waitFor } from '../rig/wait.js';

const APPS = join(ROOT, 'test', 'cli', 'apps');
const FAST = ['--interval', '0.1', '--census-budget', '0.2'];
const py = coreInterpreters().pop();
let work: string;

const LIVE = /refscope \d\d:\d\d {2}RSS [\d.]+ MiB {2}[\d.-]+ marks\/s/;

/** The most frames the app has marked, by the session's own records: > 0 once the app is in its loop. */
function framesMarked(session: string): number {
  const dir = join(session, 'segments');
  if (!existsSync(dir)) return 0;
  let n = 0;
  for (const f of readdirSync(dir).filter((x) => /^seg-\d+\.jsonl$/.test(x))) {
    for (const line of readFileSync(join(dir, f), 'utf8').split('\n')) {
      try {
        n = Math.max(n, (JSON.parse(line) as { marks?: Record<string, number> }).marks?.frame ?? 0);
      } catch { /* the line being written */ }
    }
  }
  return n;
}

/** forever.py is in its loop (so Ctrl-C is its KeyboardInterrupt, not an import-time one). */
const inLoop = (session: string) => waitFor('the app to mark a frame', () => framesMarked(session) > 0, 20_000);

describe('formatLive', () => {
  it('shows elapsed, RSS, marks/s and the top growing type, within the width, without control characters', () => {
    const s = { elapsedSeconds: 75.4, rssKiB: 46285, marksPerSecond: 29.96, topGrowth: { type: 'w.Widget\x1b[31m', delta: 120 }, records: 9 };
    expect(formatLive(s, 200)).toBe('refscope 01:15  RSS 45.2 MiB  30.0 marks/s  growing: w.Widget\\x1b[31m +120');
    expect(formatLive(s, 30)).toHaveLength(29);
    expect(formatLive({ elapsedSeconds: 3700, rssKiB: null, marksPerSecond: null, topGrowth: null, records: 0 }))
      .toBe('refscope 1:01:40  RSS -  - marks/s');
  });
});

describe.skipIf(!py)(`live status line and interrupts${py ? '' : ' (no CPython under pyenv: skipped)'}`, () => {
  beforeAll(() => { work = mkdtempSync(join(tmpdir(), 'refscope-cli-live-')); });
  afterAll(() => { rmSync(work, { recursive: true, force: true }); });

  it('shows on a terminal while the app runs, and Ctrl-C ends the app and still reports', async () => {
    const out = join(work, 'tty');
    const term = await startCliPty(['run', '--local', '--python', py!.path, '--out', out, ...FAST, '--', join(APPS, 'forever.py')]);
    try {
      await term.waitFor(LIVE, 20_000);
      await inLoop(out);
      // drawn on the terminal's bottom row (30 rows), kept apart by a scroll region
      expect(term.output()).toContain('\x1b[1;29r');
      expect(term.output()).toContain('\x1b7\x1b[30;1H');
      term.write('\x03');
      const { code } = await within(term.exited, 30_000, 'refscope to end after Ctrl-C');
      // an app that keeps nothing: no leak, exit 0
      expect(code, term.output()).toBe(0);
      expect((JSON.parse(readFileSync(join(out, 'report.json'), 'utf8')) as Report).verdict).not.toBe('leak');
      expect(term.output()).toContain('forever: interrupted');
      // and at the end blanked, the whole screen scrolling again
      expect(term.output()).toContain('\x1b[30;1H\x1b[0m\x1b[2K\x1b[r');
      expect(JSON.parse(readFileSync(join(out, 'manifest.json'), 'utf8'))).toMatchObject({ state: 'aborted', exitCode: 0 } satisfies Partial<Manifest>);
    } finally {
      term.kill();
    }
  });

  it('never appears when stderr is a pipe', async () => {
    const r = await runCli(['run', '--local', '--python', py!.path, '--out', join(work, 'pipe'), ...FAST, '--', join(APPS, 'quiet.py'), '60'],
      { timeoutMs: 60_000 });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).not.toContain('\r');
    expect(r.stderr).not.toMatch(/marks\/s/);
  });

  it('a SIGINT sent to refscope alone is passed to the app, which ends; the report follows', async () => {
    const out = join(work, 'sigint');
    const cli = startCli(['run', '--local', '--python', py!.path, '--out', out, ...FAST, '--', join(APPS, 'forever.py')],
      { timeoutMs: 60_000, detached: true });
    try {
      await cli.waitForStderr(/refscope: session/, 20_000);
      await inLoop(out);
      cli.child.kill('SIGINT');
      const r = await within(cli.result, 40_000, 'refscope to end after SIGINT');
      expect(r.stderr).toContain('forever: interrupted');
      expect(r.code, r.stderr).toBe(0);
      expect(JSON.parse(readFileSync(join(out, 'manifest.json'), 'utf8'))).toMatchObject({ state: 'aborted' });
    } finally {
      killCli(cli.child, true);
    }
  });

  it('a second SIGINT kills an app that ignores the first; the session is still reported', async () => {
    const out = join(work, 'stubborn');
    const cli = startCli(['run', '--local', '--python', py!.path, '--out', out, ...FAST, '--', join(APPS, 'stubborn.py')],
      { timeoutMs: 60_000, detached: true });
    try {
      // the app's own word that it ignores SIGINT now
      await cli.waitForStderr(/stubborn: running/, 20_000);
      cli.child.kill('SIGINT');
      await cli.waitForStderr(/waiting for the app to end/, 10_000);
      cli.child.kill('SIGINT');
      const r = await within(cli.result, 40_000, 'refscope to end after a second SIGINT');
      expect(r.stderr).toContain('killing the app');
      expect(r.code, r.stderr).toBe(0);
      expect(JSON.parse(readFileSync(join(out, 'manifest.json'), 'utf8'))).toMatchObject({ state: 'aborted', exitCode: null });
      expect(JSON.parse(readFileSync(join(out, 'report.json'), 'utf8'))).toMatchObject({ schema: 'refscope.report/1' });
    } finally {
      killCli(cli.child, true);
    }
  });

  it('--duration escalates to SIGTERM when the app ignores SIGINT', async () => {
    const out = join(work, 'escalate');
    // the SIGINT at --duration must find the app already ignoring it: 3 s leaves a loaded machine room to start python
    const duration = 3;
    const t0 = Date.now();
    const r = await runCli(['run', '--local', '--python', py!.path, '--out', out, ...FAST, '--duration', String(duration), '--', join(APPS, 'stubborn.py')],
      { timeoutMs: 60_000 });
    const took = Date.now() - t0;
    expect(r.timedOut).toBe(false);
    expect(r.stderr, 'the app was not running within --duration').toContain('stubborn: running');
    // SIGINT at the duration, ignored; SIGTERM a grace period (5 s) later ends it
    expect(took).toBeGreaterThanOrEqual((duration + 5) * 1000);
    expect(took).toBeLessThan(40_000);
    const ended = readFileSync(join(out, 'refscope.log'), 'utf8').split('\n').filter(Boolean)
      .map((l) => JSON.parse(l) as { msg?: string; exit?: { signal: string | null } }).find((l) => l.msg === 'app ended');
    expect(ended?.exit?.signal).toBe('SIGTERM');
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(readFileSync(join(out, 'report.json'), 'utf8'))).toMatchObject({ schema: 'refscope.report/1' });
  });

  it('with --tty, Ctrl-C typed on our terminal reaches the app through its own terminal', async () => {
    const out = join(work, 'ttyctrlc');
    const term = await startCliPty(['run', '--local', '--tty', '--python', py!.path, '--out', out, ...FAST, '--', join(APPS, 'forever.py')]);
    try {
      await term.waitFor(LIVE, 20_000);
      await inLoop(out);
      term.write('\x03');
      const { code } = await within(term.exited, 30_000, 'refscope to end after Ctrl-C');
      expect(code, term.output()).toBe(0);
      expect(term.output()).toContain('forever: interrupted');
      expect(JSON.parse(readFileSync(join(out, 'manifest.json'), 'utf8'))).toMatchObject({ state: 'aborted', exitCode: 0 });
    } finally {
      term.kill();
    }
  });

  it('--tty runs the app on a terminal; its output reaches our stdout', async () => {
    const out = join(work, 'apptty');
    const r = await runCli(['run', '--local', '--tty', '--python', py!.path, '--out', out, ...FAST, '--', join(APPS, 'args.py'), 'x y'],
      { timeoutMs: 60_000 });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout.toString('utf8')).toMatch(/(^|\n)\['x y'\]\r?\n/);
  });
});
