/**
 * The one transport interface (DESIGN §2). Everything above it (capture, device) is
 * transport-agnostic: `local` runs child processes on this machine; `ssh` (next) runs
 * them over an exec channel. Commands are always argv arrays; an implementation that
 * needs a shell (ssh) quotes them with one function, the local one uses none.
 */
import type { Readable, Writable } from 'node:stream';

export type Signal = 'SIGINT' | 'SIGTERM' | 'SIGKILL' | 'SIGHUP';

export interface ExitStatus {
  /** exit code, null when the process was ended by a signal */
  code: number | null;
  /** the signal that ended it, null when it exited */
  signal: string | null;
}

export interface SpawnOptions {
  cwd?: string;
  /** the full environment; default: this process's environment */
  env?: NodeJS.ProcessEnv;
  /**
   * 'inherit': the process shares our stdin/stdout/stderr (its output reaches the user
   * untouched). 'pipe' (default): read and write it through the streams below.
   * Ignored when `tty` is set.
   */
  stdio?: 'inherit' | 'pipe';
  /** run under a pseudo-terminal; output (stdout and stderr merged) arrives on `stdout` */
  tty?: boolean | { cols: number; rows: number };
}

export interface TransportProcess {
  readonly pid: number | undefined;
  /** null with stdio 'inherit' */
  readonly stdin: Writable | null;
  /** with tty: everything the terminal shows */
  readonly stdout: Readable | null;
  /** null with stdio 'inherit' and with tty */
  readonly stderr: Readable | null;
  /** settles when the process has ended; rejects when it could not be started at all */
  readonly exited: Promise<ExitStatus>;
  /** true when the process is in our process group (a terminal's Ctrl-C reaches it too) */
  readonly sharesProcessGroup: boolean;
  /** send a signal; a no-op once the process has ended */
  kill(signal?: Signal): void;
  /** tty only: follow the user's terminal size */
  resize?(cols: number, rows: number): void;
}

export interface RunResult extends ExitStatus {
  stdout: string;
  stderr: string;
  /** true when `timeoutMs` passed and the process was killed */
  timedOut: boolean;
}

export interface RunOptions {
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  /** kill the process (SIGKILL) after this long; default 30 s */
  timeoutMs?: number;
  /** written to the process's stdin, which is then closed */
  input?: string;
}

export interface Transport {
  readonly kind: 'local' | 'ssh';
  /** 'local' or the device as the user named it */
  readonly device: string;
  /** start a command; argv[0] is the program. Async: a pty module or an exec channel may need to load/open first */
  spawn(argv: readonly string[], opts?: SpawnOptions): Promise<TransportProcess>;
  /** run a command to its end and capture its output */
  run(argv: readonly string[], opts?: RunOptions): Promise<RunResult>;
  /** release connections; processes still running are left to their fate */
  close(): Promise<void>;
}
