/**
 * `refscope farm schedule`: a foreground scheduler (systemd or cron keeps it running)
 * that runs each schedule's app on its cron expression (croner). A lock file keeps two
 * schedulers of one farm output apart; a run still going when its next time comes makes
 * that time a missed run, logged, never run twice.
 */
import { open, readFile, unlink } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { mkdir } from 'node:fs/promises';
import { Cron } from 'croner';
import { RefscopeError } from '../errors.js';
import type { Farm } from './inventory.js';
import { runFarm, type FarmSummary } from './run.js';

export interface ScheduleOptions {
  out: string;
  concurrency: number;
  /** stop after this many runs in all (tests, one-shot cron jobs); default: forever */
  maxRuns?: number;
  say: (line: string) => void;
}

async function takeLock(path: string): Promise<() => Promise<void>> {
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fh = await open(path, 'wx');
      await fh.writeFile(String(process.pid));
      await fh.close();
      return () => unlink(path).catch(() => undefined);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      const pid = Number(await readFile(path, 'utf8').catch(() => '0'));
      let alive = false;
      if (pid > 0 && pid !== process.pid) { try { process.kill(pid, 0); alive = true; } catch { alive = false; } }
      if (alive) throw new RefscopeError('ERR_USAGE', `another farm scheduler (pid ${pid}) holds ${path}`, 'Only one scheduler may run per farm output; stop the other first');
      await unlink(path).catch(() => undefined);
    }
  }
  throw new RefscopeError('ERR_USAGE', `could not take the scheduler lock ${path}`, 'Remove it if no scheduler runs');
}

export async function runSchedule(farm: Farm, opts: ScheduleOptions): Promise<{ runs: FarmSummary[]; missed: number }> {
  if (farm.schedules.length === 0) throw new RefscopeError('ERR_INPUT', `${farm.file} has no schedules`, "Add 'schedules:' items with app and cron");
  const out = resolve(opts.out);
  await mkdir(out, { recursive: true });
  const release = await takeLock(join(out, '.farm-schedule.lock'));
  const runs: FarmSummary[] = [];
  let missed = 0;
  let jobs: Cron[] = [];
  try {
    await new Promise<void>((done, fail) => {
      const stopAll = () => { for (const j of jobs) j.stop(); done(); };
      const onSignal = () => { opts.say('farm schedule: stopping'); stopAll(); };
      process.once('SIGINT', onSignal);
      process.once('SIGTERM', onSignal);
      jobs = farm.schedules.map((s) => {
        let invalid: Error | null = null;
        try {
          return new Cron(s.cron, {
            protect: (job) => {
              missed++;
              opts.say(`farm schedule: missed ${s.app} at ${new Date().toISOString()}: its previous run (since ${job.currentRun()?.toISOString() ?? '?'}) is still going`);
            },
          }, async () => {
            const stamp = new Date().toISOString().replace(/[:.]/g, '-');
            opts.say(`farm schedule: ${s.app} starts (${s.cron})`);
            try {
              const summary = await runFarm(farm, { out: join(out, s.app, stamp), concurrency: opts.concurrency, shard: null, app: s.app, say: opts.say });
              runs.push(summary);
              opts.say(`farm schedule: ${s.app} done: ${summary.results.length} run(s) in ${summary.seconds.toFixed(1)} s`);
            } catch (e) {
              opts.say(`farm schedule: ${s.app} failed: ${(e as Error).message}`);
            }
            if (opts.maxRuns !== undefined && runs.length >= opts.maxRuns) stopAll();
          });
        } catch (e) {
          invalid = e as Error;
        }
        fail(new RefscopeError('ERR_INPUT', `${farm.file}: schedules: '${s.cron}' is not a cron expression (${invalid?.message ?? 'invalid'})`, 'Use five or six fields, e.g. "0 2 * * *" for 02:00 daily'));
        return null as unknown as Cron;
      });
      for (const s of farm.schedules) opts.say(`farm schedule: ${s.app} on '${s.cron}'`);
    });
  } finally {
    for (const j of jobs) j?.stop();
    await release();
  }
  return { runs, missed };
}
