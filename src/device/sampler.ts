/**
 * The native sampler (cross/sampler, built by cross/build.sh into dist/cross/<target>/):
 * which build fits a device, and sending it. A device whose `uname -m` no build fits (or
 * whose fitting build does not run) gets none: the probe's own RSS sampling is all there
 * is, as before. Doctor says which.
 */
import { existsSync } from 'node:fs';
import { join, posix } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Transport } from '../transport/types.js';
import { collectPayload, deploy } from './deploy.js';

export const SAMPLER_NAME = 'refscope-sampler';

/** where cross/build.sh put the binaries: REFSCOPE_CROSS_DIR, else <package>/dist/cross */
export function crossDir(): string {
  return process.env.REFSCOPE_CROSS_DIR || fileURLToPath(new URL('../../dist/cross/', import.meta.url));
}

/**
 * The build for a `uname -m`: armel (ARMv5TE code) for ARMv5TE/ARMv6 (the N810's ARM1136),
 * armhf for ARMv7/ARMv8 in 32-bit mode, aarch64, and this machine's native gcc build for
 * its own machine name. ARMv4/ARMv5 without the E extensions fit none.
 */
export function samplerTargets(machine: string): string[] {
  const m = machine.trim().toLowerCase();
  if (/^armv(5te|5tej|6|6l|6j|6k|6z)/.test(m) || /^armv5t?e/.test(m)) return ['armv5te-linux-gnueabi'];
  if (/^armv(7|8)/.test(m)) return ['armv7-linux-gnueabihf', 'armv5te-linux-gnueabi'];
  if (m === 'aarch64' || m === 'arm64') return ['aarch64-linux-gnu'];
  if (/^[a-z0-9_]+$/.test(m) && !m.startsWith('arm')) return [`${m}-linux-gnu`];
  return [];
}

export type SamplerChoice =
  | { kind: 'native'; target: string; path: string; bytesSent: number }
  | { kind: 'fallback'; reason: string };

/** Send the sampler that fits `machine` and check it runs there; else say why not. */
export async function deploySampler(t: Transport, baseDir: string, machine: string): Promise<SamplerChoice> {
  if (/^(0|no|off|false)$/i.test(process.env.REFSCOPE_SAMPLER ?? '')) return { kind: 'fallback', reason: 'disabled by REFSCOPE_SAMPLER' };
  const targets = samplerTargets(machine);
  if (targets.length === 0) return { kind: 'fallback', reason: `no sampler build fits ${machine || 'an unknown machine'}` };
  const dir = crossDir();
  const target = targets.find((tg) => existsSync(join(dir, tg, SAMPLER_NAME)));
  if (!target) return { kind: 'fallback', reason: `no ${targets[0]} sampler built on this machine (npm run build:cross)` };
  const d = await deploy(t, collectPayload(join(dir, target)), baseDir, `sampler-${target}`);
  const path = posix.join(d.dir, SAMPLER_NAME);
  // run with no command: it prints its usage and exits 97 when the binary runs on this CPU
  const r = await t.run(['sh', '-c', '"$1" >/dev/null 2>&1; echo "$?"', 'sh', path], { timeoutMs: 30_000 });
  if (r.stdout.trim() !== '97') return { kind: 'fallback', reason: `the ${target} sampler does not run on ${machine} (status ${r.stdout.trim() || r.code})` };
  return { kind: 'native', target, path, bytesSent: d.bytesSent };
}

/** The sampler's argv in front of the probe's: it starts the probe as its child. */
export function samplerArgv(path: string, outDir: string): string[] {
  const interval = process.env.REFSCOPE_SAMPLER_INTERVAL || '0.05';
  return [path, '--out', outDir, '--interval', interval, '--'];
}

/**
 * Under qemu-user a 32-bit guest's /proc/self/statm is qemu's own (a 64-bit host process that
 * reserves the guest's whole 4 GiB address space): a size beyond 4 GiB cannot be a native
 * 32-bit process. `statm` is one line of /proc/self/statm read on the device (by cat).
 * Returns a sentence when emulated, else null.
 */
export function emulationFromStatm(machine: string, statm: string, pageKiB = 4): string | null {
  const pages = Number(statm.trim().split(/\s+/)[0]);
  if (!Number.isFinite(pages) || pages <= 0) return null;
  const bits32 = /^(arm(?!64)|i[3-6]86|mips(?!64)|ppc$|powerpc$)/.test(machine.trim().toLowerCase());
  const kib = pages * pageKiB;
  if (bits32 && kib > 4 * 1024 * 1024) {
    return `${machine} processes have ${(kib / 1024 / 1024).toFixed(1)} GiB of address space: emulated (qemu-user), /proc/self/statm describes the emulator's process`;
  }
  return null;
}
