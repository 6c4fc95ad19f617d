/**
 * The CI templates as the engines run them (issue 17 item 1): examples/ci/gitlab-ci.yml's
 * script lines, read from the template, run by bash as GitLab's runner runs a job (one
 * shell, `set -eo pipefail`) with the variables GitLab sets for a `parallel: 4` job, each
 * shard in its own checkout, at once, against 20 dropbear devices; their artifacts put
 * side by side in the merge job's checkout as GitLab restores them; the merge job's lines
 * (merge, the default branch's artifacts fetched through the jobs-artifacts API, one
 * `refscope diff` per session). GitLab's API is stood in for by a local HTTP server that
 * serves a zip of an earlier merge job's artifacts at the API's path and checks the job
 * token. The Jenkinsfile's `sh` steps run the same way with the matrix's variables.
 */
import { spawn, spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import type { Report } from '../../src/analysis/report.js';
import type { ShardManifest } from '../../src/farm/merge.js';
import type { FarmSummary } from '../../src/farm/run.js';
import { ROOT, runCli } from '../helpers/cli.js';
import { missing } from '../helpers/prereq.js';
import { coreInterpreters } from '../helpers/pythons.js';
import { serverAvailable } from '../rig/servers.js';
import { FIXTURES, farmText, startLab, type Lab } from './lab.js';

const SHARDS = 4;
const PER_SHARD = 5;
const py = coreInterpreters().at(-1);
const why = serverAvailable('dropbear') ?? missing([
  ['python3', py ? null : 'no CPython 3.x under $(pyenv root)/versions'],
  ['xmllint', spawnSync('xmllint', ['--version']).status === 0 ? null : 'xmllint not on PATH (apt-get install libxml2-utils)'],
  ['zip', spawnSync('zip', ['-v']).status === 0 && spawnSync('unzip', ['-v']).status === 0 ? null : 'zip/unzip not on PATH (apt-get install zip unzip): GitLab artifacts are zip files'],
]);
const XSD = join(ROOT, 'test', 'report', 'junit.xsd');
const GITLAB = join(ROOT, 'examples', 'ci', 'gitlab-ci.yml');
const JENKINS = join(ROOT, 'examples', 'ci', 'Jenkinsfile');

interface Job {
  code: number | null;
  out: string;
  seconds: number;
}

/** A job's script lines in one bash, as GitLab's runner runs them (set -eo pipefail), in CHECKOUT. */
function runJob(lines: string[], checkout: string, env: Record<string, string>, timeoutMs = 300_000): Promise<Job> {
  const t0 = Date.now();
  return new Promise((resolve, reject) => {
    const child = spawn('bash', ['-c', `set -eo pipefail\n${lines.join('\n')}\n`], {
      cwd: checkout, env: { ...process.env, NO_COLOR: '1', ...env }, stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (b: Buffer) => { out += b.toString('utf8'); });
    child.stderr.on('data', (b: Buffer) => { out += b.toString('utf8'); });
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.once('error', reject);
    child.once('close', (code) => { clearTimeout(timer); resolve({ code, out, seconds: (Date.now() - t0) / 1000 }); });
  });
}

/** A fresh checkout of the lab "repository" (lab/ only: sessions never come from the repository). */
function checkout(lab: Lab, work: string, name: string): string {
  const dir = join(work, name);
  mkdirSync(dir, { recursive: true });
  cpSync(join(lab.repo, 'lab'), join(dir, 'lab'), { recursive: true });
  return dir;
}

function xmllint(file: string): void {
  const v = spawnSync('xmllint', ['--noout', '--schema', XSD, file], { encoding: 'utf8' });
  expect(v.status, `${file}: ${v.stderr}`).toBe(0);
}

/** GitLab's jobs-artifacts API for one project, default branch and job: serves ZIP (when set) to the right token. */
function artifactsApi(): Promise<{ server: Server; url: string; serve(zip: string | null): void; hits: string[] }> {
  let zip: string | null = null;
  const hits: string[] = [];
  const server = createServer((req, res) => {
    hits.push(`${req.method} ${req.url}`);
    const ok = req.url === '/api/v4/projects/7/jobs/artifacts/main/download?job=farm-merge' && req.headers['job-token'] === 'job-token-1';
    if (!ok || !zip) { res.writeHead(404).end('{"message":"404 Not found"}'); return; }
    res.writeHead(200, { 'content-type': 'application/zip' }).end(readFileSync(zip));
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => {
    const port = (server.address() as { port: number }).port;
    resolve({ server, url: `http://127.0.0.1:${port}/api/v4`, serve: (z) => { zip = z; }, hits });
  }));
}

describe.skipIf(why !== null)(`CI templates on ${SHARDS * PER_SHARD} dropbear devices${why ? ` (skipped: ${why})` : ''}`, () => {
  let lab: Lab;
  let work: string;
  let api: Awaited<ReturnType<typeof artifactsApi>>;
  const gitlab = parse(readFileSync(GITLAB, 'utf8')) as Record<string, { parallel?: number; script?: string[]; variables?: Record<string, string> }> & { variables: Record<string, string> };
  const mergeEnv = (): Record<string, string> => ({
    PATH: lab.path, GITLAB_CI: 'true', CI: 'true', ...gitlab.variables, CI_JOB_NAME: 'farm-merge', CI_JOB_ID: '1005',
    CI_API_V4_URL: api.url, CI_PROJECT_ID: '7', CI_DEFAULT_BRANCH: 'main', CI_COMMIT_REF_NAME: 'topic', CI_JOB_TOKEN: 'job-token-1',
  });
  let shardWork: string;

  beforeAll(async () => {
    work = mkdtempSync(join(tmpdir(), 'refscope-ci-'));
    lab = await startLab(SHARDS * PER_SHARD, { python: py!.path });
    api = await artifactsApi();
  }, 180_000);
  afterAll(async () => {
    api?.server.close();
    await lab?.stop();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it('the GitLab template: 4 parallel soak jobs, each with its sessions, JUnit and shard manifest; the merge job joins them', async () => {
    const soak = gitlab['farm-soak']!;
    expect(soak.parallel).toBe(SHARDS);
    shardWork = join(work, 'pipeline-1');
    const t0 = Date.now();
    const jobs = await Promise.all(Array.from({ length: SHARDS }, (_, k) => runJob(soak.script!, checkout(lab, shardWork, `soak-${k + 1}`), {
      PATH: lab.path, GITLAB_CI: 'true', CI: 'true', ...gitlab.variables,
      CI_NODE_INDEX: String(k + 1), CI_NODE_TOTAL: String(SHARDS), CI_JOB_NAME: `farm-soak ${k + 1}/${SHARDS}`, CI_JOB_ID: String(1000 + k + 1),
    })));
    const wall = (Date.now() - t0) / 1000;
    const rss: number[] = [];
    for (const [k, j] of jobs.entries()) {
      expect(j.code, j.out).toBe(0);
      const shard = join(shardWork, `soak-${k + 1}`, 'refscope-farm', `shard-${k + 1}-of-${SHARDS}`);
      const m = JSON.parse(readFileSync(join(shard, 'shard.json'), 'utf8')) as ShardManifest;
      expect(m).toMatchObject({ schema: 'refscope.farm-shard/1', shard: [k + 1, SHARDS], runs: PER_SHARD, ran: { engine: 'gitlab', job: String(1000 + k + 1) } });
      expect(m.devices).toHaveLength(PER_SHARD);
      xmllint(join(shard, 'junit.xml')); // artifacts:reports:junit
      rss.push(m.controllerMaxRssKiB);
    }
    process.stderr.write(`ci: GitLab template, ${SHARDS} shards x ${PER_SHARD} dropbear devices at once: ${wall.toFixed(1)} s wall; controller peak RSS per shard ${rss.map((r) => `${(r / 1024).toFixed(0)}`).join(', ')} MiB\n`);

    // the merge job: the shards' artifacts restored at their paths in its checkout
    const merge = checkout(lab, shardWork, 'merge');
    for (let k = 1; k <= SHARDS; k++) cpSync(join(shardWork, `soak-${k}`, 'refscope-farm'), join(merge, 'refscope-farm'), { recursive: true });
    const m = await runJob(gitlab['farm-merge']!.script!, merge, mergeEnv());
    expect(m.code, m.out).toBe(0);
    expect(m.out).toContain('refscope: no earlier main run to compare with');
    expect(api.hits).toEqual(['GET /api/v4/projects/7/jobs/artifacts/main/download?job=farm-merge']);
    const summary = JSON.parse(readFileSync(join(merge, 'refscope-merged', 'summary.json'), 'utf8')) as FarmSummary;
    expect(summary.results.map((r) => r.device)).toEqual(lab.names);
    // (the suspects' order is the analysis' business, tested elsewhere: here, that each merged session is the shard's)
    for (const r of summary.results) {
      expect(r, r.error ?? '').toMatchObject({ verdict: 'leak', session: join(merge, 'refscope-merged', 'callbacks', r.device) });
      const report = JSON.parse(readFileSync(join(r.session, 'report.json'), 'utf8')) as Report;
      expect(report.suspects.map((x) => `${x.type} (${x.kind})`)).toContain('widgets.Widget (object-growth)');
    }
    const junit = join(merge, 'refscope-merged', 'junit.xml');
    xmllint(junit);
    expect((readFileSync(junit, 'utf8').match(/<testsuite /g) ?? []).length).toBe(SHARDS * PER_SHARD);
    // the merge job's artifacts, as GitLab zips them: the next pipelines' base
    expect(spawnSync('zip', ['-qr', join(work, 'merge-1.zip'), 'refscope-merged'], { cwd: merge }).status).toBe(0);
  }, 600_000);

  it('the merge job compares every session with the default branch\'s last run: 19 the same, one regressed, and the job fails', async () => {
    expect(existsSync(join(work, 'merge-1.zip')), 'the first test made the base').toBe(true);
    const again = (name: string): string => {
      const dir = checkout(lab, shardWork, name);
      for (let k = 1; k <= SHARDS; k++) cpSync(join(shardWork, `soak-${k}`, 'refscope-farm'), join(dir, 'refscope-farm'), { recursive: true });
      return dir;
    };
    // the first pipeline's merge as the base, except that board03 was clean in it: its leak is new
    const base = join(work, 'base-clean');
    expect(spawnSync('unzip', ['-q', join(work, 'merge-1.zip'), '-d', base]).status).toBe(0);
    const clean = join(base, 'refscope-merged', 'callbacks', 'board03');
    rmSync(clean, { recursive: true });
    const r = await runCli(['run', '--local', '--out', clean, '--', join(FIXTURES, 'steady.py'), '--frames', '200'], { timeoutMs: 120_000 });
    expect(r.code, r.stderr).toBe(0);
    expect(spawnSync('zip', ['-qr', join(work, 'merge-clean.zip'), 'refscope-merged'], { cwd: base }).status).toBe(0);
    api.serve(join(work, 'merge-clean.zip'));
    const worse = await runJob(gitlab['farm-merge']!.script!, again('merge-worse'), mergeEnv());
    expect(worse.code, worse.out).toBe(1);
    expect(worse.out).toContain('refscope: refscope-merged/callbacks/board03 REGRESSED against main:');
    expect((worse.out.match(/: no regression/g) ?? []).length).toBe(SHARDS * PER_SHARD - 1);
  }, 300_000);

  it('farm merge refuses a missing shard (naming its devices) and a shard given twice', async () => {
    const dirs = (ks: number[]): string[] => ks.map((k) => join(shardWork, `soak-${k}`, 'refscope-farm'));
    const gap = await runCli(['farm', 'merge', lab.farmFile, ...dirs([1, 2, 4]), '--out', join(work, 'gap')]);
    expect(gap.code).toBe(2);
    expect(gap.stderr).toMatch(/shard\(s\) 3\/4 missing \(3\/4 would run board02, board06, board10, board14, board18\)/);
    const twice = await runCli(['farm', 'merge', lab.farmFile, ...dirs([1, 2, 3, 4]), join(shardWork, 'soak-2', 'refscope-farm', 'shard-2-of-4'), '--out', join(work, 'twice')]);
    expect(twice.code).toBe(2);
    expect(twice.stderr).toMatch(/shard 2\/4 found twice: .*soak-2.* and .*soak-2/);
  }, 60_000);

  it('farm merge refuses a device in two shards, shards of two splits, and shards that ran another farm file', async () => {
    const shard = (k: number) => join(shardWork, `soak-${k}`, 'refscope-farm', `shard-${k}-of-${SHARDS}`);
    const edited = (name: string, k: number, edit: (m: ShardManifest) => void): string => {
      const dir = join(work, name, `shard-${k}-of-${SHARDS}`);
      cpSync(shard(k), dir, { recursive: true });
      const m = JSON.parse(readFileSync(join(dir, 'shard.json'), 'utf8')) as ShardManifest;
      edit(m);
      writeFileSync(join(dir, 'shard.json'), JSON.stringify(m));
      return dir;
    };
    const others = [1, 2, 3].map(shard);
    const two = edited('dev-twice', 4, (m) => { m.devices = [...m.devices, 'board00']; });
    const r1 = await runCli(['farm', 'merge', lab.farmFile, ...others, two, '--out', join(work, 'm1')]);
    expect(r1.code).toBe(2);
    expect(r1.stderr).toMatch(/device 'board00' is in shard 1\/4 \(.*\) and in shard 4\/4 \(.*dev-twice/);
    const split = edited('split', 4, (m) => { m.shard = [4, 5]; });
    const r2 = await runCli(['farm', 'merge', lab.farmFile, ...others, split, '--out', join(work, 'm2')]);
    expect(r2.code).toBe(2);
    expect(r2.stderr).toMatch(/is shard 4\/5 and .* is shard 1\/4: not one split/);
    const foreign = edited('foreign', 4, (m) => { m.farmSha256 = '0'.repeat(64); });
    const r3 = await runCli(['farm', 'merge', lab.farmFile, ...others, foreign, '--out', join(work, 'm3')]);
    expect(r3.code).toBe(2);
    expect(r3.stderr).toMatch(/\(shard 4\/4\) ran another farm file than .*farm\.yaml \(sha256 000000000000…/);
  }, 60_000);

  it('the Jenkinsfile: its sh steps with the matrix\'s SHARD and the environment block, then its merge', async () => {
    const text = readFileSync(JENKINS, 'utf8');
    const steps = [...text.matchAll(/^\s*sh '([^']*)'/gm)].map((m) => m[1]!);
    expect(steps).toHaveLength(2);
    const env = Object.fromEntries([...text.matchAll(/^\s*(FARM|SHARDS) = '([^']*)'/gm)].map((m) => [m[1]!, m[2]!]));
    const axis = /values ((?:'\d+',?\s*)+)/.exec(text)![1]!.match(/\d+/g)!;
    expect(axis).toHaveLength(Number(env.SHARDS));
    // one device per cell: the Jenkins lines, not the farm's size, are under test here
    const jw = join(work, 'jenkins');
    const cells = await Promise.all(axis.map((shard) => {
      const dir = checkout(lab, jw, `cell-${shard}`);
      writeFileSync(join(dir, 'lab', 'farm.yaml'), farmText({ servers: lab.servers.slice(0, axis.length), names: lab.names.slice(0, axis.length) },
        [`  - { name: callbacks, push: ${FIXTURES}, script: fixtures/callbacks.py, args: [--frames, 200] }`]));
      return runJob([steps[0]!], dir, { PATH: lab.path, JENKINS_URL: 'http://jenkins.invalid/', BUILD_TAG: `jenkins-farm-7-${shard}`, ...env, SHARD: shard });
    }));
    for (const [k, c] of cells.entries()) {
      expect(c.code, c.out).toBe(0);
      const m = JSON.parse(readFileSync(join(jw, `cell-${axis[k]}`, 'refscope-farm', `shard-${axis[k]}-of-${axis.length}`, 'shard.json'), 'utf8')) as ShardManifest;
      expect(m.ran).toMatchObject({ engine: 'jenkins', job: `jenkins-farm-7-${axis[k]}` });
    }
    const merge = checkout(lab, jw, 'merge');
    cpSync(join(jw, 'cell-1', 'lab', 'farm.yaml'), join(merge, 'lab', 'farm.yaml'));
    for (const s of axis) cpSync(join(jw, `cell-${s}`, 'refscope-farm'), join(merge, 'refscope-farm'), { recursive: true }); // unstash
    const m = await runJob([steps[1]!], merge, { PATH: lab.path, ...env });
    expect(m.code, m.out).toBe(0);
    xmllint(join(merge, 'refscope-merged', 'junit.xml'));
    const summary = JSON.parse(readFileSync(join(merge, 'refscope-merged', 'summary.json'), 'utf8')) as FarmSummary;
    expect(summary.results.map((r) => [r.device, r.verdict])).toEqual(lab.names.slice(0, axis.length).map((n) => [n, 'leak']));
  }, 300_000);
});
