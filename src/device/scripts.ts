/**
 * Where the device-side files are: <package>/device-scripts/, the folder deployed to a
 * device as the probe's payload (and run from in place on this machine), and the names of
 * the files in it that the host starts.
 */
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { collectPayload, type Payload } from './deploy.js';

/** the probe: runs the app in-process and writes the record segments */
export const PROBE_FILE = 'refscope_probe.py';
/** starts the probe on a device (attached or --detach) and writes pid, started, exit */
export const LAUNCH_FILE = 'refscope_launch.sh';
/** streams a device run's segments back while it runs */
export const FOLLOW_FILE = 'refscope_follow.py';

/**
 * The files a device gets: the assembled probe and the two it starts with, not the probe's
 * module sources (device-scripts/probe/) nor the assembler.
 */
export const DEPLOYED_FILES: readonly string[] = [PROBE_FILE, LAUNCH_FILE, FOLLOW_FILE];

/** The probe's payload, as deploy sends it (content-addressed: an unchanged one is not sent again). */
export function probePayload(dir: string = deviceScriptsDir()): Payload {
  return collectPayload(dir, '', (rel) => DEPLOYED_FILES.includes(rel));
}

/** dist/device/scripts.js (or src/device/scripts.ts) → <package>/device-scripts/ */
export function deviceScriptsDir(): string {
  return fileURLToPath(new URL('../../device-scripts/', import.meta.url));
}

/** the probe file on this machine */
export function probePath(): string {
  return join(deviceScriptsDir(), PROBE_FILE);
}
