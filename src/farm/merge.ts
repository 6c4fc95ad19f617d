/**
 * Shards and their merge. Each `farm run --shard i/n` writes OUT/shard-i-of-n/ with its
 * sessions, summary.json, junit.xml and, last, shard.json (the manifest: which farm file,
 * which shard, which devices it was given, where it ran): a folder without shard.json is a
 * shard that did not finish. `farm merge` takes any number of folders (a shard folder, or a
 * folder holding shard folders, as CI engines unpack their jobs' artifacts side by side),
 * checks that together they are the whole farm exactly once (every missing shard named with
 * the devices it should have run; a shard or a device found twice refused), and writes one
 * folder laid out as an unsharded `farm run` would have: OUT/<app>/<device>/ sessions,
 * summary.json and junit.xml. The same layout on every run is what `refscope diff` needs to
 * compare a pipeline's sessions with the last one's.
 */
import { createHash } from 'node:crypto';
import { cpSync, existsSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { hostname } from 'node:os';
import { RefscopeError } from '../errors.js';
import { writeFileAtomic } from '../session/store.js';
import { shardDevices, type Farm } from './inventory.js';
import { FARM_SUMMARY_SCHEMA, writeOutputs, type FarmSummary } from './run.js';

export const SHARD_SCHEMA = 'refscope.farm-shard/1';
const SHARD_DIR = /^shard-(\d+)-of-(\d+)$/;

export interface ShardManifest {
  schema: typeof SHARD_SCHEMA;
  farm: string;
  /** sha256 of the farm file's bytes: every shard of one pipeline ran the same inventory */
  farmSha256: string;
  shard: [number, number];
  /** the devices this shard was given (sorted by name) */
  devices: string[];
  runs: number;
  startedAt: string;
  finishedAt: string;
  seconds: number;
  controllerMaxRssKiB: number;
  /** where it ran: the CI engine's job, when there is one */
  ran: { host: string; engine: 'gitlab' | 'jenkins' | null; job: string | null; url: string | null };
}

export function farmSha256(file: string): string {
  return createHash('sha256').update(readFileSync(file)).digest('hex');
}

function ciJob(env: NodeJS.ProcessEnv): ShardManifest['ran'] {
  if (env.GITLAB_CI) return { host: hostname(), engine: 'gitlab', job: env.CI_JOB_ID ?? null, url: env.CI_JOB_URL ?? null };
  if (env.JENKINS_URL) return { host: hostname(), engine: 'jenkins', job: env.BUILD_TAG ?? null, url: env.BUILD_URL ?? null };
  return { host: hostname(), engine: null, job: null, url: null };
}

/** shard.json, written after the sessions, summary.json and junit.xml: its presence says the shard finished. */
export async function writeShardManifest(out: string, farm: Farm, summary: FarmSummary, devices: string[]): Promise<ShardManifest> {
  const m: ShardManifest = {
    schema: SHARD_SCHEMA,
    farm: summary.farm,
    farmSha256: farmSha256(farm.file),
    shard: summary.shard!,
    devices,
    runs: summary.results.length,
    startedAt: summary.startedAt,
    finishedAt: new Date().toISOString(),
    seconds: summary.seconds,
    controllerMaxRssKiB: summary.controllerMaxRssKiB,
    ran: ciJob(process.env),
  };
  await writeFileAtomic(join(out, 'shard.json'), `${JSON.stringify(m, null, 2)}\n`);
  return m;
}

interface FoundShard {
  dir: string;
  manifest: ShardManifest;
  summary: FarmSummary;
}

const bad = (message: string, hint: string): RefscopeError => new RefscopeError('ERR_INPUT', message, hint);

function readJson<T>(p: string, what: string, hint: string): T {
  try {
    return JSON.parse(readFileSync(p, 'utf8')) as T;
  } catch {
    throw bad(`${p} is missing or unreadable (${what})`, hint);
  }
}

/** The shard folders under each given folder: the folder itself when it is one, else its shard-i-of-n children. */
function shardFolders(dirs: string[]): string[] {
  const out: string[] = [];
  for (const d of dirs.map((x) => resolve(x))) {
    if (!existsSync(d) || !statSync(d).isDirectory()) throw bad(`${d} is not a folder`, 'Give the shard folders (OUT/shard-i-of-n) or the folders that hold them');
    if (SHARD_DIR.test(basename(d)) || existsSync(join(d, 'shard.json'))) {
      out.push(d);
      continue;
    }
    const kids = readdirSync(d).filter((n) => SHARD_DIR.test(n)).sort().map((n) => join(d, n));
    if (kids.length === 0) throw bad(`no shard results under ${d}`, 'Run `refscope farm run FARM --shard i/n --out DIR` on each worker into DIR first');
    out.push(...kids);
  }
  return out;
}

function readShard(dir: string): FoundShard {
  const hint = 'That shard did not finish (shard.json is written last): run it again';
  const manifest = readJson<ShardManifest>(join(dir, 'shard.json'), 'the shard manifest', hint);
  if (manifest.schema !== SHARD_SCHEMA) throw bad(`${join(dir, 'shard.json')} is not a ${SHARD_SCHEMA} manifest`, hint);
  const summary = readJson<FarmSummary>(join(dir, 'summary.json'), 'the shard summary', hint);
  return { dir, manifest, summary };
}

const name = (s: [number, number]): string => `${s[0]}/${s[1]}`;

/**
 * `farm merge FARM [DIR...] --out OUT`: join the shards found under DIRs (default: OUT itself)
 * into OUT. Refuses (ERR_INPUT, exit 2) a missing shard, a shard or a device found twice, and
 * shards of another split or of another farm file.
 */
export async function mergeShards(farm: Farm, outDir: string, from: string[] = []): Promise<FarmSummary> {
  const out = resolve(outDir);
  const shards = shardFolders(from.length ? from : [out]).map(readShard);
  const n = shards[0]!.manifest.shard[1];
  const other = shards.find((s) => s.manifest.shard[1] !== n);
  if (other) throw bad(`${other.dir} is shard ${name(other.manifest.shard)} and ${shards[0]!.dir} is shard ${name(shards[0]!.manifest.shard)}: not one split`, 'Merge the shards of one pipeline');
  const digest = farmSha256(farm.file);
  const foreign = shards.find((s) => s.manifest.farmSha256 !== digest);
  if (foreign) throw bad(`${foreign.dir} (shard ${name(foreign.manifest.shard)}) ran another farm file than ${farm.file} (sha256 ${foreign.manifest.farmSha256.slice(0, 12)}…, here ${digest.slice(0, 12)}…)`, 'Merge with the farm file the shards ran');
  const byIndex = new Map<number, FoundShard>();
  for (const s of shards) {
    const seen = byIndex.get(s.manifest.shard[0]);
    if (seen) throw bad(`shard ${name(s.manifest.shard)} found twice: ${seen.dir} and ${s.dir}`, 'Give each shard once (a retried job leaves its first try behind: drop one)');
    byIndex.set(s.manifest.shard[0], s);
  }
  const missing = Array.from({ length: n }, (_, k) => k + 1).filter((k) => !byIndex.has(k));
  if (missing.length) {
    const what = missing.map((k) => `${k}/${n} would run ${shardDevices(farm.devices, [k, n]).map((d) => d.name).join(', ') || 'no devices'}`);
    throw bad(`shard(s) ${missing.map((k) => `${k}/${n}`).join(', ')} missing${from.length ? '' : ` under ${outDir}`} (${what.join('; ')})`, 'Run the missing shards (or collect their artifacts), then merge');
  }
  const deviceAt = new Map<string, FoundShard>();
  for (const s of shards) {
    for (const d of new Set([...s.manifest.devices, ...s.summary.results.map((r) => r.device)])) {
      const seen = deviceAt.get(d);
      if (seen) throw bad(`device '${d}' is in shard ${name(seen.manifest.shard)} (${seen.dir}) and in shard ${name(s.manifest.shard)} (${s.dir})`, 'Each device must run in exactly one shard: merge the shards of one pipeline');
      deviceAt.set(d, s);
    }
  }
  // the sessions, laid out as an unsharded run: OUT/<app>/<device>/ and OUT/<app>/<device>.log
  const results = [];
  for (const s of shards) {
    for (const r of s.summary.results) {
      // a session is SHARD/<app>/<device> wherever the shard ran; its artifacts may sit elsewhere now
      const rel = join(basename(dirname(r.session)), basename(r.session));
      const src = join(s.dir, rel);
      const dst = join(out, rel);
      if (resolve(src) !== resolve(dst)) {
        rmSync(dst, { recursive: true, force: true });
        if (existsSync(src)) cpSync(src, dst, { recursive: true });
        if (existsSync(`${src}.log`)) cpSync(`${src}.log`, `${dst}.log`);
      }
      results.push({ ...r, session: dst });
    }
  }
  const summary: FarmSummary = {
    schema: FARM_SUMMARY_SCHEMA,
    farm: resolve(farm.file),
    shard: null,
    startedAt: shards.map((s) => s.summary.startedAt).sort()[0]!,
    seconds: Math.max(...shards.map((s) => s.summary.seconds)),
    controllerMaxRssKiB: Math.max(...shards.map((s) => s.summary.controllerMaxRssKiB)),
    results: results.sort((a, b) => a.device.localeCompare(b.device) || a.app.localeCompare(b.app)),
  };
  await writeOutputs(out, summary);
  return summary;
}
