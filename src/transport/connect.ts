/**
 * DEVICE (or this machine) → an open transport: the one call a command makes. A device is
 * resolved as `ssh` would (target.ts: `[user@]host[:port]` or a Host alias of
 * ~/.ssh/config), its host key verified against known_hosts, and the connection opened;
 * no device means this machine. Everything heavy (ssh2, ssh-config, node-pty) loads only
 * when it is used, so `refscope --help` stays instant.
 */
import type { SshOptions, SshTransport } from './ssh.js';
import type { Transport } from './types.js';

export interface ConnectSettings {
  /** trust and record an unknown host key (never a changed one) */
  acceptNew?: boolean;
  /** the known_hosts file to check and record in, instead of ~/.ssh/known_hosts and /etc/ssh/ssh_known_hosts */
  knownHosts?: string;
  /** old SSH algorithms: appended on a failed negotiation (auto), never, or always */
  legacy?: 'auto' | 'never' | 'always';
  /** a private key tried before the ssh config's IdentityFile (as ssh -i) */
  identity?: string;
  /** false: never ask on the terminal (a passphrase, a host key): a farm runs many at once */
  interactive?: boolean;
  /** info lines for the session log (never secrets) */
  log?: SshOptions['log'];
}

/** What connecting to `device` will use: its resolved target, known_hosts, a prompter when there is a terminal. */
export async function sshOptions(device: string, s: ConnectSettings = {}): Promise<SshOptions> {
  const [{ ttyPrompter }, { defaultKnownHostsFiles }, { resolveDevice }] = await Promise.all([
    import('./prompt.js'), import('./ssh.js'), import('./target.js'),
  ]);
  const target = resolveDevice(device);
  if (s.identity) target.identityFiles = [s.identity, ...target.identityFiles];
  return {
    target,
    knownHostsFiles: s.knownHosts ? [s.knownHosts] : defaultKnownHostsFiles(),
    acceptNew: s.acceptNew ?? false,
    prompter: s.interactive === false ? null : ttyPrompter(),
    legacy: s.legacy ?? 'auto',
    ...(s.log ? { log: s.log } : {}),
  };
}

/** A verified SSH connection to `device`. */
export async function connectDevice(device: string, s: ConnectSettings = {}): Promise<SshTransport> {
  const { SshTransport } = await import('./ssh.js');
  return SshTransport.connect(await sshOptions(device, s));
}

/** The transport for DEVICE, or for this machine when no device is named. */
export async function openTransport(device: string | undefined, s: ConnectSettings = {}): Promise<Transport> {
  if (device !== undefined) return connectDevice(device, s);
  const { LocalTransport } = await import('./local.js');
  return new LocalTransport();
}
