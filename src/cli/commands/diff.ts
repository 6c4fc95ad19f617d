/**
 * `refscope diff BASE NEW [--json] [--output FILE]`: compare two recorded sessions. Exit 1
 * when NEW regressed (a leak BASE did not have, or one that grows clearly faster), 0 when
 * improved or the same, 2 when either is not a readable session.
 */
import { resolve } from 'node:path';
import type { Argv, CommandModule } from 'yargs';
import { ExitCode } from '../../errors.js';

export interface DiffArgs {
  base: string;
  new: string;
  json: boolean;
  output?: string;
  verbose: boolean;
}

export const diffCommand: CommandModule<{ verbose: boolean }, DiffArgs> = {
  command: 'diff <base> <new>',
  describe: 'Compare two sessions: growth per type side by side, new and fixed leaks; exit 1 when NEW regressed',
  builder: (y: Argv<{ verbose: boolean }>) =>
    y
      .positional('base', { type: 'string', demandOption: true, describe: 'the earlier (reference) session directory' })
      .positional('new', { type: 'string', demandOption: true, describe: 'the session to judge against it' })
      .option('json', { type: 'boolean', default: false, describe: 'print the refscope.diff/1 JSON' })
      .option('output', { type: 'string', describe: 'write the result to this file instead of stdout' }),
  handler: async (args) => {
    process.exitCode = await runDiff(args);
  },
};

async function runDiff(args: DiffArgs): Promise<number> {
  const [{ analyseSessionDetailed }, { diffSessions }, render] = await Promise.all([
    import('../../analysis/detail.js'), import('../../analysis/diff.js'), import('../../report/diff.js'),
  ]);
  const base = await analyseSessionDetailed(args.base);
  const next = await analyseSessionDetailed(args.new);
  const d = diffSessions(base, next);
  const toTerminal = args.output === undefined && Boolean(process.stdout.isTTY);
  const text = args.json ? render.renderDiffJson(d) : render.renderDiffText(d, (toTerminal && process.stdout.columns) || 80);
  const code = d.verdict === 'regressed' ? ExitCode.leak : ExitCode.ok;
  process.exitCode = code;
  if (args.output !== undefined) {
    const { writeFileAtomic } = await import('../../session/store.js');
    await writeFileAtomic(resolve(args.output), text);
    process.stderr.write(`refscope: diff written to ${args.output}\n`);
  } else {
    await new Promise<void>((res, rej) => process.stdout.write(text, (e) => (e ? rej(e) : res())));
  }
  return code;
}
