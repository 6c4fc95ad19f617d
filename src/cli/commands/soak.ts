/**
 * `refscope soak start|status|collect|stop DEVICE`: long runs that live on the device,
 * detached from the SSH connection; collected any time, from any host process, losslessly.
 */
import type { Argv, CommandModule } from 'yargs';
import { DEFAULT_CENSUS_BUDGET, DEFAULT_INTERVAL, MAX_SEGMENT_KIB } from '../../capture/probe.js';
import { ExitCode, RefscopeError } from '../../errors.js';
import { connectOptions, openTransport, type ConnectArgs } from '../connect.js';
import { shown } from './run.js';
import { DURATION_HINT, parseDuration } from '../../duration.js';
import { printable } from '../../report/text.js';

interface SoakArgs extends ConnectArgs {
  device: string;
  out?: string;
  json: boolean;
  verbose: boolean;
}

interface StartArgs extends SoakArgs {
  python?: string;
  force: boolean;
  interval: number;
  'census-budget': number;
  duration?: string;
  'max-device-mb'?: number;
  'segment-kib'?: number;
  'watch-type'?: string | string[];
  push?: string;
  'device-dir'?: string;
  'until-verdict': boolean;
  narrow: boolean;
  'narrow-again': boolean;
  '--'?: (string | number)[];
}

const say = (line: string): void => { process.stderr.write(`refscope: ${printable(line)}\n`); };

function common<T>(y: Argv<T>): Argv<T & SoakArgs> {
  return connectOptions(y
    .positional('device', { type: 'string', demandOption: true, describe: '[user@]host[:port] or an ssh Host alias' })
    .option('out', { type: 'string', describe: 'the session directory (default: the newest soak of DEVICE under ./refscope-sessions)' })
    .option('json', { type: 'boolean', default: false, describe: 'print JSON on stdout' })) as unknown as Argv<T & SoakArgs>;
}

async function session(args: SoakArgs) {
  const { findSoakSession } = await import('../../capture/soak.js');
  return findSoakSession(process.cwd(), args.device, args.out);
}

const start: CommandModule<{ verbose: boolean }, StartArgs> = {
  command: 'start <device>',
  describe: 'Start the app detached on the device, under the probe',
  builder: (y) => common(y)
    .usage('$0 soak start DEVICE [options] -- (SCRIPT | -m MODULE) [ARGS...]')
    .option('out', { type: 'string', describe: 'the new session directory (default: ./refscope-sessions/TIME-APP)' })
    .option('python', { type: 'string', describe: 'interpreter name or path on the device (default: the first that runs of python3, python2.7, python2.6, python2.5, python2, python, /usr/bin/python2.5)' })
    .option('force', { type: 'boolean', default: false, describe: 'replace an earlier refscope session in --out' })
    .option('interval', { type: 'number', default: DEFAULT_INTERVAL, describe: 'seconds between samples' })
    .option('census-budget', { type: 'number', default: DEFAULT_CENSUS_BUDGET, describe: 'fraction of one core the type census may use' })
    .option('duration', { type: 'string', describe: 'stop the app after this long: seconds, or 45m, 72h, 2d' })
    .option('max-device-mb', { type: 'number', describe: 'never use more than this much of the device for records (older censuses are thinned)' })
    .option('segment-kib', { type: 'number', describe: `size of each segment file on the device (default 1024, at most ${MAX_SEGMENT_KIB})` })
    .option('watch-type', { type: 'string', describe: 'follow this type closely (repeatable)' })
    // yargs reads --no-narrow as narrow=false (boolean negation)
    .option('narrow', { type: 'boolean', default: true, describe: 'the narrowing window that finds the leaking call of each suspect type (--no-narrow skips it)' })
    .option('narrow-again', { type: 'boolean', default: false, describe: 're-arm: a suspect type may get another narrowing window later in the run (after one that found nothing, say)' })
    .option('push', { type: 'string', describe: 'send this app folder to the device first' })
    .option('device-dir', { type: 'string', describe: 'where refscope keeps its files on the device (default ~/.refscope)' })
    .option('until-verdict', { type: 'boolean', default: false, describe: 'each collect looks once with the anytime test; the collect that decides leak or no leak stops the app' }) as unknown as Argv<StartArgs>,
  handler: async (args) => {
    const [{ createLog }, { prepareRun }, soak] = await Promise.all([
      import('../../log.js'), import('../../capture/run.js'), import('../../capture/soak.js'),
    ]);
    const duration = args.duration !== undefined ? parseDuration(args.duration) : null;
    if (args.duration !== undefined && duration === null) throw new RefscopeError('ERR_USAGE', `--duration '${args.duration}' is not a duration`, `Use ${DURATION_HINT}`);
    if (duration !== null && !(duration > 0)) throw new RefscopeError('ERR_USAGE', '--duration must be above 0', 'For example --duration 72h');
    const maxMb = args['max-device-mb'] ?? null;
    if (maxMb !== null && !(maxMb > 0)) throw new RefscopeError('ERR_USAGE', '--max-device-mb must be above 0', 'For example --max-device-mb 8');
    const segKib = args['segment-kib'];
    if (segKib !== undefined && !(Number.isInteger(segKib) && segKib >= 1 && segKib <= MAX_SEGMENT_KIB)) {
      throw new RefscopeError('ERR_USAGE', `--segment-kib must be a whole number from 1 to ${MAX_SEGMENT_KIB}`, 'For example --segment-kib 1024 (the default)');
    }
    const log = await createLog({ verbose: args.verbose });
    const t = await openTransport(args.device, args, (m, f) => log.logger.info(f ?? {}, m));
    try {
      const toList = (v: string | string[] | undefined) => (v === undefined ? [] : Array.isArray(v) ? v : [v]);
      const prep = await prepareRun({
        transport: t, onDevice: true, command: (args['--'] ?? []).map(String), python: args.python, out: args.out, force: args.force,
        interval: args.interval, censusBudget: args['census-budget'], duration: null, watchTypes: toList(args['watch-type']),
        tty: false, cwd: process.cwd(),
        ...(args.narrow === false ? { noNarrow: true } : {}),
        ...(args['narrow-again'] ? { narrowAgain: true } : {}),
        remote: { ...(args.push ? { push: args.push } : {}), ...(args['device-dir'] ? { deviceDir: args['device-dir'] } : {}) },
      }, log);
      const r = await soak.startSoak(prep, log, { duration, maxDeviceMb: maxMb, segmentKib: args['segment-kib'] ?? null, untilVerdict: args['until-verdict'] });
      log.flush();
      if (args.json) process.stdout.write(`${JSON.stringify({ session: r.sessionDir, runDir: r.runDir, pid: r.pid }, null, 2)}\n`);
      say(`soak started on ${args.device} (pid ${r.pid ?? '?'}); session ${shown(r.sessionDir)}`);
      say(`check it with: refscope soak status ${args.device}; collect any time with: refscope soak collect ${args.device}`);
    } finally {
      await t.close();
    }
  },
};

const status: CommandModule<{ verbose: boolean }, SoakArgs> = {
  command: 'status <device>',
  describe: 'Is the soak alive? uptime, RSS now, records held and space used on the device',
  builder: (y) => common(y) as Argv<SoakArgs>,
  handler: async (args) => {
    const soak = await import('../../capture/soak.js');
    const { dir, manifest } = await session(args);
    const t = await openTransport(args.device, args);
    try {
      const run = await soak.deviceRun(t, manifest.soak.runDir);
      const how = soak.describeRun(run, manifest.soak);
      const uptime = run.started !== null && run.now !== null ? run.now - run.started : null;
      const held = run.segments.reduce((n, s) => n + s.size, 0);
      const out = {
        session: dir, device: args.device, state: how.state, how: how.how, pid: run.pid, uptimeSeconds: uptime,
        rssKiB: run.rssKiB, segmentsOnDevice: run.segments.length, bytesOnDevice: held, deviceDirKiB: run.usedKiB, freeKiB: run.freeKiB,
        exit: run.exit,
        ...(manifest.soak.untilVerdict ? { untilVerdict: { looks: manifest.soak.untilVerdict.looks, decided: manifest.earlyVerdict?.verdict ?? null } } : {}),
      };
      if (args.json) process.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
      else {
        const fmtUp = uptime === null ? '?' : `${Math.floor(uptime / 3600)}h${String(Math.floor((uptime % 3600) / 60)).padStart(2, '0')}m${String(uptime % 60).padStart(2, '0')}s`;
        process.stdout.write([
          `soak on ${args.device}: ${how.state} (${how.how})`,
          `  session     ${shown(dir)}`,
          `  uptime      ${fmtUp}${run.pid !== null ? `, pid ${run.pid}` : ''}`,
          `  rss now     ${run.rssKiB !== null ? `${run.rssKiB} KiB` : '-'}`,
          ...(manifest.soak.untilVerdict ? [`  verdict     --until-verdict: ${manifest.earlyVerdict ? `${manifest.earlyVerdict.verdict} decided at look ${manifest.earlyVerdict.look}` : `${manifest.soak.untilVerdict.looks} look(s), not decided yet (each collect is one)`}`] : []),
          `  on device   ${run.segments.length} segments, ${(held / 1024).toFixed(0)} KiB of records; run folder ${run.usedKiB ?? '?'} KiB; ${run.freeKiB ?? '?'} KiB free`,
          '',
        ].join('\n'));
      }
      process.exitCode = how.state === 'lost' ? ExitCode.device : ExitCode.ok;
    } finally {
      await t.close();
    }
  },
};

async function collectAndPrint(args: SoakArgs, stopFirst: boolean): Promise<number> {
  const [{ createLog }, soak] = await Promise.all([import('../../log.js'), import('../../capture/soak.js')]);
  const { dir, manifest } = await session(args);
  const log = await createLog({ verbose: args.verbose });
  log.attachSession(dir);
  const t = await openTransport(args.device, args, (m, f) => log.logger.info(f ?? {}, m));
  try {
    const { result, manifest: m, decided } = await soak.collectSession(t, dir, manifest, log.logger, stopFirst);
    const { writeSessionReports, exitCodeOf } = await import('../../report/session.js');
    const { report, detailed } = (await writeSessionReports(dir, { log: log.logger }))!;
    log.flush();
    const how = soak.describeRun(result.run, m.soak);
    if (args.json) process.stdout.write((await import('../../report/json.js')).renderJson(report));
    else if (result.complete) {
      const [{ renderText, chartsOf }, { utf8Locale }] = await Promise.all([import('../../report/text.js'), import('../../report/sparkline.js')]);
      process.stdout.write(renderText(report, { color: Boolean(process.stdout.isTTY) && !process.env.NO_COLOR, width: process.stdout.columns || 80, charts: chartsOf(detailed), unicode: utf8Locale() }));
    }
    say(`collected ${result.acked.length} segment(s)${result.partial ? ` and the growing ${result.partial}` : ''} (${result.bytes} bytes) into ${shown(dir)}`);
    if (decided) say(`--until-verdict: ${decided.verdict === 'leak' ? 'leak' : 'no leak'} decided at look ${decided.look}; the app was stopped`);
    else if (m.soak.untilVerdict && !result.complete) say(`--until-verdict: not decided after ${m.soak.untilVerdict.looks} look(s); collect again later`);
    say(result.complete ? `the soak has ended: ${how.how}; everything is here and removed from the device` : `the soak is ${how.state}: collect again any time`);
    return exitCodeOf(report);
  } finally {
    await t.close();
  }
}

const collect: CommandModule<{ verbose: boolean }, SoakArgs> = {
  command: 'collect <device>',
  describe: 'Bring what the soak has recorded here (resumable, loses nothing) and report',
  builder: (y) => common(y) as Argv<SoakArgs>,
  handler: async (args) => { process.exitCode = await collectAndPrint(args, false); },
};

const stop: CommandModule<{ verbose: boolean }, SoakArgs> = {
  command: 'stop <device>',
  describe: 'Stop the app cleanly, collect the rest, report',
  builder: (y) => common(y) as Argv<SoakArgs>,
  handler: async (args) => { process.exitCode = await collectAndPrint(args, true); },
};

export const soakCommand: CommandModule<{ verbose: boolean }, { verbose: boolean }> = {
  command: 'soak <action>',
  describe: 'Long runs detached on a device: start, status, collect, stop',
  builder: (y) => y
    .command(start as unknown as CommandModule<{ verbose: boolean }, { verbose: boolean }>)
    .command(status as unknown as CommandModule<{ verbose: boolean }, { verbose: boolean }>)
    .command(collect as unknown as CommandModule<{ verbose: boolean }, { verbose: boolean }>)
    .command(stop as unknown as CommandModule<{ verbose: boolean }, { verbose: boolean }>)
    .demandCommand(1, 'name a soak action: start, status, collect or stop'),
  handler: () => undefined,
};
