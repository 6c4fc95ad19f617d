/**
 * `refscope farm export --lava` (issue 17 item 2): the definitions it writes pass Debian's
 * lava-common 2023.01 schemas (the test definition, strictly, and a job's test action naming
 * it from git and inline), and run as a LAVA job runs them, with no host controller: the
 * export folder as LAVA's overlay puts a cloned definition repository on the device, the
 * run.sh lava-dispatcher 2023.01 writes for it (test/farm/lava_runsh.py), LAVA's own
 * lava-test-case and lava-test-reference (from the lava-dispatcher .deb, with the shell line
 * LAVA prepends), run over SSH in a busybox dropbear device. One test case per suspect kind
 * with its rate; the session tarball PUT to ARTIFACT_PUT_URL (a local HTTP server here) and
 * read by `refscope report`.
 */
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Report } from '../../src/analysis/report.js';
import { ROOT, runCli } from '../helpers/cli.js';
import { missing } from '../helpers/prereq.js';
import { coreInterpreters } from '../helpers/pythons.js';
import { busyboxPath } from '../rig/device.js';
import { serverAvailable } from '../rig/servers.js';
import { FIXTURES, farmText, startLab, type Lab } from './lab.js';

const py = coreInterpreters().at(-1);
const LAVA_SHELL = process.env.REFSCOPE_LAVA_SHELL
  ?? '/var/cache/refscope-rig/lava-dispatcher/usr/lib/python3/dist-packages/lava_dispatcher/lava_test_shell';
const RUNSH = join(ROOT, 'test', 'farm', 'lava_runsh.py');
const why = serverAvailable('dropbear') ?? missing([
  ['python3', py ? null : 'no CPython 3.x under $(pyenv root)/versions'],
  ['lava-common', spawnSync('/usr/bin/python3', ['-c', 'import lava_common.schemas.test.testdef, yaml']).status === 0 ? null : "Debian's lava-common is not installed (apt-get install lava-common)"],
  ['lava-test-shell', existsSync(join(LAVA_SHELL, 'lava-test-case')) ? null : `LAVA's test shell helpers are not at ${LAVA_SHELL} (.ci/run unpacks them from the lava-dispatcher .deb: apt-get download lava-dispatcher; dpkg-deb -x)`],
  ['ssh', spawnSync('ssh', ['-V']).status === 0 ? null : 'the OpenSSH client is not on PATH (apt-get install openssh-client)'],
]);

/** A command's status and output, killed at the deadline (spawnSync would stall vitest's worker). */
function spawnAsync(cmd: string, args: string[], timeoutMs: number): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (b: Buffer) => { stdout += b.toString('utf8'); });
    child.stderr.on('data', (b: Buffer) => { stderr += b.toString('utf8'); });
    const t = setTimeout(() => { stderr += `\n(killed at the ${timeoutMs} ms deadline)`; child.kill('SIGKILL'); }, timeoutMs);
    child.once('error', reject);
    child.once('close', (status) => { clearTimeout(t); resolve({ status, stdout, stderr }); });
  });
}

interface Signal { id: string; result: string; measurement?: string; units?: string; reference?: string }

function signals(out: string): Signal[] {
  const s: Signal[] = [];
  for (const m of out.matchAll(/<LAVA_SIGNAL_TESTCASE TEST_CASE_ID=(\S+) RESULT=(\S+)(?: UNITS=(\S+))?(?: MEASUREMENT=(\S+))?>/g)) {
    s.push({ id: m[1]!, result: m[2]!, ...(m[3] ? { units: m[3] } : {}), ...(m[4] ? { measurement: m[4] } : {}) });
  }
  for (const m of out.matchAll(/<LAVA_SIGNAL_TESTREFERENCE (\S+) (\S+) (\S+)>/g)) s.push({ id: m[1]!, result: m[2]!, reference: m[3]! });
  return s;
}

describe.skipIf(why !== null)(`LAVA test definitions from the farm${why ? ` (skipped: ${why})` : ''}`, () => {
  let lab: Lab;
  let work: string;
  let server: Server;
  let base: string;
  const uploads = new Map<string, Buffer>();

  beforeAll(async () => {
    work = mkdtempSync(join(tmpdir(), 'refscope-lava-'));
    lab = await startLab(2, { python: py!.path, device: { pythons: { curl: '/usr/bin/curl' } } });
    // two apps: the leak on board00, a clean app stopped by its duration on board01
    writeFileSync(lab.farmFile, farmText(lab, [
      `  - { name: callbacks, push: ${FIXTURES}, script: fixtures/callbacks.py, args: [--frames, 200], on: [board00] }`,
      `  - { name: steady, push: ${FIXTURES}, script: fixtures/steady.py, args: [--frames, 100000], duration: 5s, on: [board01] }`,
    ]));
    server = createServer((req, res) => {
      if (req.method !== 'PUT') { res.writeHead(405).end(); return; }
      const body: Buffer[] = [];
      req.on('data', (b: Buffer) => body.push(b));
      req.on('end', () => { uploads.set(req.url!, Buffer.concat(body)); res.writeHead(201).end(); });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    base = `http://127.0.0.1:${(server.address() as { port: number }).port}/artifacts/job-42`;
  }, 120_000);
  afterAll(async () => {
    server?.close();
    await lab?.stop();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it('writes one definition per device and app that lava-common\'s schemas accept, beside the probe and the apps', async () => {
    const r = await runCli(['farm', 'export', '--lava', lab.farmFile, '--out', join(work, 'defs')]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout.toString().trim().split('\n')).toEqual(['callbacks/board00.yaml', 'steady/board01.yaml']);
    for (const f of ['refscope/refscope_probe.py', 'refscope/refscope_lava.py', 'apps/callbacks/fixtures/callbacks.py', 'apps/steady/fixtures/steady.py']) {
      expect(existsSync(join(work, 'defs', f)), f).toBe(true);
    }
    for (const def of ['callbacks/board00.yaml', 'steady/board01.yaml']) {
      const v = spawnSync('/usr/bin/python3', [RUNSH, 'validate', def, 'https://git.example.org/lab/refscope-lava.git'], { cwd: join(work, 'defs'), encoding: 'utf8' });
      expect(v.stdout + v.stderr).toBe('ok\n');
    }
    // the schema check can fail: a definition without its format line is refused
    const bad = join(work, 'bad.yaml');
    writeFileSync(bad, readFileSync(join(work, 'defs', 'callbacks', 'board00.yaml'), 'utf8').replace('format: Lava-Test Test Definition 1.0', 'format: Lava-Test 2'));
    const v = spawnSync('/usr/bin/python3', [RUNSH, 'validate', bad, 'x'], { encoding: 'utf8' });
    expect(v.status).not.toBe(0);
    expect(v.stderr).toMatch(/data\['metadata'\]\['format'\]/);
  }, 60_000);

  it('runs as a LAVA job on the device with no host controller: a test case per suspect kind, the session PUT and read by refscope report', async () => {
    expect(existsSync(join(work, 'defs')), 'the first test exported').toBe(true);
    const bb = busyboxPath();
    const expected = { board00: { app: 'callbacks', verdict: 'leak', object: 'fail' }, board01: { app: 'steady', verdict: 'no-leak', object: 'pass' } } as const;
    for (const [i, device] of lab.devices.entries()) {
      const name = lab.names[i] as keyof typeof expected;
      const want = expected[name];
      // LAVA's overlay: its helpers with the shell line it prepends, the cloned repository, run.sh
      const overlay = join(device.root, 'lava-42');
      mkdirSync(join(overlay, 'bin'), { recursive: true });
      for (const h of ['lava-test-case', 'lava-test-reference', 'lava-common-functions']) {
        writeFileSync(join(overlay, 'bin', h), `#!${bb} sh\n\n${readFileSync(join(LAVA_SHELL, h), 'utf8')}`);
        chmodSync(join(overlay, 'bin', h), 0o755);
      }
      const runner = join(overlay, 'tests', `0_refscope-${want.app}-${name}`);
      cpSync(join(work, 'defs'), runner, { recursive: true });
      writeFileSync(join(runner, 'uuid'), `42_1.${i}`);
      const runsh = spawnSync('/usr/bin/python3', [RUNSH, 'runsh', `${want.app}/${name}.yaml`, runner, `0_refscope-${want.app}-${name}`, `ARTIFACT_PUT_URL=${base}`], { cwd: runner, encoding: 'utf8' });
      expect(runsh.status, runsh.stderr).toBe(0);
      writeFileSync(join(runner, 'run.sh'), runsh.stdout);
      const s = lab.servers[i]!;
      const t0 = Date.now();
      const job = await spawnAsync('ssh', ['-i', s.identityFile, '-p', String(s.port), '-o', `UserKnownHostsFile=${s.knownHosts}`, '-o', 'StrictHostKeyChecking=yes', '-o', 'BatchMode=yes', 'root@127.0.0.1',
        `PATH='${overlay}/bin':"$PATH"; export PATH; LAVA_RESULT_DIR='${overlay}/results/0'; export LAVA_RESULT_DIR; sh '${runner}/run.sh'`], 120_000);
      const out = `${job.stdout}${job.stderr}`;
      expect(job.status, out).toBe(0);
      expect(out).toMatch(/<LAVA_SIGNAL_ENDRUN 0_refscope-\S+ 42_1\.\d>/);
      const got = signals(job.stdout);
      expect(got.map((g) => g.id), out).toEqual(['app-run', 'object-growth', 'refcount-growth', 'native-growth', 'session']);
      expect(got[0]).toMatchObject({ result: 'pass', units: 'exit-status' });
      expect(got[1]).toMatchObject({ result: want.object, units: 'objects/mark' });
      expect(Number(got[1]!.measurement)).toSatisfy((x: number) => (want.object === 'fail' ? x >= 1 : x < 0.5));
      expect(got[2]).toMatchObject({ result: 'pass', units: 'references/mark' });
      expect(got[3]).toMatchObject({ result: 'pass', units: 'bytes/mark' });
      expect(got[4]).toEqual({ id: 'session', result: 'pass', reference: `${base}/${want.app}-${name}.tar.gz` });
      // LAVA's helper also keeps each result under LAVA_RESULT_DIR
      expect(readFileSync(join(overlay, 'results', '0', 'results', 'object-growth', 'result'), 'utf8').trim()).toBe(want.object);
      // the artifact, as a user fetches it from the job's reference: refscope report reads the probe's folder
      const tgz = uploads.get(`/artifacts/job-42/${want.app}-${name}.tar.gz`);
      expect(tgz, [...uploads.keys()].join(', ')).toBeDefined();
      const got2 = join(work, 'fetched', name);
      mkdirSync(got2, { recursive: true });
      writeFileSync(join(got2, 'session.tar.gz'), tgz!);
      expect(spawnSync('tar', ['-xzf', 'session.tar.gz'], { cwd: got2 }).status).toBe(0);
      const rep = await runCli(['report', join(got2, `${want.app}-${name}`), '--format', 'json'], { timeoutMs: 60_000 });
      const report = JSON.parse(rep.stdout.toString()) as Report;
      expect(report.verdict, rep.stderr).toBe(want.verdict);
      if (want.verdict === 'leak') expect(report.suspects.map((x) => `${x.type} (${x.kind})`)).toContain('widgets.Widget (object-growth)');
      process.stderr.write(`lava: ${want.app} on ${name}: job ${((Date.now() - t0) / 1000).toFixed(1)} s; ${got.slice(1, 4).map((g) => `${g.id} ${g.result} ${g.measurement} ${g.units}`).join('; ')}\n`);
    }
  }, 240_000);
});
