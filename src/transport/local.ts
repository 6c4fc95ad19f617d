/**
 * The local transport: child processes on this machine, never through a shell (argv
 * goes to execve verbatim). node-pty is loaded only when a terminal is asked for.
 *
 * Given a `home`, it plays a device on this machine: its commands run with HOME set to
 * that folder and start in it, as an SSH login starts in the login user's home, so the
 * device flows (~/.refscope, deploy, launch, collect) land inside the folder.
 */
import { spawn as spawnChild } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { PassThrough, Writable, type Readable } from 'node:stream';
import { constants as osConstants } from 'node:os';
import type {
  ExitStatus, PipeOptions, PipeResult, RunOptions, RunResult, Signal, SpawnOptions, Transport, TransportProcess,
} from './types.js';
import { BoundedOutput } from './types.js';

const DEFAULT_RUN_TIMEOUT_MS = 30_000;
const DEFAULT_PIPE_TIMEOUT_MS = 120_000;

export interface LocalOptions {
  /** the environment of every command; default: this process's */
  env?: NodeJS.ProcessEnv;
  /** play a device: HOME of every command, and the folder commands start in */
  home?: string;
  /** the name it goes by (the session's device); default 'local' */
  device?: string;
}

export class LocalTransport implements Transport {
  readonly kind = 'local' as const;
  readonly device: string;
  private closed = false;
  private readonly env: NodeJS.ProcessEnv | undefined;
  private readonly home: string | undefined;

  constructor(opts: LocalOptions = {}) {
    this.device = opts.device ?? 'local';
    this.home = opts.home;
    this.env = opts.home !== undefined ? { ...(opts.env ?? process.env), HOME: opts.home } : opts.env;
  }

  /** true until close(): this machine is always there */
  get alive(): boolean { return !this.closed; }

  /** the environment of one command: the transport's, plus what the command sets */
  private envFor(extra: NodeJS.ProcessEnv | undefined): NodeJS.ProcessEnv {
    const base = this.env ?? process.env;
    return extra ? { ...base, ...extra } : base;
  }

  async spawn(argv: readonly string[], opts: SpawnOptions = {}): Promise<TransportProcess> {
    const [file, ...args] = argv;
    if (file === undefined) throw new Error('spawn: empty argv');
    const o = { ...opts, cwd: opts.cwd ?? this.home, env: this.envFor(opts.env) };
    if (opts.tty) return spawnPty(file, args, o);
    return spawnPlain(file, args, o);
  }

  run(argv: readonly string[], opts: RunOptions = {}): Promise<RunResult> {
    const [file, ...args] = argv;
    if (file === undefined) return Promise.reject(new Error('run: empty argv'));
    return new Promise((resolve, reject) => {
      const child = spawnChild(file, args, {
        cwd: opts.cwd ?? this.home, env: this.envFor(opts.env), shell: false, stdio: ['pipe', 'pipe', 'pipe'],
      });
      const out = new BoundedOutput();
      const err = new BoundedOutput();
      let timedOut = false;
      let overflow = false;
      const timer = setTimeout(() => { timedOut = true; child.kill('SIGKILL'); }, opts.timeoutMs ?? DEFAULT_RUN_TIMEOUT_MS);
      const onData = (o: BoundedOutput) => (b: Buffer) => {
        if (!o.add(b) && !overflow) { overflow = true; child.kill('SIGKILL'); }
      };
      child.stdout.on('data', onData(out));
      child.stderr.on('data', onData(err));
      child.stdin.on('error', () => { /* the process may not read its stdin */ });
      child.stdin.end(opts.input ?? '');
      child.once('error', (e) => { clearTimeout(timer); reject(e); });
      child.once('close', (code, signal) => {
        clearTimeout(timer);
        resolve({
          code: overflow ? null : code, signal, timedOut,
          stdout: out.text(),
          stderr: err.text(),
          ...(overflow ? { overflow } : {}),
        });
      });
    });
  }

  pipeInto(argv: readonly string[], input: Readable, opts: PipeOptions = {}): Promise<PipeResult> {
    const [file, ...args] = argv;
    if (file === undefined) return Promise.reject(new Error('pipeInto: empty argv'));
    return new Promise((resolve, reject) => {
      const child = spawnChild(file, args, {
        cwd: opts.cwd ?? this.home, env: this.envFor(undefined), shell: false, stdio: ['pipe', 'pipe', 'pipe'],
      });
      const out: Buffer[] = [];
      const err: Buffer[] = [];
      let bytesSent = 0;
      let timedOut = false;
      const timer = setTimeout(() => { timedOut = true; child.kill('SIGKILL'); }, opts.timeoutMs ?? DEFAULT_PIPE_TIMEOUT_MS);
      child.stdout.on('data', (b: Buffer) => out.push(b));
      child.stderr.on('data', (b: Buffer) => err.push(b));
      input.on('data', (b: Buffer) => { bytesSent += b.length; });
      // a command that stops reading (tar failing on a full disk) must not leave the input hanging
      child.stdin.on('error', () => { input.unpipe(child.stdin); input.resume(); });
      input.pipe(child.stdin);
      child.once('error', (e) => { clearTimeout(timer); reject(e); });
      child.once('close', (code, signal) => {
        clearTimeout(timer);
        resolve({
          code, signal, timedOut, bytesSent,
          stdout: Buffer.concat(out).toString('utf8'),
          stderr: Buffer.concat(err).toString('utf8'),
        });
      });
    });
  }

  async close(): Promise<void> { this.closed = true; }
}

function spawnPlain(file: string, args: string[], opts: SpawnOptions): TransportProcess {
  const inherit = opts.stdio === 'inherit';
  const redirect = inherit ? opts.output : undefined;
  const child = spawnChild(file, args, {
    cwd: opts.cwd, env: opts.env ?? process.env, shell: false,
    stdio: redirect ? ['inherit', 'pipe', 'pipe'] : inherit ? 'inherit' : 'pipe',
  });
  if (redirect) {
    child.stdout!.pipe(redirect.stdout, { end: false });
    child.stderr!.pipe(redirect.stderr, { end: false });
  }
  const exited = new Promise<ExitStatus>((resolve, reject) => {
    child.once('error', (e) => { if (child.pid === undefined) reject(e); });
    // 'close' waits for the pipes to drain; with inherited stdio 'exit' is the end
    child.once(inherit && !redirect ? 'exit' : 'close', (code: number | null, signal: NodeJS.Signals | null) =>
      resolve({ code, signal }));
  });
  exited.catch(() => { /* observed by the caller */ });
  let ended = false;
  void exited.then(() => { ended = true; }, () => { ended = true; });
  return {
    pid: child.pid,
    stdin: child.stdin,
    stdout: redirect ? null : child.stdout,
    stderr: redirect ? null : child.stderr,
    exited,
    sharesProcessGroup: true,
    kill(signal: Signal = 'SIGTERM') {
      if (!ended) child.kill(signal);
    },
  };
}

async function spawnPty(file: string, args: string[], opts: SpawnOptions): Promise<TransportProcess> {
  const pty = await import('node-pty');
  const size = typeof opts.tty === 'object' ? opts.tty : { cols: 80, rows: 24 };
  const env = opts.env ?? process.env;
  const term = pty.spawn(file, args, {
    name: env.TERM ?? 'xterm-256color', cols: size.cols, rows: size.rows,
    cwd: opts.cwd ?? process.cwd(), env, encoding: null,
  });
  const stdout = new PassThrough();
  let ended = false;
  term.onData((d: string | Buffer) => { stdout.write(d); });
  const exited = new Promise<ExitStatus>((resolve) => {
    term.onExit(({ exitCode, signal }) => {
      ended = true;
      stdout.end();
      resolve(signal ? { code: null, signal: signalName(signal) } : { code: exitCode, signal: null });
    });
  });
  const stdin = new Writable({
    write(chunk: Buffer, _enc, done) {
      if (!ended) term.write(chunk);
      done();
    },
  });
  return {
    pid: term.pid,
    stdin,
    stdout,
    stderr: null,
    exited,
    sharesProcessGroup: false,
    kill(signal: Signal = 'SIGTERM') {
      if (!ended) {
        try { term.kill(signal); } catch { /* already gone */ }
      }
    },
    resize(cols: number, rows: number) {
      if (!ended) term.resize(cols, rows);
    },
  };
}

function signalName(n: number): string {
  for (const [name, num] of Object.entries(osConstants.signals)) if (num === n) return name;
  return `signal ${n}`;
}

/**
 * True when this process is in the foreground process group of a controlling terminal,
 * so a Ctrl-C typed there reached every process of the group, our children included.
 * Reads /proc/self/stat (Linux); false when that cannot be read.
 */
export function inTerminalForeground(): boolean {
  try {
    const stat = readFileSync('/proc/self/stat', 'utf8');
    // fields after "(comm)": state ppid pgrp session tty_nr tpgid ...
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const pgrp = Number(rest[2]);
    const tpgid = Number(rest[5]);
    return tpgid > 0 && tpgid === pgrp;
  } catch {
    return false;
  }
}
