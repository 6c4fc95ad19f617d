/**
 * `refscope doctor DEVICE [--json]`: what the device has and what will work. Exit 0 when
 * a run would work, 3 when not.
 */
import type { Argv, CommandModule } from 'yargs';
import { ExitCode } from '../../errors.js';
import { connectOptions, sshOptions, type ConnectArgs } from '../connect.js';
import { printable } from '../../report/text.js';
import type { CheckStatus, DoctorResult } from '../../device/doctor.js';

interface DoctorArgs extends ConnectArgs {
  device: string;
  json: boolean;
  python?: string;
  'device-dir'?: string;
}

export const doctorCommand: CommandModule<{ verbose: boolean }, DoctorArgs> = {
  command: 'doctor <device>',
  describe: 'Check what a device has and whether a run will work',
  builder: (y: Argv<{ verbose: boolean }>) =>
    connectOptions(y
      .positional('device', { type: 'string', demandOption: true, describe: '[user@]host[:port] or an ssh Host alias' })
      .option('json', { type: 'boolean', default: false, describe: 'print the checks as JSON on stdout' })
      .option('python', { type: 'string', describe: 'check this interpreter instead of discovering one' })
      .option('device-dir', { type: 'string', describe: 'where refscope keeps its files on the device (default ~/.refscope)' })) as Argv<DoctorArgs>,
  handler: async (args) => {
    const [{ runDoctor }, { deviceScriptsDir }] = await Promise.all([
      import('../../device/doctor.js'), import('../../device/scripts.js'),
    ]);
    const opts = await sshOptions(args.device, args);
    const result = await runDoctor({
      ...opts,
      payloadDir: deviceScriptsDir(),
      ...(args.python ? { python: args.python } : {}),
      ...(args['device-dir'] ? { deviceDir: args['device-dir'] } : {}),
    });
    process.stdout.write(args.json
      ? `${JSON.stringify(result, null, 2)}\n`
      : renderDoctor(result, Boolean(process.stdout.isTTY) && !process.env.NO_COLOR));
    process.exitCode = result.ok ? ExitCode.ok : ExitCode.device;
  },
};

/** The doctor's findings for a terminal: every string from the device escaped (`printable`). */
export function renderDoctor(r: DoctorResult, color: boolean): string {
  const mark: Record<CheckStatus, string> = { ok: 'ok  ', warn: 'warn', fail: 'FAIL', skip: 'skip' };
  const paint = (s: CheckStatus, text: string): string => {
    if (!color) return text;
    const code = s === 'ok' ? 32 : s === 'warn' ? 33 : s === 'fail' ? 31 : 90;
    return `\u001b[${code}m${text}\u001b[0m`;
  };
  const width = Math.max(...r.checks.map((c) => c.name.length));
  const lines = [`refscope doctor ${printable(r.device)}`];
  for (const c of r.checks) {
    lines.push(`  ${paint(c.status, mark[c.status])}  ${printable(c.name).padEnd(width)}  ${printable(c.detail)}`);
    if (c.hint && c.status !== 'ok') lines.push(`        ${' '.repeat(width)}  fix: ${printable(c.hint)}`);
  }
  lines.push(r.ok ? 'A run will work.' : 'A run will not work until the failed checks are fixed.');
  return lines.join('\n') + '\n';
}
