/**
 * `refscope soak` against real sshd and dropbear devices: detached runs that outlive the
 * connection, collected any time, losslessly — with the connection cut and the host
 * killed mid-collect, every sequence number arrives exactly once.
 *
 * Faults land where the test says, not where a timer happens to fall: hold points on the
 * device (wrappers over du, tar, cat and rm in its bin/) stop a collect at a chosen step
 * of its protocol (the listing, the transfer of closed segments, the fetch of the growing
 * one, the acknowledgement), the test cuts the connection or kills the host there, and
 * then expects exactly the exit that fault gives: 3 for a cut, death by SIGKILL for the host.
 */
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, readlinkSync, rmSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Report } from '../../src/analysis/report.js';
import type { Manifest } from '../../src/session/manifest.js';
import { ROOT, runCli, startCli, type CliOptions, type CliResult } from '../helpers/cli.js';
import { coreInterpreters } from '../helpers/pythons.js';
import { killDeviceRuns, makeDevice, type RigDevice } from '../rig/device.js';
import { serverAvailable, startServer, type RigServer, type ServerKind } from '../rig/servers.js';
import { rigHome, type RigHome } from '../rig/home.js';
import { waitFor } from '../rig/wait.js';
import { exactlyOnce, seqs } from '../helpers/segments.js';

// ---------------------------------------------------------------- hold points on the device

type HoldCmd = 'du' | 'tar' | 'cat' | 'rm';

/** which call of each command a hold catches (the shell test on its arguments) */
const HOLD_MATCH: Record<HoldCmd, string> = {
  du: 'true', // du -sk RUN_DIR: the status listing, first thing a collect does
  tar: '[ "${1:-}" = -cf ]', // tar -cf - seg-...: the transfer of closed segments
  cat: 'case "${1:-}" in */segments/seg-*) true ;; *) false ;; esac', // cat .../seg-N: the growing segment
  rm: '[ "${1:-}" = -f ]', // rm -f seg-...: the acknowledgement (not rm -rf of the finished run)
};

/**
 * Replace du, tar, cat and rm in the device's bin/ with wrappers: while HOLDS/<cmd> exists,
 * a matching call writes its pid to HOLDS/<cmd>.at and waits until the file is removed,
 * then runs the real applet. Returns HOLDS.
 */
function installHolds(device: RigDevice): string {
  const holds = join(device.root, 'holds');
  mkdirSync(holds);
  const bb = readlinkSync(join(device.bin, 'sh'));
  for (const [cmd, match] of Object.entries(HOLD_MATCH)) {
    unlinkSync(join(device.bin, cmd));
    writeFileSync(join(device.bin, cmd), [
      `#!${bb} sh`,
      `h='${holds}'`,
      `if [ -e "$h/${cmd}" ] && ${match}; then`,
      `  echo $$ > "$h/${cmd}.at.$$" && mv "$h/${cmd}.at.$$" "$h/${cmd}.at"`,
      `  while [ -e "$h/${cmd}" ]; do sleep 0.02; done`,
      'fi',
      `exec '${bb}' ${cmd} "$@"`,
      '',
    ].join('\n'));
    chmodSync(join(device.bin, cmd), 0o755);
  }
  return holds;
}

function gone(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z');
  } catch {
    return true;
  }
}

/** pid → [ppid, comm] for every process */
function processTable(): Map<number, [number, string]> {
  const out = new Map<number, [number, string]>();
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = readFileSync(`/proc/${d}/stat`, 'utf8');
      const comm = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
      out.set(Number(d), [Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]), comm]);
    } catch { /* gone meanwhile */ }
  }
  return out;
}

/**
 * Cut every connection to the server: its per-connection processes and their server-side
 * children (OpenSSH's post-auth child holds the socket too), not the shells under them.
 */
function cutConnections(server: RigServer): number {
  const table = processTable();
  const victims = new Set<number>(server.sessionPids());
  for (let grew = true; grew;) {
    grew = false;
    for (const [pid, [ppid, comm]] of table) {
      if (!victims.has(pid) && victims.has(ppid) && /^(sshd|dropbear)/.test(comm)) { victims.add(pid); grew = true; }
    }
  }
  for (const pid of victims) { try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ } }
  return victims.size;
}

/** Segments in a folder: name → size. */
function segmentSizes(dir: string): Map<string, number> {
  const out = new Map<string, number>();
  if (!existsSync(dir)) return out;
  for (const n of readdirSync(dir).filter((x) => /^seg-\d{6}\.jsonl$/.test(x)).sort()) {
    try { out.set(n, statSync(join(dir, n)).size); } catch { /* acknowledged meanwhile */ }
  }
  return out;
}

interface SoakStatus { state: string; how: string; segmentsOnDevice: number; bytesOnDevice: number; rssKiB: number | null }

/** Poll `soak status --json` until `ok` holds; a status that fails ends the wait and the test at once. */
async function untilStatus(what: string, args: string[], opts: CliOptions, ok: (s: SoakStatus) => boolean, timeoutMs: number): Promise<SoakStatus> {
  let failed: CliResult | null = null;
  const got = await waitFor(what, async () => {
    const r = await runCli(['soak', 'status', ...args, '--json'], opts);
    if (r.code !== 0) { failed = r; return 'failed' as const; }
    const st = JSON.parse(r.stdout.toString()) as SoakStatus;
    return ok(st) ? st : null;
  }, timeoutMs, 300);
  if (got === 'failed') expect.fail(`refscope soak status exited ${failed!.code}: ${failed!.stderr}`);
  return got as SoakStatus;
}

for (const kind of ['openssh', 'dropbear'] as ServerKind[]) {
  const py = coreInterpreters().at(-1);
  // serverAvailable and the interpreters record their own skips (and fail under REFSCOPE_REQUIRE_RIG=1)
  const why = serverAvailable(kind) ?? (py ? null : 'no CPython 3.x under $(pyenv root)/versions');
  describe.skipIf(why !== null)(`soak on ${kind}${why ? ` (skipped: ${why})` : ''}`, () => {
    let device: RigDevice;
    let server: RigServer;
    let h: RigHome;
    let home: string;
    let env: NodeJS.ProcessEnv;
    let holds: string;
    beforeAll(async () => {
      device = makeDevice({ pythons: { python3: py!.path } });
      holds = installHolds(device);
      server = await startServer(kind, device);
      h = rigHome(server);
      home = h.dir;
      env = h.env;
    });
    afterAll(async () => {
      for (const cmd of Object.keys(HOLD_MATCH)) rmSync(join(holds ?? '/nonexistent', cmd), { force: true });
      // soaks outlive their connections by design: end any a failed test left running
      if (device) killDeviceRuns(device);
      await server?.stop();
      device?.cleanup();
      h?.cleanup();
    });

    it('starts detached, survives the connection, reports status, and stop collects everything once', async () => {
      // no --out anywhere: the session goes under ./refscope-sessions and status/collect/stop find it
      const opts = { env, cwd: home, timeoutMs: 60_000 };
      const started = await runCli(['soak', 'start', 'rigdev', '--push', join(ROOT, 'test', 'fixtures'), '--segment-kib', '8',
        '--', 'fixtures/callbacks.py', '--frames', '1000000', '--sleep', '0.005'], opts);
      expect(started.code, started.stderr).toBe(0);
      expect(started.stderr).toMatch(/soak started on rigdev \(pid \d+\)/);
      const [s] = readdirSync(join(home, 'refscope-sessions')).map((n) => join(home, 'refscope-sessions', n));
      // the start command and its connection are gone; the app goes on
      await untilStatus('a few segments on the device', ['rigdev'], opts, (j) => j.state === 'running' && j.segmentsOnDevice >= 3 && (j.rssKiB ?? 0) > 0, 60_000);
      const mid = await runCli(['soak', 'collect', 'rigdev'], opts);
      expect(mid.stderr).toMatch(/the soak is running: collect again any time/);
      // what is here so far decides: 1 when it already shows the leak, else 0; never a clean bill
      const midReport = JSON.parse(readFileSync(join(s!, 'report.json'), 'utf8')) as Report;
      expect(midReport.verdict).not.toBe('no-leak');
      expect(mid.code, mid.stderr).toBe(midReport.verdict === 'leak' ? 1 : 0);
      const stop = await runCli(['soak', 'stop', 'rigdev', '--json'], { ...opts, timeoutMs: 120_000 });
      expect(stop.code, stop.stderr).toBe(1);
      const report = JSON.parse(stop.stdout.toString()) as Report;
      expect(report.suspects[0]).toMatchObject({ kind: 'object-growth', type: 'widgets.Widget' });
      expect(report.session.lostRecords).toBe(0);
      const once = exactlyOnce(seqs(s!));
      expect(once.missing).toEqual([]);
      expect(once.duplicated).toEqual([]);
      const m = JSON.parse(readFileSync(join(s!, 'manifest.json'), 'utf8')) as Manifest;
      expect(m.state).toBe('complete');
      expect(m.soak?.ended).toMatch(/exited|signal/);
      expect(existsSync(m.soak!.runDir)).toBe(false);
      const after = await runCli(['soak', 'status', 'rigdev'], opts);
      expect(after.code, after.stderr).toBe(0);
      expect(after.stdout.toString()).toMatch(/collected/);
    });

    it('loses nothing and duplicates nothing with the connection cut and the host killed at every step of a collect', async () => {
      const s = join(home, 'churn');
      // small segments, a new one about every second: every collect has closed ones to move
      const started = await runCli(['soak', 'start', 'rigdev', '--push', 'test/fixtures', '--out', s, '--interval', '0.05', '--segment-kib', '8',
        '--', 'fixtures/clean_churn.py', '--frames', '10000000', '--sleep', '0.005'], { env, timeoutMs: 60_000 });
      expect(started.code, started.stderr).toBe(0);
      const m0 = JSON.parse(readFileSync(join(s, 'manifest.json'), 'utf8')) as Manifest;
      const onDevice = join(m0.soak!.runDir, 'segments');
      const here = join(s, 'segments');
      /** what a collect started now will do: a closed segment not here whole (tar), one at all (rm), the growing one longer there (cat) */
      const work = () => {
        const dev = [...segmentSizes(onDevice)];
        const have = segmentSizes(here);
        const closed = dev.slice(0, -1);
        const newest = dev.at(-1);
        return {
          du: true,
          tar: closed.some(([n, size]) => have.get(n) !== size),
          rm: closed.length > 0,
          cat: newest !== undefined && newest[1] > (have.get(newest[0]) ?? -1),
        };
      };
      // every step of the protocol cut (exit 3) and with the host killed (death by SIGKILL); a held
      // rm that goes on after the fault deletes what the host already has, one killed leaves it there
      const PLAN: { at: HoldCmd; fault: 'cut' | 'host'; then: 'go' | 'kill' }[] = [
        { at: 'du', fault: 'cut', then: 'go' },
        { at: 'tar', fault: 'cut', then: 'go' },
        { at: 'cat', fault: 'cut', then: 'go' },
        { at: 'rm', fault: 'cut', then: 'go' },
        { at: 'rm', fault: 'cut', then: 'kill' },
        { at: 'tar', fault: 'host', then: 'kill' },
        { at: 'rm', fault: 'host', then: 'go' },
        { at: 'rm', fault: 'host', then: 'kill' },
      ];
      let cuts = 0;
      let hostKills = 0;
      for (let i = 0; i < PLAN.length; i++) {
        const step = PLAN[i]!;
        const what = `collect ${i + 1} (${step.fault} at ${step.at})`;
        await waitFor(`the device to have work for a collect held at ${step.at}`, () => work()[step.at], 60_000);
        const hold = join(holds, step.at);
        const at = `${hold}.at`;
        rmSync(at, { force: true });
        writeFileSync(hold, '');
        const cli = startCli(['soak', 'collect', 'rigdev', '--out', s], { env, timeoutMs: 60_000 });
        let ended = false;
        void cli.result.then(() => { ended = true; });
        let pid = 0;
        try {
          await waitFor(`${what} to reach its hold`, () => ended || existsSync(at), 60_000, 20);
          if (!existsSync(at)) {
            const r = await cli.result;
            expect.fail(`${what} ended (exit ${r.code}) without reaching ${step.at}: ${r.stderr}`);
          }
          pid = Number(readFileSync(at, 'utf8'));
          if (step.fault === 'cut') {
            expect(cutConnections(server), `${what}: no connection to cut`).toBeGreaterThan(0);
            cuts++;
          } else {
            cli.child.kill('SIGKILL');
            hostKills++;
          }
          const r = await cli.result;
          if (step.fault === 'cut') {
            expect(r.code, `${what}: ${r.stderr}`).toBe(3);
            expect(r.stderr).toMatch(/lost the connection|could not read|could not acknowledge/);
          } else {
            expect({ code: r.code, signal: r.signal }, what).toEqual({ code: null, signal: 'SIGKILL' });
          }
        } finally {
          if (step.then === 'kill' && pid > 0) { try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ } }
          rmSync(hold, { force: true });
          if (!ended) cli.child.kill('SIGKILL');
        }
        await waitFor(`the held ${step.at} (pid ${pid}) to end`, () => gone(pid), 15_000);
      }
      expect([cuts, hostKills]).toEqual([5, 3]);
      // collection after the faults, then stop: the rest comes home, on the first try
      const stopped = await runCli(['soak', 'stop', 'rigdev', '--out', s], { env, timeoutMs: 120_000 });
      expect(stopped.code, stopped.stderr).toBe(0);
      const all = seqs(s);
      const once = exactlyOnce(all);
      expect(once.missing).toEqual([]);
      expect(once.duplicated).toEqual([]);
      const report = JSON.parse(readFileSync(join(s, 'report.json'), 'utf8')) as Report;
      expect(report.verdict).not.toBe('leak');
      expect(report.session.lostRecords).toBe(0);
      const m = JSON.parse(readFileSync(join(s, 'manifest.json'), 'utf8')) as Manifest;
      expect(report.session.ended, m.soak?.ended).toBe('interrupt');
      process.stderr.write(`soak ${kind}: ${once.n} records, ${cuts} connection cuts, ${hostKills} host kills, 0 lost, 0 duplicated\n`);
    }, 400_000);

    it('--until-verdict: the collect whose look decides stops the app; the report says when (defaults)', async () => {
      const s = join(home, 'until');
      const opts = { env, timeoutMs: 60_000 };
      const started = await runCli(['soak', 'start', 'rigdev', '--push', 'test/fixtures', '--out', s, '--until-verdict',
        '--', 'fixtures/callbacks.py', '--frames', '10000000', '--sleep', '0.005'], opts);
      expect(started.code, started.stderr).toBe(0);
      // a farm's schedule: collect now and again until a collect decides (each is one look)
      let last: CliResult | null = null;
      const decided = await waitFor('a collect that decides', async () => {
        last = await runCli(['soak', 'collect', 'rigdev', '--out', s, '--json'], { ...opts, timeoutMs: 120_000 });
        if (last.code !== 0 && last.code !== 1) return 'failed' as const;
        return /--until-verdict: leak decided at look \d+; the app was stopped/.test(last.stderr.toString()) ? last : null;
      }, 120_000, 1000);
      if (decided === 'failed') expect.fail(`refscope soak collect exited ${last!.code}: ${last!.stderr}`);
      const r = decided as CliResult;
      expect(r.code, r.stderr.toString()).toBe(1);
      const report = JSON.parse(r.stdout.toString()) as Report;
      expect(report.suspects[0]).toMatchObject({ kind: 'object-growth', type: 'widgets.Widget' });
      const uv = report.session.untilVerdict;
      expect(uv?.verdict).toBe('leak');
      expect(uv!.look).toBeGreaterThanOrEqual(1);
      // everything collected, once; the app was stopped by the deciding collect, not run to its end
      expect(exactlyOnce(seqs(s)).missing).toEqual([]);
      const m = JSON.parse(readFileSync(join(s, 'manifest.json'), 'utf8')) as Manifest;
      expect(m.state).toBe('complete');
      expect(m.soak?.untilVerdict?.looks).toBe(uv!.look);
      expect(m.soak?.ended).toMatch(/exited|signal/);
      expect(existsSync(m.soak!.runDir)).toBe(false);
      expect(report.session.marks?.frame ?? 0).toBeLessThan(10_000_000);
      const text = readFileSync(join(s, 'report.txt'), 'utf8');
      expect(text).toMatch(/decided\s+leak after/);
    }, 300_000);

    it('status says so when the app was killed (out of memory or kill -9) and collect still gets everything', async () => {
      const s = join(home, 'killed');
      const started = await runCli(['soak', 'start', 'rigdev', '--push', 'test/fixtures', '--out', s, '--interval', '0.05', '--json',
        '--', 'fixtures/clean_churn.py', '--frames', '10000000'], { env, timeoutMs: 60_000 });
      expect(started.code, started.stderr).toBe(0);
      const { pid } = JSON.parse(started.stdout.toString()) as { pid: number };
      await untilStatus('records on the device', ['rigdev', '--out', s], { env }, (st) => st.bytesOnDevice > 2000, 60_000);
      process.kill(pid, 'SIGKILL'); // the device is this machine: the OOM killer's signal
      await untilStatus('the launcher to record the kill', ['rigdev', '--out', s], { env }, (st) => st.state === 'ended' && /SIGKILL/.test(st.how), 30_000);
      const c = await runCli(['soak', 'collect', 'rigdev', '--out', s, '--json'], { env, timeoutMs: 60_000 });
      // a clean app: no leak, exit 0, however it ended
      expect(c.code, c.stderr).toBe(0);
      const report = JSON.parse(c.stdout.toString()) as Report;
      expect(report.verdict).not.toBe('leak');
      expect(report.session.ended).toBe('abnormal');
      expect(exactlyOnce(seqs(s)).missing).toEqual([]);
      const m = JSON.parse(readFileSync(join(s, 'manifest.json'), 'utf8')) as Manifest;
      expect(m.soak?.ended).toMatch(/SIGKILL/);
    });
  });
}
