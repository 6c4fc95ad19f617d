/**
 * The refscope.report/1 contract (DESIGN §3): what the analysis produces and every renderer
 * (report/) and consumer reads. Fields may be added; none may change meaning.
 */
export const REPORT_SCHEMA = 'refscope.report/1';

/** A verdict of leak needs a non-dependent suspect at least this confident (the confidence line). */
export const LEAK_CONFIDENCE = 0.6;

export type Verdict = 'leak' | 'no-leak' | 'inconclusive';
export type SuspectKind = 'object-growth' | 'refcount-growth' | 'native-growth';

export interface Referrer {
  via: string;
  count: number;
}

/**
 * Where a suspect's leak happens (issue 15), from a narrowing window: the call that keeps
 * references to its objects, or the line that creates the ones that survive.
 */
export interface Where {
  kind: 'keeps-reference' | 'creates';
  /** the function called (C or Python); null when the probe could not name it (a tracemalloc site) */
  function: string | null;
  /** the Python line that called it (or created the object) */
  file: string | null;
  line: number | null;
  /** calls (keeps-reference) or creations (creates) per mark of the window's mark; null without marks */
  callsPerMark: number | null;
  /**
   * keeps-reference: references one call keeps on the whole type (the followed samples' figure
   * scaled by population / samples); creates: 1. Null when nothing was followed
   */
  perCall: number | null;
  /** keeps-reference: references released after the window (scaled as perCall); creates: objects freed; null when not measured */
  freed: number | null;
  evidence: string;
  /** added fields */
  native: boolean;
  /** the function the calling line is in */
  caller: string | null;
  /** a window on the container a builtin type piles up in: how that container is named */
  holder?: string;
  /** this line and the next ones up to `through`, alike, are worded as one (the renderers skip the others) */
  through?: number;
  /** keeps-reference: calls seen in the window, references kept on the followed samples */
  calls?: number;
  refs?: number;
  /** creates: objects created here in the window, and those still alive at its end */
  created?: number;
  alive?: number;
  /** 1-3 frames, innermost first: [file, line, function] */
  stack: [string | null, number | null, string | null][];
  /** how the window looked: profile, trace or tracemalloc */
  method: string | null;
}

/** What a suspect's narrowing window did (added field), found or not. */
export interface NarrowSummary {
  kind: 'keeps-reference' | 'creates';
  status: 'found' | 'nothing' | 'no-site' | 'stopped';
  reason: string | null;
  method: string | null;
  marks: number;
  mark: string | null;
  seconds: number;
  cpu: number;
  peakKiB: number;
  /** windows run for the type (the one summed up here is the most telling: see analysis/narrow.ts) */
  windows: number;
}

export interface Suspect {
  kind: SuspectKind;
  /** module.Class, builtins bare; null for native-growth */
  type: string | null;
  /** 0..1 */
  confidence: number;
  perSecond: number;
  perMark: { mark: string; value: number } | null;
  /** bytes of RSS per mark attributed to this suspect (estimate), null when unknown */
  bytesPerMark: number | null;
  evidence: string;
  referrers: Referrer[];
  /**
   * the leaking call or line a narrowing window found, most kept first (at most 5); empty
   * when no window ran for the type or it found none (then `narrow` says why)
   */
  where: Where[];
  /** added: the narrowing window behind `where`, when one ran for this type */
  narrow?: NarrowSummary;
  /** added fields: the 95 % interval of perMark (or perSecond when there are no marks) */
  interval?: { low: number; high: number; per: 'mark' | 'second' };
  /** added: what perMark/perSecond count: live objects, summed references, or bytes (native-growth) */
  unit?: 'objects' | 'references' | 'bytes';
  /**
   * added: the type whose object growth explains this suspect's (a builtin helper created
   * with each app object, or references the new objects hold); ranked below it, confidence halved
   */
  dependsOn?: string;
  /**
   * added: objects the cycle collector does not track (strings, numbers, locks, instances of
   * C types without GC support, tuples and dicts of those), counted by the deep census
   */
  untracked?: true;
}

export interface ReportSession {
  id: string;
  device: string;
  python: string;
  startedAt: string;
  durationSeconds: number;
  exitCode: number | null;
  samples: number;
  lostRecords: number;
  /** added fields */
  ended?: 'exit' | 'exception' | 'interrupt' | 'start-failed' | 'abnormal';
  /**
   * added: the error the app ended with or could not start with, from the probe's end record
   * (`SyntaxError: invalid syntax (app.py, line 12)`); absent when it ended without one
   */
  error?: string;
  censuses?: number;
  marks?: Record<string, number>;
  argv?: string[];
  /** added: what the native sampler (cross/sampler) saw, when one ran beside the probe */
  native?: NativeSummaryReport;
  /** added: records the probe thinned on purpose under --max-device-mb (not in lostRecords) */
  thinned?: ThinnedSummary;
  /** added: `--until-verdict` decided this while the app ran, after so many marks and seconds */
  untilVerdict?: { verdict: 'leak' | 'no-leak'; marks: number | null; seconds: number; look: number; alpha: number; reason: string };
}

export interface ThinnedSummary {
  /** records removed (their seqs are missing, and `thinned` events name them) */
  records: number;
  /** in time order per kind: over [from, to], one in `factor` records of `kind` is left */
  spans: { kind: string; factor: number; fromSeconds: number; toSeconds: number; from: string | null; to: string | null }[];
}

export interface NativeSummaryReport {
  sampler: string;
  /** the device's `uname -m` as the sampler sees it */
  machine: string;
  /** "qemu-user" when the app ran emulated: RSS figures are qemu's plus the guest app's */
  emulator: string | null;
  samples: number;
  maxRssKiB: number;
  /** the memory cgroup limit the app ran under, null when none */
  limitKiB: number | null;
  /** how the app's process ended, from waitpid */
  how: 'exit' | 'signal' | 'unknown';
  signal: string | null;
  /** the kernel's OOM killer ended it (true), did not (false), or cannot tell (null) */
  oomKill: boolean | null;
  samplerCpuSeconds: number;
  lostRecords: number;
}

export interface Report {
  schema: typeof REPORT_SCHEMA;
  session: ReportSession;
  verdict: Verdict;
  /** one sentence on why this verdict; for inconclusive, what more is needed */
  summary?: string;
  suspects: Suspect[];
  rss: { startKiB: number; endKiB: number; slopeKiBPerSecond: number; slopeKiBPerMark?: number | null };
  /** narrowSeconds, narrowCpuSeconds (added): what the narrowing windows cost, summed (wall and CPU seconds) */
  overhead: { probeCpuSeconds: number; probeCpuFraction: number; narrowSeconds?: number; narrowCpuSeconds?: number };
}

/** A suspect that carries the verdict: not a dependent of another, at or above the confidence line. */
export const isLeading = (s: Suspect): boolean => !s.dependsOn && s.confidence >= LEAK_CONFIDENCE;
