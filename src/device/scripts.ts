/**
 * Where the device-side files are: <package>/device-scripts/, the folder deployed to a
 * device as the probe's payload (and run from in place on this machine), and the names of
 * the files in it that the host starts.
 */
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** the probe: runs the app in-process and writes the record segments */
export const PROBE_FILE = 'refscope_probe.py';
/** starts the probe on a device (attached or --detach) and writes pid, started, exit */
export const LAUNCH_FILE = 'refscope_launch.sh';
/** streams a device run's segments back while it runs */
export const FOLLOW_FILE = 'refscope_follow.py';

/** dist/device/scripts.js (or src/device/scripts.ts) → <package>/device-scripts/ */
export function deviceScriptsDir(): string {
  return fileURLToPath(new URL('../../device-scripts/', import.meta.url));
}

/** the probe file on this machine */
export function probePath(): string {
  return join(deviceScriptsDir(), PROBE_FILE);
}
