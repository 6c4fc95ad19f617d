/**
 * The device flows with no SSH server: a LocalTransport plays the device on a rig device
 * folder (busybox-only PATH, HOME in the folder, so ~/.refscope lands there), and the
 * library functions the CLI calls do the rest, exactly as over sshd or dropbear: interpreter
 * discovery, the content-addressed deploy of the probe and of the pushed app, the launch
 * script, the segment stream and the tar collect at the end; and the soak: a detached start,
 * status, a collect while it runs, stop, and the last collect that leaves nothing on the
 * device. Real interpreters (2.7 and a 3.x), real busybox tar and sh.
 */
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { prepareRun, startRun, type RunRequest } from '../../src/capture/run.js';
import { collectSession, describeRun, deviceRun, findSoakSession, startSoak, stopSoakApp } from '../../src/capture/soak.js';
import { createLog } from '../../src/log.js';
import { writeSessionReports } from '../../src/report/session.js';
import type { Manifest } from '../../src/session/manifest.js';
import { LocalTransport } from '../../src/transport/local.js';
import { ROOT } from '../helpers/cli.js';
import { coreInterpreters, type Interp } from '../helpers/pythons.js';
import { killDeviceRuns, makeDevice, type RigDevice } from '../rig/device.js';
import { FILE_ENV, rigEnv } from '../rig/procs.js';
import { waitFor } from '../rig/wait.js';
import { seqs } from '../helpers/segments.js';

const FIXTURES = join(ROOT, 'test', 'fixtures');

/** the CLI's defaults: a diagnosis test runs what users run */
function request(t: LocalTransport, work: string, out: string, command: string[], extra: Partial<RunRequest> = {}): RunRequest {
  return {
    transport: t, onDevice: true, command, out: join(work, out), interval: 1, censusBudget: 0.02, duration: null,
    watchTypes: [], tty: false, cwd: work, remote: { push: FIXTURES }, ...extra,
  };
}

/** a device folder, and a LocalTransport that plays it: only the folder's busybox (and its python) on PATH */
function localDevice(py: Interp): { device: RigDevice; t: LocalTransport } {
  const device = makeDevice({ pythons: { python: py.path } });
  const env = rigEnv(device.root, { PATH: device.bin, [FILE_ENV]: process.env[FILE_ENV] });
  return { device, t: new LocalTransport({ device: 'localdev', home: device.home, env }) };
}

function logLines(session: string): Array<Record<string, unknown>> {
  return readFileSync(join(session, 'refscope.log'), 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>);
}

function manifestOf(session: string): Manifest {
  return JSON.parse(readFileSync(join(session, 'manifest.json'), 'utf8')) as Manifest;
}


const interps = coreInterpreters();
if (interps.length === 0) {
  describe.skip('device flows over a local device folder (no CPython 2.7 or 3.x under pyenv: skipped)', () => { it('needs interpreters', () => undefined); });
}

for (const py of interps) {
  describe(`a run on a local device folder, python ${py.label}`, () => {
    let device: RigDevice;
    let t: LocalTransport;
    let work: string;
    beforeAll(() => {
      ({ device, t } = localDevice(py));
      work = mkdtempSync(join(tmpdir(), 'refscope-localdev-'));
    });
    afterAll(async () => {
      await t?.close();
      if (device) killDeviceRuns(device);
      device?.cleanup();
      if (work) rmSync(work, { recursive: true, force: true });
    });

    it('diagnoses the callback leak as over SSH: probe and app deployed into ~/.refscope, segments collected with tar, nothing left behind', async () => {
      const log = await createLog({ verbose: false });
      const prep = await prepareRun(request(t, work, 'cb1', ['fixtures/callbacks.py', '--frames', '300']), log);
      // discovery found the folder's interpreter; the device dir is its HOME's .refscope
      expect(prep.remote!.python).toEqual({ path: join(device.bin, 'python'), version: py.version });
      expect(prep.remote!.base).toBe(join(device.home, '.refscope'));
      expect(prep.remote!.probe.bytesSent).toBeGreaterThan(10_000);
      expect(prep.remote!.cwd).toBe(prep.remote!.pushed!.dir);
      const outcome = await (await startRun(prep, log)).done;
      log.flush();
      expect(outcome.startFailure).toBeNull();
      expect(outcome.deviceError).toBeUndefined();
      const written = await writeSessionReports(outcome.sessionDir);
      expect(written!.report.verdict).toBe('leak');
      expect(written!.report.suspects[0]).toMatchObject({ kind: 'object-growth', type: 'widgets.Widget' });
      expect(written!.report.session.lostRecords).toBe(0);
      expect(manifestOf(outcome.sessionDir)).toMatchObject({ transport: 'local', device: 'localdev', state: 'complete', python: { version: py.version } });
      expect(logLines(outcome.sessionDir).find((l) => l.msg === 'launching')!.argv).toContain('--restore-sigint');
      // the device keeps nothing of the run once it is safely here
      expect(readdirSync(join(device.home, '.refscope', 'runs'))).toEqual([]);

      // the same probe and app again: one round trip each, no bytes
      const log2 = await createLog({ verbose: false });
      const again = await prepareRun(request(t, work, 'cb2', ['fixtures/callbacks.py', '--frames', '20']), log2);
      expect(again.remote!.probe).toMatchObject({ dir: prep.remote!.probe.dir, bytesSent: 0, roundTrips: 1 });
      expect(again.remote!.pushed).toMatchObject({ dir: prep.remote!.pushed!.dir, bytesSent: 0, roundTrips: 1 });
      const second = await (await startRun(again, log2)).done;
      expect(second.startFailure).toBeNull();
      expect(manifestOf(second.sessionDir).state).toBe('complete');
    });

    it('--duration stops the app on the device by pid and the end record says it was interrupted', async () => {
      const log = await createLog({ verbose: false });
      const prep = await prepareRun(request(t, work, 'duration', ['fixtures/clean_churn.py', '--frames', '1000000'], { duration: 3 }), log);
      const outcome = await (await startRun(prep, log)).done;
      expect(outcome.deviceError).toBeUndefined();
      const segs = readdirSync(join(outcome.sessionDir, 'segments')).sort();
      const last = readFileSync(join(outcome.sessionDir, 'segments', segs.at(-1)!), 'utf8').trim().split('\n').at(-1)!;
      expect(JSON.parse(last)).toMatchObject({ k: 'end', how: 'interrupt' });
      expect(readdirSync(join(device.home, '.refscope', 'runs'))).toEqual([]);
    });

    it('--push that names a file or nothing is an input error naming the fix, before anything is sent', async () => {
      for (const [push, re] of [[join(ROOT, 'test', 'fixtures', 'callbacks.py'), /--push .*callbacks\.py is a file, not a folder/], ['/no/such/folder', /--push \/no\/such\/folder: no such folder here/]] as const) {
        const err = await prepareRun(request(t, work, 'pushfile', ['fixtures/callbacks.py'], { remote: { push } }), await createLog({ verbose: false }))
          .catch((e: unknown) => e as Error & { exitCode?: number });
        expect(err.message).toMatch(re);
        expect(err.exitCode).toBe(2);
      }
      expect(existsSync(join(work, 'pushfile'))).toBe(false);
    });

    it('a script missing on the device is an input error naming the device, and writes nothing', async () => {
      const err = await prepareRun(request(t, work, 'missing', ['/no/such/app.py'], { remote: {} }), await createLog({ verbose: false }))
        .catch((e: unknown) => e as Error & { exitCode?: number });
      expect(err.message).toBe("script '/no/such/app.py' not found on localdev (in " + device.home + ')');
      expect(err.exitCode).toBe(2);
      expect(existsSync(join(work, 'missing'))).toBe(false);
    });
  });
}

const newest = interps.at(-1);
describe.skipIf(!newest)(`a soak on a local device folder${newest ? `, python ${newest.label}` : ''}`, () => {
  let device: RigDevice;
  let t: LocalTransport;
  let work: string;
  beforeAll(() => {
    ({ device, t } = localDevice(newest!));
    work = mkdtempSync(join(tmpdir(), 'refscope-localsoak-'));
  });
  afterAll(async () => {
    await t?.close();
    // a soak outlives its start by design: end one a failed test left running
    if (device) killDeviceRuns(device);
    device?.cleanup();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it('starts detached, reports status, collects while it runs, and stop collects everything exactly once', async () => {
    const log = await createLog({ verbose: false });
    // no --out: the session goes under ./refscope-sessions, where the soak is found again by its device's name
    const prep = await prepareRun(request(t, work, 'soak', ['fixtures/callbacks.py', '--frames', '1000000', '--sleep', '0.005'], { out: undefined }), log);
    const started = await startSoak(prep, log, { duration: null, maxDeviceMb: null, segmentKib: 8 });
    expect(started.pid).toBeGreaterThan(0);
    expect(started.runDir.startsWith(join(device.home, '.refscope', 'runs'))).toBe(true);
    const { dir, manifest } = await findSoakSession(work, 'localdev');
    expect(dir).toBe(started.sessionDir);
    expect(logLines(dir).find((l) => l.msg === 'starting soak')!.argv).toEqual(expect.arrayContaining(['--detach', '--restore-sigint', '--segment-kib', '8']));

    // status: the detached app runs on, writing segments on the device
    // (and 3 s of the app's run: the report at the end needs its censuses, and how soon 3
    // segments of 8 KiB fill depends on how much the probe writes)
    const running = await waitFor('a few segments on the device, 3 s into the run', async () => {
      const run = await deviceRun(t, manifest.soak.runDir);
      const age = run.now !== null && run.started !== null ? run.now - run.started : 0;
      return run.alive && run.segments.length >= 3 && age >= 3 && (run.rssKiB ?? 0) > 0 ? run : null;
    }, 60_000, 200);
    expect(describeRun(running, manifest.soak)).toEqual({ state: 'running', how: 'running' });
    expect(running.pid).toBe(started.pid);

    // a collect while it runs: the closed segments come here and leave the device, the growing one stays
    const mid = await collectSession(t, dir, manifest, log.logger, false);
    expect(mid.result.complete).toBe(false);
    expect(mid.result.acked.length).toBeGreaterThanOrEqual(2);
    const after = await deviceRun(t, manifest.soak.runDir);
    expect(after.segments.map((s) => s.name)).not.toContain(mid.result.acked[0]);
    expect(existsSync(join(dir, 'segments', mid.result.acked[0]!))).toBe(true);

    // stop: SIGINT by pid; the launcher records the app's exit status
    const stopped = await stopSoakApp(t, manifest.soak.runDir);
    expect(stopped.alive).toBe(false);
    expect(stopped.exit).not.toBeNull();
    expect(describeRun(stopped, manifest.soak).state).toBe('ended');

    // the last collect brings the rest and removes the run folder
    const last = await collectSession(t, dir, mid.manifest, log.logger, true);
    log.flush();
    expect(last.result.complete).toBe(true);
    expect(existsSync(manifest.soak.runDir)).toBe(false);
    const m = manifestOf(dir);
    expect(m.state).toBe('complete');
    expect(m.soak?.ended).toMatch(/exited|signal/);
    const all = seqs(dir);
    expect(all.length).toBeGreaterThan(10);
    expect(new Set(all).size).toBe(all.length);
    expect(Math.max(...all)).toBe(all.length - 1);
    const written = await writeSessionReports(dir);
    expect(written!.report.verdict).toBe('leak');
    expect(written!.report.suspects[0]).toMatchObject({ kind: 'object-growth', type: 'widgets.Widget' });
    expect(written!.report.session.lostRecords).toBe(0);

    // status once it is all here
    const gone = await deviceRun(t, manifest.soak.runDir);
    expect(describeRun(gone, m.soak!).state).toBe('collected');
  });
});
