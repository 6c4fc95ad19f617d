/**
 * Drive the built CLI as a user would: `node dist/cli/bin.js …`, with pipes (stdout,
 * stderr, exit code captured, killed at a deadline) or under a pseudo-terminal (for the
 * live status line and Ctrl-C).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
/** the built CLI; REFSCOPE_BIN points the tests at another build */
export const BIN = process.env.REFSCOPE_BIN ?? join(ROOT, 'dist', 'cli', 'bin.js');

export function assertBuilt(): void {
  if (!existsSync(BIN)) throw new Error(`${BIN} is missing: run \`npm run build\` first`);
}

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: Buffer;
  stderr: string;
  timedOut: boolean;
}

export interface CliOptions {
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  /** kill the CLI (SIGKILL) after this long; the result says timedOut */
  timeoutMs?: number;
  /** written to the CLI's stdin, then closed; default: stdin is /dev/null */
  input?: string;
  /** start it in its own process group (no terminal's foreground group) */
  detached?: boolean;
}

export interface RunningCli {
  child: ChildProcess;
  /** resolves once stderr matched `re` (rejects at the deadline) */
  waitForStderr(re: RegExp, timeoutMs: number): Promise<void>;
  result: Promise<CliResult>;
}

export function startCli(args: string[], opts: CliOptions = {}): RunningCli {
  assertBuilt();
  const child = spawn(process.execPath, [BIN, ...args], {
    cwd: opts.cwd ?? ROOT,
    env: { ...process.env, NO_COLOR: '1', ...opts.env },
    stdio: [opts.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
    detached: opts.detached ?? false,
  });
  const out: Buffer[] = [];
  let err = '';
  const errWaiters: { re: RegExp; resolve: () => void }[] = [];
  child.stdout!.on('data', (b: Buffer) => out.push(b));
  child.stderr!.on('data', (b: Buffer) => {
    err += b.toString('utf8');
    for (const w of errWaiters.splice(0)) {
      if (w.re.test(err)) w.resolve();
      else errWaiters.push(w);
    }
  });
  if (opts.input !== undefined) child.stdin!.end(opts.input);
  let timedOut = false;
  const timer = setTimeout(() => { timedOut = true; killCli(child, opts.detached ?? false); }, opts.timeoutMs ?? 60_000);
  const result = new Promise<CliResult>((res, rej) => {
    child.once('error', rej);
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      res({ code, signal, stdout: Buffer.concat(out), stderr: err, timedOut });
    });
  });
  return {
    child,
    result,
    waitForStderr(re, timeoutMs) {
      if (re.test(err)) return Promise.resolve();
      return new Promise((res, rej) => {
        const t = setTimeout(() => rej(new Error(`stderr never matched ${re} in ${timeoutMs} ms; it was:\n${err}`)), timeoutMs);
        errWaiters.push({ re, resolve: () => { clearTimeout(t); res(); } });
      });
    },
  };
}

/** SIGKILL the CLI; when it leads its own process group, the app under it too. */
export function killCli(child: ChildProcess, group: boolean): void {
  try {
    if (group && child.pid) process.kill(-child.pid, 'SIGKILL');
    else child.kill('SIGKILL');
  } catch { /* already gone */ }
}

export function runCli(args: string[], opts: CliOptions = {}): Promise<CliResult> {
  return startCli(args, opts).result;
}

export interface PtyCli {
  /** everything the terminal showed so far */
  output(): string;
  write(data: string): void;
  waitFor(re: RegExp, timeoutMs: number): Promise<void>;
  exited: Promise<{ code: number; signal: number | undefined }>;
  kill(): void;
}

/** The CLI on a pseudo-terminal: stdin, stdout and stderr are all the terminal. */
export async function startCliPty(args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv; cols?: number } = {}): Promise<PtyCli> {
  assertBuilt();
  const pty = await import('node-pty');
  const term = pty.spawn(process.execPath, [BIN, ...args], {
    name: 'xterm', cols: opts.cols ?? 120, rows: 30,
    cwd: opts.cwd ?? ROOT,
    env: { ...process.env, NO_COLOR: '1', ...opts.env } as Record<string, string>,
  });
  let out = '';
  const waiters: { re: RegExp; resolve: () => void }[] = [];
  term.onData((d) => {
    out += d;
    for (const w of waiters.splice(0)) {
      if (w.re.test(out)) w.resolve();
      else waiters.push(w);
    }
  });
  const exited = new Promise<{ code: number; signal: number | undefined }>((res) => {
    term.onExit(({ exitCode, signal }) => res({ code: exitCode, signal }));
  });
  return {
    output: () => out,
    write: (d) => term.write(d),
    kill: () => { try { term.kill('SIGKILL'); } catch { /* gone */ } },
    exited,
    waitFor(re, timeoutMs) {
      if (re.test(out)) return Promise.resolve();
      return new Promise((res, rej) => {
        const t = setTimeout(() => rej(new Error(`terminal never showed ${re} in ${timeoutMs} ms; it showed:\n${JSON.stringify(out.slice(-2000))}`)), timeoutMs);
        waiters.push({ re, resolve: () => { clearTimeout(t); res(); } });
      });
    },
  };
}

/** Resolve with the value, or reject after `ms` saying what we waited for. */
export function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  return new Promise((res, rej) => {
    const t = setTimeout(() => rej(new Error(`${what}: not within ${ms} ms`)), ms);
    p.then((v) => { clearTimeout(t); res(v); }, (e: unknown) => { clearTimeout(t); rej(e as Error); });
  });
}
