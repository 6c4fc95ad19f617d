/**
 * `refscope farm run|schedule|merge|export|devices FARM_FILE`: many devices from one inventory.
 */
import type { Argv, CommandModule } from 'yargs';
import { printable } from '../../report/text.js';

interface FarmArgs {
  farm: string;
  shards?: string[];
  out: string;
  concurrency: number;
  shard?: string;
  app?: string;
  json: boolean;
  'max-runs'?: number;
  lava?: boolean;
  labgrid?: string;
}

const say = (line: string): void => { process.stderr.write(`${printable(line)}\n`); };

function common<T>(y: Argv<T>): Argv<T & FarmArgs> {
  return y
    .positional('farm', { type: 'string', demandOption: true, describe: 'the farm inventory (YAML)' })
    .option('out', { type: 'string', default: 'refscope-farm', describe: 'where sessions, summary.json and junit.xml go' }) as unknown as Argv<T & FarmArgs>;
}

const labgrid = <T>(y: Argv<T>): Argv<T> => y.option('labgrid', { type: 'string', describe: 'a labgrid environment file: its targets\' NetworkServices are devices too' });
const load = async (args: FarmArgs) => {
  const farm = (await import('../../farm/inventory.js')).loadFarm(args.farm, args.labgrid ? { labgrid: args.labgrid } : {});
  for (const n of farm.notes) say(`farm: ${n}`);
  return farm;
};

const concurrency = <T>(y: Argv<T>): Argv<T> => y.option('concurrency', { type: 'number', default: 8, describe: 'devices run at once' });
const json = <T>(y: Argv<T>): Argv<T> => y.option('json', { type: 'boolean', default: false, describe: 'print the summary as JSON on stdout' });

async function print(summary: import('../../farm/run.js').FarmSummary, json: boolean): Promise<number> {
  const { renderSummary, exitCodeOf } = await import('../../farm/run.js');
  process.stdout.write(json ? `${JSON.stringify(summary, null, 2)}\n` : renderSummary(summary));
  return exitCodeOf(summary.results);
}

const run: CommandModule<{ verbose: boolean }, FarmArgs> = {
  command: 'run <farm>',
  describe: 'Run every app on every matching device, N at a time; summary and merged JUnit',
  builder: (y) => labgrid(json(concurrency(common(y))))
    .option('shard', { type: 'string', describe: 'run only slice i of n of the devices (i/n), for CI workers' })
    .option('app', { type: 'string', describe: 'run only this app of the inventory' }) as unknown as Argv<FarmArgs>,
  handler: async (args) => {
    const [{ parseShard }, { runFarm, FarmControl }] = await Promise.all([import('../../farm/inventory.js'), import('../../farm/run.js')]);
    const farm = await load(args);
    // Ctrl-C: every app is asked to stop and its report follows; no new run starts. Again: leave.
    const control = new FarmControl();
    let interrupts = 0;
    const onSignal = () => {
      interrupts++;
      if (interrupts >= 3) process.exit(130);
      say(interrupts === 1 ? 'farm: stopping: the runs under way end and report (Ctrl-C again to kill them)' : 'farm: killing the apps');
      control.interrupt();
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
    try {
      const summary = await runFarm(farm, {
        out: args.out, concurrency: args.concurrency, shard: args.shard ? parseShard(args.shard) : null,
        ...(args.app ? { app: args.app } : {}), say, control,
      });
      process.exitCode = await print(summary, args.json);
    } finally {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    }
  },
};

const merge: CommandModule<{ verbose: boolean }, FarmArgs> = {
  command: 'merge <farm> [shards..]',
  describe: 'Join the results of `farm run --shard i/n` (shard folders, or folders holding them; default --out) into one summary, JUnit and session layout in --out',
  builder: (y) => labgrid(json(common(y)))
    .positional('shards', { type: 'string', array: true, describe: 'shard folders (OUT/shard-i-of-n) or folders holding them; default: --out' }) as unknown as Argv<FarmArgs>,
  handler: async (args) => {
    const { mergeShards } = await import('../../farm/merge.js');
    process.exitCode = await print(await mergeShards(await load(args), args.out, args.shards ?? []), args.json);
  },
};

const schedule: CommandModule<{ verbose: boolean }, FarmArgs> = {
  command: 'schedule <farm>',
  describe: 'Run each schedule\'s app on its cron expression, in the foreground (one scheduler at a time)',
  builder: (y) => concurrency(common(y))
    .option('max-runs', { type: 'number', describe: 'stop after this many runs (default: run until stopped)' }) as unknown as Argv<FarmArgs>,
  handler: async (args) => {
    const [{ loadFarm }, { runSchedule }] = await Promise.all([import('../../farm/inventory.js'), import('../../farm/schedule.js')]);
    const r = await runSchedule(loadFarm(args.farm), {
      out: args.out, concurrency: args.concurrency, say, ...(args['max-runs'] !== undefined ? { maxRuns: args['max-runs'] } : {}),
    });
    say(`farm schedule: ${r.runs.length} run(s), ${r.missed} missed`);
    process.exitCode = 0;
  },
};

const exportCmd: CommandModule<{ verbose: boolean }, FarmArgs> = {
  command: 'export <farm>',
  describe: 'Write the farm for the engine that owns the devices: --lava, one LAVA test definition per device and app',
  builder: (y) => labgrid(json(y
    .positional('farm', { type: 'string', demandOption: true, describe: 'the farm inventory (YAML)' })
    .option('lava', { type: 'boolean', default: false, describe: 'LAVA test definitions (Lava-Test Test Definition 1.0) that run the probe standalone' })
    .option('app', { type: 'string', describe: 'export only this app of the inventory' })
    .option('out', { type: 'string', default: 'refscope-lava', describe: 'the folder to write (a git repository LAVA jobs name)' }))) as unknown as Argv<FarmArgs>,
  handler: async (args) => {
    if (!args.lava) {
      const { RefscopeError } = await import('../../errors.js');
      throw new RefscopeError('ERR_USAGE', 'name what to export', 'For example: refscope farm export --lava farm.yaml --out lava-tests');
    }
    const { exportLava } = await import('../../farm/lava.js');
    const r = await exportLava(await load(args), args.out, args.app);
    if (args.json) process.stdout.write(`${JSON.stringify({ out: r.out, definitions: r.definitions.map(({ device, app, path, name }) => ({ device, app, path, name })) }, null, 2)}\n`);
    else process.stdout.write(r.definitions.map((d) => `${d.path}\n`).join(''));
    say(`farm export: ${r.definitions.length} LAVA test definition(s) in ${r.out}; commit it as a git repository and name each in a job's test action (docs/farm.md, "LAVA")`);
    process.exitCode = 0;
  },
};

const devices: CommandModule<{ verbose: boolean }, FarmArgs> = {
  command: 'devices <farm>',
  describe: 'List the farm\'s devices (labgrid targets included) and the shard each lands in',
  builder: (y) => labgrid(json(y
    .positional('farm', { type: 'string', demandOption: true, describe: 'the farm inventory (YAML)' })
    .option('shard', { type: 'string', describe: 'list only the devices of shard i/n' }))) as unknown as Argv<FarmArgs>,
  handler: async (args) => {
    const { parseShard, shardDevices } = await import('../../farm/inventory.js');
    const farm = await load(args);
    const shard = args.shard ? parseShard(args.shard) : null;
    const list = shardDevices(farm.devices, shard);
    if (args.json) process.stdout.write(`${JSON.stringify(list, null, 2)}\n`);
    else process.stdout.write(list.map((d) => `${d.name}\t${d.user ? `${d.user}@` : ''}${d.host.includes(':') ? `[${d.host}]` : d.host}${d.port ? `:${d.port}` : ''}\t${d.tags.join(',')}\n`).join(''));
    process.exitCode = 0;
  },
};

export const farmCommand: CommandModule<{ verbose: boolean }, { verbose: boolean }> = {
  command: 'farm <action>',
  describe: 'Device farms: run, schedule, merge shards, export for LAVA, list devices',
  builder: (y) => y
    .command(run as unknown as CommandModule<{ verbose: boolean }, { verbose: boolean }>)
    .command(schedule as unknown as CommandModule<{ verbose: boolean }, { verbose: boolean }>)
    .command(merge as unknown as CommandModule<{ verbose: boolean }, { verbose: boolean }>)
    .command(exportCmd as unknown as CommandModule<{ verbose: boolean }, { verbose: boolean }>)
    .command(devices as unknown as CommandModule<{ verbose: boolean }, { verbose: boolean }>)
    .demandCommand(1, 'name a farm action: run, schedule, merge, export or devices'),
  handler: () => undefined,
};
