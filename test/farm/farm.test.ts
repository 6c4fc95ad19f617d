/**
 * `refscope farm` through the built CLI on a farm of real dropbear "devices", one server
 * per loopback port.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FarmSummary } from '../../src/farm/run.js';
import { ROOT, runCli, startCli } from '../helpers/cli.js';
import { skipWhy } from '../helpers/prereq.js';
import { coreInterpreters } from '../helpers/pythons.js';
import { makeDevice, type RigDevice } from '../rig/device.js';
import { serverAvailable, startServer, type RigServer } from '../rig/servers.js';
import { waitFor } from '../rig/wait.js';

const DEVICES = 20;
const py = coreInterpreters().at(-1);
// both record their skip (and fail under REFSCOPE_REQUIRE_RIG=1) themselves
const why = serverAvailable('dropbear') ?? (py ? null : 'no CPython 3.x under $(pyenv root)/versions');
const XSD = join(ROOT, 'test', 'report', 'junit.xsd');
const noXmllint = skipWhy('xmllint', spawnSync('xmllint', ['--version']).status === 0 ? null : 'xmllint not on PATH (apt-get install libxml2-utils)');

/** An app the test holds running until it creates the gate file: overlap on our say-so, not on timing. */
const GATED_APP = [
  '# Says it is waiting (argv[1].waiting), then runs until the file argv[1] exists, marking frames.',
  'import os, sys, time',
  'try:',
  '    from refscope import mark',
  'except ImportError:',
  '    def mark(name): pass',
  "open(sys.argv[1] + '.waiting', 'a').close()",
  'while not os.path.exists(sys.argv[1]):',
  '    time.sleep(0.05)',
  "    mark('frame')",
  '',
].join('\n');

describe.skipIf(why !== null)(`farm of ${DEVICES} dropbear devices${why ? ` (skipped: ${why})` : ''}`, () => {
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
    lines.push('apps:', `  - { name: callbacks, push: ${join(ROOT, 'test', 'fixtures')}, script: fixtures/callbacks.py, args: [--frames, 150] }`);
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
    process.stderr.write(`farm: ${DEVICES} devices, concurrency 8: ${wall.toFixed(1)} s wall, controller peak RSS ${(summary.controllerMaxRssKiB / 1024).toFixed(0)} MiB\n`);
  }, 600_000);

  it.skipIf(noXmllint !== null)(`the merged JUnit of that run is valid against the schema${noXmllint ? ` (skipped: ${noXmllint})` : ''}`, () => {
    const v = spawnSync('xmllint', ['--noout', '--schema', XSD, join(work, 'all', 'junit.xml')], { encoding: 'utf8' });
    expect(v.status, v.stderr).toBe(0);
  });

  it('shards split the farm and merge joins them; one unreachable device gives exit 3 while the rest still run', async () => {
    const small = join(work, 'small.yaml');
    const text = readFileSync(farmFile, 'utf8').split('\n');
    const kept = [text[0]!, ...text.filter((l) => /name: dev0[0-3]/.test(l)), '  - { name: gone, host: 127.0.0.1, port: 1, user: root, knownHosts: known_hosts }',
      ...text.slice(text.indexOf('apps:'))];
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
    const app = join(work, 'gated');
    mkdirSync(app, { recursive: true });
    writeFileSync(join(app, 'gated.py'), GATED_APP);
    const gate = join(work, 'gate-open');
    const one = join(work, 'one.yaml');
    const text = readFileSync(farmFile, 'utf8').split('\n');
    writeFileSync(one, `${[text[0]!, text.find((l) => /name: dev00/.test(l))!,
      'apps:', `  - { name: gated, push: ${app}, script: gated/gated.py, args: [${gate}], interval: 0.1 }`,
      'schedules:', '  - { app: gated, cron: "*/2 * * * * *" }'].join('\n')}\n`);
    const out = join(work, 'sched');
    const first = startCli(['farm', 'schedule', one, '--out', out, '--max-runs', '2'], { timeoutMs: 300_000 });
    try {
      let said = '';
      first.child.stderr!.on('data', (b: Buffer) => { said += b.toString('utf8'); });
      const count = (re: RegExp) => (said.match(re) ?? []).length;
      await first.waitForStderr(/gated on '\*\/2 \* \* \* \* \*'/, 30_000);
      expect(existsSync(join(out, '.farm-schedule.lock'))).toBe(true);
      const second = await runCli(['farm', 'schedule', one, '--out', out, '--max-runs', '1'], { timeoutMs: 30_000 });
      expect(second.code, second.stderr).toBe(2);
      expect(second.stderr).toMatch(/another farm scheduler \(pid \d+\) holds/);
      // the first run's app is held by the gate: two of the 2 s ticks pass while it waits
      await first.waitForStderr(/farm schedule: gated starts/, 30_000);
      const starts = () => count(/farm schedule: gated starts/g);
      const missedWhileGoing = () => count(/farm schedule: missed gated at .*its previous run .* is still going/g);
      // (a second start ends the wait at once, to fail on the count below)
      await waitFor('the first run\'s app to wait at the gate', () => starts() > 1 || existsSync(`${gate}.waiting`), 180_000);
      // a second start means the first run ended without its app waiting: the scheduler's log says how
      const why = (): string => `${said.slice(-3000)}\n${runLogs(join(out, 'gated'))}`;
      expect(starts(), why()).toBe(1);
      const before = missedWhileGoing();
      await waitFor('two more ticks missed while the app waits', () => starts() > 1 || missedWhileGoing() >= before + 2, 30_000);
      expect(starts(), why()).toBe(1);
      writeFileSync(gate, '');
      const r = await first.result;
      expect(r.code, r.stderr).toBe(0);
      const missed = missedWhileGoing();
      expect(missed).toBeGreaterThanOrEqual(2);
      expect(r.stderr).toContain(`farm schedule: 2 run(s), ${missed} missed`);
      expect(starts()).toBe(2);
      expect(count(/farm schedule: gated done: 1 run\(s\)/g)).toBe(2);
      // on disk: the lock released, and exactly two runs, each with its summary and its report
      expect(existsSync(join(out, '.farm-schedule.lock'))).toBe(false);
      const stamps = readdirSync(join(out, 'gated')).sort();
      expect(stamps).toHaveLength(2);
      for (const st of stamps) {
        const summary = JSON.parse(readFileSync(join(out, 'gated', st, 'summary.json'), 'utf8')) as FarmSummary;
        expect(summary.results).toHaveLength(1);
        expect(summary.results[0], summary.results[0]!.error ?? '').toMatchObject({ device: 'dev00', app: 'gated', exitCode: 0 });
        expect(existsSync(join(summary.results[0]!.session, 'report.json'))).toBe(true);
      }
    } finally {
      // a failed assertion must not leave the app held open (the device cleanup ends it too)
      writeFileSync(gate, '');
      first.child.kill('SIGTERM');
    }
  }, 300_000);
});

/** What the scheduled runs under DIR said about themselves (their summaries' errors, their logs' last lines). */
function runLogs(dir: string): string {
  const out: string[] = [];
  for (const st of existsSync(dir) ? readdirSync(dir).sort() : []) {
    for (const name of ['summary.json', 'farm.log']) {
      const p = join(dir, st, name);
      if (existsSync(p)) out.push(`${st}/${name}: ${readFileSync(p, 'utf8').slice(-1500)}`);
    }
  }
  return out.join('\n');
}
