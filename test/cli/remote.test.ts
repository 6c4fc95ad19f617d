/**
 * `refscope run DEVICE` and `refscope doctor DEVICE` through the built CLI against real
 * sshd and dropbear devices (busybox login, no SFTP), with a user's ~/.ssh/config and
 * known_hosts in a throwaway HOME.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Manifest } from '../../src/session/manifest.js';
import type { Report } from '../../src/analysis/report.js';
import { ROOT, runCli, startCli } from '../helpers/cli.js';
import { coreInterpreters } from '../helpers/pythons.js';
import { killDeviceRuns, makeDevice, type RigDevice } from '../rig/device.js';
import { serverAvailable, startServer, type RigServer, type ServerKind } from '../rig/servers.js';
import { rigHome } from '../rig/home.js';
import { waitFor } from '../rig/wait.js';
import { tmpfsUnavailable } from '../helpers/prereq.js';

// the defaults: a diagnosis test runs what users run
const FAST: string[] = [];

function segmentBytes(dir: string): number {
  const seg = join(dir, 'segments');
  if (!existsSync(seg)) return 0;
  return readdirSync(seg).reduce((n, f) => n + statSync(join(seg, f)).size, 0);
}

function logLines(session: string): Array<Record<string, unknown>> {
  return readFileSync(join(session, 'refscope.log'), 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>);
}

for (const kind of ['openssh', 'dropbear'] as ServerKind[]) {
  const why = serverAvailable(kind);
  const py = coreInterpreters().at(-1);
  describe.skipIf(why !== null || !py)(`remote runs on ${kind}${why ? ` (skipped: ${why})` : ''}`, () => {
    let device: RigDevice;
    let server: RigServer;
    let home: string;
    let work: string;
    let env: NodeJS.ProcessEnv;
    beforeAll(async () => {
      device = makeDevice({ pythons: { python3: py!.path } });
      server = await startServer(kind, device);
      const h = rigHome(server);
      home = h.dir;
      env = h.env;
      work = mkdtempSync(join(tmpdir(), 'refscope-remote-'));
    });
    afterAll(async () => {
      // the run whose server was killed goes on on the device, as on a real one: end it
      if (device) killDeviceRuns(device);
      await server?.stop();
      device?.cleanup();
      rmSync(home, { recursive: true, force: true });
      rmSync(work, { recursive: true, force: true });
    });

    it('doctor passes and says which python it found', async () => {
      const r = await runCli(['doctor', 'rigdev', '--json'], { env, timeoutMs: 60_000 });
      expect(r.code).toBe(0);
      const out = JSON.parse(r.stdout.toString()) as { ok: boolean; checks: Array<{ name: string; status: string; detail: string }> };
      expect(out.ok).toBe(true);
      expect(out.checks.find((c) => c.name === 'python')!.detail).toContain(py!.version);
      // doctor's deploy check sends the probe for the first time
      expect(out.checks.find((c) => c.name === 'deploy')!.detail).toMatch(/\(\d{4,} bytes sent\)/);
    });

    it('diagnoses the callback leak remotely as locally, and deploys the probe only once', async () => {
      const s1 = join(work, `${kind}-cb1`);
      const r = await runCli(['run', 'rigdev', '--push', 'test/fixtures', '--out', s1, '--json', ...FAST, '--', 'fixtures/callbacks.py', '--frames', '300'], { env, timeoutMs: 120_000 });
      expect(r.stderr).not.toMatch(/unexpected/);
      expect(r.code, r.stderr).toBe(1);
      const report = JSON.parse(r.stdout.toString().slice(r.stdout.toString().indexOf('{\n'))) as Report;
      expect(r.code).toBe(1);
      expect(report.verdict).toBe('leak');
      expect(report.suspects[0]).toMatchObject({ kind: 'object-growth', type: 'widgets.Widget' });
      const m = JSON.parse(readFileSync(join(s1, 'manifest.json'), 'utf8')) as Manifest;
      expect(m).toMatchObject({ transport: 'ssh', device: 'rigdev', state: 'complete', python: { version: py!.version } });
      expect(m.uname).toMatch(/Linux/);
      expect(m.probeVersion).toMatch(/^\d+\.\d+\.\d+/);
      // doctor already sent this probe: the run costs one round trip and no payload; the app goes once
      expect(logLines(s1).find((l) => l.msg === 'probe deployed')).toMatchObject({ bytesSent: 0, roundTrips: 1 });
      expect(logLines(s1).find((l) => l.msg === 'app pushed')!.bytesSent).toBeGreaterThan(10_000);
      // the device keeps nothing of the run once it is safely here
      const runs = join(device.home, '.refscope', 'runs');
      expect(existsSync(runs) ? readdirSync(runs) : []).toEqual([]);

      const s2 = join(work, `${kind}-cb2`);
      const again = await runCli(['run', 'rigdev', '--push', 'test/fixtures', '--out', s2, ...FAST, '--', 'fixtures/callbacks.py', '--frames', '60'], { env, timeoutMs: 120_000 });
      expect(again.code === 0 || again.code === 1).toBe(true);
      const deployed2 = logLines(s2).find((l) => l.msg === 'probe deployed')!;
      expect(deployed2.bytesSent).toBe(0);
      expect(logLines(s2).find((l) => l.msg === 'app pushed')!.bytesSent).toBe(0);
    });

    it('streams the app output to the terminal as it is written and keeps its exit status', async () => {
      const s = join(work, `${kind}-noisy`);
      const r = await runCli(['run', 'rigdev', '--push', 'test/fixtures', '--out', s, '--', 'fixtures/noisy_exit.py'], { env, timeoutMs: 120_000 });
      const bare = await import('node:child_process').then((cp) => cp.spawnSync(py!.path, ['test/fixtures/noisy_exit.py'], { cwd: ROOT }));
      expect(r.stdout.subarray(0, bare.stdout.length).equals(bare.stdout)).toBe(true);
      const report = JSON.parse(readFileSync(join(s, 'report.json'), 'utf8')) as Report;
      expect(report.session.exitCode).toBe(3);
    });

    it('a missing script on the device is one line and exit 2, with nothing written', async () => {
      const s = join(work, `${kind}-missing`);
      const r = await runCli(['run', 'rigdev', '--out', s, '--', '/no/such/app.py'], { env, timeoutMs: 60_000 });
      expect(r.code).toBe(2);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
      expect(r.stderr).toMatch(/script '\/no\/such\/app\.py' not found on rigdev/);
      expect(existsSync(s)).toBe(false);
    });

    it('refuses an unknown host key through the CLI with exit 3', async () => {
      const r = await runCli(['doctor', 'rigdev', '--known-hosts', join(work, 'none')], { env, timeoutMs: 60_000 });
      expect(r.code).toBe(3);
      expect(r.stdout.toString()).toMatch(/FAIL {2}host key .*is not known/);
    });

    it('--duration stops the app on the device by pid (dropbear ignores signal requests) and still reports', async () => {
      const s = join(work, `${kind}-duration`);
      const r = await runCli(['run', 'rigdev', '--push', 'test/fixtures', '--out', s, '--duration', '3', ...FAST, '--', 'fixtures/clean_churn.py', '--frames', '1000000'], { env, timeoutMs: 120_000 });
      expect([0, 1]).toContain(r.code);
      const segs = readdirSync(join(s, 'segments')).sort();
      const last = readFileSync(join(s, 'segments', segs.at(-1)!), 'utf8').trim().split('\n').at(-1)!;
      expect(JSON.parse(last)).toMatchObject({ k: 'end', how: 'interrupt' });
      expect(existsSync(join(s, 'report.json'))).toBe(true);
    });

    it('an unusable device dir is one line and exit 3, before anything runs', async () => {
      const s = join(work, `${kind}-baddir`);
      const r = await runCli(['run', 'rigdev', '--device-dir', '/etc/passwd/refscope', '--out', s, '--', '/bin/true'], { env, timeoutMs: 60_000 });
      expect(r.code).toBe(3);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
      expect(r.stderr).toMatch(/^refscope: cannot write the device directory \/etc\/passwd\/refscope .*--device-dir/);
      expect(existsSync(s)).toBe(false);
    });

    it('the server killed mid-run gives exit 3, one line, and a session with what arrived', async () => {
      const s = join(work, `${kind}-killed`);
      const cli = startCli(['run', 'rigdev', '--push', 'test/fixtures', '--out', s, ...FAST, '--', 'fixtures/clean_churn.py', '--frames', '100000'], { env, timeoutMs: 120_000 });
      await waitFor('records streamed into the session', () => segmentBytes(s) > 2000, 60_000, 100);
      for (const pid of server.sessionPids()) {
        try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ }
      }
      const r = await cli.result;
      expect(r.code).toBe(3);
      expect(r.stderr).toMatch(/refscope: lost the connection to rigdev during the run/);
      expect(segmentBytes(s)).toBeGreaterThan(2000);
      const m = JSON.parse(readFileSync(join(s, 'manifest.json'), 'utf8')) as Manifest;
      expect(m.state).toBe('aborted');
    });

    it('SIGTERM on a run whose device stopped answering ends it within seconds: exit 3, the reason in words, a session with what arrived and a report', async () => {
      const s = join(work, `${kind}-frozen`);
      const cli = startCli(['run', 'rigdev', '--push', 'test/fixtures', '--out', s, ...FAST, '--', 'fixtures/clean_churn.py', '--frames', '100000'], { env, timeoutMs: 120_000 });
      await waitFor('records streamed into the session', () => segmentBytes(s) > 2000, 60_000, 100);
      // the device's side of the connection freezes: it accepts, and never answers again
      const frozen = server.sessionPids();
      for (const pid of frozen) process.kill(pid, 'SIGSTOP');
      try {
        const t0 = Date.now();
        cli.child.kill('SIGTERM');
        const r = await cli.result;
        const seconds = (Date.now() - t0) / 1000;
        expect(r.timedOut).toBe(false);
        expect(r.code, r.stderr).toBe(3);
        // the stop's deadline (15 s) and silence (10 s), and room for a busy machine; never the test's 120 s
        expect(seconds).toBeLessThan(40);
        expect(r.stderr).toMatch(/refscope: rigdev did not answer after the stop: given up after \d+ s; the session holds the \d+ bytes of records that arrived/);
        expect(r.stderr).not.toMatch(/unexpected/);
        expect(segmentBytes(s)).toBeGreaterThan(2000);
        const m = JSON.parse(readFileSync(join(s, 'manifest.json'), 'utf8')) as Manifest;
        expect(m.state).not.toBe('running');
        expect(existsSync(join(s, 'report.json'))).toBe(true);
      } finally {
        for (const pid of frozen) { try { process.kill(pid, 'SIGCONT'); } catch { /* gone */ } }
      }
    });
  });
}

for (const kind of ['openssh', 'dropbear'] as ServerKind[]) {
  const why = serverAvailable(kind) ?? tmpfsUnavailable();
  describe.skipIf(why !== null)(`a full device dir on ${kind}${why ? ` (skipped: ${why})` : ''}`, () => {
    it('says the device dir is full in one line, exit 3, and leaves no partial payload', async () => {
      const py = coreInterpreters().at(-1);
      const device = makeDevice({ pythons: py ? { python3: py.path } : {} });
      const full = join(device.root, 'full');
      mkdirSync(full);
      // mounted before the server starts, so dropbear's own mount namespace has it too
      execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=64k,mode=0700', 'tmpfs', full]); // private: a world-writable device dir is refused
      let server: RigServer | null = null;
      let home = '';
      try {
        execFileSync('sh', ['-c', 'dd if=/dev/zero of="$1/fill" bs=4096 2>/dev/null; true', 'sh', full]);
        server = await startServer(kind, device);
        home = rigHome(server).dir;
        const s = join(home, 'session');
        const r = await runCli(['run', 'rigdev', '--device-dir', full, '--out', s, '--', '/bin/true'], { env: { HOME: home, SSH_AUTH_SOCK: '' }, timeoutMs: 60_000 });
        expect(r.code).toBe(3);
        expect(r.stderr.trim().split('\n')).toHaveLength(1);
        expect(r.stderr).toMatch(new RegExp(`^refscope: the device directory ${full} is full \\(.*No space left on device\\)`));
        expect(readdirSync(full)).toEqual(['fill']);
        expect(existsSync(s)).toBe(false);
      } finally {
        await server?.stop();
        execFileSync('umount', [full]);
        device.cleanup();
        if (home) rmSync(home, { recursive: true, force: true });
      }
    });
  });
}
