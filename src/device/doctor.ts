/**
 * `refscope doctor DEVICE`: what the device has and what will work, as a table of checks,
 * each with a fix hint. A run would work when no check failed.
 */
import { RefscopeError } from '../errors.js';
import { checkConnection } from '../transport/check.js';
import type { SshOptions } from '../transport/ssh.js';
import { deploy, resolveDeviceDir } from './deploy.js';
import { probePayload } from './scripts.js';
import { choosePython, listPythons } from './discover.js';
import { deploySampler, emulationFromStatm } from './sampler.js';

export type CheckStatus = 'ok' | 'warn' | 'fail' | 'skip';

export interface Check {
  name: string;
  status: CheckStatus;
  detail: string;
  hint?: string;
}

export interface DoctorResult {
  device: string;
  ok: boolean;
  checks: Check[];
}

export interface DoctorOptions extends SshOptions {
  deviceDir?: string;
  python?: string;
  /** the folder deployed as the probe (device-scripts/) */
  payloadDir: string;
}

// One round trip for the facts a shell can tell. Each line: key<TAB>value.
const FACTS = [
  'printf "shell\\t%s\\n" "$(readlink /proc/$$/exe 2>/dev/null || echo "$0")"',
  'printf "uname\\t%s\\n" "$(uname -a 2>/dev/null)"',
  'printf "machine\\t%s\\n" "$(uname -m 2>/dev/null)"',
  'if cat /proc/self/statm >/dev/null 2>&1 && [ -r /proc/self/status ]; then printf "proc\\tyes\\n"; else printf "proc\\tno\\n"; fi',
  'printf "tar\\t%s\\n" "$(command -v tar 2>/dev/null)"',
  'printf "statm\\t%s\\n" "$(cat /proc/self/statm 2>/dev/null)"',
  'printf "clock\\t%s\\n" "$(date +%s)"',
  'awk \'/^(MemTotal|MemFree|MemAvailable|Buffers|Cached):/ { printf "mem_%s\\t%s\\n", $1, $2 }\' /proc/meminfo 2>/dev/null',
].join('\n');

// $1 = device dir (created if missing). Prints free KiB of its filesystem, or "unwritable".
const SPACE = [
  'mkdir -p "$1" 2>/dev/null',
  'if [ ! -d "$1" ] || [ ! -w "$1" ]; then echo unwritable; exit 0; fi',
  'df -k "$1" 2>/dev/null | awk \'NR > 1 { v = $(NF - 2) } END { print v }\'',
].join('\n');

function parseFacts(text: string): Map<string, string> {
  const m = new Map<string, string>();
  for (const line of text.split('\n')) {
    const i = line.indexOf('\t');
    if (i > 0) m.set(line.slice(0, i).replace(/:$/, ''), line.slice(i + 1).trim());
  }
  return m;
}

export async function runDoctor(opts: DoctorOptions): Promise<DoctorResult> {
  const checks: Check[] = [];
  const add = (c: Check): void => { checks.push(c); };
  const device = opts.target.spec;
  const connection = await checkConnection(opts);
  checks.push(...connection.checks);
  const t = connection.transport;
  if (!t) return { device, ok: false, checks };
  try {
    const localBefore = Date.now() / 1000;
    const facts = parseFacts((await t.run(['sh', '-c', FACTS], { timeoutMs: 30_000 })).stdout);
    const localAfter = Date.now() / 1000;
    add({ name: 'login shell', status: 'ok', detail: `${facts.get('shell') || 'unknown'}; ${facts.get('uname') || 'uname unavailable'}` });

    const pythons = await listPythons(t, opts.python ? [opts.python] : undefined);
    if (pythons.length === 0) {
      add({ name: 'python', status: 'fail', detail: opts.python ? `${opts.python} not found or does not run` : 'no python found', hint: 'Install Python on the device (Maemo: python2.5), or pass --python PATH' });
    } else {
      const chosen = choosePython(pythons)!;
      const old = pythons.filter((p) => /^2\.[0-4]\./.test(p.version));
      add({ name: 'python', status: old.length === pythons.length ? 'fail' : 'ok', detail: `${pythons.map((p) => `${p.path} ${p.version}`).join(', ')}; using ${chosen.path}`, ...(old.length === pythons.length ? { hint: 'refscope needs Python 2.5 or newer' } : {}) });
    }

    const emulated = emulationFromStatm(facts.get('machine') ?? '', facts.get('statm') ?? '');
    if (emulated) add({ name: 'emulation', status: 'warn', detail: emulated, hint: 'RSS figures include the emulator\'s own memory (docs/emulation.md); growth is still the app\'s' });
    add(facts.get('proc') === 'yes'
      ? { name: '/proc', status: 'ok', detail: 'readable (RSS from /proc/self/statm)' }
      : { name: '/proc', status: 'warn', detail: 'not readable: no RSS samples', hint: 'Mount /proc on the device for memory figures' });

    // a device folder refscope must refuse (another user's, writable by others, no home) is a failed check, not the end of the doctor
    const resolved = await resolveDeviceDir(t, opts.deviceDir).catch((e: unknown) => e);
    const baseDir = typeof resolved === 'string' ? resolved : '';
    const space = baseDir ? (await t.run(['sh', '-c', SPACE, 'sh', baseDir], { timeoutMs: 30_000 })).stdout.trim() : '';
    if (!baseDir) {
      if (!(resolved instanceof RefscopeError)) throw resolved;
      add({ name: 'device dir', status: 'fail', detail: resolved.message, ...(resolved.hint ? { hint: resolved.hint } : {}) });
    } else if (space === 'unwritable') {
      add({ name: 'device dir', status: 'fail', detail: `${baseDir} is not writable`, hint: 'Pass --device-dir with a folder the login user can write' });
    } else {
      const kib = Number(space);
      add(Number.isFinite(kib) && kib < 2048
        ? { name: 'device dir', status: 'warn', detail: `${baseDir}: ${kib} KiB free`, hint: 'Free space or pass --device-dir; a long run needs a few MB' }
        : { name: 'device dir', status: 'ok', detail: `${baseDir}: ${Number.isFinite(kib) ? `${(kib / 1024).toFixed(1)} MiB free` : 'free space unknown'}` });
    }

    const memAvail = Number(facts.get('mem_MemAvailable') ?? NaN);
    const memFree = Number(facts.get('mem_MemFree') ?? 0) + Number(facts.get('mem_Buffers') ?? 0) + Number(facts.get('mem_Cached') ?? 0);
    const avail = Number.isFinite(memAvail) ? memAvail : memFree;
    const total = Number(facts.get('mem_MemTotal') ?? NaN);
    add(avail > 0
      ? { name: 'free RAM', status: avail < 8192 ? 'warn' : 'ok', detail: `${(avail / 1024).toFixed(0)} MiB available of ${Number.isFinite(total) ? (total / 1024).toFixed(0) : '?'} MiB`, ...(avail < 8192 ? { hint: 'Close other apps on the device before a run' } : {}) }
      : { name: 'free RAM', status: 'warn', detail: 'unknown (/proc/meminfo unreadable)' });

    add(facts.get('tar')
      ? { name: 'tar', status: 'ok', detail: facts.get('tar')! }
      : { name: 'tar', status: 'fail', detail: 'no tar on the device', hint: 'Install busybox with the tar applet' });

    const remote = Number(facts.get('clock'));
    if (Number.isFinite(remote)) {
      const offset = remote - (localBefore + localAfter) / 2;
      add({ name: 'clock offset', status: Math.abs(offset) > 300 ? 'warn' : 'ok', detail: `${offset >= 0 ? '+' : ''}${offset.toFixed(0)} s vs this machine`, ...(Math.abs(offset) > 300 ? { hint: 'Set the device clock (date -s); report times use it' } : {}) });
    }

    if (checks.some((c) => c.name === 'device dir' && c.status === 'fail') || !facts.get('tar')) {
      add({ name: 'deploy', status: 'skip', detail: 'not tried (see above)' });
    } else {
      try {
        const d = await deploy(t, probePayload(opts.payloadDir), baseDir, 'probe');
        add({ name: 'deploy', status: 'ok', detail: `${d.dir} (${d.bytesSent ? `${d.bytesSent} bytes sent` : 'already there'})` });
        const machine = facts.get('machine') ?? '';
        const s = await deploySampler(t, baseDir, machine).catch((e: unknown) => ({ kind: 'fallback' as const, reason: String(e) }));
        add(s.kind === 'native'
          ? { name: 'sampler', status: 'ok', detail: `native refscope-sampler (${s.target}) for ${machine}` }
          : { name: 'sampler', status: 'ok', detail: `probe's own RSS sampling: ${s.reason}`, hint: 'Build the native sampler with npm run build:cross' });
      } catch (e) {
        const err = e as RefscopeError;
        add({ name: 'deploy', status: 'fail', detail: err.message, ...(err.hint ? { hint: err.hint } : {}) });
      }
    }
  } finally {
    await t.close();
  }
  return { device, ok: !checks.some((c) => c.status === 'fail'), checks };
}

/** The table for people: one row per check, hints under failed and warned ones. */
