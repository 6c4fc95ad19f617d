/**
 * The remote-run device scripts under busybox sh and real interpreters: the launch
 * script's pid file, exit sentinel and signal relay; the follower's stream of whole lines
 * with segment headers, ending when the sentinel appears.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { coreInterpreters } from '../helpers/pythons.js';
import { busyboxPath } from '../rig/device.js';
import { waitFor } from '../rig/wait.js';

const LAUNCH = resolve('device-scripts/refscope_launch.sh');
const FOLLOW = resolve('device-scripts/refscope_follow.py');

// a stand-in for the probe: writes N records over two segments (one partial line last), then exits with CODE
const WRITER = `
import os, sys, time
args = sys.argv[1:]
out = args[args.index('--out') + 1]
n = int(args[args.index('--') + 1]); code = int(args[args.index('--') + 2])
for i in range(n):
    name = 'seg-%06d.jsonl' % (1 + (i >= n // 2))
    f = open(os.path.join(out, name), 'a'); f.write('{"seq":%d}\\n' % i); f.close()
    time.sleep(0.01)
if code == 99:
    while True: time.sleep(0.05)
f = open(os.path.join(out, 'seg-000002.jsonl'), 'a'); f.write('{"seq":'); f.close()
sys.exit(code)
`;

for (const py of coreInterpreters()) {
  describe(`launch + follow under busybox sh, python ${py.label}`, () => {
    let dir: string;
    let writer: string;
    const sh = busyboxPath();
    beforeAll(() => {
      dir = mkdtempSync(join(tmpdir(), 'refscope-launch-'));
      writer = join(dir, 'writer.py');
      writeFileSync(writer, WRITER);
    });
    afterAll(() => rmSync(dir, { recursive: true, force: true }));

    it('records the pid and the exit status, and the follower streams every whole line once', () => {
      const run = join(dir, 'run1');
      const r = spawnSync(sh, ['sh', LAUNCH, run, py.path, writer, '--out', join(run, 'segments'), '--', '40', '3'], { encoding: 'utf8' });
      expect(r.status).toBe(3);
      expect(readFileSync(join(run, 'exit'), 'utf8').trim()).toBe('3');
      expect(Number(readFileSync(join(run, 'pid'), 'utf8'))).toBeGreaterThan(1);
      const f = spawnSync(py.path, [FOLLOW, join(run, 'segments'), join(run, 'exit')], { encoding: 'utf8', timeout: 20_000 });
      expect(f.status).toBe(0);
      const lines = f.stdout.split('\n').filter(Boolean);
      expect(lines.filter((l) => l.startsWith('#'))).toEqual(['#seg-000001.jsonl 0', '#seg-000002.jsonl 0']);
      const seqs = lines.filter((l) => !l.startsWith('#')).map((l) => (JSON.parse(l) as { seq: number }).seq);
      expect(seqs).toEqual(Array.from({ length: 40 }, (_, i) => i)); // the partial last line is not sent
    });

    it('relays SIGTERM to the probe by pid and still writes the sentinel', async () => {
      const run = join(dir, 'run2');
      const child = spawn(sh, ['sh', LAUNCH, run, py.path, writer, '--out', join(run, 'segments'), '--', '4', '99'], { stdio: 'ignore' });
      const pid = await waitFor('pid file', () => existsSync(join(run, 'pid')) && Number(readFileSync(join(run, 'pid'), 'utf8')));
      await waitFor('first records', () => existsSync(join(run, 'segments', 'seg-000002.jsonl')));
      process.kill(pid, 'SIGTERM');
      const status = await new Promise<number | null>((res) => child.once('exit', (c) => res(c)));
      expect(status).toBe(143);
      expect(readFileSync(join(run, 'exit'), 'utf8').trim()).toBe('143');
    });

    it('a detached probe started with --restore-sigint stops cleanly on SIGINT by pid', async () => {
      const run = join(dir, 'run3');
      const probe = resolve('device-scripts/refscope_probe.py');
      const app = join(dir, 'forever.py');
      writeFileSync(app, 'import time\nwhile True:\n    time.sleep(0.01)\n');
      const r = spawnSync(sh, ['sh', LAUNCH, '--detach', run, py.path, probe, '--restore-sigint', '--out', join(run, 'segments'), '--interval', '0.05', '--', app], { encoding: 'utf8' });
      expect(r.stdout).toMatch(/^detached \d+/);
      const pid = await waitFor('pid file', () => existsSync(join(run, 'pid')) && Number(readFileSync(join(run, 'pid'), 'utf8')));
      // the launcher's shell left SIGINT ignored for its background job; the probe took it back
      await waitFor('the probe running the app', () => existsSync(join(run, 'segments', 'seg-000001.jsonl'))
        && readFileSync(join(run, 'segments', 'seg-000001.jsonl'), 'utf8').includes('"k":"sample"'));
      process.kill(pid, 'SIGINT');
      await waitFor('exit sentinel', () => existsSync(join(run, 'exit')), 30_000);
      const lines = readFileSync(join(run, 'segments', 'seg-000001.jsonl'), 'utf8').trim().split('\n');
      expect(JSON.parse(lines.at(-1)!)).toMatchObject({ k: 'end', how: 'interrupt' });
      expect(readFileSync(join(run, 'app.err'), 'utf8')).toMatch(/KeyboardInterrupt/);
    });

    it('the follower resumes from a segment and offset', () => {
      const run = join(dir, 'run1');
      const first = readFileSync(join(run, 'segments', 'seg-000001.jsonl'));
      const offset = first.indexOf('\n') + 1;
      const f = spawnSync(py.path, [FOLLOW, join(run, 'segments'), join(run, 'exit'), 'seg-000001.jsonl', String(offset)], { encoding: 'utf8', timeout: 20_000 });
      const lines = f.stdout.split('\n').filter(Boolean);
      expect(lines[0]).toBe(`#seg-000001.jsonl ${offset}`);
      expect(JSON.parse(lines[1]!)).toEqual({ seq: 1 });
    });
  });
}
