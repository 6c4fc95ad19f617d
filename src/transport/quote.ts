/**
 * The one quoting function for remote commands. Every command sent to a device is built
 * from an argv array with it, so busybox ash, dash and bash all see exactly the argv.
 *
 * POSIX single quotes keep every byte literally except the single quote itself, which is
 * closed, escaped and reopened: it's → 'it'\''s'. Newlines, `$(...)`, backquotes, globs and
 * non-ASCII text are inert inside single quotes in every POSIX shell.
 */
const SAFE = /^[A-Za-z0-9_@%+=:,./-]+$/;

export function quoteArg(arg: string): string {
  if (arg.includes('\0')) {
    throw new TypeError('a shell argument cannot contain a NUL byte');
  }
  if (arg !== '' && SAFE.test(arg)) return arg;
  return `'${arg.replace(/'/g, `'\\''`)}'`;
}

/** argv → one command line for `sh -c` (what an SSH exec request runs). */
export function quoteCommand(argv: readonly string[]): string {
  if (argv.length === 0) throw new TypeError('empty command');
  return argv.map(quoteArg).join(' ');
}
