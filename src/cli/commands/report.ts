/**
 * `refscope report SESSION_DIR [--format text|json|html|junit] [--output FILE] [--all]`: analyse a
 * recorded session (a host session or a bare folder of seg-*.jsonl) and print or write the
 * report. Exit code as for `run`: 1 leak, 0 no leak or inconclusive, 4 the app never
 * started.
 */
import { stat } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import type { Argv, CommandModule } from 'yargs';
import { RefscopeError } from '../../errors.js';

export interface ReportArgs {
  session: string;
  format: 'text' | 'json' | 'html' | 'junit';
  output?: string;
  all: boolean;
  verbose: boolean;
}

export const reportCommand: CommandModule<{ verbose: boolean }, ReportArgs> = {
  command: 'report <session>',
  describe: 'Analyse a recorded session and print or write a report',
  builder: (y: Argv<{ verbose: boolean }>) =>
    y
      .positional('session', { type: 'string', demandOption: true, describe: 'session directory (or a folder of seg-*.jsonl)' })
      .option('format', { choices: ['text', 'json', 'html', 'junit'] as const, default: 'text' as const, describe: 'report format' })
      .option('output', { type: 'string', describe: 'write the report to this file instead of stdout' })
      .option('all', { type: 'boolean', default: false, describe: 'text: every suspect in full (by default those below the confidence line are one line each, at most 5)' }),
  handler: async (args) => {
    process.exitCode = await runReport(args);
  },
};

async function checkOutput(output: string): Promise<void> {
  const abs = resolve(output);
  const dir = dirname(abs);
  const dst = await stat(dir).catch(() => null);
  if (!dst?.isDirectory()) {
    throw new RefscopeError('ERR_INPUT', `cannot write --output ${output}: directory ${dir} does not exist`,
      'Create the directory first or choose another path');
  }
  const st = await stat(abs).catch(() => null);
  if (st?.isDirectory()) throw new RefscopeError('ERR_INPUT', `--output ${output} is a directory`, 'Name a file to write');
}

async function runReport(args: ReportArgs): Promise<number> {
  if (args.output !== undefined) await checkOutput(args.output);
  const [{ analyseSessionDetailed }, { exitCodeOf }] = await Promise.all([import('../../analysis/detail.js'), import('../../report/session.js')]);
  const detailed = await analyseSessionDetailed(args.session);
  const { report } = detailed;
  const toTerminal = args.output === undefined && Boolean(process.stdout.isTTY);
  let text: string;
  if (args.format === 'json') text = (await import('../../report/json.js')).renderJson(report);
  else if (args.format === 'html') text = (await import('../../report/html.js')).renderHtml(detailed);
  else if (args.format === 'junit') text = (await import('../../report/junit.js')).renderJunit(report);
  else {
    const [{ renderText, chartsOf }, { utf8Locale }] = await Promise.all([import('../../report/text.js'), import('../../report/sparkline.js')]);
    text = renderText(report, {
      color: toTerminal && !process.env.NO_COLOR,
      width: (toTerminal && process.stdout.columns) || 80,
      charts: chartsOf(detailed),
      unicode: utf8Locale(),
      all: args.all,
    });
  }
  process.exitCode = exitCodeOf(report);
  if (args.output !== undefined) {
    const { writeFileAtomic } = await import('../../session/store.js');
    await writeFileAtomic(resolve(args.output), text);
    process.stderr.write(`refscope: report written to ${args.output}\n`);
  } else {
    await new Promise<void>((res, rej) => process.stdout.write(text, (e) => (e ? rej(e) : res())));
  }
  return exitCodeOf(report);
}
