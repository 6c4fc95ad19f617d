/**
 * Runs on a device, through any Transport (SSH to a handheld; a local folder playing one in
 * the tests). The probe (device-scripts/) is deployed content-addressed,
 * started by refscope_launch.sh in a run folder on the device, and its segments come
 * back twice: streamed while the app runs (refscope_follow.py, for the live line and so
 * that a dropped connection keeps what was seen), then pulled whole with tar at the end.
 * Only once every segment is written and fsynced on this machine is the run folder
 * removed from the device.
 */
import { once } from 'node:events';
import { createWriteStream, type WriteStream } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { basename, join, posix, resolve } from 'node:path';
import { collectPayload, deploy, pushName, resolveDeviceDir, type DeployResult } from '../device/deploy.js';
import { discoverPython } from '../device/discover.js';
import { pullFailure, pullTar } from '../device/pull.js';
import { deploySampler, samplerArgv, type SamplerChoice } from '../device/sampler.js';
import { FOLLOW_FILE, LAUNCH_FILE, PROBE_FILE, probePayload } from '../device/scripts.js';
import { RefscopeError } from '../errors.js';
import type { Logger } from '../log.js';
import { LineSplitter } from '../session/lines.js';
import { DEFAULT_MAX_LINE_BYTES } from '../session/reader.js';
import { commitTemps, SEGMENTS_DIR } from '../session/store.js';
import type { Signal, Transport, TransportProcess } from '../transport/types.js';
import type { Placement } from './placement.js';
import { readPidSh } from '../device/pid.js';

// the doctor command and the remote bench find the payload here too: one definition, in device/scripts.ts

/** called as bytes move: phase, bytes done, bytes expected (an estimate for collect) */
export type TransferProgress = (phase: 'deploy' | 'push' | 'collect', done: number, total: number) => void;

export interface RemoteOptions {
  progress?: TransferProgress;
  /** --device-dir: where refscope keeps its files on the device */
  deviceDir?: string;
  /** --push DIR: an app folder to send first; the script is relative to where it lands */
  push?: string;
  python?: string;
}

export interface RemoteSetup {
  python: { path: string; version: string };
  /** the folder on the device the app runs in */
  cwd: string;
  base: string;
  probe: DeployResult;
  pushed: DeployResult | null;
  /** the native sampler that wraps the probe, or why there is none (the probe samples RSS itself) */
  sampler: SamplerChoice;
}

const SEG_NAME = /^seg-\d{6}\.jsonl$/;
/** Bytes of the live stream queued for writing at most, before the stream is paused. */
const FOLLOW_BACKLOG = 8 * 1024 * 1024;
/** What a queued line costs besides its bytes (its promise), so that a flood of empty lines counts too. */
const LINE_OVERHEAD = 64;
/** the probe's segments and the native sampler's (nseg-*, collected at the end only) */
const ANY_SEG_NAME = /^n?seg-\d{6}\.jsonl$/;

/** Everything that must be true before a remote run starts; writes nothing on this machine. */
export async function prepareRemote(t: Transport, command: readonly string[], opts: RemoteOptions, log: (m: string, f?: object) => void): Promise<RemoteSetup> {
  const python = await discoverPython(t, opts.python);
  log('python chosen', { path: python.path, version: python.version, candidates: python.candidates.map((c) => `${c.path} ${c.version}`) });
  const base = await resolveDeviceDir(t, opts.deviceDir);
  const probe = await deploy(t, probePayload(), base, 'probe', opts.progress && ((d, n) => opts.progress!('deploy', d, n)));
  log('probe deployed', { dir: probe.dir, bytesSent: probe.bytesSent });
  const machine = (await t.run(['uname', '-m'], { timeoutMs: 15_000 })).stdout.trim();
  const sampler = await deploySampler(t, base, machine).catch((e: unknown): SamplerChoice => ({ kind: 'fallback', reason: `sampler deploy failed: ${String(e)}` }));
  log('sampler', { machine, ...sampler });
  let pushed: DeployResult | null = null;
  let cwd = posix.dirname(base);
  if (opts.push) {
    const dir = resolve(opts.push);
    const name = pushName(dir);
    pushed = await deploy(t, collectPayload(dir, name), posix.join(base, 'apps'), name, opts.progress && ((d, n) => opts.progress!('push', d, n)));
    cwd = pushed.dir;
    log('app pushed', { from: dir, dir: pushed.dir, bytesSent: pushed.bytesSent });
  } else {
    const home = await t.run(['sh', '-c', 'printf %s "$HOME"'], { timeoutMs: 15_000 });
    cwd = home.stdout.trim() || '/';
  }
  const [first] = command;
  if (first !== undefined && first !== '-m') {
    const r = await t.run(['test', '-f', first], { cwd, timeoutMs: 15_000 });
    if (r.code !== 0) {
      throw new RefscopeError('ERR_INPUT', `script '${first}' not found on ${t.device} (in ${cwd})`,
        opts.push ? `It is relative to the pushed folder: e.g. --push ./myapp -- ${basename(resolve(opts.push))}/main.py` : 'Give a path on the device, or send the app with --push DIR');
    }
  }
  return { python: { path: python.path, version: python.version }, cwd, base, probe, pushed, sampler };
}

export interface DevicePlacement extends Placement {
  /** start streaming the segments back (call once the app is launched) */
  follow(): void;
  /** signal the probe by pid on the device (dropbear ignores SSH signal requests) */
  signal(sig: Signal): Promise<void>;
  /** records' bytes received so far by the stream */
  streamedBytes(): number;
  /** when bytes last came from the device (the stream, or the final pull), ms since the epoch */
  lastActivity(): number;
}

export function devicePlacement(t: Transport, setup: RemoteSetup, sessionDir: string, runId: string, log: Logger, progress?: TransferProgress): DevicePlacement {
  const runDir = posix.join(setup.base, 'runs', runId);
  const localSegments = join(sessionDir, SEGMENTS_DIR);
  let follower: TransportProcess | null = null;
  let followerDone: Promise<void> = Promise.resolve();
  let streamed = 0;
  let activity = Date.now();

  return {
    probePath: posix.join(setup.probe.dir, PROBE_FILE),
    outDir: posix.join(runDir, 'segments'),
    localSegments,
    // the launcher starts the probe as a background job, whose SIGINT the shell ignores:
    // --restore-sigint gives the app its KeyboardInterrupt back
    restoreSigint: true,
    launch: (argv) => ['sh', posix.join(setup.probe.dir, LAUNCH_FILE), runDir,
      ...(setup.sampler.kind === 'native' ? samplerArgv(setup.sampler.path, posix.join(runDir, 'segments')) : []),
      ...argv],
    streamedBytes: () => streamed,
    lastActivity: () => activity,

    follow() {
      followerDone = (async () => {
        await mkdir(localSegments, { recursive: true });
        // the follower starts before the launch script may have made the folder: wait for it on the device
        follower = await t.spawn(['sh', '-c',
          'i=0; while [ ! -d "$1" ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i+1)); done; exec "$2" "$3" "$1" "$4"',
          'sh', posix.join(runDir, 'segments'), setup.python.path, posix.join(setup.probe.dir, FOLLOW_FILE), posix.join(runDir, 'exit')]);
        let out: WriteStream | null = null;
        const closeOut = () => new Promise<void>((r) => { if (out) out.end(r); else r(); });
        const onLine = async (bytes: Buffer | null): Promise<void> => {
          // a line over the reader's limit was dropped as it came (a probe never writes one);
          // the segment pulled at the end has the device's file as it is
          if (bytes === null) { tooLong++; return; }
          const line = bytes.toString('latin1');
          if (line.startsWith('#')) {
            const [name, offset] = line.slice(1).split(' ');
            if (!name || !SEG_NAME.test(name)) return;
            await closeOut();
            // the stream restarts a file at the offset it names: what is before it is already here
            out = createWriteStream(join(localSegments, name), { flags: Number(offset) > 0 ? 'a' : 'w' });
            return;
          }
          if (!out) return;
          streamed += line.length + 1;
          if (!out.write(`${line}\n`, 'latin1')) await once(out, 'drain');
        };
        // lines are handled strictly in order (the local copy must be an exact prefix of the
        // device's file), and no faster than they are written: past FOLLOW_BACKLOG bytes queued,
        // the stream is paused until the writes catch up (a device cannot fill the host's memory)
        let chain: Promise<void> = Promise.resolve();
        let backlog = 0;
        let tooLong = 0;
        const stdout = follower.stdout!;
        const split = new LineSplitter(DEFAULT_MAX_LINE_BYTES, (line) => {
          const n = (line?.length ?? 0) + LINE_OVERHEAD;
          backlog += n;
          chain = chain.then(() => onLine(line)).finally(() => {
            backlog -= n;
            if (backlog < FOLLOW_BACKLOG / 2 && stdout.isPaused()) stdout.resume();
          });
          if (backlog >= FOLLOW_BACKLOG && !stdout.isPaused()) stdout.pause();
        });
        stdout.on('data', (b: Buffer) => { activity = Date.now(); split.push(b); });
        await follower.exited;
        await chain;
        await closeOut();
        if (tooLong > 0) log.warn({ lines: tooLong }, 'the segment stream sent lines over the line limit; they were dropped');
      })().catch((e: unknown) => { log.warn({ err: String(e) }, 'segment stream ended with an error'); });
    },

    async signal(sig: Signal) {
      const name = sig.replace(/^SIG/, '');
      await t.run(['sh', '-c', `${readPidSh('"$1"')}; [ -n "$p" ] && kill -s "$2" "$p"`, 'sh', runDir, name], { timeoutMs: 10_000 })
        .catch((e: unknown) => { log.warn({ err: String(e) }, 'could not signal the probe on the device'); });
    },

    async collect() {
      // the stream ends by itself once the sentinel is there; do not wait on it forever
      await Promise.race([followerDone, new Promise((r) => setTimeout(r, 10_000).unref())]);
      follower?.kill('SIGKILL');
      if (!t.alive) {
        throw new RefscopeError('ERR_DEVICE', `lost the connection to ${t.device} during the run; the session holds the ${streamed} bytes of records that arrived`,
          `The app may still run on the device: its records stay in ${runDir}`);
      }
      const files = await pullSegments(t, runDir, localSegments, (d) => { activity = Date.now(); progress?.('collect', d, Math.max(d, streamed)); });
      progress?.('collect', Math.max(streamed, 1), Math.max(streamed, 1));
      log.info({ runDir, files }, 'segments collected');
      await t.run(['rm', '-rf', runDir], { timeoutMs: 30_000 });
    },
  };
}

/**
 * tar the run's segments off the device and write each one durably into `localDir`. The files
 * that arrived whole are kept even when the pull fails (each replaces the streamed prefix of
 * itself); the device keeps them all until a pull succeeds.
 */
async function pullSegments(t: Transport, runDir: string, localDir: string, onBytes?: (received: number) => void): Promise<number> {
  const r = await pullTar(t, ['tar', '-cf', '-', '-C', runDir, 'segments'], { into: localDir, accept: (name) => ANY_SEG_NAME.test(name), onBytes });
  await commitTemps(localDir, r.files);
  if (r.code !== 0) {
    throw new RefscopeError('ERR_DEVICE', `could not collect the segments from ${t.device}:${runDir} (${pullFailure(r)})`,
      `They stay on the device in ${runDir}`);
  }
  return r.files.length;
}
