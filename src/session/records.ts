/**
 * The probe's records (docs/protocol.md, refscope.records/1), parsed once at the edge.
 * Anything that does not fit is rejected here (counted as lost by the reader), so code
 * past this point trusts the types.
 */
export const RECORDS_SCHEMA = 'refscope.records/1';

export type MarkCounts = Record<string, number>;

interface Base {
  seq: number;
  t: number;
}

export interface StartRecord extends Base {
  k: 'start';
  schema: string;
  probe: string;
  wall: number;
  pid: number;
  python: string;
  impl: string;
  platform: string;
  executable: string;
  argv: string[];
  target: string;
  module: boolean;
  interval: number;
  censusBudget: number;
  pageKiB: number;
  observer: { refcountOffset: number };
}

/** [label, corrected refcount or null when gone, type name] */
export type WatchEntry = [string, number | null, string];

export interface SampleRecord extends Base {
  k: 'sample';
  rss: number | null;
  peak: number | null;
  gc: number[];
  marks: MarkCounts;
  cpu: [number, number];
  probeCpu: number;
  threads: number;
  watch: WatchEntry[];
}

/** [type name, live count, summed corrected refcount] */
export type CensusEntry = [string, number, number];

export interface CensusRecord extends Base {
  k: 'census';
  marks: MarkCounts;
  dur: number;
  n: number;
  /** RSS in KiB when the census was taken (probes since issue 10), else null */
  rss: number | null;
  types: CensusEntry[];
  /**
   * [type name, references to the type] of heap types built without GC support (3.8+: each
   * live instance holds one, tracked or not, with a referrer or none); empty before issue 13
   */
  typeRefs?: Array<[string, number]>;
}

/**
 * The deep census (issue 13): objects the collector does not track, found as the referents
 * of tracked ones, each taken once when a hash of its address falls in 1/k of the range:
 * counts and refsums are of those taken (multiply by k for the estimate of all).
 */
export interface DeepRecord extends Base {
  k: 'deep';
  marks: MarkCounts;
  dur: number;
  /** 1 in `sample` objects is taken (a power of 2) */
  sample: number;
  /** references walked */
  walked: number;
  /** ids the walk held at most (its memory bound; 0 from probes before it said) */
  held: number;
  types: CensusEntry[];
  /**
   * while it samples (`sample` > 1): each type's taken objects split into DEEP_PARTS
   * sub-samples by the next bits of the same hash, `[name, count_0..7, refsum_0..7]`; their
   * spread is how far the sample's estimate can be off (absent at 1 in 1, and from older probes)
   */
  parts?: DeepParts[];
  /** static C types without GC support that the app's own extension modules define: [name, basic size in bytes] */
  ctypes?: Array<[string, number]>;
}

/** Sub-samples of a sampled deep census (see DeepRecord.parts). */
export const DEEP_PARTS = 8;
export type DeepParts = [string, number[], number[]];

/** [sentence naming the holder, references it accounts for] */
export type HolderEntry = [string, number];

export interface ReferrersRecord extends Base {
  k: 'referrers';
  type: string;
  sampled: number;
  holders: HolderEntry[];
  unexplained: number;
  /** median bytes of the sampled objects with what they alone hold (probes since issue 10) */
  size: number | null;
  dur: number;
  /** sampled by the deep census: untracked objects of the type (issue 13), not the census's tracked ones */
  untracked?: boolean;
}

export interface EventRecord extends Base {
  k: 'event';
  event: string;
  detail: string;
  /** for a `thinned` event (--max-device-mb): exactly what the probe removed */
  thinned?: ThinnedInfo;
}

/** What one `thinned` event says (docs/protocol.md): which seqs went, of which kind, when. */
export interface ThinnedInfo {
  /** the record kind thinned: census or sample */
  kind: string;
  /** every factor-th record of that kind is left in these segments' span */
  factor: number;
  segments: string[];
  /** probe t of the first and last record of that kind in those segments */
  span: [number, number];
  removed: number;
  /** the seqs removed, as inclusive ranges in order */
  dropped: [number, number][];
}

/** A `thinned` event's fields, or undefined when they do not fit (then it is a plain event). */
function thinnedOf(v: Record<string, unknown>): ThinnedInfo | undefined {
  if (v.event !== 'thinned' || !isStr(v.kind) || !isNum(v.factor) || !Array.isArray(v.dropped)) return undefined;
  const dropped: [number, number][] = [];
  for (const d of v.dropped) {
    if (Number.isSafeInteger(d) && (d as number) >= 0) dropped.push([d as number, d as number]);
    else if (Array.isArray(d) && Number.isSafeInteger(d[0]) && Number.isSafeInteger(d[1]) && d[0] >= 0 && d[0] <= d[1]) {
      dropped.push([d[0] as number, d[1] as number]);
    } else return undefined;
  }
  const span: [number, number] = Array.isArray(v.span) && isNum(v.span[0]) && isNum(v.span[1]) ? [v.span[0], v.span[1]] : [0, 0];
  return {
    kind: v.kind, factor: v.factor,
    segments: Array.isArray(v.segments) ? v.segments.filter(isStr) : [],
    span,
    removed: isNum(v.removed) ? v.removed : 0,
    dropped,
  };
}

export type EndHow = 'exit' | 'exception' | 'interrupt' | 'start-failed';

export interface EndRecord extends Base {
  k: 'end';
  how: EndHow;
  exit: number;
  error: string | null;
  probeCpu: number;
  censuses: number;
  records: number;
}

export type ProbeRecord =
  | StartRecord
  | SampleRecord
  | CensusRecord
  | DeepRecord
  | ReferrersRecord
  | EventRecord
  | EndRecord;

const isObj = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);
const isNum = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);
const isNumOrNull = (v: unknown): v is number | null => v === null || isNum(v);
const isStr = (v: unknown): v is string => typeof v === 'string';

function marksOf(v: unknown): MarkCounts | null {
  if (v === undefined) return {};
  if (!isObj(v)) return null;
  const out: MarkCounts = Object.create(null) as MarkCounts;
  for (const [name, n] of Object.entries(v)) {
    if (!isNum(n)) return null;
    out[name] = n;
  }
  return out;
}

/** A census's `[name, count, refsum]` entries (the census's and the deep census's), or null when one is malformed. */
function censusEntries(v: unknown): CensusEntry[] | null {
  if (!Array.isArray(v)) return null;
  const types: CensusEntry[] = [];
  for (const e of v) {
    if (Array.isArray(e) && isStr(e[0]) && isNum(e[1]) && isNum(e[2])) types.push([e[0], e[1], e[2]]);
    else return null;
  }
  return types;
}

/**
 * Validate one decoded JSON value as a record. Returns null when it is not one.
 * Unknown kinds are returned as null too (a newer probe's record; counted, not fatal).
 */
export function toRecord(v: unknown): ProbeRecord | null {
  if (!isObj(v) || !isNum(v.seq) || !isNum(v.t) || !isStr(v.k)) return null;
  const seq = v.seq;
  const t = v.t;
  switch (v.k) {
    case 'start': {
      const obs = isObj(v.observer) && isNum(v.observer.refcountOffset) ? v.observer.refcountOffset : 0;
      return {
        seq, t, k: 'start',
        schema: isStr(v.schema) ? v.schema : '',
        probe: isStr(v.probe) ? v.probe : '',
        // a date JavaScript can represent (a hostile 1e300 would make toISOString throw)
        wall: isNum(v.wall) && v.wall > 0 && v.wall < 8.64e12 ? v.wall : 0,
        pid: isNum(v.pid) ? v.pid : 0,
        python: isStr(v.python) ? v.python : '',
        impl: isStr(v.impl) ? v.impl : '',
        platform: isStr(v.platform) ? v.platform : '',
        executable: isStr(v.executable) ? v.executable : '',
        argv: Array.isArray(v.argv) ? v.argv.filter(isStr) : [],
        target: isStr(v.target) ? v.target : '',
        module: v.module === true,
        interval: isNum(v.interval) ? v.interval : 1,
        censusBudget: isNum(v.censusBudget) ? v.censusBudget : 0.02,
        pageKiB: isNum(v.pageKiB) ? v.pageKiB : 4,
        observer: { refcountOffset: obs },
      };
    }
    case 'sample': {
      const marks = marksOf(v.marks);
      if (!marks || !isNumOrNull(v.rss ?? null) || !isNumOrNull(v.peak ?? null)) return null;
      const cpu = Array.isArray(v.cpu) && v.cpu.length >= 2 && isNum(v.cpu[0]) && isNum(v.cpu[1])
        ? [v.cpu[0], v.cpu[1]] as [number, number] : [0, 0] as [number, number];
      const watch: WatchEntry[] = [];
      if (Array.isArray(v.watch)) {
        for (const w of v.watch) {
          if (Array.isArray(w) && isStr(w[0]) && isNumOrNull(w[1]) && isStr(w[2])) watch.push([w[0], w[1], w[2]]);
        }
      }
      return {
        seq, t, k: 'sample',
        rss: (v.rss as number | null | undefined) ?? null,
        peak: (v.peak as number | null | undefined) ?? null,
        gc: Array.isArray(v.gc) ? v.gc.filter(isNum) : [],
        marks, cpu,
        probeCpu: isNum(v.probeCpu) ? v.probeCpu : 0,
        threads: isNum(v.threads) ? v.threads : 0,
        watch,
      };
    }
    case 'census': {
      const marks = marksOf(v.marks);
      const types = censusEntries(v.types);
      if (!marks || !types) return null;
      const rss = isNum(v.rss) && v.rss >= 0 ? v.rss : null;
      const typeRefs: Array<[string, number]> = [];
      if (Array.isArray(v.typeRefs)) {
        for (const e of v.typeRefs) {
          if (Array.isArray(e) && isStr(e[0]) && isNum(e[1])) typeRefs.push([e[0], e[1]]);
          else return null;
        }
      }
      return { seq, t, k: 'census', marks, dur: isNum(v.dur) ? v.dur : 0, n: isNum(v.n) ? v.n : 0, rss, types, typeRefs };
    }
    case 'deep': {
      const marks = marksOf(v.marks);
      const types = censusEntries(v.types);
      const sample = v.sample;
      if (!marks || !types || !isNum(sample) || !(sample >= 1) || sample > 1 << 16) return null;
      let parts: DeepParts[] | undefined;
      if (v.parts !== undefined) {
        if (!Array.isArray(v.parts)) return null;
        parts = [];
        for (const e of v.parts) {
          if (!Array.isArray(e) || e.length !== 1 + 2 * DEEP_PARTS || !isStr(e[0]) || !e.slice(1).every(isNum)) return null;
          parts.push([e[0], e.slice(1, 1 + DEEP_PARTS) as number[], e.slice(1 + DEEP_PARTS) as number[]]);
        }
      }
      let ctypes: Array<[string, number]> | undefined;
      if (v.ctypes !== undefined) {
        if (!Array.isArray(v.ctypes)) return null;
        ctypes = [];
        for (const e of v.ctypes) {
          if (!Array.isArray(e) || !isStr(e[0]) || !isNum(e[1]) || !(e[1] > 0)) return null;
          ctypes.push([e[0], e[1]]);
        }
      }
      return {
        seq, t, k: 'deep', marks, dur: isNum(v.dur) ? v.dur : 0, sample, walked: isNum(v.walked) ? v.walked : 0, held: isNum(v.held) ? v.held : 0, types,
        ...(parts ? { parts } : {}), ...(ctypes ? { ctypes } : {}),
      };
    }
    case 'referrers': {
      if (!isStr(v.type) || !Array.isArray(v.holders)) return null;
      const holders: HolderEntry[] = [];
      for (const h of v.holders) {
        if (Array.isArray(h) && isStr(h[0]) && isNum(h[1])) holders.push([h[0], h[1]]);
      }
      return {
        seq, t, k: 'referrers', type: v.type,
        sampled: isNum(v.sampled) ? v.sampled : 0,
        holders,
        unexplained: isNum(v.unexplained) ? v.unexplained : 0,
        size: isNum(v.size) && v.size > 0 && v.size < 2 ** 40 ? v.size : null,
        dur: isNum(v.dur) ? v.dur : 0,
        ...(v.untracked === 1 ? { untracked: true } : {}),
      };
    }
    case 'event': {
      const ev: EventRecord = { seq, t, k: 'event', event: isStr(v.event) ? v.event : 'unknown', detail: isStr(v.detail) ? v.detail : '' };
      const thinned = thinnedOf(v);
      if (thinned) ev.thinned = thinned;
      return ev;
    }
    case 'end': {
      const how = v.how;
      const okHow = how === 'exit' || how === 'exception' || how === 'interrupt' || how === 'start-failed';
      return {
        seq, t, k: 'end',
        how: okHow ? how : 'exit',
        exit: isNum(v.exit) ? v.exit : 0,
        error: isStr(v.error) ? v.error : null,
        probeCpu: isNum(v.probeCpu) ? v.probeCpu : 0,
        censuses: isNum(v.censuses) ? v.censuses : 0,
        records: isNum(v.records) ? v.records : 0,
      };
    }
    default:
      return null;
  }
}

/*
 * Native sampler records (cross/sampler, docs/protocol.md "Native sampler records"): their
 * own files (nseg-NNNNNN.jsonl) with their own seq, so the probe's records and their lost
 * count are untouched. toRecord() does not know these kinds; toNativeRecord() parses them.
 */
export interface NativeStartRecord extends Base {
  k: 'native-start';
  sampler: string;
  wall: number;
  pid: number;
  interval: number;
  machine: string;
  /** "qemu-user" when the app's process is emulated: its RSS is qemu's plus the guest's */
  emulator: string | null;
  limitKiB: number | null;
}

export interface NativeSampleRecord extends Base {
  k: 'native-sample';
  rss: number | null;
  peak: number | null;
  vsz: number | null;
  pss: number | null;
  threads: number | null;
  /** samples taken so far (written ones are those that changed, or keepalives) */
  n: number;
}

export interface NativeEndRecord extends Base {
  k: 'native-end';
  how: 'exit' | 'signal';
  exit: number;
  signal: number | null;
  signalName: string | null;
  /** true: the kernel's OOM killer ended it; false: it did not; null: cannot tell */
  oomKill: boolean | null;
  oomVia: string | null;
  maxRss: number;
  samples: number;
  samplerCpu: [number, number];
  records: number;
}

export type NativeRecord = NativeStartRecord | NativeSampleRecord | NativeEndRecord;

const numOr = <T>(v: unknown, d: T): number | T => (isNum(v) ? v : d);

export function toNativeRecord(v: unknown): NativeRecord | null {
  if (!isObj(v) || !isNum(v.seq) || !isNum(v.t) || !isStr(v.k)) return null;
  const { seq, t } = v;
  switch (v.k) {
    case 'native-start':
      return {
        seq, t, k: 'native-start',
        sampler: isStr(v.sampler) ? v.sampler : '',
        wall: numOr(v.wall, 0), pid: numOr(v.pid, 0), interval: numOr(v.interval, 0),
        machine: isStr(v.machine) ? v.machine : '',
        emulator: isStr(v.emulator) ? v.emulator : null,
        limitKiB: numOr(v.limitKiB, null),
      };
    case 'native-sample':
      return {
        seq, t, k: 'native-sample',
        rss: numOr(v.rss, null), peak: numOr(v.peak, null), vsz: numOr(v.vsz, null),
        pss: numOr(v.pss, null), threads: numOr(v.threads, null), n: numOr(v.n, 0),
      };
    case 'native-end': {
      const cpu = Array.isArray(v.samplerCpu) && isNum(v.samplerCpu[0]) && isNum(v.samplerCpu[1])
        ? [v.samplerCpu[0], v.samplerCpu[1]] as [number, number] : [0, 0] as [number, number];
      return {
        seq, t, k: 'native-end',
        how: v.how === 'signal' ? 'signal' : 'exit',
        exit: numOr(v.exit, 0),
        signal: numOr(v.signal, null),
        signalName: isStr(v.signalName) ? v.signalName : null,
        oomKill: typeof v.oomKill === 'boolean' ? v.oomKill : null,
        oomVia: isStr(v.oomVia) ? v.oomVia : null,
        maxRss: numOr(v.maxRss, 0), samples: numOr(v.samples, 0),
        samplerCpu: cpu, records: numOr(v.records, 0),
      };
    }
    default:
      return null;
  }
}
