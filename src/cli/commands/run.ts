/**
 * `refscope run (DEVICE | --local) [opts] -- SCRIPT [ARGS...]` (or `-- -m MODULE ARGS`).
 * Parses, wires the terminal (live line, Ctrl-C, --tty), prints; the work is in capture/.
 */
import { relative, isAbsolute } from 'node:path';
import type { Argv, CommandModule } from 'yargs';
import { DEFAULT_CENSUS_BUDGET, DEFAULT_INTERVAL } from '../../capture/probe.js';
import { RefscopeError } from '../../errors.js';
import { connectOptions, openTransport, type ConnectArgs } from '../connect.js';
import { printable } from '../../report/text.js';

export interface RunArgs extends ConnectArgs {
  push?: string;
  'device-dir'?: string;
  device?: string;
  local: boolean;
  python?: string;
  out?: string;
  force: boolean;
  interval: number;
  'census-budget': number;
  duration?: number;
  'until-verdict'?: boolean;
  'watch-type'?: string | string[];
  narrow: boolean;
  'narrow-again': boolean;
  json: boolean;
  tty: boolean;
  verbose: boolean;
  '--'?: (string | number)[];
}

export const runCommand: CommandModule<{ verbose: boolean }, RunArgs> = {
  command: 'run [device]',
  describe: 'Run an app under the probe, show a live status line, then report',
  builder: (y: Argv<{ verbose: boolean }>) =>
    connectOptions(y
      .usage('$0 run (DEVICE | --local) [options] -- (SCRIPT | -m MODULE) [ARGS...]')
      .positional('device', { type: 'string', describe: '[user@]host[:port] or an ssh Host alias' })
      .option('push', { type: 'string', describe: 'send this app folder to the device first; SCRIPT is relative to where it lands' })
      .option('device-dir', { type: 'string', describe: 'where refscope keeps its files on the device (default ~/.refscope)' })
      .option('local', { type: 'boolean', default: false, describe: 'run the app on this machine' })
      .option('python', { type: 'string', describe: 'interpreter name or path, here or on the device (default: the first that runs of python3, python2.7, python2.6, python2.5, python2, python, /usr/bin/python2.5)' })
      .option('out', { type: 'string', describe: 'session directory (default: ./refscope-sessions/<time>-<app>)' })
      .option('force', { type: 'boolean', default: false, describe: 'replace an earlier refscope session in --out' })
      .option('interval', { type: 'number', default: DEFAULT_INTERVAL, describe: 'seconds between samples' })
      .option('census-budget', { type: 'number', default: DEFAULT_CENSUS_BUDGET, describe: 'fraction of one core the type census may use' })
      .option('duration', { type: 'number', describe: 'stop the app after this many seconds (SIGINT, then SIGTERM, then SIGKILL)' })
      .option('until-verdict', { type: 'boolean', default: false, describe: 'stop the app as soon as leak or no leak is decided at the declared error rate (a test valid under continuous looking)' })
      .option('watch-type', { type: 'string', describe: 'follow this type closely (repeatable)' })
      // yargs reads --no-narrow as narrow=false (boolean negation)
      .option('narrow', { type: 'boolean', default: true, describe: 'the narrowing window that finds the leaking call of each suspect type (--no-narrow skips it)' })
      .option('narrow-again', { type: 'boolean', default: false, describe: 're-arm: a suspect type may get another narrowing window later in the run (after one that found nothing, say)' })
      .option('json', { type: 'boolean', default: false, describe: 'print the JSON report on stdout, and nothing else there: the app\'s own output goes to stderr' })
      .option('tty', { type: 'boolean', default: false, describe: 'run the app under a pseudo-terminal' })
      .example('$0 run --local -- app.py --frames 100', '')
      .example('$0 run --local --python python2.7 --out runs/first --duration 60 -- -m myapp', '')
      .example('$0 run n810 --push ./myapp -- myapp/main.py', '')
      .example('$0 run user@10.0.0.5:2222 -- /usr/share/inkface/app.py', '')
      .example('$0 run --local --until-verdict -- app.py', '')
      .example('$0 run --local --no-narrow -- app.py', '')
      // lines under 80 columns: yargs' wrapping (ESM cliui) would cut words on an 80-column terminal
      .epilog([
        'Exit codes: 0 no leak (or inconclusive: the report says what it needs),',
        '1 leak found, 2 usage or input error, 3 device or connection error,',
        '4 the app did not start.',
        '',
        "Mark each iteration in the app: import refscope; refscope.mark('frame')",
        'and growth is reported per frame (to run without refscope too, guard the',
        'import: docs/app-api.md).',
        '',
        'Run length: a verdict needs at least 5 censuses and 20 marks; at the',
        'defaults a leak is typically decided after 20 to 300 marks (docs/analysis.md,',
        'calibration): give the app 150 iterations or more, or add --until-verdict.',
        '',
        'Once a type is a suspect, one short narrowing window (a few marks) finds',
        'the call that leaks it: the report\'s "where:" lines. --no-narrow skips',
        'it; --narrow-again lets a type have another window later in the run.',
      ].join('\n'))) as Argv<RunArgs>,
  handler: async (args) => {
    process.exitCode = await runRun(args);
  },
};

/** A path as the user would like to read it: relative when under the current directory. */
export function shown(path: string): string {
  const rel = relative(process.cwd(), path);
  return rel && !rel.startsWith('..') && !isAbsolute(rel) ? rel : path;
}

function toList(v: string | string[] | undefined): string[] {
  return v === undefined ? [] : Array.isArray(v) ? v.map(String) : [String(v)];
}

async function runRun(args: RunArgs): Promise<number> {
  if (args.device !== undefined && args.local) {
    throw new RefscopeError('ERR_USAGE', 'give DEVICE or --local, not both', 'The app goes after --: refscope run --local -- app.py');
  }
  if (args.device === undefined && !args.local) {
    throw new RefscopeError('ERR_USAGE', 'run needs DEVICE or --local', 'For this machine: refscope run --local -- app.py');
  }
  const command = (args['--'] ?? []).map(String);

  const [{ createLog }, { inTerminalForeground }, { prepareRun, startRun }, { LiveLine }] = await Promise.all([
    import('../../log.js'), import('../../transport/local.js'), import('../../capture/run.js'), import('../live.js'),
  ]);
  const log = await createLog({ verbose: args.verbose });
  const transport = await openTransport(args.device, args, (m, f) => log.logger.info(f ?? {}, m));
  try {
    return await runWith(transport, command, args, log, { inTerminalForeground, prepareRun, startRun, LiveLine });
  } finally {
    await transport.close();
  }
}

interface RunDeps {
  inTerminalForeground: typeof import('../../transport/local.js').inTerminalForeground;
  prepareRun: typeof import('../../capture/run.js').prepareRun;
  startRun: typeof import('../../capture/run.js').startRun;
  LiveLine: typeof import('../live.js').LiveLine;
}

async function runWith(
  transport: import('../../transport/types.js').Transport,
  command: string[],
  args: RunArgs,
  log: import('../../log.js').Log,
  { inTerminalForeground, prepareRun, startRun, LiveLine }: RunDeps,
): Promise<number> {
  const prep = await prepareRun({
    transport, onDevice: args.device !== undefined, command, python: args.python, out: args.out, force: args.force,
    interval: args.interval, censusBudget: args['census-budget'], duration: args.duration ?? null,
    watchTypes: toList(args['watch-type']), tty: args.tty, cwd: process.cwd(),
    ...(args['until-verdict'] ? { untilVerdict: true } : {}),
    ...(args.narrow === false ? { noNarrow: true } : {}),
    ...(args['narrow-again'] ? { narrowAgain: true } : {}),
    // --json: stdout carries the report only; the app's own output goes to stderr
    ...(args.json ? { appOutput: { stdout: process.stderr, stderr: process.stderr } } : {}),
    remote: {
      ...(args.push ? { push: args.push } : {}),
      ...(args['device-dir'] ? { deviceDir: args['device-dir'] } : {}),
      ...(args.device !== undefined ? { progress: await (await import('../progress.js')).transferBars() } : {}),
    },
  }, log);
  process.stderr.write(`refscope: session ${shown(prep.sessionDir)}\n`);

  // the live line keeps the terminal's bottom row apart (live.ts says why): with --tty the
  // app's terminal is one row shorter
  const reserved = LiveLine.wanted(process.stderr) && process.stdout.isTTY ? 1 : 0;
  const appRows = (rows: number) => Math.max(1, rows - reserved);
  const ttySize = { cols: process.stdout.columns || 80, rows: appRows(process.stdout.rows || 24) };
  const handle = await startRun(prep, log, { ttySize });
  // from here on nothing awaits before the signal handlers are in place
  const live = LiveLine.for(process.stderr);
  const say = (line: string) => { process.stderr.write(`refscope: ${printable(line)}\n`); };

  // Ctrl-C: the first reaches the app and we wait; the second kills it; a third leaves at once
  let userInterrupts = 0;
  const onInterrupt = (delivered: boolean) => {
    userInterrupts++;
    if (userInterrupts >= 3) {
      say('interrupted three times: leaving without a report');
      process.exit(130);
    }
    handle.interrupt(delivered);
    say(userInterrupts === 1 ? 'stopping: waiting for the app to end (Ctrl-C again to kill it)' : 'killing the app; the report follows');
  };
  const onSigint = () => onInterrupt(handle.proc.sharesProcessGroup && inTerminalForeground());
  const onSigterm = () => onInterrupt(false);
  process.on('SIGINT', onSigint);
  process.on('SIGTERM', onSigterm);
  process.on('SIGHUP', onSigterm);

  const detachTerminal = args.tty ? attachTerminal(handle.proc, onInterrupt, appRows, args.json ? process.stderr : process.stdout) : async () => undefined;
  const ticker = live ? setInterval(() => live.render(handle.snapshot()), 250) : null;
  void handle.appEnded.then(() => {
    if (ticker) clearInterval(ticker);
    live?.close();
  });

  try {
    const outcome = await handle.done;
    if (ticker) clearInterval(ticker);
    live?.close();
    await detachTerminal();
    const [{ writeSessionReports }, { exitCodeOfRun }] = await Promise.all([import('../../report/session.js'), import('../../capture/finish.js')]);
    const written = await writeSessionReports(outcome.sessionDir, { log: log.logger, mayBeEmpty: outcome.startFailure !== null || outcome.deviceError !== undefined });
    const exitCode = exitCodeOfRun(outcome, written?.report ?? null);
    log.flush();

    // known before printing, so that a reader going away (EPIPE) still leaves with it
    process.exitCode = exitCode;
    if (written) {
      const out = args.json
        ? (await import('../../report/json.js')).renderJson(written.report)
        : (await import('../../report/text.js')).renderText(written.report, {
          color: Boolean(process.stdout.isTTY) && !process.env.NO_COLOR,
          width: process.stdout.columns || 80,
          charts: (await import('../../report/text.js')).chartsOf(written.detailed),
          unicode: (await import('../../report/sparkline.js')).utf8Locale(),
        });
      await write(process.stdout, out);
    }
    if (outcome.startFailure) say(outcome.startFailure);
    if (outcome.deviceError) say(outcome.deviceError.toLine().replace(/^refscope: /, ''));
    if (written) say(`reports written to ${shown(written.files.text)} and ${shown(written.files.json)}`);
    else say(`session in ${shown(outcome.sessionDir)} (no report: nothing to analyse)`);
    return exitCode;
  } finally {
    if (ticker) clearInterval(ticker);
    live?.close();
    await detachTerminal();
    process.off('SIGINT', onSigint);
    process.off('SIGTERM', onSigterm);
    process.off('SIGHUP', onSigterm);
  }
}

/**
 * --tty: the app's terminal output to our stdout, our stdin (raw) to it, our size to it
 * (`appRows`: less the live line's row). The output goes through untouched: the live line
 * has a row of its own.
 */
function attachTerminal(
  proc: import('../../transport/types.js').TransportProcess,
  onInterrupt: (delivered: boolean) => void,
  appRows: (rows: number) => number,
  appOut: NodeJS.WritableStream,
): () => Promise<void> {
  const stdin = process.stdin;
  const raw = Boolean(stdin.isTTY);
  const onOutput = (chunk: Buffer) => { appOut.write(chunk); };
  proc.stdout?.on('data', onOutput);
  // the app's last output must reach stdout before the report does
  const drained = new Promise<void>((resolve) => {
    if (!proc.stdout) return resolve();
    proc.stdout.once('end', resolve);
    proc.stdout.once('close', resolve);
  });
  let ctrlC = 0;
  const onData = (chunk: Buffer) => {
    // in raw mode Ctrl-C is a byte: the pty turns the first into the app's SIGINT
    if (raw && chunk.includes(0x03)) {
      ctrlC++;
      if (ctrlC === 1) { proc.stdin?.write(chunk); onInterrupt(true); } else onInterrupt(false);
      return;
    }
    proc.stdin?.write(chunk);
  };
  if (raw) stdin.setRawMode(true);
  stdin.on('data', onData);
  stdin.resume();
  const onResize = () => proc.resize?.(process.stdout.columns || 80, appRows(process.stdout.rows || 24));
  process.stdout.on('resize', onResize);
  let detached = false;
  return async () => {
    if (detached) return;
    detached = true;
    await Promise.race([drained, new Promise((r) => setTimeout(r, 2000).unref())]);
    stdin.off('data', onData);
    if (raw) stdin.setRawMode(false);
    stdin.pause();
    process.stdout.off('resize', onResize);
    proc.stdout?.off('data', onOutput);
  };
}

function write(stream: NodeJS.WritableStream, text: string): Promise<void> {
  return new Promise((resolve, reject) => stream.write(text, (e) => (e ? reject(e) : resolve())));
}
