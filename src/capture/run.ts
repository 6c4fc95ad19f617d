/**
 * `refscope run`, the work without the terminal: check everything first (nothing is
 * written when an input is wrong), then create the session, launch the probe with the
 * app, follow its segments while it runs, stop it on --duration or on the user's
 * interrupt, and finish (finish.ts).
 */
import { stat } from 'node:fs/promises';
import type { Writable } from 'node:stream';
import { resolve } from 'node:path';
import { RefscopeError } from '../errors.js';
import type { Log } from '../log.js';
import { discoverPython, type PythonInfo } from '../device/discover.js';
import { probePath } from '../device/scripts.js';
import { MANIFEST_SCHEMA, type Manifest } from '../session/manifest.js';
import { checkSessionDir, createSession, defaultSessionDir, newSessionId } from '../session/store.js';
import type { ExitStatus, Signal, Transport, TransportProcess } from '../transport/types.js';
import { finishSession, type RunOutcome } from './finish.js';
import { localPlacement, type Placement } from './placement.js';
import { prepareRemote, devicePlacement, type RemoteOptions, type RemoteSetup, type DevicePlacement } from './remote.js';
import { probeArgv, readProbeVersion } from './probe.js';
import { RecentGrowth, type Growth } from './growth.js';
import { Progress, type ProgressSnapshot } from './progress.js';
import { Stopper } from './stop.js';
import { SegmentTail } from './tail.js';
import { VerdictWatch } from './verdict-watch.js';

export const TAIL_POLL_MS = 250;
/**
 * After the user asks to stop, a device that has sent nothing for STOP_SILENT_MS is given up
 * once STOP_DEADLINE_MS have passed since the stop (the app's own grace is 5 s; a device
 * still sending records or a pull is waited for).
 */
export const STOP_DEADLINE_MS = 15_000;
export const STOP_SILENT_MS = 10_000;

export interface RunRequest {
  transport: Transport;
  /**
   * true: the app runs on a device reached through the transport (DEVICE was named): the
   * probe is deployed, launched there and its segments brought back. false: on this machine
   * (--local), the probe writing straight into the session.
   */
  onDevice: boolean;
  /** ['script.py', ...args] or ['-m', 'module', ...args] */
  command: string[];
  python?: string;
  out?: string;
  /** reuse --out when it holds an earlier refscope session */
  force?: boolean;
  interval: number;
  censusBudget: number;
  duration: number | null;
  watchTypes: string[];
  /** run the app under a pseudo-terminal */
  tty: boolean;
  cwd: string;
  /** on a device: --device-dir, --push (--push without a device is refused) */
  remote?: RemoteOptions;
  /** stop the app once a verdict is decided (the sequential test) */
  untilVerdict?: boolean;
  /** --no-narrow: the probe opens no narrowing window (issue 15) */
  noNarrow?: boolean;
  /** --narrow-again: re-arm, a suspect type may get another narrowing window later in the run */
  narrowAgain?: boolean;
  /**
   * where the app's stdout and stderr go (default: ours, untouched): `--json` sends them to
   * stderr so stdout carries only the report; a farm run writes them to the run's log
   */
  appOutput?: { stdout: Writable; stderr: Writable };
}


export interface PreparedRun {
  req: RunRequest;
  sessionDir: string;
  python: PythonInfo;
  probe: { path: string; version: string | null };
  manifest: Manifest;
  /** on a device: what is there */
  remote?: RemoteSetup;
}

function usage(message: string, hint?: string): RefscopeError {
  return new RefscopeError('ERR_USAGE', message, hint);
}

function checkNumbers(req: RunRequest): void {
  if (!(Number.isFinite(req.interval) && req.interval > 0)) throw usage(`--interval must be a number of seconds above 0 (got ${req.interval})`);
  if (!(Number.isFinite(req.censusBudget) && req.censusBudget > 0 && req.censusBudget <= 1)) {
    throw usage(`--census-budget must be a fraction of one core, above 0 and at most 1 (got ${req.censusBudget})`);
  }
  if (req.duration !== null && !(Number.isFinite(req.duration) && req.duration > 0)) {
    throw usage(`--duration must be a number of seconds above 0 (got ${req.duration})`);
  }
  if (req.noNarrow && req.narrowAgain) {
    throw usage('--narrow-again asks for more narrowing windows, --no-narrow for none', 'Give one of them');
  }
}

async function checkTarget(req: RunRequest): Promise<void> {
  const [first, second] = req.command;
  if (first === undefined) throw usage('name the app to run after --', 'For example: refscope run --local -- app.py');
  if (first === '-m') {
    if (!second) throw usage('-m needs a module name', 'For example: refscope run --local -- -m mypkg.main');
    return;
  }
  const st = await stat(resolve(req.cwd, first)).catch(() => null);
  if (!st) throw new RefscopeError('ERR_INPUT', `script '${first}' not found`, 'Check the path; it is relative to the current directory');
  if (!st.isFile()) throw new RefscopeError('ERR_INPUT', `script '${first}' is not a file`, 'Name the .py file to run');
}

/** --push names this machine's app folder: it must be one (a file or nothing is the user's slip, not a bug). */
async function checkPush(req: RunRequest): Promise<void> {
  const push = req.remote?.push;
  if (push === undefined) return;
  const st = await stat(resolve(req.cwd, push)).catch(() => null);
  if (!st) throw new RefscopeError('ERR_INPUT', `--push ${push}: no such folder here`, 'Give the folder that holds the app, e.g. --push ./myapp');
  if (!st.isDirectory()) {
    throw new RefscopeError('ERR_INPUT', `--push ${push} is a file, not a folder`, `Give the folder that holds it: --push ${push.includes('/') ? push.slice(0, push.lastIndexOf('/')) || '/' : '.'}`);
  }
}

/** Check every input; write nothing. */
export async function prepareRun(req: RunRequest, log?: Log): Promise<PreparedRun> {
  checkNumbers(req);
  let remote: RemoteSetup | undefined;
  let python: PythonInfo;
  if (req.onDevice) {
    if (req.command[0] === undefined) throw usage('name the app to run after --', 'For example: refscope run n810 -- /usr/share/app/main.py');
    await checkPush(req);
    remote = await prepareRemote(req.transport, req.command, { ...req.remote, python: req.python },
      (m, f) => log?.logger.info(f ?? {}, m));
    python = remote.python;
  } else {
    if (req.remote?.push) throw usage('--push sends an app to a device', 'Drop --push with --local: the app is already here');
    await checkTarget(req);
    const found = await discoverPython(req.transport, req.python, 'local');
    log?.logger.info({ path: found.path, version: found.version, candidates: found.candidates.map((c) => `${c.path} ${c.version}`) }, 'python chosen');
    python = { path: found.path, version: found.version };
  }
  const sessionDir = req.out !== undefined ? resolve(req.cwd, req.out) : defaultSessionDir(req.cwd, req.command);
  await checkSessionDir(sessionDir, { force: req.force ?? false });
  const path = probePath();
  const version = await readProbeVersion(path);
  const uname = await req.transport.run(['uname', '-srm'], { timeoutMs: 5_000 })
    .then((r) => (r.code === 0 ? r.stdout.trim() : undefined), () => undefined);
  const manifest: Manifest = {
    schema: MANIFEST_SCHEMA,
    id: newSessionId(),
    createdAt: new Date().toISOString(),
    device: req.transport.device,
    transport: req.transport.kind,
    python: { path: python.path, version: python.version },
    probeVersion: version,
    ...(uname ? { uname } : {}),
    command: [...req.command],
    options: {
      interval: req.interval, censusBudget: req.censusBudget, watchTypes: [...req.watchTypes], duration: req.duration,
      ...(req.noNarrow ? { narrow: 'off' as const } : req.narrowAgain ? { narrow: 'again' as const } : {}),
    },
    state: 'running',
  };
  return { req, sessionDir, python, probe: { path, version }, manifest, ...(remote ? { remote } : {}) };
}

export interface LiveSnapshot extends ProgressSnapshot {
  elapsedSeconds: number;
  /** the type whose live count rose most over the recent window (growth.ts), or null */
  topGrowth: Growth | null;
}

export interface RunHandle {
  sessionDir: string;
  /** the probe's process (with --tty: its terminal's output is on proc.stdout) */
  proc: TransportProcess;
  /** the live line's numbers; `topGrowth` is the growth over the recent window (growth.ts) */
  snapshot(): LiveSnapshot;
  /** the user asked to stop; `delivered`: the app already got the interrupt */
  interrupt(delivered: boolean): void;
  /** how many interrupts the user has sent */
  readonly interrupts: number;
  /** settles when the app has ended (the analysis still follows) */
  appEnded: Promise<void>;
  done: Promise<RunOutcome>;
}

/** Create the session and launch the app under the probe. */
export async function startRun(prep: PreparedRun, log: Log, opts: { ttySize?: { cols: number; rows: number } } = {}): Promise<RunHandle> {
  const { req, sessionDir } = prep;
  await createSession(sessionDir, prep.manifest, { force: req.force ?? false });
  log.attachSession(sessionDir);
  if (prep.remote) {
    const r = prep.remote;
    log.logger.info({ device: req.transport.device, dir: r.probe.dir, bytesSent: r.probe.bytesSent, roundTrips: r.probe.roundTrips }, 'probe deployed');
    if (r.pushed) log.logger.info({ dir: r.pushed.dir, bytesSent: r.pushed.bytesSent, roundTrips: r.pushed.roundTrips }, 'app pushed');
  }
  const remote: DevicePlacement | null = prep.remote
    ? devicePlacement(req.transport, prep.remote, sessionDir, prep.manifest.id, log.logger, req.remote?.progress)
    : null;
  const place: Placement = remote ?? localPlacement(sessionDir, prep.probe.path);
  const argv = place.launch(probeArgv({
    python: prep.python.path, probe: place.probePath, outDir: place.outDir,
    interval: req.interval, censusBudget: req.censusBudget, watchTypes: req.watchTypes, command: req.command,
    restoreSigint: place.restoreSigint, noNarrow: req.noNarrow ?? false, narrowAgain: req.narrowAgain ?? false,
  }));
  log.logger.info({ id: prep.manifest.id, argv, cwd: req.cwd, python: prep.python, tty: req.tty }, 'launching');

  const progress = new Progress();
  const growth = new RecentGrowth();
  let stopForVerdict: (() => void) | null = null;
  let onAppStart: (() => void) | null = null;
  const watch = req.untilVerdict ? new VerdictWatch(() => stopForVerdict?.(), log.logger) : null;
  const tail = new SegmentTail(place.localSegments, (r) => {
    progress.onRecord(r);
    growth.onRecord(r);
    watch?.onRecord(r);
    // the first census is the baseline, taken just before the app's first line: --duration
    // counts from there (a busy device can take seconds to get there after the start record)
    if (r.k === 'census') onAppStart?.();
  });
  const spawned = await req.transport.spawn(argv, {
    cwd: prep.remote?.cwd ?? req.cwd,
    stdio: 'inherit',
    ...(req.appOutput ? { output: req.appOutput } : {}),
    ...(req.tty ? { tty: opts.ttySize ?? true } : {}),
  });
  // on a device, signals go by pid through the launch script: dropbear ignores SSH signal requests
  const proc: TransportProcess = remote ? withRemoteSignals(spawned, remote) : spawned;
  remote?.follow();
  const startedAt = Date.now();
  const stopper = new Stopper(proc, log.logger);
  if (req.duration !== null) stopper.armDuration(req.duration);
  stopForVerdict = () => stopper.stopNow();
  onAppStart = () => stopper.appStarted();
  const poller = setInterval(() => { void tail.poll().catch(() => undefined); }, TAIL_POLL_MS);

  /** seconds after the stop when the device was given up, or null */
  let abandoned: number | null = null;
  const done = (async (): Promise<RunOutcome> => {
    let exit: ExitStatus | null = null;
    let spawnError: Error | null = null;
    try {
      exit = await proc.exited;
    } catch (e) {
      spawnError = e as Error;
      log.logger.error({ err: spawnError.message }, 'could not start python');
    } finally {
      clearInterval(poller);
      stopper.dispose();
    }
    let deviceError: RefscopeError | null = null;
    try {
      await place.collect();
    } catch (e) {
      if (!(e instanceof RefscopeError)) throw e;
      deviceError = abandoned === null ? e : new RefscopeError('ERR_DEVICE',
        `${req.transport.device} did not answer after the stop: given up after ${abandoned} s; the session holds the ${remote?.streamedBytes() ?? 0} bytes of records that arrived`,
        'The app may still run on the device; its records stay there (refscope doctor DEVICE checks the device)');
      log.logger.error({ err: deviceError.message }, 'collection failed');
    }
    const lost = await tail.finish();
    const outcome = await finishSession({
      sessionDir, progress, lost, exit, spawnError, interrupted: stopper.interrupts > 0 || deviceError !== null, deviceFailed: deviceError !== null, log: log.logger,
      ...(watch?.decided ? { earlyVerdict: watch.decided } : {}),
    });
    return deviceError ? { ...outcome, deviceError } : outcome;
  })();

  // a stop the device does not answer: once the user has asked to stop (SIGINT, SIGTERM),
  // a device silent for STOP_SILENT_MS, STOP_DEADLINE_MS or more after the stop, is given up:
  // the connection is closed, which ends every wait on it, and the session keeps what arrived
  let settled = false;
  void done.finally(() => { settled = true; }).catch(() => undefined);
  let giveUpWatch: NodeJS.Timeout | null = null;
  const watchTheStop = (): void => {
    if (!remote || giveUpWatch) return;
    const since = Date.now();
    giveUpWatch = setInterval(() => {
      const now = Date.now();
      if (settled) { clearInterval(giveUpWatch!); return; }
      // a device samples every --interval: silence is only a sign after a few of them
      const silentMs = Math.max(STOP_SILENT_MS, 3 * req.interval * 1000);
      if (now - since < STOP_DEADLINE_MS || now - remote.lastActivity() < silentMs) return;
      clearInterval(giveUpWatch!);
      abandoned = Math.round((now - since) / 1000);
      log.logger.warn({ afterSeconds: abandoned }, 'the device has not answered since the stop: giving it up');
      void req.transport.close().catch(() => undefined);
    }, 250);
    giveUpWatch.unref();
  };

  return {
    sessionDir,
    proc,
    snapshot: () => ({ elapsedSeconds: (Date.now() - startedAt) / 1000, ...progress.snapshot(), topGrowth: growth.top() }),
    interrupt: (delivered: boolean) => { stopper.interrupt(delivered); watchTheStop(); },
    get interrupts() { return stopper.interrupts; },
    appEnded: proc.exited.then(() => undefined, () => undefined),
    done,
  };
}

/**
 * A device process whose signals go by pid on the device, once. The launcher forwards a
 * signal it gets to the app too (an SSH signal request, which OpenSSH honours and dropbear
 * ignores, or a local one): sending both gave the app a second SIGINT a moment after the
 * first, which could land in the probe's last census and lose its `end` record. Only
 * SIGKILL also goes to the launcher, which ends the channel.
 */
function withRemoteSignals(proc: TransportProcess, remote: DevicePlacement): TransportProcess {
  return {
    get pid() { return proc.pid; },
    stdin: proc.stdin,
    stdout: proc.stdout,
    stderr: proc.stderr,
    exited: proc.exited,
    sharesProcessGroup: false,
    kill(signal: Signal = 'SIGTERM') {
      if (signal === 'SIGKILL') proc.kill(signal);
      void remote.signal(signal);
    },
    ...(proc.resize ? { resize: proc.resize.bind(proc) } : {}),
  };
}
