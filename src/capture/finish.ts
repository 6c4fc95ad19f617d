/**
 * After the app has ended: record how it ended in the manifest and say whether it started
 * at all. The reports are written after this by report/session.ts; the exit code follows
 * from both (`exitCodeOfRun`): 4 when the app never started, 3 when the device failed, 1
 * for a leak, 0 otherwise. The app's own exit status is recorded (manifest, report) but
 * does not change ours.
 */
import { ExitCode, RefscopeError } from '../errors.js';
import type { Logger } from '../log.js';
import type { Report } from '../analysis/report.js';
import type { Manifest } from '../session/manifest.js';
import { updateManifest } from '../session/store.js';
import type { ExitStatus } from '../transport/types.js';
import type { Progress } from './progress.js';
import type { EarlyVerdict } from '../analysis/sequential.js';

export interface RunOutcome {
  sessionDir: string;
  manifest: Manifest;
  /** set when the app did not start: one line saying why */
  startFailure: string | null;
  /** records that did not parse while tailing (the analysis counts its own) */
  lostWhileTailing: number;
  /** set when the device or the connection failed: the session holds what arrived */
  deviceError?: RefscopeError;
}

/** refscope's exit code for a finished run, once its report (if any) is written: 4, 3, 1 or 0. */
export function exitCodeOfRun(outcome: RunOutcome, report: Report | null): ExitCode {
  if (outcome.startFailure) return ExitCode.appFailed;
  if (outcome.deviceError) return outcome.deviceError.exitCode;
  return report?.verdict === 'leak' ? ExitCode.leak : ExitCode.ok;
}

export interface FinishInput {
  sessionDir: string;
  progress: Progress;
  lost: number;
  exit: ExitStatus | null;
  spawnError: Error | null;
  interrupted: boolean;
  log: Logger;
  /** --until-verdict: what was decided while the app ran (the app was then stopped) */
  earlyVerdict?: EarlyVerdict;
  /** the records could not all be collected (a device error): missing ones are the device's doing, not the app's */
  deviceFailed?: boolean;
}

function describeExit(exit: ExitStatus | null, spawnError: Error | null): string {
  if (spawnError) return `it could not be started: ${(spawnError as NodeJS.ErrnoException).code ?? spawnError.message}`;
  if (!exit) return 'its exit status is unknown';
  return exit.signal ? `python was killed by ${exit.signal}` : `python exited with status ${exit.code}`;
}

export async function finishSession(inp: FinishInput): Promise<RunOutcome> {
  const { progress, sessionDir, log } = inp;
  const { start, end } = progress;
  const appExit = end ? end.exit : inp.exit?.code ?? null;
  const state = inp.interrupted || !end ? 'aborted' : 'complete';
  const patch: Partial<Manifest> = { state, endedAt: new Date().toISOString(), exitCode: appExit };
  if (inp.earlyVerdict) patch.earlyVerdict = inp.earlyVerdict;
  if (start?.probe) patch.probeVersion = start.probe;
  const manifest = await updateManifest(sessionDir, patch);
  log.info({ state, appExit, how: end?.how ?? null, exit: inp.exit, records: progress.records, lost: inp.lost }, 'app ended');

  let startFailure: string | null = null;
  // no start record: the app did not start, unless the device failed us (its records may
  // be on it still, and the device error says so)
  if (!start && !inp.deviceFailed) startFailure = `the app did not start: the probe wrote no records (${describeExit(inp.exit, inp.spawnError)})`;
  else if (end?.how === 'start-failed') startFailure = `the app could not start${end.error ? ` (${end.error})` : ''}`;

  return { sessionDir, manifest, startFailure, lostWhileTailing: inp.lost };
}
