/**
 * DEVICE on the command line → a verified SSH connection. Shared by every command that
 * talks to a device (run, doctor, and later soak), so they agree on the flags.
 */
import type { Argv } from 'yargs';
import { resolveDevice } from '../transport/target.js';
import type { SshOptions, SshTransport } from '../transport/ssh.js';

export interface ConnectArgs {
  'accept-new': boolean;
  'known-hosts'?: string;
  legacy: 'auto' | 'never' | 'always';
  identity?: string;
}

export function connectOptions<T>(y: Argv<T>): Argv<T & ConnectArgs> {
  return y
    .option('accept-new', { type: 'boolean', default: false, describe: 'trust and record an unknown host key (never a changed one)' })
    .option('known-hosts', { type: 'string', describe: 'known_hosts file to check and record in (default ~/.ssh/known_hosts)' })
    .option('identity', { alias: 'i', type: 'string', describe: 'the private key to log in with (as ssh -i), before ~/.ssh/config IdentityFile' })
    .option('legacy', { choices: ['auto', 'never', 'always'] as const, default: 'auto' as const, describe: 'old SSH algorithms: appended on a failed negotiation (auto), never, or always' }) as Argv<T & ConnectArgs>;
}

export async function sshOptions(device: string, args: ConnectArgs, log?: SshOptions['log']): Promise<SshOptions> {
  const [{ ttyPrompter }, { defaultKnownHostsFiles }] = await Promise.all([
    import('../transport/prompt.js'), import('../transport/ssh.js'),
  ]);
  const target = resolveDevice(device);
  if (args.identity) target.identityFiles = [args.identity, ...target.identityFiles];
  return {
    target,
    knownHostsFiles: args['known-hosts'] ? [args['known-hosts']] : defaultKnownHostsFiles(),
    acceptNew: args['accept-new'],
    prompter: ttyPrompter(),
    legacy: args.legacy,
    ...(log ? { log } : {}),
  };
}

export async function connectDevice(device: string, args: ConnectArgs, log?: SshOptions['log']): Promise<SshTransport> {
  const { SshTransport } = await import('../transport/ssh.js');
  return SshTransport.connect(await sshOptions(device, args, log));
}
