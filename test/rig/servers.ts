/**
 * Real SSH servers on 127.0.0.1 for the tests: OpenSSH sshd (own config, no SFTP
 * subsystem, like a dropbear device) and dropbear (authorized_keys bind-mounted over
 * root's ~/.ssh inside its own mount namespace, so the machine's real keys are never
 * touched; the sftp-server binary is hidden in that namespace, as on a device that has
 * none). Every login runs the rig device's forced command (busybox sh, busybox PATH).
 * A server belongs to its device: it carries the rig's markers (procs.ts), the device's
 * cleanup() ends it with everything else, and stop() also ends the per-connection
 * processes (which outlive the listener).
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { appendFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { missing, notRoot } from '../helpers/prereq.js';
import type { RigDevice } from './device.js';
import { onRigCleanup, recordRigDir, rigEnv, stopProcsOf, describeProc } from './procs.js';
import { freePort, readBanner, waitFor } from './wait.js';

/** Inside a server's mount namespace: the host's ~/.bashrc (and ~/.bash_profile) hidden from the device's logins. */
const HIDE_BASHRC = '{ for f in /root/.bashrc /root/.bash_profile /root/.bash_login; do [ ! -f "$f" ] || mount --bind /dev/null "$f" || exit 1; done; }';

export type ServerKind = 'openssh' | 'dropbear';

export interface RigServer {
  kind: ServerKind;
  host: '127.0.0.1';
  port: number;
  user: 'root';
  /** client private key that the server accepts */
  identityFile: string;
  /** known_hosts holding the server's real host key */
  knownHosts: string;
  /** the host public key line, "type base64" */
  hostKey: string;
  /** accept one more client public key ("type base64 comment") */
  authorize(pubLine: string): void;
  /** everything the server wrote to stderr so far */
  log(): string;
  /** pids of the per-connection server processes (children of the listener) */
  sessionPids(): number[];
  stop(): Promise<void>;
}

/**
 * Null when this kind of server can run here; else why not (recorded for the run's summary;
 * under REFSCOPE_REQUIRE_RIG=1 a throw that fails the test file). Needs root, the server,
 * and busybox (the devices' shell and applets).
 */
export function serverAvailable(kind: ServerKind): string | null {
  const bin = kind === 'openssh' ? '/usr/sbin/sshd' : '/usr/sbin/dropbear';
  return missing([
    [kind === 'openssh' ? 'sshd' : 'dropbear', existsSync(bin) ? null : `${bin} not installed (apt-get install ${kind === 'openssh' ? 'openssh-server' : 'dropbear-bin'})`],
    ['root', notRoot('the SSH rig needs root: sshd privilege separation, mount namespaces')],
    ['busybox', hasBusybox() ? null : 'busybox not on PATH (apt-get install busybox): the rig devices run busybox sh'],
  ]);
}

function hasBusybox(): boolean {
  try {
    execFileSync('sh', ['-c', 'command -v busybox'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

function keygen(path: string): string {
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'refscope-rig', '-f', path]);
  return readFileSync(`${path}.pub`, 'utf8').trim();
}

function childPids(pid: number): number[] {
  try {
    const out = execFileSync('ps', ['-o', 'pid=', '--ppid', String(pid)], { encoding: 'utf8' });
    return out.split('\n').map((s) => Number(s.trim())).filter((n) => n > 0);
  } catch {
    return [];
  }
}

export async function startServer(kind: ServerKind, device: RigDevice, extraConfig = ''): Promise<RigServer> {
  const dir = mkdtempSync(join(tmpdir(), `refscope-${kind}-`));
  recordRigDir(dir);
  device.serverDirs.push(dir);
  // the server and its per-connection processes carry the markers: the device's cleanup finds them
  const env = rigEnv(dir);
  const identityFile = join(dir, 'client_key');
  const clientPub = keygen(identityFile);
  const knownHosts = join(dir, 'known_hosts');
  let hostKey: string;
  let proc: ChildProcess | null = null;
  let stderr = '';
  let port = 0;
  let listenerPid = 0;
  let authorizedKeys = '';

  for (let attempt = 0; attempt < 5 && !proc; attempt++) {
    port = await freePort();
    if (kind === 'openssh') {
      const hk = join(dir, 'ssh_host_ed25519_key');
      if (!existsSync(hk)) keygen(hk);
      hostKey = readFileSync(`${hk}.pub`, 'utf8').trim().split(' ').slice(0, 2).join(' ');
      authorizedKeys = join(dir, 'authorized_keys');
      writeFileSync(authorizedKeys, clientPub + '\n', { mode: 0o600 });
      const cfg = join(dir, 'sshd_config');
      // extraConfig goes first: in sshd_config the first value of a keyword wins
      writeFileSync(cfg, [
        extraConfig,
        `Port ${port}`,
        'ListenAddress 127.0.0.1',
        `HostKey ${hk}`,
        'PidFile none',
        'UsePAM no',
        'StrictModes no',
        `AuthorizedKeysFile ${join(dir, 'authorized_keys')}`,
        'PermitRootLogin yes',
        'PasswordAuthentication no',
        'KbdInteractiveAuthentication no',
        `ForceCommand ${device.shell}`,
        'LogLevel VERBOSE',
        '',
      ].join('\n'));
      mkdirSync('/run/sshd', { recursive: true, mode: 0o755 });
      // in its own mount namespace: the login runs `bash -c FORCED_COMMAND`, and bash started by
      // an SSH server reads ~/.bashrc (this machine's, e.g. pyenv init: half a second and a
      // `pyenv rehash` per login, a storm under a farm's concurrency); the device has none
      proc = spawn('unshare', ['-m', '--propagation', 'private', 'sh', '-c',
        `${HIDE_BASHRC} && exec /usr/sbin/sshd -D -e -f "$1"`, 'sh', cfg],
      { stdio: ['ignore', 'ignore', 'pipe'], env });
    } else {
      const hk = join(dir, 'dropbear_ed25519_host_key');
      if (!existsSync(hk)) execFileSync('dropbearkey', ['-t', 'ed25519', '-f', hk], { stdio: 'ignore' });
      const pub = execFileSync('dropbearkey', ['-y', '-f', hk], { encoding: 'utf8' });
      hostKey = (pub.split('\n').find((l) => l.startsWith('ssh-')) ?? '').split(' ').slice(0, 2).join(' ');
      const sshDir = join(dir, 'dot-ssh');
      mkdirSync(sshDir, { mode: 0o700 });
      authorizedKeys = join(sshDir, 'authorized_keys');
      writeFileSync(authorizedKeys, clientPub + '\n', { mode: 0o600 });
      mkdirSync('/root/.ssh', { recursive: true, mode: 0o700 }); // mount point only; bound over in the namespace
      proc = spawn('unshare', ['-m', '--propagation', 'private', 'sh', '-c',
        `mount --bind "$1" /root/.ssh && { [ ! -e /usr/lib/openssh/sftp-server ] || mount --bind /dev/null /usr/lib/openssh/sftp-server; } && ${HIDE_BASHRC} && exec /usr/sbin/dropbear -F -E -s -p "127.0.0.1:$2" -r "$3" -c "$4" -P "$5"`,
        'sh', sshDir, String(port), hk, device.shell, join(dir, 'dropbear.pid')],
      { stdio: ['ignore', 'ignore', 'pipe'], env });
    }
    proc.stderr!.on('data', (d: Buffer) => { stderr += d.toString(); });
    const exited = new Promise<null>((resolve) => proc!.once('exit', () => resolve(null)));
    const banner = await Promise.race([
      waitFor(`${kind} banner on port ${port}`, () => readBanner(port).catch(() => null), 10_000),
      exited,
    ]).catch(() => null);
    if (!banner) {
      proc.kill('SIGKILL');
      proc = null;
      continue; // lost the port race, or the server refused to start: try again
    }
    listenerPid = proc.pid!;
  }
  if (!proc) {
    stopProcsOf([dir]);
    rmSync(dir, { recursive: true, force: true });
    throw new Error(`${kind} did not start:\n${stderr}`);
  }
  writeFileSync(knownHosts, `[127.0.0.1]:${port} ${hostKey!}\n`);
  const running = proc;
  let stopping: Promise<void> | null = null;
  const stop = (): Promise<void> => (stopping ??= (async () => {
    unregister();
    // the listener with its per-connection processes (they outlive it), all at once: SIGTERM, then SIGKILL
    const left = stopProcsOf([dir]);
    if (running.exitCode === null && running.signalCode === null) {
      const gone = new Promise((r) => running.once('exit', r));
      running.kill('SIGKILL');
      await Promise.race([gone, new Promise((r) => setTimeout(r, 3000))]);
    }
    rmSync(dir, { recursive: true, force: true });
    if (left.length > 0) throw new Error(`${kind} server ${dir}: could not end\n${left.map(describeProc).join('\n')}`);
  })());
  const unregister = onRigCleanup(stop);

  return {
    kind,
    host: '127.0.0.1',
    port,
    user: 'root',
    identityFile,
    knownHosts,
    hostKey: hostKey!,
    authorize: (pubLine: string) => appendFileSync(authorizedKeys, `${pubLine.trim()}\n`),
    log: () => stderr,
    sessionPids: () => {
      // dropbear runs under `unshare`, which execs it: the listener is the spawned pid either way
      return childPids(listenerPid);
    },
    stop,
  };
}
