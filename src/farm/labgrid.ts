/**
 * Devices from a labgrid environment file: each target's NetworkService (address, username,
 * port) becomes a farm device, read as labgrid 0.4 reads the file (labgrid/config.py,
 * factory.py): `!template` strings substituted like Python's string.Template from BASE (the
 * file's folder) and the LG_* environment variables; resources as a mapping or as a list of
 * one-key mappings (named resources). A target with one NetworkService is a device of the
 * target's name; with several, one per resource named TARGET.NAME. Targets without one (a
 * serial console, a power switch, a RemotePlace the coordinator resolves) are left out and
 * named. What labgrid does not know, refscope's own fields say: known_hosts and the identity
 * (host keys are verified as for any device), the Python, tags.
 */
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { parse, type ScalarTag } from 'yaml';
import { RefscopeError } from '../errors.js';
import type { FarmDevice } from './inventory.js';

/** A `!template` scalar, substituted once the whole file is read. */
class Template {
  constructor(readonly text: string) {}
}

const templateTag: ScalarTag = {
  tag: '!template',
  resolve: (s: string) => new Template(s) as unknown as string,
};

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Template);

/** Python's string.Template.substitute: $$, $name, ${name}; an unknown name or a stray $ is an error. */
export function substitute(t: string, vars: Record<string, string>, where: string): string {
  return t.replace(/\$(?:(\$)|([_a-zA-Z][_a-zA-Z0-9]*)|\{([_a-zA-Z][_a-zA-Z0-9]*)\}|())/g, (_m, dollar, name, braced, bad) => {
    if (dollar) return '$';
    if (bad !== undefined) throw new RefscopeError('ERR_INPUT', `${where}: invalid template string '${t}'`, 'Write $NAME, ${NAME} or $$ for a dollar sign');
    const key = (name ?? braced) as string;
    const v = vars[key];
    if (v === undefined) throw new RefscopeError('ERR_INPUT', `${where}: refers to unknown variable '${key}'`, 'Only BASE and LG_* environment variables are known (as in labgrid)');
    return v;
  });
}

function resolveTemplates(v: unknown, vars: Record<string, string>, where: string): unknown {
  if (v instanceof Template) return substitute(v.text, vars, where);
  if (Array.isArray(v)) return v.map((x) => resolveTemplates(x, vars, where));
  if (isObj(v)) return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, resolveTemplates(x, vars, where)]));
  return v;
}

interface NamedResource { cls: string; name: string | null; args: Obj }

/** labgrid's TargetFactory._convert_to_named_list */
function namedList(data: unknown, where: string): NamedResource[] {
  const bad = (why: string): never => { throw new RefscopeError('ERR_INPUT', `${where}: ${why}`, 'See labgrid\'s documentation, "Environment configuration"'); };
  const out: NamedResource[] = [];
  const take = (cls: string, args: unknown): void => {
    if (!isObj(args)) bad(`${cls}: must be a mapping of arguments (add {} for none)`);
    const { cls: _c, name, ...rest } = args as Obj;
    out.push({ cls, name: name === undefined || name === null ? null : String(name), args: rest });
  };
  if (data === undefined || data === null) return out;
  if (Array.isArray(data)) {
    for (const item of data) {
      if (!isObj(item) || Object.keys(item).length === 0) bad('a list item must be a mapping with one resource');
      const keys = Object.keys(item as Obj);
      if ('cls' in (item as Obj)) take(String((item as Obj).cls), item);
      else if (keys.length > 1) bad(`missing 'cls' key in ${JSON.stringify(item)}`);
      else take(keys[0]!, (item as Obj)[keys[0]!]);
    }
  } else if (isObj(data)) {
    for (const [cls, args] of Object.entries(data)) take(isObj(args) && typeof args.cls === 'string' ? args.cls : cls, args);
  } else {
    bad('must be a mapping or a list');
  }
  return out;
}

export interface LabgridDefaults {
  knownHosts: string | null;
  identityFile: string | null;
  python: string | null;
  deviceDir: string | null;
  tags: string[];
}

export interface LabgridDevices {
  devices: FarmDevice[];
  /** targets without a NetworkService, left out */
  skipped: string[];
}

/**
 * The devices of labgrid environment FILE (only TARGETS when given). `where` names the file
 * in messages (the farm entry that points at it, or --labgrid).
 */
export function labgridDevices(file: string, opts: { targets?: string[]; defaults: LabgridDefaults; env?: NodeJS.ProcessEnv }): LabgridDevices {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new RefscopeError('ERR_INPUT', `cannot read the labgrid environment ${file} (${(e as NodeJS.ErrnoException).code ?? e})`, 'Check the path');
  }
  let doc: unknown;
  try {
    doc = parse(text, { customTags: [templateTag], maxAliasCount: 100 });
  } catch (e) {
    throw new RefscopeError('ERR_INPUT', `${file}: not valid YAML (${(e as Error).message.split('\n')[0]})`, 'Fix the YAML syntax');
  }
  const env = opts.env ?? process.env;
  const vars: Record<string, string> = { BASE: dirname(resolve(file)) };
  for (const [k, v] of Object.entries(env)) if (k.startsWith('LG_') && v !== undefined) vars[k] = v;
  doc = resolveTemplates(doc, vars, file);
  if (!isObj(doc) || !isObj(doc.targets)) throw new RefscopeError('ERR_INPUT', `${file}: has no 'targets:' mapping`, 'A labgrid environment names its boards under targets:');
  const targets = doc.targets as Obj;
  for (const t of opts.targets ?? []) {
    if (!(t in targets)) throw new RefscopeError('ERR_INPUT', `${file}: no target '${t}'`, `Targets: ${Object.keys(targets).join(', ')}`);
  }
  const devices: FarmDevice[] = [];
  const skipped: string[] = [];
  for (const [target, cfg] of Object.entries(targets)) {
    if (opts.targets && !opts.targets.includes(target)) continue;
    const where = `${file}: targets.${target}.resources`;
    const services = namedList(isObj(cfg) ? cfg.resources : undefined, where).filter((r) => r.cls === 'NetworkService');
    if (services.length === 0) { skipped.push(target); continue; }
    for (const s of services) {
      const at = `${where}.NetworkService${s.name ? ` '${s.name}'` : ''}`;
      const { address, username, port } = s.args;
      if (typeof address !== 'string' || address === '') throw new RefscopeError('ERR_INPUT', `${at}: address must be a string (got ${JSON.stringify(address)})`, 'labgrid needs it too');
      if (typeof username !== 'string' || username === '') throw new RefscopeError('ERR_INPUT', `${at}: username must be a string (got ${JSON.stringify(username)})`, 'labgrid needs it too');
      if (port !== undefined && !(Number.isInteger(port) && (port as number) >= 1 && (port as number) <= 65535)) {
        throw new RefscopeError('ERR_INPUT', `${at}: port must be a whole number from 1 to 65535 (got ${JSON.stringify(port)})`, 'labgrid takes an integer too');
      }
      devices.push({
        name: services.length > 1 ? `${target}.${s.name ?? services.indexOf(s)}` : target,
        host: address, user: username, port: (port as number | undefined) ?? 22,
        tags: ['labgrid', ...opts.defaults.tags], python: opts.defaults.python, deviceDir: opts.defaults.deviceDir,
        identityFile: opts.defaults.identityFile, knownHosts: opts.defaults.knownHosts,
      });
    }
  }
  return { devices, skipped };
}
