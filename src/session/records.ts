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
  /** the app's working folder on the device (absolute; null from a probe before it was sent, or one the device garbled) */
  cwd: string | null;
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

/** What a narrowing window (issue 15) looked for: a call that keeps references, or a line that creates objects. */
export type NarrowKind = 'keeps-reference' | 'creates';
/**
 * found: sites below; nothing: the window saw no call keeping or creating anything that
 * survived; no-site: it could not see where (`reason` says why); stopped: cut short (time or
 * memory cap, the run ended), sites may still be there
 */
export type NarrowStatus = 'found' | 'nothing' | 'no-site' | 'stopped';
/** One frame of a site's stack, innermost first: [file, line, function], a part null when the probe could not tell. */
export type NarrowFrame = [string | null, number | null, string | null];

/** One call (keeps-reference) or line (creates) a narrowing window saw. */
export interface NarrowSite {
  /**
   * what the site did: the record's kind, or (a creates window following a new instance) the
   * line that kept a reference to it, `keeps-reference`
   */
  kind: NarrowKind;
  /** the function called (keeps-reference); null when the probe could not name it (a tracemalloc site) */
  function: string | null;
  /** a C function (true) or a Python one (false) */
  native: boolean;
  /** the Python line that called it (or created the object), and the function that line is in */
  file: string | null;
  line: number | null;
  caller: string | null;
  /** keeps-reference: calls seen in the window, and references kept on the followed samples (net) */
  calls: number;
  refs: number;
  /** creates: instances created here in the window, still alive at its end, freed by the check */
  created: number;
  alive: number;
  freed: number;
  /** 1-3 frames, innermost first */
  stack: NarrowFrame[];
}

/** A narrowing window's findings (docs/protocol.md `narrow`): one record per window. */
export interface NarrowRecord extends Base {
  k: 'narrow';
  /** the suspect type, named as the census names it */
  type: string;
  kind: NarrowKind;
  status: NarrowStatus;
  reason: string | null;
  /** how the window looked: `profile`, `trace`, `tracemalloc` (a newer probe's word is kept, clipped) */
  method: string | null;
  /** the mark name that paced the window; null: a timed window without marks */
  mark: string | null;
  /** marks of that name inside the window */
  marks: number;
  seconds: number;
  /** CPU seconds of the app's thread while the window was open (hook included) */
  cpu: number;
  peakKiB: number;
  /** live objects of the type when the window opened */
  population: number;
  /** keeps-reference: objects whose refcounts were followed (0 for creates) */
  samples: number;
  /** marks between the window's end and the later check of what was freed or released */
  checkMarks: number;
  /** keeps-reference: references to the samples given back between the window's end and the check */
  released: number;
  sites: NarrowSite[];
  /**
   * a builtin type's window that watched the container holding most of its samples grow
   * (method `lines`): how that container is named (a referrers sentence); `refs` are then
   * items added to it, `released` items taken out after the window. Null otherwise.
   */
  holder: string | null;
}

/** A narrow record keeps at most this many sites, each at most this many frames; its strings are clipped. */
export const MAX_NARROW_SITES = 32;
export const MAX_NARROW_FRAMES = 3;
export const MAX_NARROW_CHARS = 512;
/** a window's `reason`: one sentence */
export const MAX_NARROW_REASON = 1000;
const MAX_METHOD_CHARS = 32;

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
  | NarrowRecord
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

/** A device string clipped to `max` characters, saying how much was left off (as series.ts clips names). */
const clipped = (s: string, max: number): string => (s.length > max ? `${s.slice(0, max)}...(${s.length - max} more)` : s);
const strOrNull = (v: unknown, max = MAX_NARROW_CHARS): string | null => (isStr(v) ? clipped(v, max) : null);
/** A count: finite and not negative, else 0. */
const nonNeg = (v: unknown): number => (isNum(v) && v >= 0 ? v : 0);
/** A line number: a whole number from 1, else null. */
const lineOf = (v: unknown): number | null => (Number.isSafeInteger(v) && (v as number) >= 1 ? (v as number) : null);

const NARROW_KINDS: readonly string[] = ['keeps-reference', 'creates'];
const NARROW_STATUSES: readonly string[] = ['found', 'nothing', 'no-site', 'stopped'];

/** A site's frames: at most MAX_NARROW_FRAMES well-formed `[file, line, function]`, the rest dropped. */
function narrowStack(v: unknown): NarrowFrame[] {
  const out: NarrowFrame[] = [];
  if (!Array.isArray(v)) return out;
  for (const f of v) {
    if (out.length >= MAX_NARROW_FRAMES) break;
    if (!Array.isArray(f) || f.length < 2 || !(f[0] === null || isStr(f[0])) || !(f[2] === undefined || f[2] === null || isStr(f[2]))) continue;
    const file = strOrNull(f[0]);
    const fn = strOrNull(f[2]);
    if (file === null && fn === null) continue;
    out.push([file, lineOf(f[1]), fn]);
  }
  return out;
}

/** One site, or null when it is not an object or names neither a function nor a file (nothing to say where). */
function narrowSite(v: unknown, kind: NarrowKind): NarrowSite | null {
  if (!isObj(v)) return null;
  const fn = strOrNull(v.function);
  const file = strOrNull(v.file);
  if (fn === null && file === null) return null;
  return {
    kind: isStr(v.kind) && NARROW_KINDS.includes(v.kind) ? v.kind as NarrowKind : kind,
    function: fn, native: v.native === true, file, line: lineOf(v.line), caller: strOrNull(v.caller),
    // refs are net: a call may give back more than it took
    calls: nonNeg(v.calls), refs: isNum(v.refs) ? v.refs : 0,
    created: nonNeg(v.created), alive: nonNeg(v.alive), freed: nonNeg(v.freed),
    stack: narrowStack(v.stack),
  };
}

/** A `narrow` record, or null without a type or a kind it knows (then nothing in it can be placed). */
function narrowOf(v: Record<string, unknown>, seq: number, t: number): NarrowRecord | null {
  if (!isStr(v.type) || v.type === '' || !isStr(v.kind) || !NARROW_KINDS.includes(v.kind)) return null;
  const sites: NarrowSite[] = [];
  if (Array.isArray(v.sites)) {
    for (const e of v.sites) {
      if (sites.length >= MAX_NARROW_SITES) break;
      const site = narrowSite(e, v.kind as NarrowKind);
      if (site) sites.push(site);
    }
  }
  // a status from a newer probe: what the sites say
  const status = isStr(v.status) && NARROW_STATUSES.includes(v.status) ? v.status as NarrowStatus : sites.length ? 'found' : 'nothing';
  return {
    seq, t, k: 'narrow', type: v.type, kind: v.kind as NarrowKind, status,
    reason: strOrNull(v.reason, MAX_NARROW_REASON),
    method: strOrNull(v.method, MAX_METHOD_CHARS),
    mark: strOrNull(v.mark),
    marks: nonNeg(v.marks), seconds: nonNeg(v.seconds), cpu: nonNeg(v.cpu), peakKiB: nonNeg(v.peakKiB),
    population: nonNeg(v.population), samples: nonNeg(v.samples), checkMarks: nonNeg(v.checkMarks), released: nonNeg(v.released),
    sites, holder: strOrNull(v.holder, MAX_NARROW_REASON),
  };
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
        cwd: isStr(v.cwd) && v.cwd.startsWith('/') && v.cwd.length <= 4096 && !/[\u0000-\u001f\u007f]/.test(v.cwd) ? v.cwd : null,
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
    case 'narrow':
      return narrowOf(v, seq, t);
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
