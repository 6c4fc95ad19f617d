/**
 * The emulated N810 (test/rig/emulated.ts): Debian armel under qemu-user with
 * QEMU_CPU=arm1136, dropbear on 127.0.0.1, the device in a 128 MB memory cgroup. Through
 * the built CLI as a user would: doctor; the callback leak diagnosed with the same culprit
 * as on x86; an app that leaks until the limit kills it; the native sampler recording
 * while the interpreter holds the GIL in C code. Lean on purpose: emulation is slow.
 * Skips, saying why, when the rootfs is not there and cannot be built.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readNative } from '../../src/session/native.js';
import { openSession } from '../../src/session/reader.js';
import type { ProbeRecord, SampleRecord } from '../../src/session/records.js';
import type { Report } from '../../src/analysis/report.js';
import { runCli } from '../helpers/cli.js';
import { emulatedUnavailable, memcgUnavailable, py25Arm, startEmulated, type EmulatedDevice } from '../rig/emulated.js';

const why = emulatedUnavailable();
const memcg = memcgUnavailable() === null;
const py25 = py25Arm();

async function probeRecords(session: string): Promise<{ records: ProbeRecord[]; lost: number }> {
  const s = await openSession(session);
  const records: ProbeRecord[] = [];
  for await (const r of s.records()) records.push(r);
  return { records, lost: s.stats.lostRecords };
}

function jsonReport(stdout: Buffer): Report {
  const text = stdout.toString();
  return JSON.parse(text.slice(text.indexOf('{\n'))) as Report;
}

describe.skipIf(why !== null)(`emulated N810 (armel, qemu-user arm1136)${why ? ` (skipped: ${why})` : ''}`, () => {
  let dev: EmulatedDevice;
  let home: string;
  let work: string;
  let env: NodeJS.ProcessEnv;
  beforeAll(async () => {
    dev = await startEmulated();
    // rig start-up time, for the record (docs/testing.md)
    process.stderr.write(`emulated device: dropbear up in ${dev.startMs} ms, memory cgroup ${dev.memcg ? `${dev.limitBytes! >> 20} MB` : 'none'}\n`);
    home = mkdtempSync(join(tmpdir(), 'refscope-home-'));
    work = mkdtempSync(join(tmpdir(), 'refscope-emu-run-'));
    mkdirSync(join(home, '.ssh'), { mode: 0o700 });
    writeFileSync(join(home, '.ssh', 'config'), `Host n810\n  HostName 127.0.0.1\n  Port ${dev.port}\n  User root\n  IdentityFile ${dev.identityFile}\n`);
    writeFileSync(join(home, '.ssh', 'known_hosts'), readFileSync(dev.knownHosts));
    env = { HOME: home, SSH_AUTH_SOCK: '' };
  }, 180_000);
  afterAll(async () => {
    await dev?.stop();
    if (home) rmSync(home, { recursive: true, force: true });
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it('doctor: armel python3, the armv5te sampler, and says the RSS is emulated', async () => {
    const r = await runCli(['doctor', 'n810', '--json'], { env, timeoutMs: 120_000 });
    const out = JSON.parse(r.stdout.toString()) as { ok: boolean; checks: Array<{ name: string; status: string; detail: string }> };
    const check = (name: string) => out.checks.find((c) => c.name === name);
    expect(r.code, JSON.stringify(out.checks)).toBe(0);
    expect(out.ok).toBe(true);
    // the N810's ARMv6 as qemu-user presents it (QEMU_CPU=arm1136); the shell's /proc/PID/exe is qemu's
    expect(check('login shell')!.detail).toMatch(/ armv6l /);
    expect(check('python')!.detail).toMatch(/python3 3\.11\./);
    expect(check('sampler')!.detail).toBe('native refscope-sampler (armv5te-linux-gnueabi) for armv6l');
    expect(check('emulation')).toMatchObject({ status: 'warn' });
    expect(check('emulation')!.detail).toMatch(/emulated \(qemu-user\)/);
  });

  it('diagnoses the callback leak with the same culprit as on x86', async () => {
    const s = join(work, 'callbacks');
    // at the defaults, as users run it: the emulated CPU is slow (a census costs what it
    // would on an N810), so the app runs 400 frames rather than the probe sampling harder
    const r = await runCli(['run', 'n810', '--push', 'test/fixtures', '--out', s, '--json', '--', 'fixtures/callbacks.py', '--frames', '400', '--sleep', '0.02'], { env, timeoutMs: 300_000 });
    expect(r.code, r.stderr).toBe(1);
    const report = jsonReport(r.stdout);
    expect(report.verdict).toBe('leak');
    expect(report.suspects[0]).toMatchObject({ kind: 'object-growth', type: 'widgets.Widget' });
    expect(report.suspects[0]!.referrers.map((x) => x.via).join('\n')).toMatch(/bound method Widget\.on_(click|key|resize)/);
    expect(report.session.python).toMatch(/^3\.11\./);
    expect(report.session.lostRecords).toBe(0);
    // the native sampler ran beside the probe, on the emulated ARMv6, and said so
    expect(report.session.native).toMatchObject({ machine: 'armv6l', emulator: 'qemu-user', how: 'exit', signal: null, oomKill: false, lostRecords: 0 });
    expect(report.session.native!.samples).toBeGreaterThan(20);
    // what is true under qemu-user: the probe's /proc/self/statm is qemu's process, a 64-bit
    // host process holding the 32-bit guest's whole address space, so its size is beyond 4 GiB
    const native = (await readNative(s))!;
    expect(native.samples.some((x) => (x.vsz ?? 0) > 4 * 1024 * 1024)).toBe(true);
    expect(native.start!.limitKiB).toBe(dev.memcg ? 128 * 1024 : null);
  });

  it('keeps sampling while the interpreter holds the GIL in C code', async () => {
    const s = join(work, 'gil');
    const r = await runCli(['run', 'n810', '--push', 'test/emulated/apps', '--out', s, '--interval', '0.1', '--', 'apps/gil_hold.py'], { env, timeoutMs: 120_000 });
    expect(r.code, r.stderr).toBe(0);
    const { records } = await probeRecords(s);
    const samples = records.filter((x): x is SampleRecord => x.k === 'sample');
    // the probe's own sampling thread stops for the 2 s the app holds the GIL in usleep
    const gaps = samples.slice(1).map((x, i) => x.t - samples[i]!.t);
    expect(Math.max(...gaps)).toBeGreaterThan(1.5);
    // the native sampler does not: it took samples all through the hold
    const native = (await readNative(s))!;
    expect(native.end).toMatchObject({ how: 'exit', exit: 0 });
    const nGaps = native.samples.slice(1).map((x, i) => x.t - native.samples[i]!.t);
    expect(Math.max(...nGaps)).toBeLessThan(1.3); // a keepalive at least once a second
    const cost = native.end!.samplerCpu[0] + native.end!.samplerCpu[1];
    process.stderr.write(`native sampler: ${native.end!.samples} samples, ${(cost * 1000 / native.end!.samples).toFixed(3)} s CPU per 1000 samples (emulated)\n`);
  });

  it.skipIf(!memcg)(`an app that leaks until the 128 MB limit${memcg ? '' : ' (skipped: no cgroup v1 memory controller)'}: the report shows the OOM kill, no record lost`, async () => {
    const s = join(work, 'oom');
    const r = await runCli(['run', 'n810', '--push', 'test/emulated/apps', '--out', s, '--json', '--', 'apps/oom_grow.py'], { env, timeoutMs: 300_000 });
    const report = jsonReport(r.stdout);
    expect(report.session.ended).toBe('abnormal'); // the probe died with the app: no end record
    expect(report.session.exitCode).toBe(137);
    expect(report.session.native).toMatchObject({ how: 'signal', signal: 'SIGKILL', oomKill: true, limitKiB: 128 * 1024, lostRecords: 0 });
    expect(report.session.lostRecords).toBe(0);
    const text = readFileSync(join(s, 'report.txt'), 'utf8');
    expect(text).toMatch(/killed\s+SIGKILL by the OOM killer \(memory limit 128 MiB/);
    // every record the probe wrote before the kill arrived, in order, up to close to the limit
    const { records, lost } = await probeRecords(s);
    expect(lost).toBe(0);
    const seqs = records.map((x) => x.seq);
    expect(seqs).toEqual(seqs.map((_, i) => i));
    const rss = records.filter((x): x is SampleRecord => x.k === 'sample').map((x) => x.rss ?? 0);
    expect(Math.max(...rss)).toBeGreaterThan(64 * 1024);
    // and the leak that killed it is named, when the censuses before the kill were enough
    process.stderr.write(`OOM run: ${report.verdict}: ${report.summary ?? ''}\n`);
    expect(report.verdict).not.toBe('no-leak');
    process.stderr.write(`OOM suspects: ${report.suspects.map((x) => `${x.kind} ${x.type} ${x.confidence}`).join('; ')}\n`);
    if (report.verdict === 'leak') expect(report.suspects).toContainEqual(expect.objectContaining({ kind: 'object-growth', type: '__main__.Frame' }));
  });

  it.skipIf(!py25)(`the callback leak under armel Python 2.5${py25 ? '' : ' (skipped: REFSCOPE_PY25_ARM does not name an armel python2.5 on this machine)'}`, async () => {
    const s = join(work, 'py25');
    const r = await runCli(['run', 'n810', '--python', 'python2.5', '--push', 'test/fixtures', '--out', s, '--json', '--', 'fixtures/callbacks.py', '--frames', '400', '--sleep', '0.02'], { env, timeoutMs: 300_000 });
    expect(r.code, r.stderr).toBe(1);
    const report = jsonReport(r.stdout);
    expect(report.session.python).toMatch(/^2\.5\./);
    expect(report.suspects[0]).toMatchObject({ kind: 'object-growth', type: 'widgets.Widget' });
  });
});
