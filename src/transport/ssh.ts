/**
 * The SSH transport (ssh2): verified host keys, authentication in OpenSSH's order
 * (agent, identity files, password on a TTY), one ProxyJump hop, keepalives, and a retry
 * with legacy algorithms appended for old servers. Commands are argv arrays quoted by
 * the one quoting function; no SFTP anywhere.
 */
import { existsSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { PassThrough, type Readable } from 'node:stream';
import type { Duplex } from 'node:stream';
import ssh2 from 'ssh2';
import type { Algorithms, AnyAuthMethod, AuthHandlerMiddleware, ClientChannel, ConnectConfig } from 'ssh2';
import { RefscopeError } from '../errors.js';
import { addKnownHost, checkHostKey, hostKeyName, type HostKeyVerdict } from './known-hosts.js';
import type { Prompter } from './prompt.js';
import { quoteArg, quoteCommand } from './quote.js';
import type { DeviceTarget } from './target.js';
import type {
  ExitStatus, PipeOptions, PipeResult, RunOptions, RunResult, Signal, SpawnOptions, Transport, TransportProcess,
} from './types.js';
import { BoundedOutput } from './types.js';

const { Client, utils } = ssh2;

/** Appended (never prepended) when a server cannot agree on modern algorithms. */
export const LEGACY_ALGORITHMS = {
  kex: ['diffie-hellman-group14-sha1', 'diffie-hellman-group-exchange-sha1', 'diffie-hellman-group1-sha1'],
  serverHostKey: ['ssh-rsa', 'ssh-dss'],
  cipher: ['aes128-cbc', 'aes256-cbc', '3des-cbc'],
  hmac: ['hmac-sha1', 'hmac-md5'],
} as const;

export interface SshOptions {
  target: DeviceTarget;
  /** known_hosts files checked in order; the first is where --accept-new records */
  knownHostsFiles?: string[];
  acceptNew?: boolean;
  /** asks for passphrases and passwords; null when there is no terminal */
  prompter?: Prompter | null;
  /** 'auto': modern first, legacy appended on a failed negotiation */
  legacy?: 'auto' | 'never' | 'always';
  /** info lines for the session log (never secrets) */
  log?: (msg: string, fields?: Record<string, unknown>) => void;
  /** an already-open stream to the target (used for ProxyJump) */
  sock?: Duplex;
}

export interface SshInfo {
  authMethod: string;
  legacyAlgorithms: boolean;
  hostKey: HostKeyVerdict;
  jumpedVia: string | null;
  serverIdent: string | null;
}

export function defaultKnownHostsFiles(): string[] {
  return [join(homedir(), '.ssh', 'known_hosts'), '/etc/ssh/ssh_known_hosts'];
}

function defaultIdentityFiles(): string[] {
  return ['id_ed25519', 'id_ecdsa', 'id_rsa', 'id_dsa']
    .map((n) => join(homedir(), '.ssh', n))
    .filter((p) => existsSync(p));
}

const where = (t: DeviceTarget): string => `${t.user}@${t.host}:${t.port}`;

/** ssh2 errors → one line for the user, naming the fix. */
function connectionError(err: Error & { code?: string; level?: string }, t: DeviceTarget): RefscopeError {
  const dest = `${t.host}:${t.port}`;
  switch (err.code) {
    case 'ECONNREFUSED':
      return new RefscopeError('ERR_DEVICE', `cannot reach ${dest} (ECONNREFUSED)`, `Is sshd/dropbear running? Try: refscope doctor ${t.spec}`);
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return new RefscopeError('ERR_DEVICE', `cannot resolve ${t.host} (${err.code})`, 'Check the host name, or add a Host entry to ~/.ssh/config');
    case 'ETIMEDOUT':
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
      return new RefscopeError('ERR_DEVICE', `cannot reach ${dest} (${err.code})`, 'Is the device on the network and awake?');
    case 'ECONNRESET':
      return new RefscopeError('ERR_DEVICE', `${dest} closed the connection (ECONNRESET)`, `Try: refscope doctor ${t.spec}`);
  }
  if (err.level === 'client-authentication') {
    return new RefscopeError('ERR_DEVICE', `authentication to ${where(t)} failed`,
      'Add your public key to the device\'s authorized_keys, load it into ssh-agent, or run on a terminal to type the password');
  }
  if (/timed out/i.test(err.message)) {
    return new RefscopeError('ERR_DEVICE', `${dest} did not finish the SSH handshake in time`, 'Raise ConnectTimeout in ~/.ssh/config for slow devices');
  }
  return new RefscopeError('ERR_DEVICE', `SSH to ${dest} failed: ${err.message}`, `Try: refscope doctor ${t.spec}`);
}

function hostKeyError(v: HostKeyVerdict, t: DeviceTarget, files: string[]): RefscopeError {
  const name = hostKeyName(t.host, t.port);
  switch (v.status) {
    case 'unknown':
      return new RefscopeError('ERR_DEVICE',
        `host key of ${name} is not known (${v.keyType} ${v.fingerprint}; checked ${files.join(', ')})`,
        'If this fingerprint is your device\'s, run again with --accept-new to trust and record it');
    case 'changed':
      return new RefscopeError('ERR_DEVICE',
        `host key of ${name} has CHANGED (now ${v.keyType} ${v.fingerprint}): someone may be intercepting, or the device was reinstalled`,
        `If the device was reinstalled, remove line ${v.line} of ${v.file} (ssh-keygen -R '${name}') and run with --accept-new`);
    case 'revoked':
      return new RefscopeError('ERR_DEVICE', `host key of ${name} is revoked (${v.file}:${v.line})`, 'Do not connect; ask who manages the device');
    default:
      return new RefscopeError('ERR_DEVICE', `host key of ${name} was refused`);
  }
}

interface KeyCandidate { label: string; key: Buffer | string; passphrase?: string }

async function loadKey(path: string, prompter: Prompter | null | undefined, log: SshOptions['log']): Promise<KeyCandidate | null> {
  let data: Buffer;
  try {
    data = readFileSync(path);
  } catch {
    return null;
  }
  const plain = utils.parseKey(data);
  if (!(plain instanceof Error)) return { label: `key ${path}`, key: data };
  if (!/encrypt|passphrase/i.test(plain.message)) {
    log?.('skipping unreadable identity file', { path, reason: plain.message });
    return null;
  }
  if (!prompter) {
    log?.('skipping encrypted identity file: no terminal to ask for its passphrase', { path });
    return null;
  }
  const pass = await prompter.secret(`Enter passphrase for key '${path}': `);
  if (pass === null) return null;
  const parsed = utils.parseKey(data, pass);
  if (parsed instanceof Error) {
    log?.('wrong passphrase for identity file', { path });
    return null;
  }
  return { label: `key ${path}`, key: data, passphrase: pass };
}

function algorithms(legacy: boolean): Algorithms | undefined {
  if (!legacy) return undefined;
  return {
    kex: { append: [...LEGACY_ALGORITHMS.kex], prepend: [], remove: [] },
    serverHostKey: { append: [...LEGACY_ALGORITHMS.serverHostKey], prepend: [], remove: [] },
    cipher: { append: [...LEGACY_ALGORITHMS.cipher], prepend: [], remove: [] },
    hmac: { append: [...LEGACY_ALGORITHMS.hmac], prepend: [], remove: [] },
  } as Algorithms;
}

const isNegotiationFailure = (err: Error & { level?: string }): boolean =>
  err.level === 'handshake' || /no matching|handshake failed/i.test(err.message);

export class SshTransport implements Transport {
  readonly kind = 'ssh' as const;
  readonly device: string;
  private closedFlag = false;
  private isAlive = true;
  /** false once the connection has ended, for whatever reason */
  get alive(): boolean { return this.isAlive; }
  /** settles when the connection ends, with the error that ended it (null when closed by us) */
  readonly ended: Promise<Error | null>;
  private resolveEnded!: (e: Error | null) => void;

  private constructor(
    private readonly client: InstanceType<typeof Client>,
    readonly target: DeviceTarget,
    readonly info: SshInfo,
    private readonly jump: SshTransport | null,
  ) {
    this.device = target.spec;
    this.ended = new Promise((r) => { this.resolveEnded = r; });
    client.on('error', (e) => { this.isAlive = false; this.resolveEnded(e); });
    client.on('close', () => { this.isAlive = false; this.resolveEnded(this.closedFlag ? null : new Error('connection closed')); });
  }

  static async connect(opts: SshOptions): Promise<SshTransport> {
    const t = opts.target;
    let jump: SshTransport | null = null;
    let sock = opts.sock;
    if (t.proxyJump && !sock) {
      jump = await SshTransport.connect({ ...opts, target: t.proxyJump });
      sock = await jump.forward(t.host, t.port);
    }
    const mode = opts.legacy ?? 'auto';
    try {
      const first = await SshTransport.attempt(opts, sock, mode === 'always', jump);
      return first;
    } catch (err) {
      const e = err as Error & { level?: string };
      if (mode === 'auto' && !(e instanceof RefscopeError) && isNegotiationFailure(e) && !t.proxyJump) {
        opts.log?.('algorithm negotiation failed; retrying with legacy algorithms appended', { reason: e.message });
        return SshTransport.attempt(opts, undefined, true, jump);
      }
      await jump?.close();
      if (e instanceof RefscopeError) throw e;
      throw connectionError(e, t);
    }
  }

  private static attempt(opts: SshOptions, sock: Duplex | undefined, legacy: boolean, jump: SshTransport | null): Promise<SshTransport> {
    const t = opts.target;
    const files = opts.knownHostsFiles ?? defaultKnownHostsFiles();
    const log = opts.log;
    return new Promise((resolve, reject) => {
      const client = new Client();
      let verdict: HostKeyVerdict | null = null;
      let refused: RefscopeError | null = null;
      let lastMethod = 'none';
      let serverIdent: string | null = null;
      const tried: string[] = [];

      // authentication in OpenSSH's order: agent, identity files, then password on a TTY
      const queue: Array<() => Promise<AnyAuthMethod | null>> = [];
      const agentSock = process.env.SSH_AUTH_SOCK;
      if (agentSock && existsSync(agentSock)) {
        queue.push(async () => ({ type: 'agent', username: t.user, agent: agentSock }));
      }
      const keyFiles = t.identityFiles.length > 0 ? t.identityFiles.filter((p) => existsSync(p)) : defaultIdentityFiles();
      for (const path of keyFiles) {
        queue.push(async () => {
          const k = await loadKey(path, opts.prompter, log);
          if (!k) return null;
          tried.push(k.label);
          return { type: 'publickey', username: t.user, key: k.key, ...(k.passphrase ? { passphrase: k.passphrase } : {}) };
        });
      }
      if (opts.prompter) {
        queue.push(async () => {
          const pw = await opts.prompter!.secret(`${t.user}@${t.host}'s password: `);
          return pw === null ? null : { type: 'password', username: t.user, password: pw };
        });
      }
      const authHandler: AuthHandlerMiddleware = (_left, _partial, next) => {
        const step = async (): Promise<void> => {
          for (;;) {
            const make = queue.shift();
            if (!make) return next(false as never);
            const method = await make().catch(() => null);
            if (method) {
              lastMethod = method.type === 'publickey' ? tried[tried.length - 1] ?? 'publickey' : method.type;
              if (method.type === 'agent') tried.push('agent');
              if (method.type === 'password') tried.push('password');
              return next(method);
            }
          }
        };
        void step();
      };

      const cfg: ConnectConfig = {
        host: t.host,
        port: t.port,
        username: t.user,
        ...(sock ? { sock } : {}),
        readyTimeout: (t.connectTimeoutSeconds ?? 20) * 1000,
        keepaliveInterval: (t.serverAliveIntervalSeconds ?? 15) * 1000,
        keepaliveCountMax: 3,
        authHandler,
        hostVerifier: (key: Buffer) => {
          const v = checkHostKey(files, t.host, t.port, key);
          if (v.status === 'unknown' && opts.acceptNew && files[0]) {
            addKnownHost(files[0], t.host, t.port, key);
            log?.('trusted and recorded a new host key (--accept-new)', { host: hostKeyName(t.host, t.port), fingerprint: v.fingerprint, file: files[0] });
            verdict = v;
            return true;
          }
          verdict = v;
          if (v.status === 'known') return true;
          refused = hostKeyError(v, t, files);
          return false;
        },
        ...(legacy ? { algorithms: algorithms(true) } : {}),
      };
      client.once('ready', () => {
        log?.('connected', { device: where(t), auth: lastMethod, legacy, hostKey: verdict?.status, server: serverIdent });
        resolve(new SshTransport(client, t, {
          authMethod: lastMethod,
          legacyAlgorithms: legacy,
          hostKey: verdict!,
          jumpedVia: jump ? where(jump.target) : null,
          serverIdent,
        }, jump));
      });
      // 'on', not 'once': a failed handshake can be followed by a socket error (ECONNRESET)
      let failed = false;
      client.on('error', (err: Error & { level?: string }) => {
        if (failed) return;
        failed = true;
        client.end();
        if (refused) return reject(refused);
        if (err.level === 'client-authentication') {
          return reject(new RefscopeError('ERR_DEVICE',
            `authentication to ${where(t)} failed (tried: ${tried.length ? tried.join(', ') : 'nothing: no agent, no identity file, no terminal for a password'})`,
            'Add your public key to the device\'s authorized_keys, load it into ssh-agent, or run on a terminal to type the password'));
        }
        reject(err);
      });
      // a connection cut during the handshake or authentication may end with 'close' alone
      client.on('close', () => {
        if (failed) return;
        failed = true;
        reject(refused ?? Object.assign(new Error('connection closed during the SSH handshake'), { code: 'ECONNRESET' }));
      });
      client.once('ready', () => { failed = true; /* settled: later errors belong to the transport */ });
      client.on('handshake', () => { /* negotiated */ });
      client.on('greeting', () => { /* banner */ });
      (client as unknown as { on(ev: 'header', cb: (h: { identRaw?: string }) => void): void })
        .on('header', (h) => { serverIdent = h.identRaw ?? null; });
      client.connect(cfg);
    });
  }

  /** A TCP stream to host:port opened from the device (for ProxyJump). */
  forward(host: string, port: number): Promise<Duplex> {
    return new Promise((resolve, reject) => {
      this.client.forwardOut('127.0.0.1', 0, host, port, (err, stream) => {
        if (err) reject(new RefscopeError('ERR_DEVICE', `jump host ${where(this.target)} could not open ${host}:${port}: ${err.message}`, 'Check ProxyJump and that the jump host can reach the device'));
        else resolve(stream);
      });
    });
  }

  /**
   * Open an exec channel. Its exit is watched from inside ssh2's callback: a short command's
   * open confirmation, exit status and close can arrive in one read and be emitted before an
   * awaiting caller runs again, and an 'exit' or 'close' nobody heard would leave the caller
   * with no status, or waiting for good.
   */
  private exec(command: string, pty: SpawnOptions['tty']): Promise<{ ch: ClientChannel; exited: Promise<ExitStatus> }> {
    if (!this.isAlive) {
      return Promise.reject(new RefscopeError('ERR_DEVICE', `lost the connection to ${this.device}`, `Run the command again; try: refscope doctor ${this.device}`));
    }
    return new Promise((resolve, reject) => {
      void this.ended.then(() => reject(new RefscopeError('ERR_DEVICE', `lost the connection to ${this.device}`, `Run the command again; try: refscope doctor ${this.device}`)));
      const ptyOpts = pty ? { pty: { term: process.env.TERM ?? 'xterm', ...(typeof pty === 'object' ? { cols: pty.cols, rows: pty.rows } : {}) } } : {};
      this.client.exec(command, ptyOpts, (err, ch) => {
        if (err) reject(new RefscopeError('ERR_DEVICE', `${this.device} refused to run a command: ${err.message}`, `Try: refscope doctor ${this.device}`));
        else resolve({ ch, exited: channelExit(ch, this.ended) });
      });
    });
  }

  /** argv (+ cwd, env) → the one command line the device's sh runs. */
  static commandLine(argv: readonly string[], cwd?: string, env?: NodeJS.ProcessEnv): string {
    const assignments = Object.entries(env ?? {})
      .filter((e): e is [string, string] => typeof e[1] === 'string' && /^[A-Za-z_][A-Za-z0-9_]*$/.test(e[0]))
      .map(([k, v]) => `${k}=${v}`);
    const cmd = assignments.length ? quoteCommand(['env', ...assignments, ...argv]) : quoteCommand(argv);
    return cwd ? `cd ${quoteArg(cwd)} && exec ${cmd}` : `exec ${cmd}`;
  }

  async spawn(argv: readonly string[], opts: SpawnOptions = {}): Promise<TransportProcess> {
    // only variables given explicitly travel to the device, never this machine's environment
    const { ch, exited } = await this.exec(SshTransport.commandLine(argv, opts.cwd, opts.env), opts.tty);
    let ended = false;
    void exited.then(() => { ended = true; });
    const inherit = opts.stdio === 'inherit' && !opts.tty;
    let stdout: PassThrough | null = null;
    let stderr: PassThrough | null = null;
    if (inherit) {
      ch.pipe(opts.output?.stdout ?? process.stdout, { end: false });
      ch.stderr.pipe(opts.output?.stderr ?? process.stderr, { end: false });
      ch.end();
    } else {
      stdout = new PassThrough();
      ch.pipe(stdout);
      if (!opts.tty) {
        stderr = new PassThrough();
        ch.stderr.pipe(stderr);
      }
    }
    return {
      pid: undefined,
      stdin: inherit ? null : ch,
      stdout,
      stderr,
      exited,
      sharesProcessGroup: false,
      kill(signal: Signal = 'SIGTERM') {
        if (ended) return;
        // OpenSSH honours signal requests; dropbear ignores them (callers also kill by pid)
        try { ch.signal(signal.replace(/^SIG/, '')); } catch { /* channel gone */ }
        if (signal === 'SIGKILL') ch.close();
      },
      resize: opts.tty ? (cols: number, rows: number) => { ch.setWindow(rows, cols, 0, 0); } : undefined,
    };
  }

  async run(argv: readonly string[], opts: RunOptions = {}): Promise<RunResult> {
    const { ch, exited } = await this.exec(SshTransport.commandLine(argv, opts.cwd, opts.env), false);
    const out = new BoundedOutput();
    const err = new BoundedOutput();
    let overflow = false;
    const onData = (o: BoundedOutput) => (b: Buffer) => {
      if (!o.add(b) && !overflow) { overflow = true; ch.close(); }
    };
    ch.on('data', onData(out));
    ch.stderr.on('data', onData(err));
    let timedOut = false;
    const timer = setTimeout(() => { timedOut = true; ch.close(); }, opts.timeoutMs ?? 30_000);
    ch.end(opts.input ?? '');
    const st = await settleBy(exited, () => timedOut || overflow);
    clearTimeout(timer);
    return {
      ...(overflow ? { code: null, signal: null, overflow } : st), timedOut,
      stdout: out.text(),
      stderr: err.text(),
    };
  }

  /** Run a command feeding `input` (a stream) to its stdin, e.g. `tar -xf -`. */
  async pipeInto(argv: readonly string[], input: Readable, opts: PipeOptions = {}): Promise<PipeResult> {
    const { ch, exited } = await this.exec(SshTransport.commandLine(argv, opts.cwd), false);
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let bytesSent = 0;
    ch.on('data', (b: Buffer) => out.push(b));
    ch.stderr.on('data', (b: Buffer) => err.push(b));
    input.on('data', (b: Buffer) => { bytesSent += b.length; });
    input.pipe(ch);
    let timedOut = false;
    const timer = setTimeout(() => { timedOut = true; ch.close(); }, opts.timeoutMs ?? 120_000);
    const st = await settleBy(exited, () => timedOut);
    clearTimeout(timer);
    return { ...st, timedOut, bytesSent, stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(err).toString('utf8') };
  }

  /**
   * Let go of the device: every wait on this connection settles now (its channels end as
   * with a lost connection). The polite end is sent; a server that does not answer it (a
   * frozen device never closes its side) has its socket destroyed after CLOSE_GRACE_MS.
   */
  async close(): Promise<void> {
    if (!this.closedFlag) {
      this.closedFlag = true;
      this.isAlive = false;
      this.client.end();
      setTimeout(() => { try { this.client.destroy(); } catch { /* gone */ } }, CLOSE_GRACE_MS).unref();
      this.resolveEnded(null);
    }
    await this.jump?.close();
  }
}

/**
 * After a command's deadline closed its channel, or `close()` its connection: how long to
 * wait for the server to confirm.
 */
export const CLOSE_GRACE_MS = 2_000;

/**
 * The channel's exit, or, once its deadline has passed (`late()`), no later than
 * CLOSE_GRACE_MS after: a server need not confirm a close while the command still runs
 * (OpenSSH does not), and a deadline must settle the operation, not wait on the device.
 */
function settleBy(exited: Promise<ExitStatus>, late: () => boolean): Promise<ExitStatus> {
  return new Promise((resolve) => {
    let poll: NodeJS.Timeout | null = null;
    void exited.then((st) => { if (poll) clearInterval(poll); resolve(st); });
    let lateSince = 0;
    poll = setInterval(() => {
      if (!late()) return;
      lateSince = lateSince || Date.now();
      if (Date.now() - lateSince >= CLOSE_GRACE_MS) {
        clearInterval(poll!);
        resolve({ code: null, signal: null });
      }
    }, 100);
  });
}

/**
 * A channel's end. A server that closes without an exit status (dropbear may) gives both
 * null; so does a connection that dies under the channel (`ended` settles), which ssh2
 * does not always report on the channel itself.
 */
function channelExit(ch: ClientChannel, ended: Promise<unknown>): Promise<ExitStatus> {
  return new Promise((resolve) => {
    let status: ExitStatus | null = null;
    ch.on('exit', (code: number | null, signal?: string) => {
      status = { code: typeof code === 'number' ? code : null, signal: signal ? `SIG${signal}` : null };
    });
    ch.once('close', () => resolve(status ?? { code: null, signal: null }));
    void ended.then(() => {
      // give a last in-flight 'exit'/'close' a moment, then settle
      setImmediate(() => resolve(status ?? { code: null, signal: null }));
    });
  });
}
