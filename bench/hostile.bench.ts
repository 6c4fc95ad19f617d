/**
 * The hostile device's heavy cases at full size (test/security/hostile-device.test.ts runs
 * them small): the built CLI against a rig device (test/rig/hostile.ts) whose final pull
 * sends an entry claiming 2 GiB then endless zeros, or one segment that is one 206 MB line;
 * whose interpreter discovery answers endlessly (`yes`); whose live follower sends one
 * endless line while the app runs for 30 s. For each: host peak RSS (VmHWM, polled every
 * 50 ms), wall time and exit code, on OpenSSH and on dropbear.
 *
 *   npx vitest run --config bench/vitest.config.ts bench/hostile.bench.ts
 *
 * Not part of `npm test` nor of `npm run bench`. Needs the rig (root, sshd, dropbear,
 * busybox) and a built dist/.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { it } from 'vitest';
import { killCli, ROOT, startCli } from '../test/helpers/cli.js';
import { watchPeak } from '../test/helpers/peak.js';
import { coreInterpreters } from '../test/helpers/pythons.js';
import { killDeviceRuns } from '../test/rig/device.js';
import { makeHostileDevice, type HostileFlag } from '../test/rig/hostile.js';
import { rigHome } from '../test/rig/home.js';
import { serverAvailable, startServer, type ServerKind } from '../test/rig/servers.js';

const FIXTURES = join(ROOT, 'test', 'fixtures');
const SHORT_APP = ['fixtures/steady.py', '--frames', '150'];

interface Case { name: string; flag: HostileFlag; args: string[]; timeoutMs: number }

const CASES: Case[] = [
  { name: 'pull: entry header claims 2 GiB, then endless zeros', flag: 'pull-bomb', args: ['--', ...SHORT_APP], timeoutMs: 180_000 },
  { name: 'pull: one segment that is one 206 MB line', flag: 'pull-line', args: ['--', ...SHORT_APP], timeoutMs: 180_000 },
  { name: 'discovery answers endlessly (yes)', flag: 'discover-endless', args: ['--', ...SHORT_APP], timeoutMs: 180_000 },
  { name: 'live follower: one endless line for 30 s', flag: 'follow-endless', args: ['--duration', '30', '--', 'fixtures/steady.py', '--frames', '100000000'], timeoutMs: 180_000 },
];

it('hostile device: peak memory and time at full size', async () => {
  const py = coreInterpreters().at(-1);
  const rows: string[] = [];
  for (const kind of ['openssh', 'dropbear'] as ServerKind[]) {
    const why = serverAvailable(kind);
    if (why || !py) { rows.push(`${kind}: skipped (${why ?? 'no python'})`); continue; }
    const work = mkdtempSync(join(tmpdir(), 'refscope-hostile-bench-'));
    const hd = makeHostileDevice({ python3: py.path }, { escapeDir: join(work, 'escape'), bombBytes: 2 * 1024 ** 3, lineBytes: 206_000_000 });
    const server = await startServer(kind, hd.device);
    const home = rigHome(server);
    try {
      for (const c of CASES) {
        hd.disableAll();
        hd.enable(c.flag);
        const cwd = mkdtempSync(join(work, 'cwd-'));
        const t0 = Date.now();
        const cli = startCli(['run', 'rigdev', '--push', FIXTURES, '--out', 'session', ...c.args], { cwd, env: home.env, timeoutMs: c.timeoutMs });
        const peak = watchPeak(cli.child.pid!);
        const r = await cli.result.finally(() => killCli(cli.child, false));
        const mb = peak.stop();
        const secs = (Date.now() - t0) / 1000;
        const said = r.stderr.split('\n').find((l) => /^refscope: (?!session|reports written)/.test(l)) ?? '';
        rows.push(`${kind.padEnd(8)}  ${c.name.padEnd(52)}  exit ${r.timedOut ? 'TIMEOUT' : String(r.code)}  ${secs.toFixed(1).padStart(5)} s  peak ${mb.toFixed(0).padStart(4)} MiB  ${said.slice(0, 140)}`);
        killDeviceRuns(hd.device);
      }
    } finally {
      killDeviceRuns(hd.device);
      await server.stop();
      hd.device.cleanup();
      home.cleanup();
      rmSync(work, { recursive: true, force: true });
    }
  }
  process.stdout.write(`\nrefscope hostile-device bench (loopback; host peak RSS = VmHWM of the CLI)\n${rows.map((r) => `  ${r}`).join('\n')}\n\n`);
});
