/**
 * Synthetic record streams for the analysis tests: a seeded PRNG, an app that marks at a
 * steady rate with jitter, a background of builtin pools whose sizes wander and whose
 * temporaries come and go, plus whatever growth a case adds. Deterministic per seed.
 */
import type { HolderEntry, ProbeRecord } from '../../src/session/records.js';

/** mulberry32: small, fast, good enough for noise. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export type Rng = () => number;
export const int = (rng: Rng, lo: number, hi: number): number => lo + Math.floor(rng() * (hi - lo + 1));

/** What one type looks like at a census: count and summed refcount. */
export type TypeModel = (marks: number, t: number, rng: Rng) => [count: number, refsum: number];

export interface SynthOptions {
  seed: number;
  /** total marks the app makes */
  marks: number;
  /** marks per second */
  rate?: number;
  markName?: string;
  /** seconds between censuses */
  censusEvery?: number;
  /** seconds between samples */
  sampleEvery?: number;
  /** extra types (the case under test) */
  types?: Record<string, TypeModel>;
  /** background churn: pool swing and temporaries, relative to the defaults */
  churn?: number;
  /** RSS in KiB beyond the objects' own bytes, as a function of marks */
  nativeKiB?: (marks: number, t: number) => number;
  /** referrers records to emit after each census for these types */
  holders?: Record<string, HolderEntry[]>;
  /** emit no mark counts at all */
  noMarks?: boolean;
}

/** Background pools of a plain app: [type, base count, mean refs per object]. */
const BACKGROUND: [string, number, number][] = [
  ['dict', 1200, 1.6],
  ['list', 800, 1.3],
  ['tuple', 3000, 1.9],
  ['function', 2100, 1.4],
  ['method', 20, 1],
  ['cell', 300, 1.2],
  ['weakref', 150, 1.1],
  ['builtin_function_or_method', 900, 1.5],
  ['str', 21000, 2.2],
  ['type', 400, 9],
  ['frame', 8, 1],
  ['app.Screen', 3, 4],
];

const SIZE: Record<string, number> = { dict: 232, list: 88, tuple: 64, str: 56, function: 136, method: 64 };

/** Every record of a synthetic session, start to end. */
export function synthSession(o: SynthOptions): ProbeRecord[] {
  const rng = prng(o.seed);
  const rate = o.rate ?? 10;
  const markName = o.markName ?? 'frame';
  const censusEvery = o.censusEvery ?? 2;
  const sampleEvery = o.sampleEvery ?? 1;
  const churn = o.churn ?? 1;
  const duration = o.marks / rate;
  const out: ProbeRecord[] = [];
  let seq = 0;
  out.push({
    seq: seq++, t: 0, k: 'start', schema: 'refscope.records/1', probe: '0.1.0', wall: 1764169000, pid: 4242,
    python: '2.7.18', impl: 'CPython', platform: 'linux2', executable: '/usr/bin/python2.7',
    argv: ['app.py', '--frames', String(o.marks)], target: 'app.py', module: false, interval: sampleEvery,
    censusBudget: 0.02, pageKiB: 4, observer: { refcountOffset: 3 },
  });
  // jittered mark clock: marks(t) increases, about `rate` per second
  const jitter: number[] = [];
  const marksAt = (t: number): number => {
    if (t >= duration) return o.marks;
    const sec = Math.floor(t);
    while (jitter.length <= sec) jitter.push(0.85 + 0.3 * rng());
    const m = Math.floor(t * rate * jitter[sec]!);
    return Math.max(0, Math.min(o.marks, m));
  };
  let lastMarks = 0;
  const marksObj = (m: number): Record<string, number> => (o.noMarks ? {} : { [markName]: m });
  let probeCpu = 0;
  let objectsKiB = 0;
  let nextCensus = 0;
  let nextSample = sampleEvery;
  const end = duration + 0.5;
  const census = (t: number): void => {
    const m = Math.max(lastMarks, marksAt(t));
    lastMarks = m;
    const types: [string, number, number][] = [];
    let bytes = 0;
    for (const [name, base, refs] of BACKGROUND) {
      const swing = Math.round(base * 0.05 * churn);
      const temps = int(rng, 0, Math.round(base * 0.08 * churn));
      const count = Math.max(0, base + int(rng, -swing, swing) + temps);
      types.push([name, count, Math.round(count * refs + int(rng, 0, Math.round(count * 0.1)))]);
    }
    for (const [name, model] of Object.entries(o.types ?? {})) {
      const i = types.findIndex(([n]) => n === name);
      const [c, r] = model(m, t, rng);
      if (i >= 0) {
        const e = types[i]!;
        types[i] = [name, e[1] + c, e[2] + r];
      } else types.push([name, c, r]);
    }
    for (const [name, c] of types) bytes += c * (SIZE[name] ?? (name.includes('.') ? 300 : 64));
    objectsKiB = bytes / 1024;
    const dur = 0.02 + 0.005 * rng();
    probeCpu += dur;
    out.push({ seq: seq++, t, k: 'census', marks: marksObj(m), dur, n: types.reduce((a, e) => a + e[1], 0), rss: null, types });
    for (const [type, holders] of Object.entries(o.holders ?? {})) {
      if (m === 0) continue;
      out.push({ seq: seq++, t: t + 0.01, k: 'referrers', type, sampled: 3, holders, unexplained: 0, size: null, dur: 0.01 });
    }
  };
  const sample = (t: number): void => {
    const m = Math.max(lastMarks, marksAt(t));
    lastMarks = m;
    probeCpu += 0.001;
    const native = o.nativeKiB ? o.nativeKiB(m, t) : 0;
    const rss = Math.round(9000 + objectsKiB + native + int(rng, -4, 4) * 4);
    out.push({
      seq: seq++, t, k: 'sample', rss, peak: rss, gc: [int(rng, 0, 700), 3, 1], marks: marksObj(m),
      cpu: [t * 0.5, t * 0.05], probeCpu, threads: 2, watch: [],
    });
  };
  while (nextCensus <= end || nextSample <= end) {
    if (nextCensus <= nextSample) {
      census(Number(nextCensus.toFixed(3)));
      nextCensus += censusEvery * (0.9 + 0.2 * rng());
    } else {
      sample(Number(nextSample.toFixed(3)));
      nextSample += sampleEvery;
    }
  }
  census(Number((end + 0.1).toFixed(3)));
  out.push({ seq: seq, t: Number((end + 0.2).toFixed(3)), k: 'end', how: 'exit', exit: 0, error: null, probeCpu, censuses: 0, records: seq + 1 });
  return out;
}

/** A type that leaks `perMark` objects per mark, with a few live temporaries at any moment. */
export const leaking = (perMark: number, base = 5, temps = 3, refs = 1): TypeModel => (m, _t, rng) => {
  const c = base + Math.round(perMark * m) + int(rng, 0, temps);
  return [c, Math.round(c * refs)];
};
