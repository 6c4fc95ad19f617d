/**
 * Soak runs: the app runs detached on the device (refscope_launch.sh --detach), for hours
 * or days, surviving dropped connections and a sleeping or killed host. The host collects
 * whenever it likes, from any process, and loses nothing:
 *
 *  1. list the run's segments on the device (name, size), and whether the run has ended;
 *  2. fetch every segment the host does not have whole yet; a segment is closed once a
 *     later one exists or the run has ended (the probe only appends to its newest);
 *  3. write each one durably here (temp file, fsync, rename, fsync the folder);
 *  4. only then acknowledge the closed ones by deleting them on the device.
 *
 * The newest, still-growing segment is fetched too but not deleted: the local copy is
 * always a prefix of the device's file, so the next collect overwrites it with a longer
 * one. Killing the host or the connection at any point and collecting again ends with
 * every record exactly once. A lock file keeps two collects of one session apart.
 */
import { readdir, stat, unlink } from 'node:fs/promises';
import { join, posix, resolve } from 'node:path';
import { RefscopeError } from '../errors.js';
import type { Logger } from '../log.js';
import type { Manifest, SoakInfo } from '../session/manifest.js';
import { bySegmentNumber, SEGMENTS_DIR, SEGMENT_NAME, SEGMENT_TEMP, SESSIONS_ROOT, commitTemps, readManifest, removeTemps, updateManifest, writeFileAtomic } from '../session/store.js';
import { fetchBounded, MAX_ENTRY_BYTES, pullFailure, pullTar, SILENT, type PulledFile } from '../device/pull.js';
import { takePidLock } from '../session/lock.js';
import type { Transport } from '../transport/types.js';
import { lookAtSession, type EarlyVerdict } from '../analysis/sequential.js';
import { parsePid, readPidSh } from '../device/pid.js';


// ---------------------------------------------------------------- finding the session

/** The soak session for DEVICE: --out when given, else the newest under ./refscope-sessions. */
export async function findSoakSession(cwd: string, device: string, out?: string): Promise<{ dir: string; manifest: Manifest & { soak: SoakInfo } }> {
  if (out !== undefined) {
    const dir = resolve(cwd, out);
    const m = await readManifest(dir).catch(() => null);
    if (!m) throw new RefscopeError('ERR_SESSION', `${out} is not a refscope session`, 'Give the --out of a `refscope soak start`');
    if (!m.soak) throw new RefscopeError('ERR_SESSION', `${out} is not a soak session (it was a plain run)`, 'Give the --out of a `refscope soak start`');
    return { dir, manifest: m as Manifest & { soak: SoakInfo } };
  }
  const root = resolve(cwd, SESSIONS_ROOT);
  const names = await readdir(root).catch(() => [] as string[]);
  let best: { dir: string; manifest: Manifest & { soak: SoakInfo } } | null = null;
  for (const name of names) {
    const dir = join(root, name);
    const m = await readManifest(dir).catch(() => null);
    if (!m?.soak || m.device !== device) continue;
    if (!best || m.createdAt > best.manifest.createdAt) best = { dir, manifest: m as Manifest & { soak: SoakInfo } };
  }
  if (!best) {
    throw new RefscopeError('ERR_SESSION', `no soak session of ${device} under ${SESSIONS_ROOT}/`, `Start one with: refscope soak start ${device} -- app.py, or pass --out DIR`);
  }
  return best;
}

// ---------------------------------------------------------------- the device's side

export interface DeviceRun {
  /** closed and open segments on the device, oldest first */
  segments: { name: string; size: number }[];
  pid: number | null;
  alive: boolean;
  /** the app's exit status once the launcher wrote it */
  exit: number | null;
  started: number | null;
  now: number | null;
  bootId: string | null;
  rssKiB: number | null;
  usedKiB: number | null;
  freeKiB: number | null;
  /** the run folder is gone (collected and removed, or never there) */
  missing: boolean;
}

// $1 = run folder. key<TAB>value lines; seg<TAB>name<TAB>size for each segment.
const STATUS = [
  'r="$1"',
  'if [ ! -d "$r" ]; then echo "missing	1"; exit 0; fi',
  // whether the app runs is asked before the sizes are read: an app found gone here wrote its
  // last byte before the listing, so every size listed is final (asked after, an app ending in
  // between would leave its newest segment listed short, and collect would take it as whole)
  `${readPidSh('"$r"')}; printf "pid\\t%s\\n" "$p"`,
  'if [ -n "$p" ] && kill -0 "$p" 2>/dev/null; then echo "alive	1"; fi',
  // one wc for every segment (a soak can hold thousands): "  SIZE PATH" lines, then a total
  '(cd "$r/segments" 2>/dev/null && ls seg-*.jsonl >/dev/null 2>&1 && wc -c seg-*.jsonl | awk \'$2 != "total" { printf "seg\\t%s\\t%s\\n", $2, $1 }\')',
  '[ -f "$r/exit" ] && printf "exit\\t%s\\n" "$(cat "$r/exit")"',
  'printf "started\\t%s\\n" "$(cat "$r/started" 2>/dev/null)"',
  'printf "now\\t%s\\n" "$(date +%s)"',
  'printf "boot\\t%s\\n" "$(cat /proc/sys/kernel/random/boot_id 2>/dev/null)"',
  '[ -n "$p" ] && printf "rss\\t%s\\n" "$(awk \'/^VmRSS:/ { print $2 }\' "/proc/$p/status" 2>/dev/null)"',
  'printf "used\\t%s\\n" "$(du -sk "$r" 2>/dev/null | awk \'{ print $1 }\')"',
  'printf "free\\t%s\\n" "$(df -k "$r" 2>/dev/null | awk \'NR > 1 { v = $(NF - 2) } END { print v }\')"',
  'exit 0',
].join('\n');

const num = (s: string | undefined): number | null => (s !== undefined && s.trim() !== '' && Number.isFinite(Number(s)) ? Number(s) : null);

export async function deviceRun(t: Transport, runDir: string): Promise<DeviceRun> {
  const r = await t.run(['sh', '-c', STATUS, 'sh', runDir], { timeoutMs: 30_000 });
  if (r.code !== 0 || r.timedOut) {
    throw new RefscopeError('ERR_DEVICE', `could not read the soak's state on ${t.device} (${r.stderr.trim() || `exit ${r.code}`})`, `Try: refscope doctor ${t.device}`);
  }
  const run: DeviceRun = { segments: [], pid: null, alive: false, exit: null, started: null, now: null, bootId: null, rssKiB: null, usedKiB: null, freeKiB: null, missing: false };
  for (const line of r.stdout.split('\n')) {
    const [k, a, b] = line.split('\t');
    switch (k) {
      case 'seg': if (a && SEGMENT_NAME.test(a) && num(b) !== null) run.segments.push({ name: a, size: num(b)! }); break;
      case 'missing': run.missing = true; break;
      case 'pid': run.pid = parsePid(a); break;
      case 'alive': run.alive = true; break;
      case 'exit': run.exit = num(a); break;
      case 'started': run.started = num(a); break;
      case 'now': run.now = num(a); break;
      case 'boot': run.bootId = a?.trim() || null; break;
      case 'rss': run.rssKiB = num(a); break;
      case 'used': run.usedKiB = num(a); break;
      case 'free': run.freeKiB = num(a); break;
      default: break;
    }
  }
  run.segments.sort((x, y) => bySegmentNumber(x.name, y.name));
  return run;
}

/** How a soak stands, in words: running, ended (and how), or lost. */
export function describeRun(run: DeviceRun, soak: SoakInfo): { state: 'running' | 'ended' | 'lost' | 'collected'; how: string } {
  if (run.missing) return { state: 'collected', how: 'collected and removed from the device' };
  if (run.alive) return { state: 'running', how: 'running' };
  if (run.exit !== null) {
    const st = run.exit;
    if (st === 0) return { state: 'ended', how: 'the app exited normally (status 0)' };
    if (st === 137) return { state: 'ended', how: 'killed by SIGKILL (status 137): out of memory (OOM killer) or kill -9' };
    if (st > 128) return { state: 'ended', how: `killed by signal ${st - 128} (status ${st})` };
    return { state: 'ended', how: `the app exited with status ${st}` };
  }
  if (soak.bootId && run.bootId && soak.bootId !== run.bootId) {
    return { state: 'lost', how: 'the device rebooted during the soak: the app was not running afterwards' };
  }
  return { state: 'lost', how: 'the app and its launcher are gone without an exit status (killed with the launcher, or power lost)' };
}

// ---------------------------------------------------------------- collecting

/** Temp files a killed collect left behind. */
async function removeStaleTemps(dir: string): Promise<void> {
  for (const n of await readdir(dir).catch(() => [] as string[])) {
    if (SEGMENT_TEMP.test(n)) await unlink(join(dir, n)).catch(() => undefined);
  }
}

/**
 * tar the named segments of `dir` off the device into temp files in `local`; the caller commits
 * them. A name the archive holds twice keeps its first copy. On failure nothing is kept: the
 * device still has every segment, and the next collect takes them.
 */
async function fetchTar(t: Transport, dir: string, names: string[], local: string): Promise<PulledFile[]> {
  const wanted = new Set(names);
  const r = await pullTar(t, ['sh', '-c', 'd="$1"; shift; cd "$d" && exec tar -cf - "$@"', 'sh', dir, ...names],
    { into: local, accept: (name) => SEGMENT_NAME.test(name) && wanted.has(name) });
  if (r.code !== 0) {
    await removeTemps(r.files);
    if (!t.alive) throw new RefscopeError('ERR_DEVICE', `lost the connection to ${t.device} while collecting`, 'Collect again: nothing is lost');
    throw new RefscopeError('ERR_DEVICE', `could not read the segments in ${dir} on ${t.device} (${pullFailure(r)})`, 'Collect again: nothing is lost');
  }
  return r.files;
}

/** The app's output a soak keeps (app.out, app.err): its last 16 MiB each. */
const MAX_APP_OUTPUT_BYTES = 16 * 1024 * 1024;

/** One file of the device whole (at most `maxBytes`); `tail` keeps only its last `maxBytes` instead of failing. */
async function fetchFile(t: Transport, path: string, maxBytes: number, tail = false): Promise<Buffer> {
  const r = await fetchBounded(t, tail ? ['tail', '-c', String(maxBytes), path] : ['cat', path], maxBytes);
  if (r.code !== 0) {
    if (!t.alive) throw new RefscopeError('ERR_DEVICE', `lost the connection to ${t.device} while collecting`, 'Collect again: nothing is lost');
    const why = r.tooBig ? `: it is over ${maxBytes} bytes` : r.stalled ? `: ${SILENT}` : '';
    throw new RefscopeError('ERR_DEVICE', `could not read ${path} on ${t.device}${why}`, 'Collect again: nothing is lost');
  }
  return r.data;
}

export interface CollectResult {
  /** closed segments written here and deleted on the device in this collect */
  acked: string[];
  /** the growing segment fetched (not deleted), if any */
  partial: string | null;
  bytes: number;
  run: DeviceRun;
  /** true when the run has ended and everything is here (the device folder is removed) */
  complete: boolean;
}

export async function collectSoak(t: Transport, sessionDir: string, soak: SoakInfo, log: Logger): Promise<CollectResult> {
  const unlock = await takePidLock(join(sessionDir, 'collect.lock'),
    (pid) => new RefscopeError('ERR_USAGE', `another refscope (pid ${pid}) is collecting this session`, 'Wait for it to finish'));
  try {
    const local = join(sessionDir, SEGMENTS_DIR);
    const run = await deviceRun(t, soak.runDir);
    if (run.missing) return { acked: [], partial: null, bytes: 0, run, complete: true };
    // no pid yet: the launcher is still starting, nothing is final
    const ended = !run.alive && run.pid !== null;
    const names = run.segments.map((s) => s.name);
    const newest = names.at(-1) ?? null;
    const acked: string[] = [];
    let partial: string | null = null;
    let bytes = 0;
    const closedToFetch: string[] = [];
    let open: { name: string; size: number; have: number } | null = null;
    for (const seg of run.segments) {
      const closed = ended || seg.name !== newest;
      const have = await stat(join(local, seg.name)).then((st) => st.size, () => -1);
      if (closed) {
        // already here whole (a collect that died before its acknowledgement): just acknowledge
        if (have === seg.size) acked.push(seg.name);
        else closedToFetch.push(seg.name);
      } else if (have < seg.size) {
        open = { ...seg, have };
      }
    }
    await removeStaleTemps(local);
    if (closedToFetch.length > 0) {
      const got = await fetchTar(t, posix.join(soak.runDir, 'segments'), closedToFetch, local);
      await commitTemps(local, got);
      for (const f of got) {
        bytes += f.size;
        acked.push(f.name);
      }
    }
    if (open) {
      // the growing segment: keep its whole lines only, a prefix of what the device has
      const data = await fetchFile(t, posix.join(soak.runDir, 'segments', open.name), MAX_ENTRY_BYTES);
      const whole = data.subarray(0, data.lastIndexOf(10) + 1);
      if (whole.length > Math.max(open.have, 0)) {
        await writeFileAtomic(join(local, open.name), whole);
        bytes += whole.length;
        partial = open.name;
      }
    }
    // the app's own output, kept beside the segments (a soak has no terminal): its last 16 MiB
    for (const f of ['app.out', 'app.err']) {
      const data = await fetchFile(t, posix.join(soak.runDir, f), MAX_APP_OUTPUT_BYTES, true).catch(() => null);
      if (data) await writeFileAtomic(join(sessionDir, f), data);
    }
    if (acked.length > 0) {
      // acknowledge: only now, with every byte fsynced here, do they leave the device
      const r = await t.run(['sh', '-c', 'd="$1"; shift; cd "$d/segments" && rm -f "$@"', 'sh', soak.runDir, ...acked], { timeoutMs: 60_000 });
      if (r.code !== 0) throw new RefscopeError('ERR_DEVICE', `could not acknowledge collected segments on ${t.device}`, 'Collect again: nothing is lost');
    }
    let complete = false;
    if (ended) {
      // everything closed is here; the folder (pid, exit, app output) goes last
      const left = await deviceRun(t, soak.runDir);
      if (left.segments.length === 0) {
        await t.run(['rm', '-rf', soak.runDir], { timeoutMs: 60_000 });
        complete = true;
      }
    }
    log.info({ acked: acked.length, partial, bytes, ended, complete }, 'soak collected');
    return { acked, partial, bytes, run, complete };
  } finally {
    await unlock();
  }
}

/** A whole collect: one or two passes, the until-verdict look, and how it ended. */
export interface SoakCollectOutcome {
  result: CollectResult;
  manifest: Manifest & { soak: SoakInfo };
  /** `--until-verdict`: decided at this collect (the app was stopped and everything collected) */
  decided: EarlyVerdict | null;
}

/**
 * Collect a soak (optionally stopping its app first), take the `--until-verdict` look, and mark
 * the session ended once everything is here. The caller writes the reports (report/session.ts).
 */
export async function collectSession(t: Transport, dir: string, manifest: Manifest & { soak: SoakInfo }, log: Logger, stopFirst: boolean): Promise<SoakCollectOutcome> {
  let soak = manifest.soak;
  let m = manifest;
  const pass = async (): Promise<CollectResult> => {
    let r = await collectSoak(t, dir, soak, log);
    // an app that ended between the listing and the fetch: one more pass takes the rest
    if (!r.complete && !r.run.alive && r.run.pid !== null) r = await collectSoak(t, dir, soak, log);
    return r;
  };
  if (stopFirst) {
    const run = await stopSoakApp(t, soak.runDir);
    log.info({ exit: run.exit, alive: run.alive }, 'soak app stopped');
  }
  let result = await pass();
  let decided: EarlyVerdict | null = null;
  if (soak.untilVerdict && !m.earlyVerdict && !stopFirst && result.run.alive) {
    const look = await lookAtSession(dir, soak.untilVerdict.looks);
    if (look) {
      soak = { ...soak, untilVerdict: { looks: look.look } };
      m = await updateManifest(dir, { soak, ...(look.decided ? { earlyVerdict: look.decided } : {}) }) as Manifest & { soak: SoakInfo };
      log.info({ look: look.look, decided: look.decided }, '--until-verdict: looked');
      if (look.decided) {
        decided = look.decided;
        const run = await stopSoakApp(t, soak.runDir);
        log.info({ exit: run.exit, alive: run.alive }, '--until-verdict: decided; soak app stopped');
        result = await pass();
      }
    }
  }
  if (result.complete) m = await markEnded(dir, result.run, soak) as Manifest & { soak: SoakInfo };
  return { result, manifest: m, decided };
}

/** After the last collect: the manifest says how the soak ended. */
export async function markEnded(sessionDir: string, run: DeviceRun, soak: SoakInfo): Promise<Manifest> {
  const how = describeRun(run, soak);
  return updateManifest(sessionDir, {
    state: how.state === 'lost' ? 'aborted' : 'complete',
    endedAt: new Date().toISOString(),
    exitCode: run.exit,
    soak: { ...soak, ended: how.how },
  });
}

// ---------------------------------------------------------------- starting

export interface SoakStartOptions {
  duration: number | null;
  /** each collect looks once with the anytime test; the one that decides stops the app */
  untilVerdict?: boolean;
  maxDeviceMb: number | null;
  segmentKib: number | null;
}

/** Create the session and start the app detached on the device; returns once it runs. */
export async function startSoak(prep: import('./run.js').PreparedRun, log: import('../log.js').Log, opts: SoakStartOptions): Promise<{ sessionDir: string; runDir: string; pid: number | null }> {
  const [{ probeArgv }, { LAUNCH_FILE, PROBE_FILE }] = await Promise.all([import('./probe.js'), import('../device/scripts.js')]);
  const { createSession } = await import('../session/store.js');
  const { rm } = await import('node:fs/promises');
  const t = prep.req.transport;
  const remote = prep.remote;
  if (!remote) throw new RefscopeError('ERR_USAGE', 'a soak runs on a device', 'Give DEVICE: refscope soak start n810 -- app.py');
  const runDir = posix.join(remote.base, 'runs', prep.manifest.id);
  const probe = posix.join(remote.probe.dir, PROBE_FILE);
  const argv = probeArgv({
    python: remote.python.path, probe, outDir: posix.join(runDir, 'segments'),
    interval: prep.req.interval, censusBudget: prep.req.censusBudget, watchTypes: prep.req.watchTypes, command: prep.req.command,
    // a detached launcher's shell ignores SIGINT for its background jobs: the probe undoes it
    restoreSigint: true, maxDeviceMb: opts.maxDeviceMb, segmentKib: opts.segmentKib,
    noNarrow: prep.req.noNarrow ?? false, narrowAgain: prep.req.narrowAgain ?? false, narrowSoak: true,
  });
  const soak: SoakInfo = { runDir, probeDir: remote.probe.dir, startedDevice: null, bootId: null, duration: opts.duration, maxDeviceMb: opts.maxDeviceMb,
    ...(opts.untilVerdict ? { untilVerdict: { looks: 0 } } : {}) };
  await createSession(prep.sessionDir, { ...prep.manifest, soak }, { force: prep.req.force ?? false });
  log.attachSession(prep.sessionDir);
  log.logger.info({ device: t.device, dir: remote.probe.dir, bytesSent: remote.probe.bytesSent }, 'probe deployed');
  if (remote.pushed) log.logger.info({ dir: remote.pushed.dir, bytesSent: remote.pushed.bytesSent }, 'app pushed');
  const launch = ['sh', posix.join(remote.probe.dir, LAUNCH_FILE), '--detach',
    ...(opts.duration !== null ? ['--duration', String(Math.round(opts.duration))] : []), runDir, ...argv];
  log.logger.info({ argv: launch, cwd: remote.cwd }, 'starting soak');
  const r = await t.run(launch, { cwd: remote.cwd, timeoutMs: 30_000 }).catch((e: unknown) => e as Error);
  if (r instanceof Error || r.code !== 0 || !/^detached \d+/m.test(r.stdout)) {
    // nothing half-made stays behind: the session never held a run
    await rm(prep.sessionDir, { recursive: true, force: true });
    const why = r instanceof Error ? r.message : (r.stderr.trim() || `exit ${r.code}`);
    throw new RefscopeError('ERR_DEVICE', `could not start the soak on ${t.device} (${why})`, `Try: refscope doctor ${t.device}`);
  }
  // the launcher writes pid, started and boot_id first thing: wait for them
  let run: DeviceRun | null = null;
  for (const deadline = Date.now() + 20_000; Date.now() < deadline;) {
    run = await deviceRun(t, runDir);
    if (run.pid !== null && run.started !== null) break;
    await new Promise((res) => setTimeout(res, 200));
  }
  await updateManifest(prep.sessionDir, { soak: { ...soak, startedDevice: run?.started ?? null, bootId: run?.bootId ?? null } });
  log.logger.info({ runDir, pid: run?.pid ?? null }, 'soak started');
  return { sessionDir: prep.sessionDir, runDir, pid: run?.pid ?? null };
}

/** Ask the app to stop (SIGINT by pid), escalating; resolves once it has ended. */
export async function stopSoakApp(t: Transport, runDir: string, graceMs = 15_000): Promise<DeviceRun> {
  const signal = (sig: string) => t.run(['sh', '-c', `${readPidSh('"$1"')}; [ -n "$p" ] && kill -s "$2" "$p" 2>/dev/null; exit 0`, 'sh', runDir, sig], { timeoutMs: 15_000 });
  let run = await deviceRun(t, runDir);
  for (const sig of ['INT', 'TERM', 'KILL']) {
    if (!run.alive) break;
    await signal(sig);
    for (const deadline = Date.now() + graceMs; Date.now() < deadline;) {
      run = await deviceRun(t, runDir);
      if (!run.alive && (run.exit !== null || run.pid === null)) break;
      await new Promise((res) => setTimeout(res, 250));
    }
  }
  // the launcher writes the exit sentinel just after the app ends
  for (const deadline = Date.now() + 5_000; run.exit === null && !run.missing && Date.now() < deadline;) {
    await new Promise((res) => setTimeout(res, 200));
    run = await deviceRun(t, runDir);
  }
  return run;
}
