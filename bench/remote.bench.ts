/**
 * Remote figures, each measured in one run against real servers on loopback:
 *  - deploy time with an unchanged probe (one round trip, no payload) vs a changed one,
 *    on OpenSSH and on dropbear (median of several deploys each);
 *  - records per second the live stream (refscope_follow.py over an exec channel)
 *    sustains over dropbear and OpenSSH, for a session already written on the device.
 */
import { cpSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, posix } from 'node:path';
import { performance } from 'node:perf_hooks';
import { it } from 'vitest';
import { deviceScriptsDir, probePayload } from '../src/device/scripts.js';
import { deploy, resolveDeviceDir } from '../src/device/deploy.js';
import { SshTransport } from '../src/transport/ssh.js';
import { coreInterpreters } from '../test/helpers/pythons.js';
import { makeDevice } from '../test/rig/device.js';
import { serverAvailable, startServer, type ServerKind } from '../test/rig/servers.js';

const REPS = 7;
const RECORDS = 200_000;

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

it('remote: deploy and live stream', async () => {
  const py = coreInterpreters().at(-1);
  const rows: string[] = [];
  for (const kind of ['openssh', 'dropbear'] as ServerKind[]) {
    const why = serverAvailable(kind);
    if (why || !py) { rows.push(`${kind}: skipped (${why ?? 'no python'})`); continue; }
    const device = makeDevice({ pythons: { python3: py.path } });
    const server = await startServer(kind, device);
    const t = await SshTransport.connect({
      target: { spec: kind, host: '127.0.0.1', port: server.port, user: 'root', identityFiles: [server.identityFile], proxyJump: null, connectTimeoutSeconds: 10, serverAliveIntervalSeconds: 5 },
      knownHostsFiles: [server.knownHosts],
    });
    const scratch = mkdtempSync(join(tmpdir(), 'refscope-bench-'));
    try {
      const base = await resolveDeviceDir(t);
      const payload = probePayload();
      await deploy(t, payload, base, 'probe');
      const unchanged: number[] = [];
      const changed: number[] = [];
      let bytes = 0;
      for (let i = 0; i < REPS; i++) {
        let t0 = performance.now();
        await deploy(t, probePayload(), base, 'probe');
        unchanged.push(performance.now() - t0);
        const copy = join(scratch, `p${i}`);
        cpSync(deviceScriptsDir(), copy, { recursive: true });
        writeFileSync(join(copy, 'refscope_probe.py'), `# bench edit ${i}\n`, { flag: 'a' });
        t0 = performance.now();
        const r = await deploy(t, probePayload(copy), base, 'probe');
        changed.push(performance.now() - t0);
        bytes = r.bytesSent;
      }
      rows.push(`${kind.padEnd(8)} deploy unchanged ${median(unchanged).toFixed(1)} ms (1 round trip, 0 bytes)  changed ${median(changed).toFixed(1)} ms (${bytes} bytes)  ratio ${(median(changed) / median(unchanged)).toFixed(1)}x`);

      // a session already on the device: RECORDS sample-like lines over 4 segments, and the exit sentinel
      const runDir = posix.join(base, 'bench-run');
      const gen = [
        'import os, sys',
        'd = sys.argv[1]',
        'os.makedirs(os.path.join(d, "segments"))',
        `n = ${RECORDS}`,
        'for s in range(4):',
        '    f = open(os.path.join(d, "segments", "seg-%06d.jsonl" % (s + 1)), "w")',
        '    for i in range(s * n // 4, (s + 1) * n // 4):',
        '        f.write(\'{"seq":%d,"k":"sample","t":%.3f,"rss":10432,"peak":10500,"gc":[312,4,1],"marks":{"frame":%d},"cpu":[1.93,0.08],"probeCpu":0.041,"threads":2,"watch":[]}\\n\' % (i, i * 0.1, i))',
        '    f.close()',
        'open(os.path.join(d, "exit"), "w").write("0\\n")',
      ].join('\n');
      await t.run(['rm', '-rf', runDir]);
      const g = await t.run([py.path, '-c', gen, runDir], { timeoutMs: 120_000 });
      if (g.code !== 0) throw new Error(g.stderr);
      const follow = posix.join((await deploy(t, probePayload(), base, 'probe')).dir, 'refscope_follow.py');
      const t0 = performance.now();
      const proc = await t.spawn([py.path, follow, posix.join(runDir, 'segments'), posix.join(runDir, 'exit')]);
      let lines = 0;
      let received = 0;
      proc.stdout!.on('data', (b: Buffer) => {
        received += b.length;
        for (let i = b.indexOf(10); i >= 0; i = b.indexOf(10, i + 1)) lines++;
      });
      await proc.exited;
      const secs = (performance.now() - t0) / 1000;
      const records = lines - 4; // one header line per segment
      rows.push(`${kind.padEnd(8)} live stream ${records} records in ${secs.toFixed(2)} s = ${Math.round(records / secs)} records/s (${(received / 1048576 / secs).toFixed(1)} MiB/s)`);
      await t.run(['rm', '-rf', runDir]);
    } finally {
      await t.close();
      await server.stop();
      device.cleanup();
      rmSync(scratch, { recursive: true, force: true });
    }
  }
  process.stdout.write(`\nrefscope remote bench (loopback, ${py ? `device python ${py.version}` : 'no python'})\n${rows.map((r) => `  ${r}`).join('\n')}\n\n`);
});
