/**
 * The probe's version and its command line (device-scripts/refscope_probe.py, found by
 * device/scripts.ts; the command line is documented in docs/protocol.md).
 */
import { readFile } from 'node:fs/promises';
import { probePath } from '../device/scripts.js';
import { RefscopeError } from '../errors.js';

/** The sampling a run uses unless told otherwise (`--interval`, `--census-budget`): the defaults. */
export const DEFAULT_INTERVAL = 1;
export const DEFAULT_CENSUS_BUDGET = 0.02;
/** The largest --segment-kib refscope accepts: a segment file is at most this much plus one record line. */
export const MAX_SEGMENT_KIB = 16 * 1024;

/** The probe's version from its `PROBE_VERSION = '…'` line; throws when the probe is missing. */
export async function readProbeVersion(path = probePath()): Promise<string | null> {
  let text: string;
  try {
    text = await readFile(path, 'latin1');
  } catch (e) {
    throw new RefscopeError('ERR_INPUT', `the probe is missing (${path}: ${(e as NodeJS.ErrnoException).code ?? e})`,
      'Reinstall refscope');
  }
  const m = /^PROBE_VERSION\s*=\s*['"]([^'"]+)['"]/m.exec(text);
  return m?.[1] ?? null;
}

export interface ProbeArgs {
  python: string;
  probe: string;
  outDir: string;
  interval: number;
  censusBudget: number;
  watchTypes: readonly string[];
  /** ['script.py', ...args] or ['-m', 'module', ...args] */
  command: readonly string[];
  /**
   * the probe starts as a launcher's background job, whose SIGINT the shell ignores: give
   * the app its KeyboardInterrupt back (every run on a device)
   */
  restoreSigint?: boolean;
  /** never hold more than this many MB of records on the device (soak) */
  maxDeviceMb?: number | null;
  /** the size of each segment file (soak) */
  segmentKib?: number | null;
  /** --no-narrow: no narrowing window (issue 15) */
  noNarrow?: boolean;
  /** --narrow-again: re-arm, a suspect type may get another narrowing window later in the run */
  narrowAgain?: boolean;
  /** a soak: a suspect type may get another window 3 hours after its last (--narrow-again: 10 minutes) */
  narrowSoak?: boolean;
}

/** The argv that runs the app under the probe: the one place it is built. */
export function probeArgv(a: ProbeArgs): string[] {
  const argv = [a.python, a.probe, '--out', a.outDir, '--interval', String(a.interval), '--census-budget', String(a.censusBudget)];
  for (const t of a.watchTypes) argv.push('--watch-type', t);
  if (a.restoreSigint) argv.push('--restore-sigint');
  if (a.maxDeviceMb !== undefined && a.maxDeviceMb !== null) argv.push('--max-device-mb', String(a.maxDeviceMb));
  if (a.segmentKib !== undefined && a.segmentKib !== null) argv.push('--segment-kib', String(a.segmentKib));
  if (a.noNarrow) argv.push('--no-narrow');
  if (a.narrowAgain) argv.push('--narrow-again');
  else if (a.narrowSoak && !a.noNarrow) argv.push('--narrow-soak');
  argv.push('--', ...a.command);
  return argv;
}
