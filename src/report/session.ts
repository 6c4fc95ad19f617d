/**
 * The one place a session's report files are written: analyse the session folder and write
 * report.json and report.txt (with its charts) into it, atomically. Called after every way
 * a session gets its records: `run` (local or device), `soak collect` and `soak stop`, and
 * each run of a farm. Capture only captures; this turns what it captured into reports.
 */
import { join } from 'node:path';
import { ExitCode, RefscopeError } from '../errors.js';
import type { Logger } from '../log.js';
import type { DetailedReport } from '../analysis/detail.js';
import type { Report } from '../analysis/report.js';
import { REPORT_JSON, REPORT_TXT, writeFileAtomic } from '../session/store.js';

export interface SessionReports {
  report: Report;
  /** the report with its series (sparklines, HTML) */
  detailed: DetailedReport;
  files: { json: string; text: string };
}

export interface WriteReportsOptions {
  log?: Logger;
  /**
   * a session that may hold nothing to analyse (an app that never started): then the
   * result is null instead of the reader's error
   */
  mayBeEmpty?: boolean;
}

export async function writeSessionReports(sessionDir: string, opts: WriteReportsOptions = {}): Promise<SessionReports | null> {
  const { analyseSessionDetailed } = await import('../analysis/detail.js');
  let detailed: DetailedReport;
  try {
    detailed = await analyseSessionDetailed(sessionDir);
  } catch (e) {
    if (!(opts.mayBeEmpty && e instanceof RefscopeError && e.code === 'ERR_SESSION')) throw e;
    opts.log?.info({ err: e.message }, 'nothing to analyse');
    return null;
  }
  const { report } = detailed;
  const [{ renderJson }, { renderText, chartsOf }, { utf8Locale }] = await Promise.all([
    import('./json.js'), import('./text.js'), import('./sparkline.js')]);
  const files = { json: join(sessionDir, REPORT_JSON), text: join(sessionDir, REPORT_TXT) };
  await writeFileAtomic(files.json, renderJson(report));
  await writeFileAtomic(files.text, renderText(report, { color: false, charts: chartsOf(detailed), unicode: utf8Locale() }));
  opts.log?.info({ verdict: report.verdict, suspects: report.suspects.length }, 'reports written');
  return { report, detailed, files };
}

/** refscope's exit code for a report (DESIGN §3): 4 when the app never started, 1 for a leak, else 0. */
export function exitCodeOf(report: Report): ExitCode {
  if (report.session.ended === 'start-failed') return ExitCode.appFailed;
  return report.verdict === 'leak' ? ExitCode.leak : ExitCode.ok;
}
