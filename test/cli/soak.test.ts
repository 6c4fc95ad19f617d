/**
 * `refscope soak` against real sshd and dropbear devices: detached runs that outlive the
 * connection, collected any time, losslessly — with the connection cut and the host
 * killed mid-collect, every sequence number arrives exactly once.
 */
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Report } from '../../src/report/types.js';
import type { Manifest } from '../../src/session/manifest.js';
import { ROOT, runCli, startCli } from '../helpers/cli.js';
import { coreInterpreters } from '../helpers/pythons.js';
import { killDeviceRuns, makeDevice, type RigDevice } from '../rig/device.js';
import { serverAvailable, startServer, type RigServer, type ServerKind } from '../rig/servers.js';
import { rigHome } from '../rig/home.js';
import { waitFor } from '../rig/wait.js';

/** every record's seq in the session's segment files, in file order */
function seqs(session: string): number[] {
  const dir = join(session, 'segments');
  const out: number[] = [];
  for (const f of readdirSync(dir).filter((n) => /^seg-\d+\.jsonl$/.test(n)).sort()) {
    for (const line of readFileSync(join(dir, f), 'utf8').split('\n')) {
      if (line.trim()) out.push((JSON.parse(line) as { seq: number }).seq);
    }
  }
  return out;
}

function exactlyOnce(xs: number[]): { n: number; missing: number[]; duplicated: number[] } {
  const seen = new Map<number, number>();
  for (const x of xs) seen.set(x, (seen.get(x) ?? 0) + 1);
  const max = Math.max(...xs);
  const missing: number[] = [];
  for (let i = 0; i <= max; i++) if (!seen.has(i)) missing.push(i);
  return { n: xs.length, missing, duplicated: [...seen].filter(([, c]) => c > 1).map(([s]) => s) };
}

for (const kind of ['openssh', 'dropbear'] as ServerKind[]) {
  const why = serverAvailable(kind);
  const py = coreInterpreters().at(-1);
  describe.skipIf(why !== null || !py)(`soak on ${kind}${why ? ` (skipped: ${why})` : ''}`, () => {
    let device: RigDevice;
    let server: RigServer;
    let home: string;
    let env: NodeJS.ProcessEnv;
    beforeAll(async () => {
      device = makeDevice({ pythons: { python3: py!.path } });
      server = await startServer(kind, device);
      const h = rigHome(server);
      home = h.dir;
      env = h.env;
    });
    afterAll(async () => {
      // soaks outlive their connections by design: end any a failed test left running
      if (device) killDeviceRuns(device);
      await server?.stop();
      device?.cleanup();
      rmSync(home, { recursive: true, force: true });
    });

    it('starts detached, survives the connection, reports status, and stop collects everything once', async () => {
      // no --out anywhere: the session goes under ./refscope-sessions and status/collect/stop find it
      const opts = { env, cwd: home, timeoutMs: 60_000 };
      const started = await runCli(['soak', 'start', 'rigdev', '--push', join(ROOT, 'test', 'fixtures'), '--interval', '0.05', '--census-budget', '0.2', '--segment-kib', '8',
        '--', 'fixtures/callbacks.py', '--frames', '1000000', '--sleep', '0.005'], opts);
      expect(started.code, started.stderr).toBe(0);
      expect(started.stderr).toMatch(/soak started on rigdev \(pid \d+\)/);
      const [s] = readdirSync(join(home, 'refscope-sessions')).map((n) => join(home, 'refscope-sessions', n));
      // the start command and its connection are gone; the app goes on
      await waitFor('a few segments on the device', async () => {
        const st = await runCli(['soak', 'status', 'rigdev', '--json'], opts);
        const j = JSON.parse(st.stdout.toString()) as { state: string; segmentsOnDevice: number; rssKiB: number };
        return j.state === 'running' && j.segmentsOnDevice >= 3 && j.rssKiB > 0;
      }, 60_000, 300);
      const mid = await runCli(['soak', 'collect', 'rigdev'], opts);
      expect([0, 1], mid.stderr).toContain(mid.code);
      expect(mid.stderr).toMatch(/the soak is running: collect again any time/);
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
      expect(after.stdout.toString()).toMatch(/collected/);
    });

    it('loses nothing and duplicates nothing with the connection cut and the host killed 20 times', async () => {
      const s = join(home, 'churn');
      const started = await runCli(['soak', 'start', 'rigdev', '--push', 'test/fixtures', '--out', s, '--interval', '0.05', '--census-budget', '0.2', '--segment-kib', '8',
        '--', 'fixtures/clean_churn.py', '--frames', '10000000', '--sleep', '0.005'], { env, timeoutMs: 60_000 });
      expect(started.code, started.stderr).toBe(0);
      let cuts = 0;
      let hostKills = 0;
      for (let i = 0; i < 20; i++) {
        const cli = startCli(['soak', 'collect', 'rigdev', '--out', s], { env, timeoutMs: 60_000 });
        // let it get somewhere: connected, listing, or mid-transfer
        await new Promise((r) => setTimeout(r, 150 + ((i * 97) % 600)));
        if (i % 4 === 3) {
          cli.child.kill('SIGKILL');
          hostKills++;
        } else {
          for (const pid of server.sessionPids()) { try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ } }
          cuts++;
        }
        const r = await cli.result;
        expect([0, 1, 3, null], r.stderr).toContain(r.code);
      }
      expect(cuts + hostKills).toBe(20);
      // collection after the faults, then stop: the rest comes home
      let stopped = await runCli(['soak', 'stop', 'rigdev', '--out', s], { env, timeoutMs: 120_000 });
      if (stopped.code === 3) stopped = await runCli(['soak', 'stop', 'rigdev', '--out', s], { env, timeoutMs: 120_000 });
      expect([0, 1], stopped.stderr).toContain(stopped.code);
      const all = seqs(s);
      const once = exactlyOnce(all);
      expect(once.missing).toEqual([]);
      expect(once.duplicated).toEqual([]);
      const report = JSON.parse(readFileSync(join(s, 'report.json'), 'utf8')) as Report;
      expect(report.session.lostRecords).toBe(0);
      const m = JSON.parse(readFileSync(join(s, 'manifest.json'), 'utf8')) as Manifest;
      expect(report.session.ended, m.soak?.ended).toBe('interrupt');
      process.stderr.write(`soak ${kind}: ${once.n} records, ${cuts} connection cuts, ${hostKills} host kills, 0 lost, 0 duplicated\n`);
    }, 400_000);

    it('status says so when the app was killed (out of memory or kill -9) and collect still gets everything', async () => {
      const s = join(home, 'killed');
      const started = await runCli(['soak', 'start', 'rigdev', '--push', 'test/fixtures', '--out', s, '--interval', '0.05', '--json',
        '--', 'fixtures/clean_churn.py', '--frames', '10000000'], { env, timeoutMs: 60_000 });
      expect(started.code, started.stderr).toBe(0);
      const { pid } = JSON.parse(started.stdout.toString()) as { pid: number };
      await waitFor('records on the device', async () => {
        const st = JSON.parse((await runCli(['soak', 'status', 'rigdev', '--out', s, '--json'], { env })).stdout.toString()) as { bytesOnDevice: number };
        return st.bytesOnDevice > 2000;
      }, 60_000, 300);
      process.kill(pid, 'SIGKILL'); // the device is this machine: the OOM killer's signal
      await waitFor('the launcher to record the kill', async () => {
        const st = JSON.parse((await runCli(['soak', 'status', 'rigdev', '--out', s, '--json'], { env })).stdout.toString()) as { state: string; how: string };
        return st.state === 'ended' && /SIGKILL/.test(st.how);
      }, 30_000, 300);
      const c = await runCli(['soak', 'collect', 'rigdev', '--out', s, '--json'], { env, timeoutMs: 60_000 });
      expect([0, 1]).toContain(c.code);
      const report = JSON.parse(c.stdout.toString()) as Report;
      expect(report.session.ended).toBe('abnormal');
      expect(exactlyOnce(seqs(s)).missing).toEqual([]);
      const m = JSON.parse(readFileSync(join(s, 'manifest.json'), 'utf8')) as Manifest;
      expect(m.soak?.ended).toMatch(/SIGKILL/);
    });
  });
}
