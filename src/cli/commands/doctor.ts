/**
 * `refscope doctor DEVICE [--json]`: what the device has and what will work. Exit 0 when
 * a run would work, 3 when not.
 */
import type { Argv, CommandModule } from 'yargs';
import { ExitCode } from '../../errors.js';
import { connectOptions, sshOptions, type ConnectArgs } from '../connect.js';

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
    const [{ runDoctor, renderDoctor }, { deviceScriptsDir }] = await Promise.all([
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
