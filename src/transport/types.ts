/**
 * The one transport interface (DESIGN §2). Everything above it (capture, device) is
 * transport-agnostic: `local` runs child processes on this machine (and, given a device
 * folder, plays a device there); `ssh` runs them over an exec channel. Commands are always
 * argv arrays; an implementation that needs a shell (ssh) quotes them with one function,
 * the local one uses none.
 *
 * What every transport does: run a command to its end (`run`), start one and stream its
 * input and output (`spawn`), feed a stream into a command (`pipeInto`, how deploy sends a
 * tar), say whether it can still reach the target (`alive`), and let go (`close`).
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
  /** variables set for this command, on top of the transport's own environment */
  env?: NodeJS.ProcessEnv;
  /**
   * 'inherit': the process shares our stdin/stdout/stderr (its output reaches the user
   * untouched). 'pipe' (default): read and write it through the streams below.
   * Ignored when `tty` is set.
   */
  stdio?: 'inherit' | 'pipe';
  /**
   * with stdio 'inherit': the process's output goes to these streams instead of ours (its
   * stdin stays ours); they are not ended. Settling `exited` waits for the output to arrive.
   */
  output?: { stdout: Writable; stderr: Writable };
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
  /**
   * true when the command wrote more than MAX_RUN_OUTPUT on stdout or stderr: it was ended
   * there (code null) and only the first MAX_RUN_OUTPUT bytes of each are kept. A device's
   * answer to one of refscope's commands is small; endless output is a fault, not memory to spend.
   */
  overflow?: boolean;
}

/** The most `run` keeps of a command's stdout, and of its stderr. */
export const MAX_RUN_OUTPUT = 4 * 1024 * 1024;

/** Collects a stream's chunks up to MAX_RUN_OUTPUT; `add` returns false once past it. */
export class BoundedOutput {
  private readonly chunks: Buffer[] = [];
  private size = 0;
  over = false;
  add(b: Buffer): boolean {
    if (this.over) return false;
    const room = MAX_RUN_OUTPUT - this.size;
    if (b.length > room) {
      this.chunks.push(b.subarray(0, room));
      this.size = MAX_RUN_OUTPUT;
      this.over = true;
      return false;
    }
    this.chunks.push(b);
    this.size += b.length;
    return true;
  }
  text(): string { return Buffer.concat(this.chunks).toString('utf8'); }
}

export interface RunOptions {
  cwd?: string;
  /** variables set for this command, on top of the transport's own environment */
  env?: NodeJS.ProcessEnv;
  /** kill the process (SIGKILL) after this long; default 30 s */
  timeoutMs?: number;
  /** written to the process's stdin, which is then closed */
  input?: string;
}

export interface PipeOptions {
  cwd?: string;
  /** close the command's input and give up after this long; default 120 s */
  timeoutMs?: number;
}

export interface PipeResult extends RunResult {
  /** bytes of the input stream sent to the command */
  bytesSent: number;
}

export interface Transport {
  readonly kind: 'local' | 'ssh';
  /** 'local' or the device as the user named it */
  readonly device: string;
  /** false once the target cannot be reached any more (the connection ended, or close() was called) */
  readonly alive: boolean;
  /** start a command; argv[0] is the program. Async: a pty module or an exec channel may need to load/open first */
  spawn(argv: readonly string[], opts?: SpawnOptions): Promise<TransportProcess>;
  /** run a command to its end and capture its output */
  run(argv: readonly string[], opts?: RunOptions): Promise<RunResult>;
  /** run a command feeding `input` to its stdin (e.g. a tar stream into `tar -xf -`) and capture its output */
  pipeInto(argv: readonly string[], input: Readable, opts?: PipeOptions): Promise<PipeResult>;
  /** release connections; processes still running are left to their fate */
  close(): Promise<void>;
}

/**
 * The device did not answer one of refscope's commands as a device does: it wrote endless
 * output (`overflow`) or did not finish by the deadline (`timedOut`). Null when neither,
 * else the words for the error message ("what" names the command's purpose).
 */
export function faultyAnswer(r: RunResult, what: string): string | null {
  if (r.overflow) return `${what}: the device wrote more than ${MAX_RUN_OUTPUT / (1024 * 1024)} MiB in answer (a device's answer is a few lines)`;
  if (r.timedOut) return `${what}: the device did not answer in time`;
  return null;
}
