/** manifest.json of a host session directory (refscope.session/1). */
export const MANIFEST_SCHEMA = 'refscope.session/1';

export type SessionState = 'running' | 'complete' | 'aborted';

export interface Manifest {
  schema: typeof MANIFEST_SCHEMA;
  id: string;
  createdAt: string;
  /** 'local' or the device spec as given */
  device: string;
  transport: 'local' | 'ssh';
  python: { path: string; version: string | null };
  probeVersion: string | null;
  uname?: string;
  /** the app command: script (or -m module) and its args */
  command: string[];
  options: { interval: number; censusBudget: number; watchTypes: string[]; duration: number | null };
  state: SessionState;
  endedAt?: string;
  /** app exit status as the probe saw it, null when unknown */
  exitCode?: number | null;
}
