/**
 * Series from a record stream, in bounded memory: census points per type (count, refsum),
 * RSS samples, cumulative marks, and aggregated referrers. Long sessions are thinned
 * deterministically: a table keeps at most `maxPoints` rows; when full it drops every
 * other row and from then on keeps only every 2nd (4th, …) arriving row. The last row
 * seen is always kept, so end values are exact.
 */
import type {
  CensusRecord,
  DeepRecord,
  EndRecord,
  MarkCounts,
  NarrowRecord,
  ProbeRecord,
  ReferrersRecord,
  SampleRecord,
  StartRecord,
} from '../session/records.js';
import { DEEP_PARTS } from '../session/records.js';

export const DEFAULT_MAX_POINTS = 2000;
/** Hostile-input caps: beyond these, new names are ignored (and counted). */
export const MAX_TYPES = 5000;
export const MAX_C_TYPES = 64;
export const MAX_MARK_NAMES = 32;
export const MAX_VIAS_PER_TYPE = 256;
export const MAX_REFERRER_TYPES = 2000;
/** Narrowing windows kept: types, and the latest windows of each (the probe runs at most 8 a run). */
export const MAX_NARROW_TYPES = 64;
export const MAX_NARROW_PER_TYPE = 16;
/** Names from the device are clipped to this many characters (a hostile file could hold megabytes). */
export const MAX_NAME_CHARS = 512;

export const clipName = (s: string): string =>
  s.length > MAX_NAME_CHARS ? `${s.slice(0, MAX_NAME_CHARS)}...(${s.length - MAX_NAME_CHARS} more)` : s;

/**
 * A table of numeric rows with named columns, thinned by decimation. Columns are created
 * on first use; a row that does not name a column holds `fill` there (0 by default).
 */
class DecimatedTable {
  private cols = new Map<string, Float64Array>();
  private len = 0;
  private cap = 64;
  private stride = 1;
  private arrived = 0;
  private last: Map<string, number> | null = null;
  private lastMake: (() => Map<string, number>) | null = null;
  private lastKept = false;
  dropped = 0;

  constructor(
    private readonly maxPoints: number,
    private readonly maxCols: number,
  ) {}

  append(row: Map<string, number>): void {
    this.appendLazy(() => row);
  }

  /**
   * Append a row built only when it is kept (most rows of a long session are not): `make`
   * is called at once when the row is kept, else at `finish` if it was the last one.
   */
  appendLazy(make: () => Map<string, number>): void {
    const index = this.arrived++;
    this.lastMake = make;
    this.last = null;
    this.lastKept = false;
    if (index % this.stride !== 0) return;
    const row = make();
    this.last = row;
    if (this.len >= this.maxPoints) {
      this.compact();
      if (index % this.stride !== 0) return;
    }
    this.write(row);
    this.lastKept = true;
  }

  private compact(): void {
    const half = Math.ceil(this.len / 2);
    for (const col of this.cols.values()) {
      for (let i = 0; i < half; i++) col[i] = col[2 * i]!;
    }
    this.len = half;
    this.stride *= 2;
  }

  private write(row: Map<string, number>): void {
    if (this.len >= this.cap) {
      this.cap = Math.min(Math.max(this.cap * 2, 64), this.maxPoints + 1);
      for (const [name, col] of this.cols) {
        const grown = new Float64Array(this.cap);
        grown.set(col.subarray(0, this.len));
        this.cols.set(name, grown);
      }
    }
    const at = this.len++;
    for (const col of this.cols.values()) col[at] = 0;
    for (const [name, v] of row) {
      let col = this.cols.get(name);
      if (!col) {
        if (this.cols.size >= this.maxCols) {
          this.dropped++;
          continue;
        }
        col = new Float64Array(this.cap);
        this.cols.set(name, col);
      }
      col[at] = v;
    }
  }

  /** The kept rows, the final row included, sorted by the column `sortBy` when out of order. */
  finish(sortBy: string): Map<string, Float64Array> {
    if (!this.last && this.lastMake) this.last = this.lastMake();
    if (this.last && !this.lastKept) {
      if (this.len >= this.maxPoints) this.len--; // the final row replaces the last kept one
      this.write(this.last);
      this.lastKept = true;
    }
    const out = new Map<string, Float64Array>();
    for (const [name, col] of this.cols) out.set(name, col.slice(0, this.len));
    const key = out.get(sortBy);
    if (key && !isSorted(key)) {
      const order = Array.from({ length: key.length }, (_, i) => i).sort((a, b) => key[a]! - key[b]!);
      for (const [name, col] of out) out.set(name, Float64Array.from(order, (i) => col[i]!));
    }
    return out;
  }

  get rows(): number {
    return this.len;
  }
}

function isSorted(a: Float64Array): boolean {
  for (let i = 1; i < a.length; i++) if (a[i]! < a[i - 1]!) return false;
  return true;
}

export interface TypeSeries {
  count: Float64Array;
  refsum: Float64Array;
}

/** A type's referrers records, merged: per holder its largest count in any one record. */
export interface ReferrerAgg {
  records: number;
  /** largest number of objects sampled in one record */
  sampled: number;
  unexplained: number;
  holders: Map<string, number>;
  /** measured bytes per object (with what it alone holds), one per record that had it */
  sizes: number[];
}

/** The median measured size of a type's sampled objects, or null when none was measured. */
export function measuredSize(agg: ReferrerAgg | undefined): number | null {
  if (!agg || agg.sizes.length === 0) return null;
  const s = [...agg.sizes].sort((a, b) => a - b);
  return s[s.length >> 1]!;
}

export interface CensusSeries {
  t: Float64Array;
  /** cumulative primary-mark count at each point, null when no marks */
  x: Float64Array | null;
  types: Map<string, TypeSeries>;
}

export interface Series {
  start: StartRecord | null;
  end: EndRecord | null;
  /** the mark name with the most calls, null when the app never marked */
  primaryMark: string | null;
  /** final cumulative count per mark name */
  marks: Record<string, number>;
  /** census points; without the one taken after the app ended (teardown, not the app) */
  census: CensusSeries;
  /**
   * deep census points (objects the collector does not track, issue 13): counts and refsums
   * already scaled by the sampling factor; without one taken with the teardown census
   */
  deep: CensusSeries;
  /**
   * while the deep census samples: per type, how much each of its sub-samples grew over the
   * last stretch of deep censuses at one sampling factor (the sample's own spread, issue 13)
   */
  deepSpread: Map<string, DeepSpread>;
  /** static C types without GC that the app's extensions define (name → basic size in bytes): instances no census counts */
  cTypes: Map<string, number>;
  /** census types counted by the references their instances hold to the type (C heap types without GC, 3.8+): untracked instances */
  typeCounted: Set<string>;
  rss: {
    t: Float64Array;
    x: Float64Array | null;
    kib: Float64Array;
  };
  referrers: Map<string, ReferrerAgg>;
  /** who holds the untracked objects the deep census sampled, by type */
  referrersUntracked: Map<string, ReferrerAgg>;
  /** the narrowing windows' records (issue 15) by type, in stream order (the latest MAX_NARROW_PER_TYPE) */
  narrow: Map<string, NarrowRecord[]>;
  /** every narrowing window's cost, summed: wall seconds open and CPU seconds of the app's thread */
  narrowSeconds: number;
  narrowCpu: number;
  censuses: number;
  samples: number;
  /** probe CPU seconds: end record, else the last sample */
  probeCpu: number;
  /** last t of any record */
  lastT: number;
  /** type names dropped by the hostile-input caps */
  droppedNames: number;
}

/** One type's growth in each sub-sample of a sampled deep census (DeepRecord.parts), over a stretch at one factor. */
export interface DeepSpread {
  /** 1 in `sample` objects taken */
  sample: number;
  count: number[];
  refsum: number[];
}

/** Accumulates records into series; feed it in stream order, then call `finish`. */
export class SeriesBuilder {
  private census: DecimatedTable;
  private deep: DecimatedTable;
  private deepMarks = new Map<string, number>();
  private cTypes = new Map<string, number>();
  /** the stretch of deep censuses at one sampling factor: its first and latest sub-samples by type */
  private deepStretch: { sample: number; first: Map<string, [number[], number[]]>; last: Map<string, [number[], number[]]> } | null = null;
  private typeCounted = new Set<string>();
  private rss: DecimatedTable;
  private markMax = new Map<string, number>();
  private censusMarks = new Map<string, number>();
  private sampleMarks = new Map<string, number>();
  private referrers = new Map<string, ReferrerAgg>();
  private referrersUntracked = new Map<string, ReferrerAgg>();
  private narrow = new Map<string, NarrowRecord[]>();
  private narrowSeconds = 0;
  private narrowCpu = 0;
  private start: StartRecord | null = null;
  private end: EndRecord | null = null;
  private censuses = 0;
  private samples = 0;
  private probeCpu = 0;
  private lastT = 0;
  private droppedNames = 0;

  constructor(maxPoints = DEFAULT_MAX_POINTS) {
    this.census = new DecimatedTable(maxPoints, 2 * MAX_TYPES + MAX_MARK_NAMES + 1);
    this.deep = new DecimatedTable(maxPoints, 2 * MAX_TYPES + MAX_MARK_NAMES + 1);
    this.rss = new DecimatedTable(maxPoints, MAX_MARK_NAMES + 2);
  }

  add(r: ProbeRecord): void {
    if (r.t > this.lastT) this.lastT = r.t;
    switch (r.k) {
      case 'start':
        if (!this.start) this.start = r;
        break;
      case 'sample':
        this.addSample(r);
        break;
      case 'census':
        this.addCensus(r);
        break;
      case 'deep':
        this.addDeep(r);
        break;
      case 'referrers':
        this.addReferrers(r);
        break;
      case 'narrow':
        this.addNarrow(r);
        break;
      case 'end':
        this.end = r;
        this.probeCpu = r.probeCpu;
        break;
      case 'event':
        break;
    }
  }

  private noteMarks(marks: MarkCounts, carry: Map<string, number>): void {
    for (const raw in marks) {
      if (!Object.prototype.hasOwnProperty.call(marks, raw)) continue;
      const n = marks[raw]!;
      const name = raw.length > MAX_NAME_CHARS ? clipName(raw) : raw;
      if (!carry.has(name) && carry.size >= MAX_MARK_NAMES) {
        this.droppedNames++;
        continue;
      }
      carry.set(name, n);
      if (n > (this.markMax.get(name) ?? -Infinity)) this.markMax.set(name, n);
    }
  }

  /** A census row (plain or deep): its time, the marks so far, each type's count and refsum times `scale`. */
  private typeRow(r: CensusRecord | DeepRecord, marks: Map<string, number>, scale: number): Map<string, number> {
    this.noteMarks(r.marks, marks);
    const row = new Map<string, number>([['t', r.t]]);
    for (const [name, n] of marks) row.set('m:' + name, n);
    for (const [raw, count, refsum] of r.types) {
      const type = clipName(raw);
      row.set('c:' + type, (row.get('c:' + type) ?? 0) + count * scale);
      row.set('r:' + type, (row.get('r:' + type) ?? 0) + refsum * scale);
    }
    return row;
  }

  private addCensus(r: CensusRecord): void {
    this.censuses++;
    const row = this.typeRow(r, this.censusMarks, 1);
    // the census's own RSS reading: censuses come at the app's marks, often faster than
    // samples early in a run, so they add RSS points where a short run has few
    if (typeof r.rss === 'number') {
      row.set('rss', r.rss);
      row.set('has-rss', 1);
    }
    // a heap type without GC: its live instances counted by the references they hold to it
    // (every one, with a referrer or none: the walk of the deep census meets only the former)
    for (const [raw, refs] of r.typeRefs ?? []) {
      const type = clipName(raw);
      if (row.has('c:' + type)) continue;
      if (!this.typeCounted.has(type) && this.typeCounted.size >= MAX_TYPES) continue;
      this.typeCounted.add(type);
      row.set('c:' + type, refs);
      row.set('r:' + type, 0);
    }
    this.census.append(row);
  }

  private addDeep(r: DeepRecord): void {
    // the probe took 1 in `sample` of the objects (by address): the estimate of all of them
    this.deep.append(this.typeRow(r, this.deepMarks, r.sample));
    for (const [raw, size] of r.ctypes ?? []) {
      if (this.cTypes.size >= MAX_C_TYPES) break;
      this.cTypes.set(clipName(raw), size);
    }
    if (!r.parts || r.sample <= 1) {
      this.deepStretch = null;
      return;
    }
    const parts = new Map<string, [number[], number[]]>();
    for (const [raw, count, refsum] of r.parts) {
      if (parts.size >= MAX_TYPES) break;
      parts.set(clipName(raw), [count, refsum]);
    }
    if (this.deepStretch?.sample === r.sample) this.deepStretch.last = parts;
    else this.deepStretch = { sample: r.sample, first: parts, last: parts };
  }

  private spread(): Map<string, DeepSpread> {
    const out = new Map<string, DeepSpread>();
    const s = this.deepStretch;
    if (!s || s.first === s.last) return out;
    const zero = new Array<number>(DEEP_PARTS).fill(0);
    for (const [type, [count, refsum]] of s.last) {
      const [c0, r0] = s.first.get(type) ?? [zero, zero];
      out.set(type, { sample: s.sample, count: count.map((v, j) => v - c0[j]!), refsum: refsum.map((v, j) => v - r0[j]!) });
    }
    return out;
  }

  private addSample(r: SampleRecord): void {
    this.samples++;
    if (this.end === null) this.probeCpu = r.probeCpu;
    this.noteMarks(r.marks, this.sampleMarks);
    if (r.rss === null) return;
    const { t, rss } = r;
    // built only when kept: at once, or at finish for the last sample, when no later
    // sample has changed the marks it reads
    const marks = this.sampleMarks;
    this.rss.appendLazy(() => {
      const row = new Map<string, number>([['t', t], ['rss', rss]]);
      for (const [name, n] of marks) row.set('m:' + name, n);
      return row;
    });
  }

  private addReferrers(r: ReferrersRecord): void {
    const type = clipName(r.type);
    // the deep census's passes sample untracked objects: theirs are kept apart from the
    // census's (a dict or a str can be either, and their holders differ)
    const into = r.untracked ? this.referrersUntracked : this.referrers;
    let agg = into.get(type);
    if (!agg) {
      if (into.size >= MAX_REFERRER_TYPES) {
        this.droppedNames++;
        return;
      }
      agg = { records: 0, sampled: 0, unexplained: 0, holders: new Map(), sizes: [] };
      into.set(type, agg);
    }
    // each record samples a few live objects; the same holder seen again is the same
    // holder, so keep its largest count in any one record rather than a sum over time
    agg.sampled = Math.max(agg.sampled, r.sampled);
    agg.unexplained = Math.max(agg.unexplained, r.unexplained);
    agg.records++;
    if (typeof r.size === 'number' && agg.sizes.length < 64) agg.sizes.push(r.size);
    for (const [raw, n] of r.holders) {
      const via = clipName(raw);
      if (!agg.holders.has(via) && agg.holders.size >= MAX_VIAS_PER_TYPE) continue;
      agg.holders.set(via, Math.max(agg.holders.get(via) ?? 0, n));
    }
  }

  private addNarrow(r: NarrowRecord): void {
    // every window costs the app, kept or not
    this.narrowSeconds += r.seconds;
    this.narrowCpu += r.cpu;
    const type = clipName(r.type);
    let list = this.narrow.get(type);
    if (!list) {
      if (this.narrow.size >= MAX_NARROW_TYPES) {
        this.droppedNames++;
        return;
      }
      list = [];
      this.narrow.set(type, list);
    }
    list.push(type === r.type ? r : { ...r, type });
    if (list.length > MAX_NARROW_PER_TYPE) list.shift();
  }

  finish(): Series {
    let primaryMark: string | null = null;
    let best = 0;
    for (const [name, n] of [...this.markMax].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
      if (n > best) {
        best = n;
        primaryMark = name;
      }
    }
    let c = this.census.finish('t');
    let d = this.deep.finish('t');
    // the census taken just after the app ended shows the interpreter's teardown (module
    // globals cleared, objects freed), not the app: it is left out of the series, and so is
    // a deep census taken with it
    const rows = c.get('t')?.length ?? 0;
    if (this.end && this.end.how !== 'start-failed' && rows >= 2) {
      const teardown = c.get('t')![rows - 1]!;
      c = new Map([...c].map(([name, col]) => [name, col.subarray(0, rows - 1)]));
      const dt = d.get('t') ?? new Float64Array(0);
      let keep = dt.length;
      while (keep > 0 && dt[keep - 1]! >= teardown) keep--;
      if (keep < dt.length) d = new Map([...d].map(([name, col]) => [name, col.subarray(0, keep)]));
    }
    const markCol = (cols: Map<string, Float64Array>, rows: number): Float64Array | null =>
      primaryMark === null ? null : cols.get('m:' + primaryMark) ?? new Float64Array(rows);
    const table = (cols: Map<string, Float64Array>): CensusSeries => {
      const n = cols.get('t')?.length ?? 0;
      const types = new Map<string, TypeSeries>();
      const empty = new Float64Array(n);
      for (const [key, col] of cols) {
        if (!key.startsWith('c:')) continue;
        const type = key.slice(2);
        types.set(type, { count: col, refsum: cols.get('r:' + type) ?? empty });
      }
      return { t: cols.get('t') ?? new Float64Array(0), x: markCol(cols, n), types };
    };
    const s = mergeRss(this.rss.finish('t'), c, primaryMark);
    return {
      start: this.start,
      end: this.end,
      primaryMark,
      marks: Object.fromEntries(this.markMax),
      census: table(c),
      deep: table(d),
      deepSpread: this.spread(),
      cTypes: this.cTypes,
      typeCounted: this.typeCounted,
      rss: { t: s.get('t') ?? new Float64Array(0), x: markCol(s, s.get('t')?.length ?? 0), kib: s.get('rss') ?? new Float64Array(0) },
      referrers: this.referrers,
      referrersUntracked: this.referrersUntracked,
      narrow: this.narrow,
      narrowSeconds: this.narrowSeconds,
      narrowCpu: this.narrowCpu,
      censuses: this.censuses,
      samples: this.samples,
      probeCpu: this.probeCpu,
      lastT: this.lastT,
      droppedNames: this.droppedNames + this.census.dropped + this.deep.dropped,
    };
  }
}

/**
 * RSS points from samples and from censuses (those that carry a reading; the one after the
 * app ended is already gone from the census table), merged in time order.
 */
function mergeRss(
  samples: Map<string, Float64Array>,
  census: Map<string, Float64Array>,
  primaryMark: string | null,
): Map<string, Float64Array> {
  const has = census.get('has-rss');
  const ct = census.get('t');
  if (!has || !ct) return samples;
  const idx: number[] = [];
  for (let i = 0; i < has.length; i++) if (has[i] === 1) idx.push(i);
  if (idx.length === 0) return samples;
  const st = samples.get('t') ?? new Float64Array(0);
  const n = st.length + idx.length;
  const mk = primaryMark === null ? null : 'm:' + primaryMark;
  const pick = (cols: Map<string, Float64Array>, key: string, i: number): number => cols.get(key)?.[i] ?? 0;
  const rows: Array<[number, number, number]> = [];
  for (let i = 0; i < st.length; i++) rows.push([st[i]!, pick(samples, 'rss', i), mk ? pick(samples, mk, i) : 0]);
  for (const i of idx) rows.push([ct[i]!, pick(census, 'rss', i), mk ? pick(census, mk, i) : 0]);
  rows.sort((a, b) => a[0] - b[0]);
  const t = new Float64Array(n);
  const rss = new Float64Array(n);
  const m = new Float64Array(n);
  rows.forEach(([a, b, c], i) => {
    t[i] = a;
    rss[i] = b;
    m[i] = c;
  });
  const out = new Map<string, Float64Array>([['t', t], ['rss', rss]]);
  if (mk) out.set(mk, m);
  return out;
}

/** Build series from records (sync or async). */
export async function buildSeries(
  records: AsyncIterable<ProbeRecord> | Iterable<ProbeRecord>,
  maxPoints = DEFAULT_MAX_POINTS,
): Promise<Series> {
  const b = new SeriesBuilder(maxPoints);
  for await (const r of records) b.add(r);
  return b.finish();
}
