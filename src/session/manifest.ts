/** manifest.json of a host session directory (refscope.session/1). */
export const MANIFEST_SCHEMA = 'refscope.session/1';

export type SessionState = 'running' | 'complete' | 'aborted';

/** A detached soak run on a device (refscope soak start). */
export interface SoakInfo {
  runDir: string;
  probeDir: string;
  /** device clock (seconds since the epoch) when the launcher started */
  startedDevice: number | null;
  /** the device's kernel boot id at start: another one later means it rebooted */
  bootId: string | null;
  duration: number | null;
  maxDeviceMb: number | null;
  /** how it ended, in words, once known */
  ended?: string;
  /**
   * `soak start --until-verdict`: every collect is one look of the anytime test (the ones
   * made so far are counted here); the collect whose look decides stops the app
   */
  untilVerdict?: { looks: number };
}

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
  /** narrow (added): 'off' under --no-narrow, 'again' under --narrow-again; absent at the default */
  options: { interval: number; censusBudget: number; watchTypes: string[]; duration: number | null; narrow?: 'off' | 'again' };
  state: SessionState;
  endedAt?: string;
  /** app exit status as the probe saw it, null when unknown */
  exitCode?: number | null;
  /** set for `refscope soak` sessions */
  soak?: SoakInfo;
  /**
   * --until-verdict: the verdict decided while the app ran (the app was then stopped): at
   * which look and error rate, after how many primary marks (null without marks) and
   * seconds, and one sentence
   */
  earlyVerdict?: { verdict: 'leak' | 'no-leak'; look: number; alpha: number; marks: number | null; seconds: number; reason: string };
}
