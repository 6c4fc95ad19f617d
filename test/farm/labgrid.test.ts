/**
 * Devices from a labgrid environment (issue 17 item 3): refscope reads the file as Debian's
 * python3-labgrid 0.4.1 does (the same targets, addresses, users and ports; `!template`
 * with LG_* variables; resources as a mapping or a list), runs the farm on its boards with
 * host keys verified (a board whose key is not known is refused, the others still run),
 * and examples/labgrid/test_refscope.py, run by pytest with labgrid's plugin on one board,
 * fails on a leak and passes a clean app.
 */
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FarmDevice } from '../../src/farm/inventory.js';
import type { FarmSummary } from '../../src/farm/run.js';
import { ROOT, runCli } from '../helpers/cli.js';
import { missing } from '../helpers/prereq.js';
import { coreInterpreters } from '../helpers/pythons.js';
import { serverAvailable } from '../rig/servers.js';
import { FIXTURES, startLab, type Lab } from './lab.js';

const py = coreInterpreters().at(-1);
const why = serverAvailable('dropbear') ?? missing([
  ['python3', py ? null : 'no CPython 3.x under $(pyenv root)/versions'],
  ['python3-labgrid', spawnSync('/usr/bin/python3', ['-c', 'import labgrid, pytest']).status === 0 ? null : "Debian's python3-labgrid is not installed (apt-get install python3-labgrid)"],
]);
const EXAMPLE = join(ROOT, 'examples', 'labgrid', 'test_refscope.py');

/** What labgrid itself makes of ENV: every target's NetworkServices. */
const LABGRID_READS = `
import json, sys
from labgrid import Environment
from labgrid.resource import NetworkService
env = Environment(sys.argv[1])
out = []
for name in env.config.get_targets():
    for r in env.get_target(name).resources:
        if isinstance(r, NetworkService):
            out.append({"target": name, "name": r.name, "address": r.address, "username": r.username, "port": r.port})
print(json.dumps(out))
`;

function run(cmd: string, args: string[], opts: { cwd?: string; env: NodeJS.ProcessEnv; timeoutMs: number }): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd: opts.cwd, env: opts.env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (b: Buffer) => { out += b.toString('utf8'); });
    child.stderr.on('data', (b: Buffer) => { out += b.toString('utf8'); });
    const t = setTimeout(() => { out += `\n(killed at the ${opts.timeoutMs} ms deadline)`; child.kill('SIGKILL'); }, opts.timeoutMs);
    child.once('error', reject);
    child.once('close', (code) => { clearTimeout(t); resolve({ code, out }); });
  });
}

describe.skipIf(why !== null)(`labgrid environments as the farm's devices${why ? ` (skipped: ${why})` : ''}`, () => {
  let lab: Lab;
  let work: string;
  let home: string;
  let envFile: string;
  const env = (): NodeJS.ProcessEnv => ({ ...process.env, HOME: home, LG_RIG_HOST: '127.0.0.1', PATH: lab.path, NO_COLOR: '1', PYTHONDONTWRITEBYTECODE: '1' });

  beforeAll(async () => {
    work = mkdtempSync(join(tmpdir(), 'refscope-labgrid-'));
    lab = await startLab(3, { python: py!.path });
    // the user's own key, accepted by every board, and known_hosts with two of the three boards' keys
    home = join(work, 'home');
    mkdirSync(join(home, '.ssh'), { recursive: true, mode: 0o700 });
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', join(home, '.ssh', 'id_ed25519')]);
    const pub = readFileSync(join(home, '.ssh', 'id_ed25519.pub'), 'utf8').trim();
    for (const s of lab.servers) s.authorize(pub);
    writeFileSync(join(home, '.ssh', 'known_hosts'), lab.servers.slice(0, 2).map((s) => readFileSync(s.knownHosts, 'utf8')).join(''));
    const [p0, p1, p2] = lab.servers.map((s) => s.port);
    envFile = join(work, 'env.yaml');
    writeFileSync(envFile, [
      'targets:',
      '  board00:',
      '    resources:',
      `      NetworkService: { address: 127.0.0.1, username: root, port: ${p0} }`,
      '    drivers:',
      '      SSHDriver: {}',
      '  board01:',
      '    resources:',
      `      - NetworkService: { address: !template "$LG_RIG_HOST", username: root, port: ${p1} }`,
      '  shelf:',
      '    resources:',
      '      RawSerialPort: { port: /dev/ttyUSB9 }',
      '  stranger:',
      '    resources:',
      `      NetworkService: { address: 127.0.0.1, username: root, port: ${p2} }`,
      '',
    ].join('\n'));
    writeFileSync(join(work, 'apps.yaml'), `apps:\n  - { name: callbacks, push: ${FIXTURES}, script: fixtures/callbacks.py, args: [--frames, 200] }\n`);
  }, 120_000);
  afterAll(async () => {
    await lab?.stop();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it('reads the environment as python3-labgrid does: each target\'s NetworkService is a device; a target without one is left out', async () => {
    // the run's file, plus a target with two named services in the list form (one given by cls), $$ and ${BASE}
    const both = join(work, 'env-both.yaml');
    writeFileSync(both, `${readFileSync(envFile, 'utf8')}${[
      '  twin:',
      '    resources:',
      '      - NetworkService: { name: a, address: 127.0.0.1, username: "u$$er", port: 2203 }',
      '      - { cls: NetworkService, name: b, address: "::1", username: !template "pi-${LG_RIG_HOST}" }',
      '      - RawSerialPort: { port: !template "${BASE}/tty" }',
      '',
    ].join('\n')}`);
    const lg = spawnSync('/usr/bin/python3', ['-c', LABGRID_READS, both], { env: env(), encoding: 'utf8' });
    expect(lg.status, lg.stderr).toBe(0);
    const theirs = JSON.parse(lg.stdout) as { target: string; name: string | null; address: string; username: string; port: number }[];
    expect(theirs.map((t) => t.target)).toEqual(['board00', 'board01', 'stranger', 'twin', 'twin']);
    const r = await runCli(['farm', 'devices', join(work, 'apps.yaml'), '--labgrid', both, '--json'], { env: env() });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain('env-both.yaml: target(s) without a NetworkService left out: shelf\n');
    const ours = JSON.parse(r.stdout.toString()) as FarmDevice[];
    expect(ours.map((d) => ({ device: d.name, address: d.host, username: d.user, port: d.port })))
      .toEqual(theirs.map(({ target, name, address, username, port }) => ({ device: name ? `${target}.${name}` : target, address, username, port })));
    // an inventory entry pointing at the file: its targets, with the entry's own known_hosts and tags
    writeFileSync(join(work, 'entry.yaml'), `devices:\n  - { labgrid: env.yaml, targets: [board01], knownHosts: kh, tags: [bench] }\napps:\n  - { script: a.py }\n`);
    const e = await runCli(['farm', 'devices', join(work, 'entry.yaml'), '--json'], { env: env() });
    expect(e.code, e.stderr).toBe(0);
    expect(JSON.parse(e.stdout.toString())).toEqual([{ name: 'board01', host: '127.0.0.1', user: 'root', port: lab.servers[1]!.port, tags: ['labgrid', 'bench'], python: null, deviceDir: null, identityFile: null, knownHosts: 'kh' }]);
    // labgrid refuses an unknown template variable, and so does refscope
    const unset = await runCli(['farm', 'devices', join(work, 'apps.yaml'), '--labgrid', envFile], { env: { ...env(), LG_RIG_HOST: undefined } });
    expect(unset.code).toBe(2);
    expect(unset.stderr).toMatch(/env\.yaml: refers to unknown variable 'LG_RIG_HOST'/);
  }, 60_000);

  it('farm run --labgrid runs every board with host keys verified: the unknown one refused, the others report their leak', async () => {
    const r = await runCli(['farm', 'run', join(work, 'apps.yaml'), '--labgrid', envFile, '--out', join(work, 'out'), '--json'], { env: env(), timeoutMs: 180_000 });
    expect(r.code, r.stderr).toBe(3);
    const s = JSON.parse(r.stdout.toString()) as FarmSummary;
    expect(s.results.map((x) => [x.device, x.verdict])).toEqual([['board00', 'leak'], ['board01', 'leak'], ['stranger', 'unreachable']]);
    expect(s.results[2]!.error).toMatch(/host key of .* is not known/);
  }, 180_000);

  it('the labgrid pytest example fails on a leak and passes a clean app, on the board labgrid hands it', async () => {
    const pyEnv = join(work, 'pytest-env.yaml');
    writeFileSync(pyEnv, `targets:\n  main:\n    resources:\n      NetworkService: { address: 127.0.0.1, username: root, port: ${lab.servers[0]!.port} }\n`);
    const pytest = (script: string) => run('/usr/bin/python3', ['-m', 'pytest', '-q', '-p', 'no:cacheprovider', '--lg-env', pyEnv, EXAMPLE], {
      cwd: work, timeoutMs: 180_000,
      env: { ...env(), REFSCOPE_APP: FIXTURES, REFSCOPE_SCRIPT: `fixtures/${script}`, REFSCOPE_ARGS: '--frames 200' },
    });
    const leak = await pytest('callbacks.py');
    expect(leak.code, leak.out).toBe(1);
    expect(leak.out).toMatch(new RegExp(`AssertionError: leak on root@127\\.0\\.0\\.1:${lab.servers[0]!.port} \\(session `));
    expect(leak.out).toContain('object-growth widgets.Widget');
    const clean = await pytest('steady.py');
    expect(clean.code, clean.out).toBe(0);
    expect(clean.out).toMatch(/1 passed/);
  }, 240_000);
});
