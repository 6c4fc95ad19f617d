/**
 * After the app has ended: record how it ended in the manifest, analyse the segments,
 * write report.json and report.txt into the session (atomically), and decide the exit
 * code: 4 when the app never started, 1 for a leak, 0 otherwise. The app's own exit
 * status is recorded (manifest, report) but does not change ours.
 */
import { join } from 'node:path';
import { ExitCode, RefscopeError } from '../errors.js';
import type { Logger } from '../log.js';
import type { DetailedReport } from '../analysis/detail.js';
import type { Report } from '../analysis/report.js';
import type { Manifest } from '../session/manifest.js';
import { REPORT_JSON, REPORT_TXT, updateManifest, writeFileAtomic } from '../session/store.js';
import type { ExitStatus } from '../transport/types.js';
import type { Progress } from './progress.js';
import type { EarlyVerdict } from '../analysis/sequential.js';

export interface RunOutcome {
  sessionDir: string;
  exitCode: ExitCode;
  manifest: Manifest;
  /** null when there was nothing to analyse (the probe wrote no records) */
  report: Report | null;
  /** the report with its series (sparklines, HTML), null when there was nothing to analyse */
  detailed?: DetailedReport | null;
  reportFiles: { json: string; text: string } | null;
  /** set when the app did not start: one line saying why */
  startFailure: string | null;
  /** records that did not parse while tailing (the analysis counts its own) */
  lostWhileTailing: number;
  /** set when the device or the connection failed: the session holds what arrived */
  deviceError?: RefscopeError;
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
  if (!start) startFailure = `the app did not start: the probe wrote no records (${describeExit(inp.exit, inp.spawnError)})`;
  else if (end?.how === 'start-failed') startFailure = `the app could not start${end.error ? ` (${end.error})` : ''}`;

  let report: Report | null = null;
  let detailed: DetailedReport | null = null;
  let reportFiles: RunOutcome['reportFiles'] = null;
  try {
    const { analyseSessionDetailed } = await import('../analysis/detail.js');
    detailed = await analyseSessionDetailed(sessionDir);
    report = detailed.report;
  } catch (e) {
    // with no start record there may be nothing to analyse: that is the start failure, not a second error
    if (!(startFailure && e instanceof RefscopeError && e.code === 'ERR_SESSION')) throw e;
    log.info({ err: e.message }, 'nothing to analyse');
  }
  if (report) {
    const [{ renderJson }, { renderText, chartsOf }, { utf8Locale }] = await Promise.all([
      import('../report/json.js'), import('../report/text.js'), import('../report/sparkline.js')]);
    reportFiles = { json: join(sessionDir, REPORT_JSON), text: join(sessionDir, REPORT_TXT) };
    await writeFileAtomic(reportFiles.json, renderJson(report));
    await writeFileAtomic(reportFiles.text, renderText(report, { color: false, charts: detailed ? chartsOf(detailed) : undefined, unicode: utf8Locale() }));
    log.info({ verdict: report.verdict, suspects: report.suspects.length }, 'reports written');
  }

  const exitCode = startFailure ? ExitCode.appFailed : report?.verdict === 'leak' ? ExitCode.leak : ExitCode.ok;
  return { sessionDir, exitCode, manifest, report, detailed, reportFiles, startFailure, lostWhileTailing: inp.lost };
}
