/**
 * yargs wiring and the one error boundary. A RefscopeError prints its one line
 * (`refscope: <message>. <hint>`) and exits with its code; anything else is a bug: one
 * line, the stack only with --verbose, exit 2. Commands and heavy modules load lazily.
 */
import { readFileSync } from 'node:fs';
import yargs from 'yargs';
import { ExitCode, RefscopeError } from '../errors.js';
import { diffCommand } from './commands/diff.js';
import { doctorCommand } from './commands/doctor.js';
import { reportCommand } from './commands/report.js';
import { farmCommand } from './commands/farm.js';
import { soakCommand } from './commands/soak.js';
import { runCommand } from './commands/run.js';
import { printable } from '../report/text.js';

function packageVersion(): string {
  try {
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version?: string };
    return pkg.version ?? 'unknown';
  } catch {
    return 'unknown';
  }
}

function firstLine(s: string): string {
  return s.split('\n').find((l) => l.trim() !== '')?.trim() ?? s;
}

/** yargs messages can span lines ("Invalid values:\n  Argument: …"): make them one */
function oneLine(s: string): string {
  return s.split('\n').map((l) => l.trim()).filter(Boolean).join(' ').replace(/[.:]$/, '');
}

/** Parse and run; resolves to the process exit code. Never throws. */
export async function main(argv: string[]): Promise<number> {
  const verbose = argv.includes('--verbose');
  // a reader that went away (`refscope report S | head`) is not an error: the session is already on disk
  process.stdout.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code === 'EPIPE') process.exit(typeof process.exitCode === 'number' ? process.exitCode : ExitCode.ok);
    throw e;
  });
  try {
    await yargs(argv)
      .scriptName('refscope')
      .parserConfiguration({ 'populate--': true })
      .option('verbose', { type: 'boolean', default: false, global: true, describe: 'log to stderr too; show stacks' })
      .command(runCommand)
      .command(reportCommand)
      .command(diffCommand)
      .command(doctorCommand)
      .command(soakCommand)
      .command(farmCommand)
      .demandCommand(1, 'name a command: run, report, diff, doctor, soak or farm')
      .strict()
      .fail((msg, err) => {
        if (err) throw err;
        throw new RefscopeError('ERR_USAGE', oneLine(msg ?? 'bad usage'), 'Run refscope --help');
      })
      .help()
      .alias('h', 'help')
      .version(packageVersion())
      .wrap(Math.min(110, process.stdout.columns || 110))
      .exitProcess(false)
      .parseAsync();
    return typeof process.exitCode === 'number' ? process.exitCode : ExitCode.ok;
  } catch (e) {
    if (e instanceof RefscopeError) {
      process.stderr.write(`${printable(e.toLine())}\n`);
      if (verbose && e.stack) process.stderr.write(`${e.stack}\n`);
      return e.exitCode;
    }
    const err = e instanceof Error ? e : new Error(String(e));
    process.stderr.write(`refscope: unexpected error: ${printable(firstLine(err.message))} (run with --verbose for the stack)\n`);
    if (verbose && err.stack) process.stderr.write(`${err.stack}\n`);
    return ExitCode.usage;
  }
}
