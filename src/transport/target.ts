/**
 * DEVICE → connection parameters: `[user@]host[:port]` or a Host alias from
 * ~/.ssh/config (HostName, User, Port, IdentityFile, ProxyJump, ConnectTimeout,
 * ServerAliveInterval), as `ssh` resolves them: what the command line says wins over
 * the config file, the first value of a directive in the file wins.
 */
import { existsSync, readFileSync } from 'node:fs';
import { homedir, userInfo } from 'node:os';
import { join } from 'node:path';
import SSHConfig from 'ssh-config';
import { RefscopeError } from '../errors.js';

export interface DeviceTarget {
  /** what the user typed */
  spec: string;
  host: string;
  port: number;
  user: string;
  identityFiles: string[];
  /** `[user@]host[:port]` of one jump host, already resolved */
  proxyJump: DeviceTarget | null;
  connectTimeoutSeconds: number | null;
  serverAliveIntervalSeconds: number | null;
}

interface ParsedSpec {
  user: string | null;
  host: string;
  port: number | null;
}

const SPEC = /^(?:([^@\s/]+)@)?(\[[^\]\s]+\]|[^:@\s/[\]]+)(?::(\d{1,5}))?$/;

export function parseDeviceSpec(spec: string): ParsedSpec {
  const m = SPEC.exec(spec.trim());
  if (!m || spec.trim() === '') {
    throw new RefscopeError('ERR_USAGE', `'${spec}' is not a device`, 'Give [user@]host[:port] or a Host alias from ~/.ssh/config');
  }
  const port = m[3] === undefined ? null : Number(m[3]);
  if (port !== null && (port < 1 || port > 65535)) {
    throw new RefscopeError('ERR_USAGE', `port ${m[3]} in '${spec}' is out of range`, 'Use a port from 1 to 65535');
  }
  const host = m[2]!.startsWith('[') ? m[2]!.slice(1, -1) : m[2]!;
  return { user: m[1] ?? null, host, port };
}

function first(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v[0] : v;
}

function all(v: string | string[] | undefined): string[] {
  return v === undefined ? [] : Array.isArray(v) ? v : [v];
}

function expandPath(p: string, t: { host: string; user: string; port: number; alias: string }): string {
  const home = homedir();
  let out = p.replace(/^~(?=\/|$)/, home);
  out = out.replace(/%([%dhruhnp])/g, (_, c: string) => {
    switch (c) {
      case '%': return '%';
      case 'd': return home;
      case 'h': return t.host;
      case 'r': return t.user;
      case 'u': return userInfo().username;
      case 'n': return t.alias;
      case 'p': return String(t.port);
      default: return `%${c}`;
    }
  });
  return out;
}

function seconds(v: string | undefined): number | null {
  if (v === undefined) return null;
  const n = Number(v);
  return Number.isFinite(n) && n > 0 ? n : null;
}

export interface ResolveOptions {
  /** ssh config text; default: ~/.ssh/config when it exists */
  configText?: string;
  configFile?: string;
}

function loadConfig(opts: ResolveOptions): SSHConfig {
  if (opts.configText !== undefined) return SSHConfig.parse(opts.configText);
  const file = opts.configFile ?? join(homedir(), '.ssh', 'config');
  if (!existsSync(file)) return SSHConfig.parse('');
  try {
    return SSHConfig.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new RefscopeError('ERR_INPUT', `cannot read ${file}: ${(err as Error).message}`, 'Fix or move the ssh config file');
  }
}

export function resolveDevice(spec: string, opts: ResolveOptions = {}, depth = 0): DeviceTarget {
  const parsed = parseDeviceSpec(spec);
  const config = loadConfig(opts);
  const c = config.compute(parsed.host) as Record<string, string | string[] | undefined>;
  const host = first(c.HostName) ?? parsed.host;
  const user = parsed.user ?? first(c.User) ?? userInfo().username;
  const port = parsed.port ?? (first(c.Port) !== undefined ? Number(first(c.Port)) : 22);
  const tokens = { host, user, port, alias: parsed.host };
  const identityFiles = all(c.IdentityFile).map((p) => expandPath(p, tokens));
  let proxyJump: DeviceTarget | null = null;
  const jump = first(c.ProxyJump);
  if (jump && jump.toLowerCase() !== 'none') {
    if (depth > 0) {
      throw new RefscopeError('ERR_USAGE', `ProxyJump chains are not supported ('${spec}' jumps via '${jump}', which jumps again)`, 'Use one jump host');
    }
    const hop = jump.split(',')[0]!.trim().replace(/^ssh:\/\//, '');
    proxyJump = resolveDevice(hop, opts, depth + 1);
  }
  return {
    spec,
    host,
    port,
    user,
    identityFiles,
    proxyJump,
    connectTimeoutSeconds: seconds(first(c.ConnectTimeout)),
    serverAliveIntervalSeconds: seconds(first(c.ServerAliveInterval)),
  };
}
