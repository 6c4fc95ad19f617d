/**
 * The SSH flags every command that talks to a device shares (run, doctor, soak), so they
 * agree on them; the connecting itself is transport/connect.ts.
 */
import type { Argv } from 'yargs';
import type { ConnectSettings } from '../transport/connect.js';
import type { SshOptions } from '../transport/ssh.js';
import type { Transport } from '../transport/types.js';

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

/** The parsed flags → what transport/ takes. */
export function connectSettings(args: ConnectArgs, log?: SshOptions['log']): ConnectSettings {
  return {
    acceptNew: args['accept-new'],
    legacy: args.legacy,
    ...(args['known-hosts'] ? { knownHosts: args['known-hosts'] } : {}),
    ...(args.identity ? { identity: args.identity } : {}),
    ...(log ? { log } : {}),
  };
}

export async function sshOptions(device: string, args: ConnectArgs, log?: SshOptions['log']): Promise<SshOptions> {
  return (await import('../transport/connect.js')).sshOptions(device, connectSettings(args, log));
}

/** DEVICE, or this machine when `device` is undefined (--local). */
export async function openTransport(device: string | undefined, args: ConnectArgs, log?: SshOptions['log']): Promise<Transport> {
  return (await import('../transport/connect.js')).openTransport(device, connectSettings(args, log));
}
