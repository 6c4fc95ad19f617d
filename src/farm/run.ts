/**
 * `refscope farm run`: one run per (device, app) of the inventory, as `refscope run DEVICE`
 * does it (the same library functions, in this process), with bounded concurrency (p-limit),
 * each in its own session, then a summary, a
 * merged JUnit file and one exit code: 3 if any device was unreachable (the others still
 * ran), else 1 if any leaks, else 0. `--shard i/n` runs a deterministic slice so an
 * existing CI system spreads a large farm over workers, each shard into OUT/shard-i-of-n/
 * with its shard.json manifest; `farm merge` (merge.ts) joins the slices.
 */
import { createWriteStream, readFileSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import pLimit from 'p-limit';
import { ExitCode, RefscopeError } from '../errors.js';
import type { Report } from '../analysis/report.js';
import { writeFileAtomic } from '../session/store.js';
import type { RunHandle, RunRequest } from '../capture/run.js';
import type { ConnectSettings } from '../transport/connect.js';
import { DEFAULT_CENSUS_BUDGET, DEFAULT_INTERVAL } from '../capture/probe.js';
import type { Transport } from '../transport/types.js';
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
  /** interrupts from the user reach every run through this */
  control?: FarmControl;
}

function deviceSpec(d: FarmDevice): string {
  const host = d.host.includes(':') && !d.host.startsWith('[') ? `[${d.host}]` : d.host;
  return `${d.user ? `${d.user}@` : ''}${host}${d.port ? `:${d.port}` : ''}`;
}

/**
 * What one (device, app) run is, as `refscope run DEVICE` would be given it: the device,
 * how to connect, and the run request (without its transport and output, which runOne opens).
 * Paths in the inventory are relative to its file.
 */
export function runPlan(farm: Farm, d: FarmDevice, app: FarmApp, session: string): {
  device: string;
  connect: ConnectSettings;
  request: Omit<RunRequest, 'transport' | 'appOutput'>;
} {
  const base = dirname(resolve(farm.file));
  return {
    device: deviceSpec(d),
    connect: {
      interactive: false,
      ...(d.identityFile ? { identity: resolve(base, d.identityFile) } : {}),
      ...(d.knownHosts ? { knownHosts: resolve(base, d.knownHosts) } : {}),
    },
    request: {
      onDevice: true, command: [app.script, ...app.args], out: session, force: true,
      ...(d.python ? { python: d.python } : {}),
      interval: app.interval ?? DEFAULT_INTERVAL, censusBudget: app.censusBudget ?? DEFAULT_CENSUS_BUDGET, duration: app.duration,
      watchTypes: [], tty: false, cwd: base, untilVerdict: app.untilVerdict,
      remote: { ...(app.push ? { push: resolve(base, app.push) } : {}), ...(d.deviceDir ? { deviceDir: d.deviceDir } : {}) },
    },
  };
}

export function readReport(session: string): Report | null {
  try {
    return JSON.parse(readFileSync(join(session, 'report.json'), 'utf8')) as Report;
  } catch {
    return null;
  }
}

/**
 * The runs under way, so that an interrupt reaches every app: the first asks each to stop
 * (its report still follows) and starts no new run; a second kills them.
 */
export class FarmControl {
  private readonly handles = new Set<RunHandle>();
  private interrupts = 0;

  get stopping(): boolean { return this.interrupts > 0; }

  interrupt(): void {
    this.interrupts++;
    for (const h of this.handles) h.interrupt(false);
  }

  /** @internal one run's handle while its app runs */
  track(h: RunHandle): () => void {
    this.handles.add(h);
    if (this.interrupts > 0) h.interrupt(false);
    return () => { this.handles.delete(h); };
  }
}

/**
 * One (device, app) run, in this process, through the same library functions as `refscope
 * run DEVICE`: open the transport, prepare (discover, deploy, push), start, wait, write the
 * session's reports. The app's output and the run's own lines go to OUT/APP/DEVICE.log; its
 * log to the session's refscope.log as for any run.
 */
async function runOne(farm: Farm, d: FarmDevice, app: FarmApp, out: string, control: FarmControl): Promise<FarmResult> {
  const dir = join(out, app.name.replace(/[^A-Za-z0-9._-]/g, '_'));
  await mkdir(dir, { recursive: true });
  const safe = d.name.replace(/[^A-Za-z0-9._-]/g, '_');
  const session = join(dir, safe);
  const started = Date.now();
  const result = (exitCode: number | null, report: Report | null, error: string | null): FarmResult => ({
    device: d.name, app: app.name, session, exitCode,
    verdict: exitCode === ExitCode.device ? 'unreachable' : report ? report.verdict : 'failed',
    top: report?.suspects[0] ? `${report.suspects[0].type ?? 'native'} (${report.suspects[0].kind})` : null,
    error, seconds: (Date.now() - started) / 1000,
  });
  if (control.stopping) return result(null, null, 'not run: the farm was interrupted');
  const out2 = createWriteStream(join(dir, `${safe}.log`));
  const say = (line: string): void => { out2.write(`refscope: ${line}\n`); };
  const how = runPlan(farm, d, app, session);
  const [{ createLog }, { openTransport }, { prepareRun, startRun }, { exitCodeOfRun }, { writeSessionReports }] = await Promise.all([
    import('../log.js'), import('../transport/connect.js'), import('../capture/run.js'), import('../capture/finish.js'), import('../report/session.js'),
  ]);
  let transport: Transport | null = null;
  try {
    const log = await createLog({ verbose: false });
    transport = await openTransport(how.device, { ...how.connect, log: (m, f) => log.logger.info(f ?? {}, m) });
    const prep = await prepareRun({ ...how.request, transport, appOutput: { stdout: out2, stderr: out2 } }, log);
    say(`session ${session}`);
    const handle = await startRun(prep, log);
    const untrack = control.track(handle);
    const outcome = await handle.done.finally(untrack);
    const written = await writeSessionReports(outcome.sessionDir, { log: log.logger, mayBeEmpty: outcome.startFailure !== null || outcome.deviceError !== undefined });
    log.flush();
    const code = exitCodeOfRun(outcome, written?.report ?? null);
    const error = outcome.startFailure ?? outcome.deviceError?.message ?? null;
    if (error) say(error);
    if (written) say(`verdict ${written.report.verdict}; reports written to ${written.files.text} and ${written.files.json}`);
    return result(code, written?.report ?? readReport(session), code === ExitCode.ok || code === ExitCode.leak ? null : error);
  } catch (e) {
    // a run that could not start or reach its device: its own line, the rest of the farm goes on
    const line = e instanceof RefscopeError ? e.toLine().replace(/^refscope: /, '') : `unexpected error: ${(e as Error).message}`;
    say(line);
    return result(e instanceof RefscopeError ? e.exitCode : null, readReport(session), line);
  } finally {
    await transport?.close().catch(() => undefined);
    await new Promise<void>((r) => out2.end(r));
  }
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
  const control = opts.control ?? new FarmControl();
  const results = await Promise.all(pairs.map(({ device, app }) => limit(async () => {
    const r = await runOne(farm, device, app, out, control);
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
  if (opts.shard) {
    const { writeShardManifest } = await import('./merge.js');
    await writeShardManifest(out, farm, summary, shardDevices(farm.devices, opts.shard).map((d) => d.name));
  }
  return summary;
}

/** summary.json and the merged junit.xml beside the sessions. */
export async function writeOutputs(out: string, summary: FarmSummary): Promise<void> {
  const { renderJunit } = await import('../report/junit.js');
  const reports = summary.results.map((r) => readReport(r.session)).filter((r): r is Report => r !== null);
  await writeFileAtomic(join(out, 'summary.json'), `${JSON.stringify(summary, null, 2)}\n`);
  await writeFileAtomic(join(out, 'junit.xml'), renderJunit(reports));
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
