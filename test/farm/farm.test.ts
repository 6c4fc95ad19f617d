/**
 * `refscope farm` through the built CLI on a farm of real dropbear "devices", one server
 * per loopback port.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FarmSummary } from '../../src/farm/run.js';
import { ROOT, runCli, startCli } from '../helpers/cli.js';
import { coreInterpreters } from '../helpers/pythons.js';
import { makeDevice, type RigDevice } from '../rig/device.js';
import { serverAvailable, startServer, type RigServer } from '../rig/servers.js';

const DEVICES = 20;
const why = serverAvailable('dropbear');
const py = coreInterpreters().at(-1);

describe.skipIf(why !== null || !py)(`farm of ${DEVICES} dropbear devices${why ? ` (skipped: ${why})` : ''}`, () => {
  const devices: RigDevice[] = [];
  const servers: RigServer[] = [];
  let work: string;
  let farmFile: string;
  beforeAll(async () => {
    work = mkdtempSync(join(tmpdir(), 'refscope-farm-'));
    for (let i = 0; i < DEVICES; i++) {
      const d = makeDevice({ pythons: { python3: py!.path } });
      devices.push(d);
      servers.push(await startServer('dropbear', d));
    }
    writeFileSync(join(work, 'known_hosts'), servers.map((s) => readFileSync(s.knownHosts, 'utf8')).join(''));
    const lines = ['devices:'];
    servers.forEach((s, i) => {
      lines.push(`  - { name: dev${String(i).padStart(2, '0')}, host: 127.0.0.1, port: ${s.port}, user: root, tags: [${i % 2 ? 'odd' : 'even'}], identityFile: ${s.identityFile}, knownHosts: known_hosts }`);
    });
    lines.push('apps:', `  - { name: callbacks, push: ${join(ROOT, 'test', 'fixtures')}, script: fixtures/callbacks.py, args: [--frames, 300], interval: 0.1, censusBudget: 0.2 }`);
    lines.push('schedules:', '  - { app: callbacks, cron: "*/2 * * * * *" }');
    farmFile = join(work, 'farm.yaml');
    writeFileSync(farmFile, `${lines.join('\n')}\n`);
  }, 180_000);
  afterAll(async () => {
    for (const s of servers) await s.stop();
    for (const d of devices) d.cleanup();
    rmSync(work, { recursive: true, force: true });
  });

  it(`runs every device with concurrency 8: all reports, a summary and a valid merged JUnit`, async () => {
    const out = join(work, 'all');
    const t0 = Date.now();
    const r = await runCli(['farm', 'run', farmFile, '--concurrency', '8', '--out', out, '--json'], { timeoutMs: 600_000 });
    const wall = (Date.now() - t0) / 1000;
    expect(r.code, r.stderr).toBe(1);
    const summary = JSON.parse(r.stdout.toString()) as FarmSummary;
    expect(summary.results).toHaveLength(DEVICES);
    for (const res of summary.results) {
      expect(res, res.error ?? '').toMatchObject({ verdict: 'leak', top: 'widgets.Widget (object-growth)' });
      expect(existsSync(join(res.session, 'report.json'))).toBe(true);
    }
    const junit = readFileSync(join(out, 'junit.xml'), 'utf8');
    expect((junit.match(/<testsuite /g) ?? []).length).toBe(DEVICES);
    const xsd = join(ROOT, 'test', 'report', 'junit.xsd');
    if (existsSync('/usr/bin/xmllint') && existsSync(xsd)) {
      const v = spawnSync('xmllint', ['--noout', '--schema', xsd, join(out, 'junit.xml')], { encoding: 'utf8' });
      expect(v.status, v.stderr).toBe(0);
    }
    process.stderr.write(`farm: ${DEVICES} devices, concurrency 8: ${wall.toFixed(1)} s wall, controller peak RSS ${(summary.controllerMaxRssKiB / 1024).toFixed(0)} MiB\n`);
  }, 600_000);

  it('shards split the farm and merge joins them; one unreachable device gives exit 3 while the rest still run', async () => {
    const small = join(work, 'small.yaml');
    const text = readFileSync(farmFile, 'utf8').split('\n');
    const kept = [text[0]!, ...text.filter((l) => /name: dev0[0-3]/.test(l)), '  - { name: gone, host: 127.0.0.1, port: 1, user: root, knownHosts: known_hosts }',
      ...text.slice(text.indexOf('apps:'), text.indexOf('schedules:'))];
    writeFileSync(small, `${kept.join('\n')}\n`);
    const out = join(work, 'sharded');
    const s1 = await runCli(['farm', 'run', small, '--shard', '1/2', '--out', out], { timeoutMs: 300_000 });
    const early = await runCli(['farm', 'merge', small, '--out', out], { timeoutMs: 60_000 });
    expect(early.code).toBe(2);
    expect(early.stderr).toMatch(/shard\(s\) 2\/2 missing/);
    const s2 = await runCli(['farm', 'run', small, '--shard', '2/2', '--out', out], { timeoutMs: 300_000 });
    expect([s1.code, s2.code].sort()).toEqual([1, 3]);
    const m = await runCli(['farm', 'merge', small, '--out', out, '--json'], { timeoutMs: 60_000 });
    expect(m.code).toBe(3);
    const merged = JSON.parse(m.stdout.toString()) as FarmSummary;
    expect(merged.results.map((x) => x.device)).toEqual(['dev00', 'dev01', 'dev02', 'dev03', 'gone']);
    expect(merged.results.find((x) => x.device === 'gone')).toMatchObject({ verdict: 'unreachable', error: expect.stringMatching(/cannot reach 127\.0\.0\.1:1/) });
  }, 600_000);

  it('schedules on cron with a lock: a second scheduler is refused, overlapping times are missed, not run twice', async () => {
    const small = join(work, 'one.yaml');
    const text = readFileSync(farmFile, 'utf8').split('\n');
    writeFileSync(small, `${[text[0]!, text.find((l) => /name: dev00/.test(l))!, ...text.slice(text.indexOf('apps:'))].join('\n')}\n`);
    const out = join(work, 'sched');
    const first = startCli(['farm', 'schedule', small, '--out', out, '--max-runs', '2'], { timeoutMs: 300_000 });
    await first.waitForStderr(/callbacks on '\*\/2 \* \* \* \* \*'/, 30_000);
    const second = await runCli(['farm', 'schedule', small, '--out', out, '--max-runs', '1'], { timeoutMs: 30_000 });
    expect(second.code).toBe(2);
    expect(second.stderr).toMatch(/another farm scheduler \(pid \d+\) holds/);
    const r = await first.result;
    expect(r.code, r.stderr).toBe(0);
    // a run of ~5 s every 2 s: the times that fall inside a run are missed, and said so
    expect(r.stderr).toMatch(/farm schedule: missed callbacks at .*its previous run .* is still going/);
    expect(r.stderr).toMatch(/farm schedule: 2 run\(s\), \d+ missed/);
    const starts = (r.stderr.match(/callbacks starts/g) ?? []).length;
    expect(starts).toBe(2);
    execFileSync('true');
  }, 300_000);
});
