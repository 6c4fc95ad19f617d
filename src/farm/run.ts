/**
 * `refscope farm run`: one `refscope run DEVICE` per (device, app) of the inventory, with
 * bounded concurrency (p-limit), each in its own process and session, then a summary, a
 * merged JUnit file and one exit code: 3 if any device was unreachable (the others still
 * ran), else 1 if any leaks, else 0. `--shard i/n` runs a deterministic slice so an
 * existing CI system spreads a large farm over workers; `farm merge` joins the slices.
 */
import { spawn } from 'node:child_process';
import { createWriteStream, existsSync, readFileSync, readdirSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import pLimit from 'p-limit';
import { ExitCode, RefscopeError } from '../errors.js';
import type { Report } from '../analysis/report.js';
import { writeFileAtomic } from '../session/store.js';
import { plan, shardDevices, type Farm, type FarmApp, type FarmDevice } from './inventory.js';

export const FARM_SUMMARY_SCHEMA = 'refscope.farm/1';

export interface FarmResult {
  device: string;
  app: string;
  session: string;
  exitCode: number | null;
  verdict: Report['verdict'] | 'unreachable' | 'failed';
  top: string | null;
  /** the run's last line on stderr when it failed */
  error: string | null;
  seconds: number;
}

export interface FarmSummary {
  schema: typeof FARM_SUMMARY_SCHEMA;
  farm: string;
  shard: [number, number] | null;
  startedAt: string;
  seconds: number;
  controllerMaxRssKiB: number;
  results: FarmResult[];
}

export interface FarmRunOptions {
  out: string;
  concurrency: number;
  shard: [number, number] | null;
  app?: string;
  /** progress lines for people (stderr) */
  say?: (line: string) => void;
}

function binPath(): string {
  return fileURLToPath(new URL('../cli/bin.js', import.meta.url));
}

function deviceSpec(d: FarmDevice): string {
  const host = d.host.includes(':') && !d.host.startsWith('[') ? `[${d.host}]` : d.host;
  return `${d.user ? `${d.user}@` : ''}${host}${d.port ? `:${d.port}` : ''}`;
}

export function runArgv(farm: Farm, d: FarmDevice, app: FarmApp, session: string): string[] {
  const base = dirname(resolve(farm.file));
  const argv = [binPath(), 'run', deviceSpec(d), '--out', session, '--force'];
  if (d.python) argv.push('--python', d.python);
  if (d.deviceDir) argv.push('--device-dir', d.deviceDir);
  if (d.identityFile) argv.push('--identity', resolve(base, d.identityFile));
  if (d.knownHosts) argv.push('--known-hosts', resolve(base, d.knownHosts));
  if (app.push) argv.push('--push', resolve(base, app.push));
  if (app.duration !== null) argv.push('--duration', String(app.duration));
  if (app.interval !== null) argv.push('--interval', String(app.interval));
  if (app.censusBudget !== null) argv.push('--census-budget', String(app.censusBudget));
  if (app.untilVerdict) argv.push('--until-verdict');
  argv.push('--', app.script, ...app.args);
  return argv;
}

function readReport(session: string): Report | null {
  try {
    return JSON.parse(readFileSync(join(session, 'report.json'), 'utf8')) as Report;
  } catch {
    return null;
  }
}

async function runOne(farm: Farm, d: FarmDevice, app: FarmApp, out: string): Promise<FarmResult> {
  const dir = join(out, app.name.replace(/[^A-Za-z0-9._-]/g, '_'));
  await mkdir(dir, { recursive: true });
  const safe = d.name.replace(/[^A-Za-z0-9._-]/g, '_');
  const session = join(dir, safe);
  const log = createWriteStream(join(dir, `${safe}.log`));
  const started = Date.now();
  const child = spawn(process.execPath, runArgv(farm, d, app, session), { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, NO_COLOR: '1' } });
  let lastErr = '';
  child.stdout.pipe(log, { end: false });
  child.stderr.on('data', (b: Buffer) => {
    log.write(b);
    const lines = b.toString('utf8').split('\n').filter((l) => l.trim());
    if (lines.length) lastErr = lines[lines.length - 1]!;
  });
  const code = await new Promise<number | null>((res) => {
    child.once('error', () => res(null));
    child.once('close', (c) => res(c));
  });
  await new Promise<void>((r) => log.end(r));
  const report = readReport(session);
  const verdict: FarmResult['verdict'] = code === ExitCode.device ? 'unreachable' : report ? report.verdict : 'failed';
  const top = report?.suspects[0] ? `${report.suspects[0].type ?? 'native'} (${report.suspects[0].kind})` : null;
  return {
    device: d.name, app: app.name, session, exitCode: code, verdict, top,
    error: code === 0 || code === 1 ? null : lastErr.replace(/^refscope: /, ''),
    seconds: (Date.now() - started) / 1000,
  };
}

export function exitCodeOf(results: FarmResult[]): number {
  if (results.some((r) => r.verdict === 'unreachable')) return ExitCode.device;
  if (results.some((r) => r.verdict === 'failed')) return ExitCode.appFailed;
  if (results.some((r) => r.verdict === 'leak')) return ExitCode.leak;
  return ExitCode.ok;
}

export async function runFarm(farm: Farm, opts: FarmRunOptions): Promise<FarmSummary> {
  if (!(Number.isInteger(opts.concurrency) && opts.concurrency >= 1)) {
    throw new RefscopeError('ERR_USAGE', `--concurrency must be a whole number from 1 (got ${opts.concurrency})`, 'For example --concurrency 8');
  }
  const out = opts.shard ? join(resolve(opts.out), `shard-${opts.shard[0]}-of-${opts.shard[1]}`) : resolve(opts.out);
  await mkdir(out, { recursive: true });
  const pairs = plan(farm, shardDevices(farm.devices, opts.shard), opts.app);
  const limit = pLimit(opts.concurrency);
  const t0 = Date.now();
  opts.say?.(`farm: ${pairs.length} run(s) on ${new Set(pairs.map((p) => p.device.name)).size} device(s), ${opts.concurrency} at a time${opts.shard ? `, shard ${opts.shard[0]}/${opts.shard[1]}` : ''}`);
  const results = await Promise.all(pairs.map(({ device, app }) => limit(async () => {
    const r = await runOne(farm, device, app, out);
    opts.say?.(`farm: ${r.device} ${r.app}: ${r.verdict}${r.top ? `, ${r.top}` : ''}${r.error ? ` (${r.error})` : ''}`);
    return r;
  })));
  const summary: FarmSummary = {
    schema: FARM_SUMMARY_SCHEMA,
    farm: resolve(farm.file),
    shard: opts.shard,
    startedAt: new Date(t0).toISOString(),
    seconds: (Date.now() - t0) / 1000,
    controllerMaxRssKiB: process.resourceUsage().maxRSS,
    results,
  };
  await writeOutputs(out, summary);
  return summary;
}

/** summary.json and the merged junit.xml beside the sessions. */
export async function writeOutputs(out: string, summary: FarmSummary): Promise<void> {
  const { renderJunit } = await import('../report/junit.js');
  const reports = summary.results.map((r) => readReport(r.session)).filter((r): r is Report => r !== null);
  await writeFileAtomic(join(out, 'summary.json'), `${JSON.stringify(summary, null, 2)}\n`);
  await writeFileAtomic(join(out, 'junit.xml'), renderJunit(reports));
}

/** `farm merge`: join the shard-*-of-N summaries under OUT into one. */
export async function mergeShards(farm: Farm, outDir: string): Promise<FarmSummary> {
  const out = resolve(outDir);
  const dirs = existsSync(out) ? readdirSync(out).filter((n) => /^shard-\d+-of-\d+$/.test(n)).sort() : [];
  if (dirs.length === 0) throw new RefscopeError('ERR_INPUT', `no shard results under ${outDir}`, 'Run `refscope farm run FARM --shard i/n --out DIR` on each worker into DIR first');
  const parts: FarmSummary[] = [];
  for (const d of dirs) {
    const p = join(out, d, 'summary.json');
    try {
      parts.push(JSON.parse(readFileSync(p, 'utf8')) as FarmSummary);
    } catch {
      throw new RefscopeError('ERR_INPUT', `${p} is missing or unreadable`, 'That shard did not finish: run it again');
    }
  }
  const n = parts[0]?.shard?.[1] ?? 1;
  const have = new Set(parts.map((p) => p.shard?.[0]));
  const missing = Array.from({ length: n }, (_, k) => k + 1).filter((k) => !have.has(k));
  if (missing.length) throw new RefscopeError('ERR_INPUT', `shard(s) ${missing.map((k) => `${k}/${n}`).join(', ')} missing under ${outDir}`, 'Run the missing shards, then merge');
  const summary: FarmSummary = {
    schema: FARM_SUMMARY_SCHEMA,
    farm: resolve(farm.file),
    shard: null,
    startedAt: parts.map((p) => p.startedAt).sort()[0]!,
    seconds: Math.max(...parts.map((p) => p.seconds)),
    controllerMaxRssKiB: Math.max(...parts.map((p) => p.controllerMaxRssKiB)),
    results: parts.flatMap((p) => p.results).sort((a, b) => a.device.localeCompare(b.device) || a.app.localeCompare(b.app)),
  };
  await writeOutputs(out, summary);
  return summary;
}

/** The table for people. */
export function renderSummary(s: FarmSummary): string {
  const rows = s.results.map((r) => [r.device, r.app, r.verdict, r.top ?? (r.error ?? ''), `${r.seconds.toFixed(1)}s`]);
  const head = ['device', 'app', 'verdict', 'top suspect / error', 'time'];
  const w = head.map((h, i) => Math.min(48, Math.max(h.length, ...rows.map((r) => r[i]!.length))));
  const line = (cells: string[]) => cells.map((c, i) => (c.length > w[i]! ? `${c.slice(0, w[i]! - 1)}~` : c.padEnd(w[i]!))).join('  ').trimEnd();
  const counts = ['leak', 'no-leak', 'inconclusive', 'unreachable', 'failed']
    .map((v) => [v, s.results.filter((r) => r.verdict === v).length] as const).filter(([, n]) => n > 0).map(([v, n]) => `${n} ${v}`);
  return [line(head), ...rows.map(line), '',
    `${s.results.length} run(s) in ${s.seconds.toFixed(1)} s: ${counts.join(', ') || 'nothing ran'}; controller peak RSS ${(s.controllerMaxRssKiB / 1024).toFixed(0)} MiB`, ''].join('\n');
}
