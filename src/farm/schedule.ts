/**
 * `refscope farm schedule`: a foreground scheduler (systemd or cron keeps it running)
 * that runs each schedule's app on its cron expression (croner). A lock file keeps two
 * schedulers of one farm output apart; a run still going when its next time comes makes
 * that time a missed run, logged, never run twice.
 */
import { join, resolve } from 'node:path';
import { mkdir } from 'node:fs/promises';
import { Cron } from 'croner';
import { RefscopeError } from '../errors.js';
import { takePidLock } from '../session/lock.js';
import type { Farm } from './inventory.js';
import { FarmControl, runFarm, type FarmSummary } from './run.js';

export interface ScheduleOptions {
  out: string;
  concurrency: number;
  /** stop after this many runs in all (tests, one-shot cron jobs); default: forever */
  maxRuns?: number;
  say: (line: string) => void;
}

export async function runSchedule(farm: Farm, opts: ScheduleOptions): Promise<{ runs: FarmSummary[]; missed: number }> {
  if (farm.schedules.length === 0) throw new RefscopeError('ERR_INPUT', `${farm.file} has no schedules`, "Add 'schedules:' items with app and cron");
  const out = resolve(opts.out);
  await mkdir(out, { recursive: true });
  const release = await takePidLock(join(out, '.farm-schedule.lock'),
    (pid) => new RefscopeError('ERR_USAGE', `another farm scheduler (pid ${pid}) holds ${join(out, '.farm-schedule.lock')}`, 'Only one scheduler may run per farm output; stop the other first'));
  const runs: FarmSummary[] = [];
  let missed = 0;
  const jobs: Cron[] = [];
  let onSignal: (() => void) | null = null;
  // an interrupt stops the clock and asks the runs under way to stop; their reports still follow
  const control = new FarmControl();
  const inflight = new Set<Promise<void>>();
  try {
    await new Promise<void>((done) => {
      const stopAll = () => { for (const j of jobs) j.stop(); done(); };
      onSignal = () => { opts.say('farm schedule: stopping'); control.interrupt(); stopAll(); };
      process.once('SIGINT', onSignal);
      process.once('SIGTERM', onSignal);
      // a throw here (a bad cron expression) rejects the promise: the executor runs synchronously
      for (const s of farm.schedules) jobs.push((() => {
        try {
          return new Cron(s.cron, {
            protect: (job) => {
              missed++;
              opts.say(`farm schedule: missed ${s.app} at ${new Date().toISOString()}: its previous run (since ${job.currentRun()?.toISOString() ?? '?'}) is still going`);
            },
          }, async () => {
            const stamp = new Date().toISOString().replace(/[:.]/g, '-');
            opts.say(`farm schedule: ${s.app} starts (${s.cron})`);
            const run = (async () => {
              try {
                const summary = await runFarm(farm, { out: join(out, s.app, stamp), concurrency: opts.concurrency, shard: null, app: s.app, say: opts.say, control });
                runs.push(summary);
                opts.say(`farm schedule: ${s.app} done: ${summary.results.length} run(s) in ${summary.seconds.toFixed(1)} s`);
              } catch (e) {
                opts.say(`farm schedule: ${s.app} failed: ${(e as Error).message}`);
              }
            })();
            inflight.add(run);
            await run.finally(() => inflight.delete(run));
            if (opts.maxRuns !== undefined && runs.length >= opts.maxRuns) stopAll();
          });
        } catch (e) {
          throw new RefscopeError('ERR_INPUT', `${farm.file}: schedules: '${s.cron}' is not a cron expression (${(e as Error).message})`, 'Use five or six fields, e.g. "0 2 * * *" for 02:00 daily');
        }
      })());
      for (const s of farm.schedules) opts.say(`farm schedule: ${s.app} on '${s.cron}'`);
    });
  } finally {
    for (const j of jobs) j.stop();
    // the runs under way end (asked to, on an interrupt) and write their reports before the lock goes
    await Promise.allSettled([...inflight]);
    if (onSignal) { process.off('SIGINT', onSignal); process.off('SIGTERM', onSignal); }
    await release();
  }
  return { runs, missed };
}
