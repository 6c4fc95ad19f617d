/**
 * An emulated N810 for the tests: a Debian bookworm armel root filesystem (built once per
 * machine by build-armel-rootfs.sh, cached outside the repository) run under qemu-user
 * (binfmt_misc, QEMU_CPU=arm1136: the N810's ARMv6) in a chroot inside its own mount
 * namespace, with armel dropbear answering on a 127.0.0.1 port (inetd style: the rig listens
 * and starts `dropbear -i` in the device's namespace and cgroup for each connection).
 *
 * Each device gets a private copy-on-write view of the cached tree (overlayfs, upper layer
 * in a temp folder), so runs never change the cache. Logins run busybox sh with a PATH of
 * busybox applets plus Debian's armel python3 (and REFSCOPE_PY25_ARM's python2.5 when set),
 * as on an N810. Where the cgroup v1 memory controller is there, the whole device (dropbear
 * and everything it starts) runs in a memory cgroup limited to 128 MB, swap included, like
 * the N810's RAM; the cgroup is nested in the test's own. Everything the device starts
 * carries the rig's markers (procs.ts); stop() ends it all and the run's teardown checks.
 */
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { createServer, type AddressInfo } from 'node:net';
import { dirname, join } from 'node:path';
import { missing, notRoot, skipWhy } from '../helpers/prereq.js';
import { describeProc, markerExports, onRigCleanup, recordRigDir, rigEnv, stopProcsOf } from './procs.js';
import { readBanner, waitFor } from './wait.js';

export const DEFAULT_ROOTFS = '/var/cache/refscope-rig/armel-rootfs';
export const QEMU_CPU = 'arm1136';
export const N810_RAM_BYTES = 128 * 1024 * 1024;

/** where the cached rootfs is (REFSCOPE_ARMEL_ROOTFS overrides) */
export function armelRootfs(): string {
  return process.env.REFSCOPE_ARMEL_ROOTFS || DEFAULT_ROOTFS;
}

const BUILD_SCRIPT = new URL('./build-armel-rootfs.sh', import.meta.url).pathname;

function missingTools(): Array<[string, string | null]> {
  const binfmt = '/proc/sys/fs/binfmt_misc/qemu-arm';
  return [
    ['root', notRoot('the emulated device needs root: chroot, mount namespace, cgroups')],
    ['qemu-arm-static', existsSync('/usr/bin/qemu-arm-static') ? null : 'qemu-arm-static is not installed (apt-get install qemu-user-static binfmt-support)'],
    ['binfmt qemu-arm', existsSync(binfmt) ? null : 'binfmt_misc has no qemu-arm entry (update-binfmts --enable qemu-arm)'],
    ['dropbear', existsSync('/usr/bin/dropbearkey') ? null : 'dropbearkey is not installed (apt-get install dropbear-bin)'],
    ['overlayfs', /\boverlay\b/.test(readFileSync('/proc/filesystems', 'utf8')) ? null : 'the kernel has no overlayfs'],
  ];
}

/**
 * Null when the emulated device can start; else why not (recorded for the run's summary;
 * under REFSCOPE_REQUIRE_RIG=1 a throw that fails the test file). A missing rootfs is built
 * here when the tools for it are there (about 2-4 minutes, once per machine; .ci/run builds
 * it beforehand), unless REFSCOPE_NO_ROOTFS_BUILD is set.
 */
export function emulatedUnavailable(): string | null {
  const tools = missingTools();
  if (tools.some(([, why]) => why !== null)) return missing(tools);
  return skipWhy('armel rootfs', rootfsProblem());
}

function rootfsProblem(): string | null {
  const root = armelRootfs();
  if (existsSync(join(root, '.complete'))) return null;
  if (process.env.REFSCOPE_NO_ROOTFS_BUILD) return `no armel rootfs at ${root} (build it: sh test/rig/build-armel-rootfs.sh)`;
  const r = spawnSync('sh', [BUILD_SCRIPT, root], { encoding: 'utf8', timeout: 15 * 60_000 });
  if (r.status !== 0 || !existsSync(join(root, '.complete'))) {
    const tail = `${r.stdout ?? ''}${r.stderr ?? ''}`.trim().split('\n').slice(-3).join(' / ');
    return `no armel rootfs at ${root} and it could not be built (${tail || r.error?.message || `status ${r.status}`})`;
  }
  return null;
}

/**
 * Null when the device can run in a memory cgroup (the cgroup v1 memory controller, as on
 * the N810's kernel); else why not. Optional: the OOM test skips without it, listed in the
 * run's summary.
 */
export function memcgUnavailable(): string | null {
  return skipWhy('cgroup v1 memory controller', ownMemcg() !== null ? null : 'no cgroup v1 memory controller here (the OOM test needs memory.limit_in_bytes)', { optional: true });
}

/** the memory cgroup v1 directory of this process, or null when there is no v1 memory controller */
export function ownMemcg(): string | null {
  try {
    const line = readFileSync('/proc/self/cgroup', 'utf8').split('\n').find((l) => /^\d+:memory:/.test(l));
    if (!line) return null;
    const dir = join('/sys/fs/cgroup/memory', line.slice(line.indexOf(':memory:') + 8));
    return existsSync(join(dir, 'memory.limit_in_bytes')) ? dir : null;
  } catch {
    return null;
  }
}

/** processes whose root directory is `root` (the device's chrooted processes) */
export function pidsRootedIn(root: string): number[] {
  const out: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try { if (readlinkSync(`/proc/${name}/root`) === root) out.push(Number(name)); } catch { /* gone or not ours */ }
  }
  return out;
}

function py25ArmPath(): string | null {
  const p = process.env.REFSCOPE_PY25_ARM;
  return p && existsSync(p) ? p : null;
}

/**
 * REFSCOPE_PY25_ARM: an armel python2.5 on this machine; its install prefix is shown inside
 * the device. Optional: when there is none the run's summary lists it as skipped.
 */
export function py25Arm(): string | null {
  const p = py25ArmPath();
  const env = process.env.REFSCOPE_PY25_ARM;
  skipWhy('armel python2.5 (REFSCOPE_PY25_ARM)', p ? null : env ? `REFSCOPE_PY25_ARM=${env} does not exist` : 'REFSCOPE_PY25_ARM is not set', { optional: true });
  return p;
}

function py25Prefix(): string | null {
  const p = py25ArmPath();
  return p ? dirname(dirname(p)) : null;
}

export interface EmulatedDevice {
  host: '127.0.0.1';
  port: number;
  user: 'root';
  identityFile: string;
  knownHosts: string;
  /** the device's root as seen from this machine (the overlay's merged view) */
  root: string;
  /** the memory cgroup the device runs in, null when there is none */
  memcg: string | null;
  limitBytes: number | null;
  /** names on the device PATH: python3, and python2.5 with REFSCOPE_PY25_ARM */
  pythons: string[];
  /** milliseconds from start() to dropbear's banner */
  startMs: number;
  log(): string;
  /** pids of the per-connection processes: killing one cuts that connection */
  sessionPids(): number[];
  stop(): Promise<void>;
}

export interface EmulatedOptions {
  /** memory limit in bytes (default 128 MB, the N810's RAM); null for none */
  limitBytes?: number | null;
}

const login = (dir: string): string => `#!/opt/n810/bin/sh
# every login: busybox sh with busybox applets and python on PATH, ARMv6 emulated
${markerExports(dir).join('\n')}
QEMU_CPU=${QEMU_CPU}; export QEMU_CPU
PATH=/opt/n810/bin; export PATH
HOME=/root; export HOME
cd "$HOME" || exit 1
if [ -n "\${SSH_ORIGINAL_COMMAND:-}" ]; then exec /opt/n810/bin/sh -c "$SSH_ORIGINAL_COMMAND"; fi
exec /opt/n810/bin/sh -l
`;

// The namespace holder: mounts the device's view, then sleeps; each connection enters its namespace.
// $1 rootfs $2 upper/work base $3 merged $4 memcg dir or "" $5 a host folder shown at the same path (REFSCOPE_PY25_ARM's prefix) or ""
const HOLD = `set -e
root="$1"; base="$2"; merged="$3"; cg="$4"; extra="$5"
mount -t overlay overlay -o "lowerdir=$root,upperdir=$base/upper,workdir=$base/work" "$merged"
mount -t proc proc "$merged/proc"
mount --rbind /dev "$merged/dev"
mount --make-rslave "$merged/dev"
if [ -n "$extra" ]; then mkdir -p "$merged$extra" && mount --bind "$extra" "$merged$extra" && mount -o remount,bind,ro "$merged$extra"; fi
if [ -n "$cg" ]; then
  mkdir -p "$merged/sys/fs/cgroup/memory"
  mount --bind "$cg" "$merged/sys/fs/cgroup/memory"
fi
echo ready
exec sleep 2147483647
`;

// One connection: armel dropbear in inetd mode on the accepted socket (stdin/stdout), in the
// holder's mount namespace and the device's memory cgroup. (Dropbear's own listener
// re-executes itself per connection through /proc/self/exe, which fails under qemu-user:
// the connection is accepted and dropped without a banner. Inetd mode does not re-execute.)
// $1 merged $2 memcg dir or ""
const CONNECT = `[ -z "$2" ] || echo $$ > "$2/cgroup.procs"
QEMU_CPU=${QEMU_CPU}; export QEMU_CPU
exec chroot "$1" /usr/sbin/dropbear -i -s -r /etc/dropbear/rig_ed25519_host_key -c /opt/n810/login
`;

function keygen(path: string): string {
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'refscope-emu', '-f', path]);
  return readFileSync(`${path}.pub`, 'utf8').trim();
}

function prepareUpper(upper: string, clientPub: string, hostKey: string, dir: string): string[] {
  // the per-device layer: login script, busybox PATH, keys, root's shell
  const bin = join(upper, 'opt/n810/bin');
  mkdirSync(bin, { recursive: true });
  const pythons = ['python3'];
  const links: Record<string, string> = { python3: '/usr/bin/python3' };
  const py25 = py25ArmPath();
  if (py25) { links['python2.5'] = py25; pythons.push('python2.5'); }
  const applets = execFileSync('chroot', [armelRootfs(), '/bin/busybox', '--list'], { encoding: 'utf8', env: { ...process.env, QEMU_CPU } })
    .split('\n').filter(Boolean);
  const script = ['set -e', `cd '${bin}'`, ...applets.map((a) => `ln -s /bin/busybox '${a}'`),
    ...Object.entries(links).map(([n, p]) => `ln -sf '${p}' '${n}'`)].join('\n');
  execFileSync('sh', ['-c', script]);
  writeFileSync(join(upper, 'opt/n810/login'), login(dir), { mode: 0o755 });
  mkdirSync(join(upper, 'root/.ssh'), { recursive: true, mode: 0o700 });
  writeFileSync(join(upper, 'root/.ssh/authorized_keys'), clientPub + '\n', { mode: 0o600 });
  mkdirSync(join(upper, 'etc/dropbear'), { recursive: true });
  execFileSync('cp', [hostKey, join(upper, 'etc/dropbear/rig_ed25519_host_key')]);
  // root logs in with busybox sh (dropbear wants the shell in /etc/shells)
  const passwd = readFileSync(join(armelRootfs(), 'etc/passwd'), 'utf8')
    .replace(/^root:([^:]*:[^:]*:[^:]*:[^:]*:[^:]*):[^:\n]*$/m, 'root:$1:/opt/n810/bin/sh');
  writeFileSync(join(upper, 'etc/passwd'), passwd);
  const shells = existsSync(join(armelRootfs(), 'etc/shells')) ? readFileSync(join(armelRootfs(), 'etc/shells'), 'utf8') : '';
  writeFileSync(join(upper, 'etc/shells'), `${shells}/opt/n810/bin/sh\n`);
  return pythons;
}

export async function startEmulated(opts: EmulatedOptions = {}): Promise<EmulatedDevice> {
  const t0 = Date.now();
  const dir = mkdtempSync(join(tmpdir(), 'refscope-emu-'));
  recordRigDir(dir);
  const env = rigEnv(dir);
  const base = join(dir, 'layers');
  const merged = join(dir, 'root');
  for (const d of [join(base, 'upper'), join(base, 'work'), merged]) mkdirSync(d, { recursive: true });
  const identityFile = join(dir, 'client_key');
  const clientPub = keygen(identityFile);
  const hk = join(dir, 'host_key');
  execFileSync('dropbearkey', ['-t', 'ed25519', '-f', hk], { stdio: 'ignore' });
  const hostKey = (execFileSync('dropbearkey', ['-y', '-f', hk], { encoding: 'utf8' }).split('\n').find((l) => l.startsWith('ssh-')) ?? '')
    .split(' ').slice(0, 2).join(' ');
  const pythons = prepareUpper(join(base, 'upper'), clientPub, hk, dir);

  const limitBytes = opts.limitBytes === undefined ? N810_RAM_BYTES : opts.limitBytes;
  const parent = ownMemcg();
  let memcg: string | null = null;
  if (parent && limitBytes !== null) {
    memcg = join(parent, `refscope-emu-${process.pid}-${Date.now()}`);
    mkdirSync(memcg);
    writeFileSync(join(memcg, 'memory.limit_in_bytes'), String(limitBytes));
    // no swap either: the limit is what the device has
    if (existsSync(join(memcg, 'memory.memsw.limit_in_bytes'))) writeFileSync(join(memcg, 'memory.memsw.limit_in_bytes'), String(limitBytes));
  }

  let stderr = '';
  const holder = spawn('unshare', ['-m', '--propagation', 'private', 'sh', '-c', HOLD, 'sh', armelRootfs(), base, merged, memcg ?? '', py25Prefix() ?? ''],
    { stdio: ['ignore', 'pipe', 'pipe'], env });
  holder.stderr!.on('data', (d: Buffer) => { stderr += d.toString(); });
  const ready = await new Promise<boolean>((resolve) => {
    holder.stdout!.on('data', (d: Buffer) => { if (d.toString().includes('ready')) resolve(true); });
    holder.once('exit', () => resolve(false));
  });
  const fail = (): never => {
    if (holder.exitCode === null) holder.kill('SIGKILL');
    stopProcsOf([dir]);
    if (memcg) try { rmdirSync(memcg); } catch { /* busy */ }
    rmSync(dir, { recursive: true, force: true });
    throw new Error(`the emulated device did not start:\n${stderr}`);
  };
  if (!ready) fail();
  const sessions = new Set<ChildProcess>();
  const server = createServer({ pauseOnConnect: true }, (sock) => {
    const child = spawn('nsenter', ['-t', String(holder.pid), '-m', '--', 'sh', '-c', CONNECT, 'sh', merged, memcg ?? ''],
      { stdio: [sock, sock, 'pipe'], env });
    sessions.add(child);
    child.stderr!.on('data', (d: Buffer) => { stderr += d.toString(); });
    child.once('exit', () => { sessions.delete(child); sock.destroy(); });
    child.once('error', () => sock.destroy());
  });
  await new Promise<void>((resolve, reject) => { server.once('error', reject); server.listen(0, '127.0.0.1', () => resolve()); });
  const port = (server.address() as AddressInfo).port;
  try {
    await waitFor(`emulated dropbear banner on port ${port}`, () => readBanner(port).catch(() => null), 30_000, 100);
  } catch {
    server.close();
    fail();
  }
  const knownHosts = join(dir, 'known_hosts');
  writeFileSync(knownHosts, `[127.0.0.1]:${port} ${hostKey}\n`);
  const startMs = Date.now() - t0;
  let stopping: Promise<void> | null = null;
  const stop = (): Promise<void> => (stopping ??= (async () => {
    unregister();
    server.close();
    for (const c of sessions) c.kill('SIGKILL');
    // everything the device started (sessions, apps): by its root, and by its cgroup when it has one
    for (let i = 0; i < 20; i++) {
      const left = pidsRootedIn(merged);
      if (left.length === 0) break;
      for (const p of left) { try { process.kill(p, 'SIGKILL'); } catch { /* gone */ } }
      await new Promise((r) => setTimeout(r, 100));
    }
    if (memcg) {
      for (let i = 0; i < 50; i++) {
        const pids = readFileSync(join(memcg, 'cgroup.procs'), 'utf8').split('\n').filter(Boolean).map(Number);
        if (pids.length === 0) break;
        for (const p of pids) { try { process.kill(p, 'SIGKILL'); } catch { /* gone */ } }
        await new Promise((r) => setTimeout(r, 100));
      }
      try { rmdirSync(memcg); } catch { /* still busy: the kernel frees it later */ }
    }
    // the holder keeps the namespace (and so the overlay) alive: end it, then delete our layer
    if (holder.exitCode === null && holder.signalCode === null) {
      const gone = new Promise((r) => holder.once('exit', r));
      holder.kill('SIGKILL');
      await Promise.race([gone, new Promise((r) => setTimeout(r, 3000))]);
    }
    // a last sweep: anything else carrying the device's markers or running in its folder
    const left = stopProcsOf([dir]);
    rmSync(dir, { recursive: true, force: true });
    if (left.length > 0) throw new Error(`emulated device ${dir}: could not end\n${left.map(describeProc).join('\n')}`);
  })());
  const unregister = onRigCleanup(stop);

  return {
    host: '127.0.0.1', port, user: 'root', identityFile, knownHosts, root: merged, memcg, limitBytes: memcg ? limitBytes : null,
    pythons, startMs,
    log: () => stderr,
    sessionPids: () => [...sessions].map((c) => c.pid!).filter(Boolean),
    stop,
  };
}
