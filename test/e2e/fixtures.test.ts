/**
 * Acceptance: the built CLI finds each planted leak (and no leak where there is none),
 * on CPython 2.7 and 3.x, and on REFSCOPE_PY25 for a subset.
 *
 * Every expected value comes from what the fixture does (test/fixtures/*.py), and each
 * fixture is first checked bare (--selfcheck) to plant what it claims, so a failure below
 * is the tool's, not the fixture's.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Report, Suspect } from '../../src/analysis/report.js';
import { buildLeakyIter, ExtUnavailable } from '../helpers/build-ext.js';
import { coreInterpreters, interpreter, type Interp } from '../helpers/pythons.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const CLI = join(ROOT, 'dist', 'cli', 'bin.js');
const FIXTURES = join(ROOT, 'test', 'fixtures');

/** Enough census points in a few seconds: a sample every 0.1 s, a fifth of a core for censuses. */
// the defaults: a diagnosis test runs what users run
const FAST: string[] = [];
const FRAMES = '300';

let work: string;
let runNo = 0;

beforeAll(() => {
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run \`npm run build\` first`);
  work = mkdtempSync(join(tmpdir(), 'refscope-e2e-'));
});
let keep = false;
afterEach((ctx) => {
  if (ctx.task.result?.state === 'fail') keep = true;
});
afterAll(() => {
  // a failed run's sessions stay for the analysis owner to read; their paths are in the messages
  if (work && !keep) rmSync(work, { recursive: true, force: true });
  else if (work) process.stderr.write(`e2e: sessions kept in ${work}\n`);
});

interface Ran {
  code: number | null;
  stdout: Buffer;
  stderr: string;
  report: Report;
  sessionDir: string;
}

function spawnCollect(cmd: string, args: string[], env: NodeJS.ProcessEnv): Promise<{ code: number | null; stdout: Buffer; stderr: string }> {
  return new Promise((res, rej) => {
    const child = spawn(cmd, args, { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    let err = '';
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stderr.on('data', (b: Buffer) => (err += b.toString('utf8')));
    child.on('error', rej);
    child.on('close', (code) => res({ code, stdout: Buffer.concat(out), stderr: err }));
  });
}

/** `refscope run --local` on a fixture, as a user types it; the report from --json (or report.json). */
async function refscope(
  interp: Interp, app: string, appArgs: string[],
  opts: { json?: boolean; env?: NodeJS.ProcessEnv } = {},
): Promise<Ran> {
  const json = opts.json ?? true;
  const sessionDir = join(work, `s${++runNo}-${app}-${interp.label}`);
  const args = [CLI, 'run', '--local', '--python', interp.path, '--out', sessionDir, ...FAST];
  if (json) args.push('--json');
  args.push('--', join('test', 'fixtures', `${app}.py`), ...appArgs);
  const r = await spawnCollect(process.execPath, args, { ...process.env, ...opts.env });
  let report: Report;
  try {
    // with --json, stdout is the report alone (the app's own output goes to stderr)
    report = json ? (JSON.parse(r.stdout.toString('utf8')) as Report)
                  : (JSON.parse(readFileSync(join(sessionDir, 'report.json'), 'utf8')) as Report);
  } catch (e) {
    throw new Error(`no JSON report (exit ${r.code}): ${(e as Error).message}\nstdout: ${r.stdout.toString('utf8').slice(0, 500)}\nstderr: ${r.stderr.slice(-1500)}`);
  }
  return { ...r, report, sessionDir };
}

/** The fixture run bare and fast; its --selfcheck line as key=value pairs. */
async function bare(interp: Interp, app: string, frames: number, env: NodeJS.ProcessEnv = {}): Promise<Record<string, string>> {
  const r = await spawnCollect(interp.path, [join(FIXTURES, `${app}.py`), '--frames', String(frames), '--sleep', '0', '--selfcheck'],
    { ...process.env, ...env });
  expect(r.code, r.stderr).toBe(0);
  const line = /selfcheck: (.*)/.exec(r.stderr)?.[1] ?? '';
  return Object.fromEntries(line.split(' ').map((kv) => kv.split('=') as [string, string]));
}

/** One line per suspect, for assertion messages: what the tool said. */
function said(r: Ran): string {
  const rep = r.report;
  const lines = rep.suspects.map((s: Suspect, i) =>
    `  #${i} ${s.kind} ${s.type} conf=${s.confidence} perMark=${s.perMark ? `${s.perMark.value}/${s.perMark.mark}` : null} ` +
    `perSecond=${s.perSecond} bytesPerMark=${s.bytesPerMark} referrers=${JSON.stringify(s.referrers.slice(0, 4))}`);
  return [`session ${r.sessionDir}: exit ${r.code}, verdict ${rep.verdict}${rep.summary ? ` (${rep.summary})` : ''}, ` +
    `censuses ${rep.session.censuses}, samples ${rep.session.samples}, marks ${JSON.stringify(rep.session.marks)}, ` +
    `rss ${JSON.stringify(rep.rss)}`, ...lines].join('\n');
}

function expectNear(actual: number | null | undefined, expected: number, frac: number, msg: string): void {
  expect(actual, msg).not.toBeNull();
  expect(actual, msg).toBeGreaterThanOrEqual(expected * (1 - frac));
  expect(actual, msg).toBeLessThanOrEqual(expected * (1 + frac));
}

function expectLeakOf(r: Ran, kind: Suspect['kind'], type: string | null): Suspect {
  const msg = said(r);
  expect(r.report.schema, msg).toBe('refscope.report/1');
  expect(r.report.verdict, msg).toBe('leak');
  expect(r.code, msg).toBe(1);
  const first = r.report.suspects[0];
  expect(first, msg).toBeDefined();
  expect(first!.kind, msg).toBe(kind);
  expect(first!.type, msg).toBe(type);
  return first!;
}

const core = coreInterpreters();
const py25 = interpreter('2.5');

if (core.length === 0) {
  it.skip('needs CPython 2.7 and a 3.x under $(pyenv root)/versions', () => {});
}

describe.each(core.map((i) => [i.label, i] as const))('refscope run --local on Python %s', (_label, interp) => {
  it('object_growth: names orders.Order, +1 object per frame', async () => {
    const b = await bare(interp, 'object_growth', 40);
    expect(b['orders.Order']).toBe('40');

    const r = await refscope(interp, 'object_growth', ['--frames', FRAMES]);
    const s = expectLeakOf(r, 'object-growth', 'orders.Order');
    expect(s.perMark?.mark, said(r)).toBe('frame');
    expectNear(s.perMark?.value, 1, 0.15, said(r));
  });

  it('refcount_leak: names points.Point, +50 references per frame, no object growth', async (ctx) => {
    let ext: string;
    try {
      ext = await buildLeakyIter(interp);
    } catch (err) {
      if (err instanceof ExtUnavailable) return ctx.skip(err.message);
      throw err;
    }
    const env = { PYTHONPATH: ext };
    const b = await bare(interp, 'refcount_leak', 40, env);
    expect(b['points.Point']).toBe('50');
    expect(b.refcount_rise).toBe('40');

    const r = await refscope(interp, 'refcount_leak', ['--frames', FRAMES], { env });
    const s = expectLeakOf(r, 'refcount-growth', 'points.Point');
    expect(s.perMark?.mark, said(r)).toBe('frame');
    // 50 points, one leaked reference each per total() call, one call per frame
    expectNear(s.perMark?.value, 50, 0.15, said(r));
    // the 50 points never die and no new ones are made: their count is flat
    expect(r.report.suspects.filter((x) => x.type === 'points.Point' && x.kind === 'object-growth'), said(r)).toEqual([]);
  });

  it('callbacks: names widgets.Widget first, +1 per frame, held by bound methods in EventBus.handlers', async () => {
    const b = await bare(interp, 'callbacks', 40);
    expect(b['widgets.Widget']).toBe('40');
    expect(b.handlers).toBe('120');

    const r = await refscope(interp, 'callbacks', ['--frames', FRAMES]);
    const s = expectLeakOf(r, 'object-growth', 'widgets.Widget');
    expect(s.perMark?.mark, said(r)).toBe('frame');
    expectNear(s.perMark?.value, 1, 0.15, said(r));
    // every widget is held by three bound methods, one per event list of the bus
    for (const method of ['on_click', 'on_key', 'on_resize']) {
      const re = new RegExp(`bound method Widget\\.${method}\\b.*EventBus\\.handlers`);
      expect(s.referrers.some((x) => re.test(x.via)), `${method}\n${said(r)}`).toBe(true);
    }
  });

  it('native_leak: reports native growth of about 64 KiB per frame', async () => {
    const b = await bare(interp, 'native_leak', 100);
    expectNear(Number(b.bytes_per_frame), 65536, 0.1, JSON.stringify(b));

    const r = await refscope(interp, 'native_leak', ['--frames', FRAMES]);
    const s = expectLeakOf(r, 'native-growth', null);
    // one malloc(65536) + memset per frame, never freed
    expectNear(s.bytesPerMark, 65536, 0.25, said(r));
    // and no Python object grows with it
    expect(r.report.suspects.filter((x) => x.kind === 'object-growth' && x.confidence >= 0.3), said(r)).toEqual([]);
  });

  it('clean_churn: no leak, no suspect with confidence >= 0.3', async () => {
    const r = await refscope(interp, 'clean_churn', ['--frames', FRAMES]);
    const msg = said(r);
    expect(r.report.verdict, msg).toBe('no-leak');
    expect(r.code, msg).toBe(0);
    expect(r.report.suspects.filter((s) => s.confidence >= 0.3), msg).toEqual([]);
  });

  it('noisy_exit: app stdout passes through byte for byte, then the text report; exit status 3 in the report', async () => {
    const expected = await spawnCollect(interp.path, [join(FIXTURES, 'noisy_exit.py')], process.env);
    expect(expected.code).toBe(3);
    expect(expected.stdout.length).toBeGreaterThan(1_000_000);

    // without --json: stdout is the app's own, byte for byte, then the text report
    const r = await refscope(interp, 'noisy_exit', [], { json: false });
    const app = r.stdout.subarray(0, expected.stdout.length);
    expect(r.stdout.subarray(expected.stdout.length).toString('utf8'), said(r)).toMatch(/NO LEAK|LEAK|INCONCLUSIVE/);
    expect(app.equals(expected.stdout), `stdout differs from the bare run's ${expected.stdout.length} bytes ` +
      `at byte ${firstDiff(app, expected.stdout)}`).toBe(true);
    expect(r.report.session.exitCode, said(r)).toBe(3);
    expect(r.report.session.ended, said(r)).toBe('exit');
    const saved = JSON.parse(readFileSync(join(r.sessionDir, 'report.json'), 'utf8')) as Report;
    expect(saved.session.exitCode).toBe(3);
    expect(r.stderr).toContain('noisy: exiting with status 3');
    // the app ran and exited by itself: not a usage (2), device (3) or start (4) failure
    expect([0, 1], said(r)).toContain(r.code);
  });
});

describe.skipIf(!py25)('refscope run --local on Python 2.5 (REFSCOPE_PY25)', () => {
  const interp = py25!;

  it('object_growth: names orders.Order, +1 object per frame', async () => {
    const r = await refscope(interp, 'object_growth', ['--frames', FRAMES]);
    const s = expectLeakOf(r, 'object-growth', 'orders.Order');
    expectNear(s.perMark?.value, 1, 0.15, said(r));
  });

  it('clean_churn: no leak, no suspect with confidence >= 0.3', async () => {
    const r = await refscope(interp, 'clean_churn', ['--frames', FRAMES]);
    expect(r.report.verdict, said(r)).toBe('no-leak');
    expect(r.report.suspects.filter((s) => s.confidence >= 0.3), said(r)).toEqual([]);
  });

  it('callbacks: names widgets.Widget first, +1 per frame, bound methods in EventBus.handlers', async () => {
    const r = await refscope(interp, 'callbacks', ['--frames', FRAMES]);
    const s = expectLeakOf(r, 'object-growth', 'widgets.Widget');
    expectNear(s.perMark?.value, 1, 0.15, said(r));
    expect(s.referrers.some((x) => /bound method Widget\.on_\w+.*EventBus\.handlers/.test(x.via)), said(r)).toBe(true);
  });

  it('refcount_leak: names points.Point, +50 references per frame', async (ctx) => {
    let ext: string;
    try {
      ext = await buildLeakyIter(interp);
    } catch (err) {
      if (err instanceof ExtUnavailable) return ctx.skip(err.message);
      throw err;
    }
    const r = await refscope(interp, 'refcount_leak', ['--frames', FRAMES], { env: { PYTHONPATH: ext } });
    const s = expectLeakOf(r, 'refcount-growth', 'points.Point');
    expectNear(s.perMark?.value, 50, 0.15, said(r));
  });

  it('native_leak: about 64 KiB per frame', async () => {
    const r = await refscope(interp, 'native_leak', ['--frames', FRAMES]);
    const s = expectLeakOf(r, 'native-growth', null);
    expectNear(s.bytesPerMark, 65536, 0.25, said(r));
  });
});

function firstDiff(a: Buffer, b: Buffer): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return i;
  return n;
}
