import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT } from '../helpers/cli.js';
import { coreInterpreters } from '../helpers/pythons.js';
import { killDeviceRuns, makeDevice, type RigDevice } from './device.js';
import { belongsTo, DEVICE_ENV, findProcs, readProc, running, RUN_ENV, stopProcs, type ProcInfo } from './procs.js';
import { serverAvailable, startServer, type RigServer, type ServerKind } from './servers.js';
import { readBanner, waitFor } from './wait.js';

function sshRun(s: RigServer, command: string): string {
  return execFileSync('ssh', [
    '-o', 'BatchMode=yes', '-o', 'StrictHostKeyChecking=yes', '-o', `UserKnownHostsFile=${s.knownHosts}`,
    '-o', 'IdentitiesOnly=yes', '-i', s.identityFile, '-p', String(s.port), `${s.user}@${s.host}`, command,
  ], { encoding: 'utf8', timeout: 20_000, stdio: ['ignore', 'pipe', 'pipe'] });
}

/**
 * Start a detached app on the device over SSH, as the launcher does (setsid, stdin from
 * /dev/null, the connection closed at once), in `cwd` on the device; returns its pid once
 * it is running. The app is python when the device has one, else busybox sleep.
 */
async function detached(s: RigServer, cwd: string, opts: { ignoreTerm?: boolean } = {}): Promise<ProcInfo> {
  const app = opts.ignoreTerm
    ? `sh -c "trap '' TERM; while :; do sleep 1; done"`
    : `sh -c 'if command -v python3 >/dev/null; then exec python3 -c "import time; time.sleep(600)"; else exec sleep 600; fi'`;
  const out = sshRun(s, `cd '${cwd}' || exit 1; setsid ${app} </dev/null >/dev/null 2>&1 & echo "pid $!"`);
  const pid = Number(/pid (\d+)/.exec(out)?.[1]);
  expect(pid).toBeGreaterThan(0);
  // a process between fork and exec (setsid, sh) shows an empty environ for a moment: wait for it to have one
  return waitFor(`the detached app (pid ${pid}) to run`, () => {
    const p = readProc(pid);
    return p && p.state !== 'Z' && (p.environ?.some((e) => e !== '') ?? false) ? p : null;
  }, 10_000);
}

for (const kind of ['openssh', 'dropbear'] as ServerKind[]) {
  const why = serverAvailable(kind);
  describe.skipIf(why !== null)(`test rig: ${kind}${why ? ` (skipped: ${why})` : ''}`, () => {
    let device: RigDevice;
    let server: RigServer;
    beforeAll(async () => {
      const py = coreInterpreters()[0];
      device = makeDevice({ pythons: py ? { [`python${py.label}`]: py.path } : {} });
      server = await startServer(kind, device);
    });
    afterAll(async () => {
      await server?.stop();
      device?.cleanup();
    });

    it('accepts the rig key, verifies its host key, and logs into the busybox device', () => {
      const out = sshRun(server, 'echo "$PATH"; echo "$HOME"; readlink "$(command -v ls)"; ls --version 2>&1 | head -n 1');
      const [path, home, ls, lsVersion] = out.split('\n');
      expect(path).toBe(device.bin);
      expect(home).toBe(device.home);
      expect(ls).toMatch(/busybox$/);
      expect(lsVersion).not.toMatch(/GNU coreutils/);
    });

    it('offers no SFTP subsystem', () => {
      expect(() => execFileSync('sftp', [
        '-o', 'BatchMode=yes', '-o', `UserKnownHostsFile=${server.knownHosts}`, '-i', server.identityFile,
        '-P', String(server.port), `root@127.0.0.1`,
      ], { input: 'ls\n', timeout: 20_000, stdio: ['pipe', 'pipe', 'pipe'] })).toThrow();
    });
  });

  describe.skipIf(why !== null)(`test rig: nothing a ${kind} device starts outlives its cleanup`, () => {
    const started: ProcInfo[] = [];
    afterAll(() => {
      // if an assertion failed before the cleanup did its work
      stopProcs(started.filter(running), 1000, 2000);
    });

    it('cleanup() ends detached apps started over SSH (wherever they run), the server and its sessions, then deletes the folder', async () => {
      const py = coreInterpreters().at(-1);
      const dev = makeDevice({ pythons: py ? { python3: py.path } : {} });
      const srv = await startServer(kind, dev);
      // one in the device's home; one in / that names nothing of the device: only the marker the login exported finds it
      const inHome = await detached(srv, dev.home);
      const elsewhere = await detached(srv, '/');
      const stubborn = await detached(srv, '/', { ignoreTerm: true });
      started.push(inHome, elsewhere, stubborn);
      for (const p of [inHome, elsewhere, stubborn]) {
        expect(p.environ).toContain(`${DEVICE_ENV}=${dev.root}`);
        expect(p.environ).toContain(`${RUN_ENV}=${process.env[RUN_ENV]}`);
      }
      expect(elsewhere.cwd).toBe('/');
      // the apps outlive their connections, as soaks do
      await waitFor('the SSH sessions to end', () => srv.sessionPids().length === 0, 15_000);
      expect([inHome, elsewhere, stubborn].filter(running)).toHaveLength(3);
      const [listener] = findProcs((p) => p.ppid === process.pid && belongsTo(p, dev.serverDirs));
      expect(listener, 'the server listener, carrying its folder').toBeDefined();

      dev.cleanup(); // synchronous: when it returns, everything is gone
      for (const p of [inHome, elsewhere, stubborn, listener!]) expect(running(p), `pid ${p.pid} still running: ${p.cmdline.join(' ')}`).toBe(false);
      await expect(readBanner(srv.port)).rejects.toThrow();
      expect(existsSync(dev.root)).toBe(false);
      await srv.stop(); // the server's own stop still works (and removes its folder)
      expect(dev.cleanup).not.toThrow(); // twice is fine
    });

    it('killDeviceRuns() ends the apps but leaves the server up', async () => {
      const dev = makeDevice();
      const srv = await startServer(kind, dev);
      try {
        const app = await detached(srv, dev.home);
        started.push(app);
        killDeviceRuns(dev);
        expect(running(app)).toBe(false);
        expect(sshRun(srv, 'echo still-here').trim()).toBe('still-here');
      } finally {
        await srv.stop();
        dev.cleanup();
      }
    });
  });
}

describe('the run\'s global teardown (a nested vitest run with test/rig/global-setup.ts)', () => {
  let dir: string;
  const leaked: number[] = [];
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'refscope-nested-'));
    symlinkSync(join(ROOT, 'node_modules'), join(dir, 'node_modules'));
    writeFileSync(join(dir, 'vitest.config.mjs'), `export default { test: {
      include: ['*.test.mjs'], pool: 'forks', testTimeout: 60000,
      globalSetup: [${JSON.stringify(join(ROOT, 'test', 'rig', 'global-setup.ts'))}],
      setupFiles: [${JSON.stringify(join(ROOT, 'test', 'rig', 'setup.ts'))}],
    } };\n`);
    writeFileSync(join(dir, 'prereq.test.mjs'), `import { it, expect } from 'vitest';
import { skipWhy } from ${JSON.stringify(join(ROOT, 'test', 'helpers', 'prereq.ts'))};
const why = skipWhy('an optional extra', 'not on this machine', { optional: true });
it('records an optional skip', () => { expect(why).toBe('not on this machine'); });
`);
  });
  afterAll(() => {
    stopProcs(leaked.map((pid) => readProc(pid)).filter((p): p is ProcInfo => p !== null && running(p)), 500, 2000);
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  function nested(extraTest: string | null): Promise<{ code: number | null; out: string }> {
    rmSync(join(dir, 'leak.test.mjs'), { force: true });
    if (extraTest) writeFileSync(join(dir, 'leak.test.mjs'), extraTest);
    // a clean environment for the nested vitest: none of this worker's VITEST_* variables
    const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('VITEST') && !k.startsWith('REFSCOPE_RIG_') && k !== 'REFSCOPE_SKIP_LOG'));
    return new Promise((resolve, reject) => {
      const child = spawn(process.execPath, [join(ROOT, 'node_modules', 'vitest', 'vitest.mjs'), 'run', '--root', dir, '--config', join(dir, 'vitest.config.mjs')],
        { cwd: dir, env: { ...env, REFSCOPE_REQUIRE_RIG: '0', LEAK_PID_FILE: join(dir, 'leak.pid'), NO_COLOR: '1' }, stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      child.stdout.on('data', (d: Buffer) => { out += d.toString(); });
      child.stderr.on('data', (d: Buffer) => { out += d.toString(); });
      const timer = setTimeout(() => { child.kill('SIGKILL'); reject(new Error(`nested vitest did not end in 90 s:\n${out}`)); }, 90_000);
      child.on('exit', (code) => { clearTimeout(timer); resolve({ code, out }); });
    });
  }

  it('passes a clean run and prints the skipped prerequisites', async () => {
    const r = await nested(null);
    expect(r.code, r.out).toBe(0);
    expect(r.out).toMatch(/optional extras not available \(skipped\):\n\s+- an optional extra: not on this machine \[1 file: prereq\.test\.mjs\]/);
    expect(r.out).not.toMatch(/outlived the suite/);
  });

  it('fails a run whose test left processes behind, naming them, and ends them', async () => {
    // one started plainly (the file's own marker finds it when the file ends); one without the
    // run's or the file's markers, running in a folder the rig recorded (only the teardown's scan finds it)
    const r = await nested(`import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { it } from 'vitest';
import { recordRigDir } from ${JSON.stringify(join(ROOT, 'test', 'rig', 'procs.ts'))};
it('starts detached processes and forgets them', () => {
  const a = spawn('sleep', ['600'], { detached: true, stdio: 'ignore' });
  a.unref();
  const dir = mkdtempSync(process.env.LEAK_PID_FILE + '.dev-');
  recordRigDir(dir);
  const env = { ...process.env };
  delete env.REFSCOPE_RIG_RUN;
  delete env.REFSCOPE_RIG_FILE;
  const b = spawn('sleep', ['601'], { detached: true, stdio: 'ignore', cwd: dir, env });
  b.unref();
  writeFileSync(process.env.LEAK_PID_FILE, a.pid + ' ' + b.pid);
});
`);
    const pids = readFileSync(join(dir, 'leak.pid'), 'utf8').split(' ').map(Number);
    leaked.push(...pids);
    const [a, b] = pids;
    expect(r.out).toMatch(/Tests\s+2 passed/);
    expect(r.code, r.out).toBe(1);
    expect(r.out).toMatch(/2 processes of this run outlived their test file/);
    expect(r.out).toMatch(new RegExp(`\\n\\s+- pid ${a} \\(.*\\): sleep 600 \\[left by .*leak\\.test\\.mjs\\]`));
    expect(r.out).toMatch(new RegExp(`\\n\\s+- pid ${b} \\(.*leak\\.pid\\.dev-.*\\): sleep 601 \\[still running after the suite\\]`));
    expect(r.out).toMatch(/the run FAILS/);
    for (const pid of pids) {
      const p = readProc(pid);
      expect(p === null || p.state === 'Z', `pid ${pid} still running`).toBe(true);
    }
  });
});
