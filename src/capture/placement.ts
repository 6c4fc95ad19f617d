/**
 * Where the probe runs and writes, seen from the capture. Locally the probe writes its
 * segments straight into SESSION/segments, so there is nothing to collect. On a device
 * the probe writes into a run directory on the device, is started by
 * device-scripts/refscope_launch.sh, and device-scripts/refscope_follow.py streams the
 * segments back: that placement appends them to SESSION/segments as they arrive, and the
 * same tail (tail.ts) reads them from there. The capture is the same either way.
 */
import { join } from 'node:path';
import { SEGMENTS_DIR } from '../session/store.js';

export interface Placement {
  /** the probe file, as the target sees it */
  probePath: string;
  /** the probe's --out, as the target sees it */
  outDir: string;
  /** the folder on this machine where the segments are (or arrive), read by the tail */
  localSegments: string;
  /** the probe starts with SIGINT ignored (a launcher's background job) and must restore it */
  restoreSigint: boolean;
  /** the command that runs the probe argv on the target (a launcher may wrap it) */
  launch(probeArgv: string[]): string[];
  /** after the app has ended: make sure every segment byte is in `localSegments` */
  collect(): Promise<void>;
}

export function localPlacement(sessionDir: string, probePath: string): Placement {
  const segments = join(sessionDir, SEGMENTS_DIR);
  return {
    probePath,
    outDir: segments,
    localSegments: segments,
    restoreSigint: false,
    launch: (argv) => argv,
    collect: async () => undefined,
  };
}
