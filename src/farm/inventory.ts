/**
 * The farm inventory (YAML): devices, apps, schedules. Parsed once at the edge and
 * validated field by field, so a mistake is one line naming the field and the fix:
 *   farm.yaml: devices[3].port: must be a whole number from 1 to 65535 (got "22x")
 */
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { parse } from 'yaml';
import { RefscopeError } from '../errors.js';
import { DURATION_HINT, parseDuration } from '../duration.js';
import { labgridDevices } from './labgrid.js';

export interface FarmDevice {
  name: string;
  /** host, or a Host alias of ~/.ssh/config */
  host: string;
  user: string | null;
  port: number | null;
  tags: string[];
  python: string | null;
  deviceDir: string | null;
  identityFile: string | null;
  knownHosts: string | null;
}

export interface FarmApp {
  name: string;
  /** folder to send first (relative to the farm file) */
  push: string | null;
  script: string;
  args: string[];
  /** seconds */
  duration: number | null;
  interval: number | null;
  censusBudget: number | null;
  /** stop each run once its verdict is decided (`refscope run --until-verdict`) */
  untilVerdict: boolean;
  /** device names or tags this app runs on; empty: every device */
  on: string[];
}

export interface FarmSchedule {
  app: string;
  cron: string;
}

export interface Farm {
  file: string;
  devices: FarmDevice[];
  apps: FarmApp[];
  schedules: FarmSchedule[];
  /** what people should know about how the devices were found (labgrid targets left out) */
  notes: string[];
}

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

class Fields {
  constructor(private readonly file: string, private readonly at: string, private readonly o: Obj) {}

  private bad(field: string, must: string, got: unknown): never {
    throw new RefscopeError('ERR_INPUT', `${this.file}: ${this.at}.${field}: ${must} (got ${JSON.stringify(got)})`, 'Fix that field in the farm file');
  }

  known(names: string[]): void {
    for (const k of Object.keys(this.o)) {
      if (!names.includes(k)) {
        throw new RefscopeError('ERR_INPUT', `${this.file}: ${this.at}.${k}: unknown field`, `Known fields: ${names.join(', ')}`);
      }
    }
  }

  str(name: string, required: true): string;
  str(name: string, required?: false): string | null;
  str(name: string, required = false): string | null {
    const v = this.o[name];
    if (v === undefined || v === null) {
      if (required) this.bad(name, 'is required', v);
      return null;
    }
    if (typeof v !== 'string' && typeof v !== 'number') this.bad(name, 'must be a string', v);
    const s = String(v).trim();
    if (s === '') this.bad(name, 'must not be empty', v);
    return s;
  }

  port(name: string): number | null {
    const v = this.o[name];
    if (v === undefined || v === null) return null;
    const n = typeof v === 'number' ? v : Number(v);
    if (!Number.isInteger(n) || n < 1 || n > 65535) this.bad(name, 'must be a whole number from 1 to 65535', v);
    return n;
  }

  positive(name: string): number | null {
    const v = this.o[name];
    if (v === undefined || v === null) return null;
    const n = typeof v === 'number' ? v : Number(v);
    if (!(n > 0) || !Number.isFinite(n)) this.bad(name, 'must be a number above 0', v);
    return n;
  }

  bool(name: string): boolean {
    const v = this.o[name];
    if (v === undefined || v === null) return false;
    if (typeof v !== 'boolean') this.bad(name, 'must be true or false', v);
    return v as boolean;
  }

  duration(name: string): number | null {
    const v = this.o[name];
    if (v === undefined || v === null) return null;
    const seconds = parseDuration(String(v));
    if (seconds === null) this.bad(name, `must be ${DURATION_HINT}`, v);
    return seconds;
  }

  list(name: string): string[] {
    const v = this.o[name];
    if (v === undefined || v === null) return [];
    if (!Array.isArray(v) || !v.every((x) => typeof x === 'string' || typeof x === 'number')) this.bad(name, 'must be a list of strings', v);
    return v.map(String);
  }
}

function section(file: string, doc: Obj, name: string, required: boolean): Obj[] {
  const v = doc[name];
  if (v === undefined || v === null) {
    if (required) throw new RefscopeError('ERR_INPUT', `${file}: ${name}: is required`, `Add a '${name}:' list to the farm file`);
    return [];
  }
  if (!Array.isArray(v)) throw new RefscopeError('ERR_INPUT', `${file}: ${name}: must be a list`, `Write '${name}:' followed by '- ' items`);
  return v.map((item, i) => {
    if (!isObj(item)) throw new RefscopeError('ERR_INPUT', `${file}: ${name}[${i}]: must be a mapping of fields`, 'Write each item as key: value lines');
    return item;
  });
}

export interface FarmSources {
  /** a labgrid environment whose targets' NetworkServices are devices too (`--labgrid ENV`) */
  labgrid?: string;
}

export function parseFarm(text: string, file: string, opts: FarmSources = {}): Farm {
  let doc: unknown;
  try {
    doc = parse(text, { maxAliasCount: 100 });
  } catch (e) {
    throw new RefscopeError('ERR_INPUT', `${file}: not valid YAML (${(e as Error).message.split('\n')[0]})`, 'Fix the YAML syntax');
  }
  if (!isObj(doc)) throw new RefscopeError('ERR_INPUT', `${file}: must be a mapping with devices, apps and schedules`, 'See docs/usage.md, "refscope farm"');
  new Fields(file, '(top)', doc).known(['devices', 'apps', 'schedules']);

  const base = dirname(resolve(file));
  const notes: string[] = [];
  const fromLabgrid = (env: string, opts: Omit<Parameters<typeof labgridDevices>[1], 'env'>): FarmDevice[] => {
    const r = labgridDevices(env, opts);
    if (r.skipped.length) notes.push(`${env}: target(s) without a NetworkService left out: ${r.skipped.join(', ')}`);
    return r.devices;
  };
  const devices = section(file, doc, 'devices', !opts.labgrid).flatMap((o, i): FarmDevice[] => {
    const f = new Fields(file, `devices[${i}]`, o);
    if (o.labgrid !== undefined) {
      // every NetworkService of a labgrid environment, with this entry's fields for what labgrid does not say
      f.known(['labgrid', 'targets', 'tags', 'python', 'deviceDir', 'identityFile', 'knownHosts']);
      const targets = f.list('targets');
      return fromLabgrid(resolve(base, f.str('labgrid', true)), {
        ...(targets.length ? { targets } : {}),
        defaults: { tags: f.list('tags'), python: f.str('python'), deviceDir: f.str('deviceDir'), identityFile: f.str('identityFile'), knownHosts: f.str('knownHosts') },
      });
    }
    f.known(['name', 'host', 'user', 'port', 'tags', 'python', 'deviceDir', 'identityFile', 'knownHosts']);
    const host = f.str('host', true);
    return [{
      name: f.str('name') ?? host, host, user: f.str('user'), port: f.port('port'), tags: f.list('tags'),
      python: f.str('python'), deviceDir: f.str('deviceDir'), identityFile: f.str('identityFile'), knownHosts: f.str('knownHosts'),
    }];
  });
  if (opts.labgrid) {
    // --labgrid ENV: its targets join the inventory's devices, with the user's own known_hosts and keys
    devices.push(...fromLabgrid(resolve(opts.labgrid), { defaults: { tags: [], python: null, deviceDir: null, identityFile: null, knownHosts: null } }));
  }
  const seen = new Set<string>();
  devices.forEach((d, i) => {
    if (seen.has(d.name)) throw new RefscopeError('ERR_INPUT', `${file}: devices[${i}].name: '${d.name}' is used twice`, 'Give every device its own name (a labgrid target is named as in its environment)');
    seen.add(d.name);
  });

  const apps = section(file, doc, 'apps', true).map((o, i): FarmApp => {
    const f = new Fields(file, `apps[${i}]`, o);
    f.known(['name', 'push', 'script', 'args', 'duration', 'interval', 'censusBudget', 'untilVerdict', 'on']);
    const script = f.str('script', true);
    return {
      name: f.str('name') ?? script, push: f.str('push'), script, args: f.list('args'),
      duration: f.duration('duration'), interval: f.positive('interval'), censusBudget: f.positive('censusBudget'),
      untilVerdict: f.bool('untilVerdict'), on: f.list('on'),
    };
  });
  apps.forEach((a, i) => {
    for (const sel of a.on) {
      if (!devices.some((d) => d.name === sel || d.tags.includes(sel))) {
        throw new RefscopeError('ERR_INPUT', `${file}: apps[${i}].on: '${sel}' is neither a device name nor a tag`, 'Name a device or a tag of the devices list');
      }
    }
  });

  const schedules = section(file, doc, 'schedules', false).map((o, i): FarmSchedule => {
    const f = new Fields(file, `schedules[${i}]`, o);
    f.known(['app', 'cron']);
    const app = f.str('app', true);
    if (!apps.some((a) => a.name === app)) throw new RefscopeError('ERR_INPUT', `${file}: schedules[${i}].app: no app named '${app}'`, 'Use a name from the apps list');
    return { app, cron: f.str('cron', true) };
  });
  return { file, devices, apps, schedules, notes };
}

export function loadFarm(file: string, opts: FarmSources = {}): Farm {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new RefscopeError('ERR_INPUT', `cannot read the farm file ${file} (${(e as NodeJS.ErrnoException).code ?? e})`, 'Check the path');
  }
  return parseFarm(text, file, opts);
}

/**
 * `i/n` → [i, n], 1-based, as CI engines give them: GitLab's `$CI_NODE_INDEX/$CI_NODE_TOTAL`
 * (1 to N) as given, a Jenkins matrix axis of 1..N. A 0-based index (`0/4`, a loop from 0)
 * is refused, not shifted: shifting would silently run one shard twice and another never.
 */
export function parseShard(s: string): [number, number] {
  const t = s.trim();
  if (/^\s*\/\s*\d*$/.test(t) || /^\d+\/$/.test(t) || t === '') {
    throw new RefscopeError('ERR_USAGE', `--shard '${s}' has an empty index or total: the CI variables it was built from are not set`,
      "In GitLab, give the job 'parallel: N' (it sets CI_NODE_INDEX and CI_NODE_TOTAL); in Jenkins, name the matrix axis");
  }
  const m = /^(\d+)\/(\d+)$/.exec(t);
  const i = m ? Number(m[1]) : NaN;
  const n = m ? Number(m[2]) : NaN;
  if (m && i === 0 && n >= 1) {
    throw new RefscopeError('ERR_USAGE', `--shard '${s}': shard indexes start at 1 (GitLab's CI_NODE_INDEX does), not 0`,
      `A 0-based index must add one: --shard "$((i + 1))/${n}"`);
  }
  if (!m || n < 1 || i < 1 || i > n) throw new RefscopeError('ERR_USAGE', `--shard '${s}' is not i/n with 1 <= i <= n`, 'For example --shard 2/4, or --shard "$CI_NODE_INDEX/$CI_NODE_TOTAL" in GitLab');
  return [i, n];
}

/**
 * The devices of shard i of n: sorted by name, every n-th from the i-th, so each device
 * lands in exactly one shard and the split does not depend on the file's order.
 */
export function shardDevices(devices: FarmDevice[], shard: [number, number] | null): FarmDevice[] {
  const sorted = [...devices].sort((a, b) => a.name.localeCompare(b.name));
  if (!shard) return sorted;
  const [i, n] = shard;
  return sorted.filter((_, k) => k % n === i - 1);
}

/** The (device, app) pairs to run. */
export function plan(farm: Farm, devices: FarmDevice[], appName?: string): { device: FarmDevice; app: FarmApp }[] {
  const apps = appName ? farm.apps.filter((a) => a.name === appName) : farm.apps;
  if (appName && apps.length === 0) throw new RefscopeError('ERR_USAGE', `no app named '${appName}' in ${farm.file}`, `Apps: ${farm.apps.map((a) => a.name).join(', ')}`);
  const out: { device: FarmDevice; app: FarmApp }[] = [];
  for (const app of apps) {
    for (const device of devices) {
      if (app.on.length === 0 || app.on.includes(device.name) || device.tags.some((t) => app.on.includes(t))) out.push({ device, app });
    }
  }
  return out;
}
