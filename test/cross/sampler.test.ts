/**
 * refscope-sampler (cross/sampler), the native build for this machine: records in the
 * protocol's format, exit status and signals as a shell reports them, signals relayed,
 * samples taken while the interpreter holds the GIL in C code. Which build fits which
 * `uname -m`, and the emulation check doctor uses.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { emulationFromStatm, samplerTargets } from '../../src/device/sampler.js';
import { readNative } from '../../src/session/native.js';
import { toNativeRecord, toRecord } from '../../src/session/records.js';
import { ROOT } from '../helpers/cli.js';
import { coreInterpreters } from '../helpers/pythons.js';
import { skipWhy } from '../helpers/prereq.js';

const target = `${spawnSync('uname', ['-m'], { encoding: 'utf8' }).stdout.trim()}-linux-gnu`;
const crossDir = process.env.REFSCOPE_CROSS_DIR || join(ROOT, 'dist', 'cross');
const BIN = join(crossDir, target, 'refscope-sampler');
if (!existsSync(BIN)) spawnSync('sh', [join(ROOT, 'cross', 'build.sh'), crossDir], { stdio: 'ignore' });
const why = skipWhy('native sampler build', existsSync(BIN) ? null : `no native build at ${BIN} (npm run build:cross; needs gcc)`);
const py = coreInterpreters().find((p) => /^3\./.test(p.version));

const dirs: string[] = [];
afterAll(() => { for (const d of dirs) rmSync(d, { recursive: true, force: true }); });

function run(args: string[], opts: { onSpawn?: (pid: number) => void } = {}): Promise<{ code: number | null; dir: string }> {
  const dir = mkdtempSync(join(tmpdir(), 'refscope-sampler-'));
  dirs.push(dir);
  return new Promise((resolve) => {
    const child = spawn(BIN, ['--out', dir, '--interval', '0.02', ...args], { stdio: 'ignore' });
    opts.onSpawn?.(child.pid!);
    child.on('exit', (code) => resolve({ code, dir }));
  });
}

describe.skipIf(why !== null)(`refscope-sampler (${target})${why ? ` (skipped: ${why})` : ''}`, () => {
  it('writes native-start, native-sample, native-end lines every reader of the format accepts, and exits as the child did', async () => {
    const { code, dir } = await run(['--', 'sh', '-c', 'sleep 0.3; exit 3']);
    expect(code).toBe(3);
    expect(readdirSync(dir)).toEqual(['nseg-000001.jsonl']);
    const lines = readFileSync(join(dir, 'nseg-000001.jsonl'), 'latin1').split('\n').filter(Boolean);
    const recs = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(recs.map((r) => r.seq)).toEqual(recs.map((_, i) => i));
    expect(recs[0]).toMatchObject({ k: 'native-start', schema: 'refscope.records/1', emulator: null, argv: ['sh', '-c', 'sleep 0.3; exit 3'] });
    expect(recs.at(-1)).toMatchObject({ k: 'native-end', how: 'exit', exit: 3, signal: null, oomKill: false, records: recs.length });
    expect(recs.slice(1, -1).every((r) => r.k === 'native-sample' && typeof r.rss === 'number' && (r.rss as number) > 0)).toBe(true);
    // the probe's reader does not take them for probe records; the native parser does
    for (const r of recs) {
      expect(toRecord(r)).toBeNull();
      expect(toNativeRecord(r)).not.toBeNull();
    }
    const summary = (await readNative(dir))!;
    expect(summary).toMatchObject({ lost: 0, end: { how: 'exit', exit: 3 } });
  });

  it('records a signal death as 128+N and relays SIGTERM to the child', async () => {
    const killed = await run(['--', 'sh', '-c', 'kill -KILL $$']);
    expect(killed.code).toBe(137);
    expect((await readNative(killed.dir))!.end).toMatchObject({ how: 'signal', signal: 9, signalName: 'SIGKILL', exit: 137 });

    let pid = 0;
    const p = run(['--', 'sleep', '30'], { onSpawn: (n) => { pid = n; } });
    await new Promise((r) => setTimeout(r, 300));
    process.kill(pid, 'SIGTERM');
    const termed = await p;
    expect(termed.code).toBe(143);
    expect((await readNative(termed.dir))!.end).toMatchObject({ how: 'signal', signalName: 'SIGTERM' });
  });

  it.skipIf(!py)('keeps sampling while the interpreter holds the GIL in C code', async () => {
    const { code, dir } = await run(['--keepalive', '0.1', '--', py!.path, join(ROOT, 'test', 'emulated', 'apps', 'gil_hold.py')]);
    expect(code).toBe(0);
    const s = (await readNative(dir))!;
    // the app sleeps 2 s in usleep through ctypes.PyDLL, holding the GIL: samples all through it
    const gaps = s.samples.slice(1).map((x, i) => x.t - s.samples[i]!.t);
    expect(Math.max(...gaps)).toBeLessThan(0.5);
    expect(s.end!.samples).toBeGreaterThan(100);
  });

  it('exits 97 with its usage when it has no command (deploy checks it runs with this)', () => {
    const r = spawnSync(BIN, [], { encoding: 'utf8' });
    expect(r.status).toBe(97);
    expect(r.stderr).toMatch(/^usage: refscope-sampler/);
  });
});

describe('which sampler build fits a device', () => {
  it('maps uname -m to a build', () => {
    expect(samplerTargets('armv6l')).toEqual(['armv5te-linux-gnueabi']); // the N810 (ARM1136)
    expect(samplerTargets('armv5tel')).toEqual(['armv5te-linux-gnueabi']);
    expect(samplerTargets('armv7l')).toEqual(['armv7-linux-gnueabihf', 'armv5te-linux-gnueabi']);
    expect(samplerTargets('aarch64')).toEqual(['aarch64-linux-gnu']);
    expect(samplerTargets('x86_64')).toEqual(['x86_64-linux-gnu']);
    expect(samplerTargets('armv4tl')).toEqual([]);
    expect(samplerTargets('')).toEqual([]);
  });

  it('tells emulation from a 32-bit process with more than 4 GiB of address space', () => {
    expect(emulationFromStatm('armv6l', '1103259 3289 1713 872 0 37772 0')).toMatch(/emulated \(qemu-user\)/);
    expect(emulationFromStatm('armv6l', '804 453 424 144 0 75 0')).toBeNull();
    expect(emulationFromStatm('x86_64', '1103259 3289 1713 872 0 37772 0')).toBeNull();
    expect(emulationFromStatm('armv6l', '')).toBeNull();
  });
});
