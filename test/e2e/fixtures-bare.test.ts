/**
 * The fixture apps and the bundled example, run bare (no probe) on every interpreter
 * found (pyenv versions, REFSCOPE_PY25): they must run unchanged from 2.5 to 3.13 and
 * plant exactly the leak they claim, measured by themselves (--selfcheck). The py25 lint
 * checks the same files for constructs newer than 2.5.
 */
import { spawn, spawnSync } from 'node:child_process';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { buildLeakyIter, ExtUnavailable } from '../helpers/build-ext.js';
import { interpreters, type Interp } from '../helpers/pythons.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const FIXTURES = join(ROOT, 'test', 'fixtures');
const FRAMES = 30;

function run(interp: Interp, script: string, args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ code: number | null; stdout: Buffer; stderr: string }> {
  return new Promise((res, rej) => {
    const child = spawn(interp.path, [script, ...args], { cwd: ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    let err = '';
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stderr.on('data', (b: Buffer) => (err += b.toString('utf8')));
    child.on('error', rej);
    child.on('close', (code) => res({ code, stdout: Buffer.concat(out), stderr: err }));
  });
}

async function selfcheck(interp: Interp, app: string, env: NodeJS.ProcessEnv = {}): Promise<Record<string, string>> {
  const r = await run(interp, join(FIXTURES, `${app}.py`), ['--frames', String(FRAMES), '--sleep', '0', '--selfcheck'], env);
  expect(r.code, r.stderr).toBe(0);
  expect(r.stdout.length, 'a fixture keeps stdout free for --json').toBe(0);
  const line = /selfcheck: (.*)/.exec(r.stderr)?.[1];
  expect(line, r.stderr).toBeDefined();
  return Object.fromEntries(line!.split(' ').map((kv) => kv.split('=') as [string, string]));
}

const all = interpreters();

describe('py25 lint', () => {
  const py3 = all.filter((i) => i.label.startsWith('3.')).pop();
  it.skipIf(!py3)('finds nothing newer than 2.5 in the fixtures, the example and the bench app', () => {
    // the example app runs on the device; examples/labgrid and examples/ci run on the lab's host
    const r = spawnSync(py3!.path, [join(ROOT, 'test', 'lint', 'py25_lint.py'), FIXTURES, join(ROOT, 'examples', 'eventbus_app.py'),
      join(ROOT, 'examples', 'gallery'), join(ROOT, 'bench', 'apps', 'steady.py')], { encoding: 'utf8' });
    expect(r.stdout).toBe('');
    expect(r.status).toBe(0);
  });
});

describe.each(all.map((i) => [i.label, i] as const))('fixtures bare on Python %s', (_label, interp) => {
  it('object_growth keeps one orders.Order per frame', async () => {
    expect((await selfcheck(interp, 'object_growth'))['orders.Order']).toBe(String(FRAMES));
  });

  it('refcount_leak: 50 points.Point, each +1 reference per frame', async (ctx) => {
    let ext: string;
    try {
      ext = await buildLeakyIter(interp);
    } catch (err) {
      if (err instanceof ExtUnavailable) return ctx.skip(err.message);
      throw err;
    }
    const c = await selfcheck(interp, 'refcount_leak', { PYTHONPATH: ext });
    expect(c['points.Point']).toBe('50');
    expect(c.refcount_rise).toBe(String(FRAMES));
  });

  it('callbacks keeps one widgets.Widget per frame through 3 handlers', async () => {
    const c = await selfcheck(interp, 'callbacks');
    expect(c['widgets.Widget']).toBe(String(FRAMES));
    expect(c.handlers).toBe(String(3 * FRAMES));
  });

  it('native_leak grows RSS by about 64 KiB per frame', async () => {
    const r = await run(interp, join(FIXTURES, 'native_leak.py'), ['--frames', '200', '--sleep', '0', '--selfcheck']);
    expect(r.code, r.stderr).toBe(0);
    const per = Number(/bytes_per_frame=(\d+)/.exec(r.stderr)?.[1]);
    expect(per, r.stderr).toBeGreaterThan(65536 * 0.9);
    expect(per, r.stderr).toBeLessThan(65536 * 1.1);
  });

  it('clean_churn ends with nothing left over', async () => {
    const c = await selfcheck(interp, 'clean_churn');
    expect(Number(c['particles.Particle'])).toBeLessThanOrEqual(600);
    expect(c['particles.Node']).toBe('0');
    expect(c.cache).toBe('128');
  });

  it('noisy_exit writes the same bytes everywhere and exits 3', async () => {
    const r = await run(interp, join(FIXTURES, 'noisy_exit.py'), []);
    expect(r.code).toBe(3);
    expect(r.stdout.length).toBe(1_099_787);
    expect(r.stdout.subarray(-4).toString('latin1')).toBe('xxxx');
    expect(r.stderr.split('\n').filter(Boolean)).toHaveLength(41);
  });

  it('the bundled example leaks 3 listeners per slide, none with --fixed', async () => {
    const leak = await run(interp, join(ROOT, 'examples', 'eventbus_app.py'), ['--frames', '50', '--sleep', '0']);
    expect(leak.code, leak.stderr).toBe(0);
    expect(leak.stdout.toString()).toContain('slide 50/50: 150 listeners on the bus');
    const fixed = await run(interp, join(ROOT, 'examples', 'eventbus_app.py'), ['--frames', '50', '--sleep', '0', '--fixed']);
    expect(fixed.stdout.toString()).toContain('slide 50/50: 3 listeners on the bus');
  });
});
