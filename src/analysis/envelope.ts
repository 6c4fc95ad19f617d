/**
 * Min/max envelopes for drawing long series in bounded memory: rows (t, named values) fall
 * into time buckets of width w; each bucket keeps per channel its minimum and maximum and
 * which of the two came later, so a spike survives downsampling. When a row lands past the
 * last bucket, w doubles (as often as needed, in one pass) and neighbouring buckets merge.
 */

export interface EnvelopePoint {
  t: number;
  v: number;
}

const START_WIDTH = 1 / 64;

interface Channel {
  min: Float64Array;
  max: Float64Array;
  /** 1 when the maximum was set after the minimum (the max comes later in time) */
  maxLast: Uint8Array;
}

export class EnvelopeTable {
  private width = START_WIDTH;
  private n: Float64Array;
  private tSum: Float64Array;
  private channels = new Map<string, Channel>();
  dropped = 0;

  constructor(
    private readonly buckets: number,
    private readonly maxChannels: number,
    /** a channel missing from a row counts as this value (census: 0); null: the row says nothing about it */
    private readonly absent: number | null,
  ) {
    this.n = new Float64Array(buckets);
    this.tSum = new Float64Array(buckets);
  }

  get bucketSeconds(): number {
    return this.width;
  }

  add(t: number, row: Map<string, number>): void {
    if (!Number.isFinite(t)) return;
    const at = Math.max(0, t);
    if (at >= this.width * this.buckets) {
      const k = Math.ceil(Math.log2((at / this.width + 1) / this.buckets));
      this.merge(Math.max(1, Math.min(k, 1100)));
    }
    const b = Math.min(this.buckets - 1, Math.floor(at / this.width));
    const first = this.n[b] === 0;
    this.n[b]! += 1;
    this.tSum[b]! += at;
    for (const [name, v] of row) {
      if (!Number.isFinite(v)) continue;
      let ch = this.channels.get(name);
      if (!ch) {
        if (this.channels.size >= this.maxChannels) {
          this.dropped++;
          continue;
        }
        ch = this.newChannel();
        this.channels.set(name, ch);
      }
      this.put(ch, b, v, first);
    }
    if (this.absent !== null) {
      for (const [name, ch] of this.channels) if (!row.has(name)) this.put(ch, b, this.absent, first);
    }
  }

  private newChannel(): Channel {
    const ch = {
      min: new Float64Array(this.buckets).fill(Infinity),
      max: new Float64Array(this.buckets).fill(-Infinity),
      maxLast: new Uint8Array(this.buckets),
    };
    // a channel first seen now was absent from the rows before
    if (this.absent !== null) {
      for (let i = 0; i < this.buckets; i++) if (this.n[i]! > 0) this.put(ch, i, this.absent, true);
    }
    return ch;
  }

  private put(ch: Channel, b: number, v: number, fresh: boolean): void {
    if (fresh || !(ch.min[b]! <= ch.max[b]!)) {
      ch.min[b] = v;
      ch.max[b] = v;
      return;
    }
    if (v < ch.min[b]!) {
      ch.min[b] = v;
      ch.maxLast[b] = 0;
    }
    if (v > ch.max[b]!) {
      ch.max[b] = v;
      ch.maxLast[b] = 1;
    }
  }

  /** Widen the buckets 2^k times: bucket i goes into i >> k. */
  private merge(k: number): void {
    const f = 2 ** k;
    const n = new Float64Array(this.buckets);
    const tSum = new Float64Array(this.buckets);
    for (let i = 0; i < this.buckets; i++) {
      const j = Math.floor(i / f);
      n[j]! += this.n[i]!;
      tSum[j]! += this.tSum[i]!;
    }
    for (const ch of this.channels.values()) {
      const min = new Float64Array(this.buckets).fill(Infinity);
      const max = new Float64Array(this.buckets).fill(-Infinity);
      const maxLast = new Uint8Array(this.buckets);
      // where (source bucket, order within it) the extremes of each merged bucket came from
      const minAt = new Float64Array(this.buckets);
      const maxAt = new Float64Array(this.buckets);
      for (let i = 0; i < this.buckets; i++) {
        if (this.n[i] === 0 || !(ch.min[i]! <= ch.max[i]!)) continue;
        const j = Math.floor(i / f);
        const inMin = 2 * i + (ch.maxLast[i] ? 0 : 1);
        const inMax = 2 * i + (ch.maxLast[i] ? 1 : 0);
        if (ch.min[i]! < min[j]!) {
          min[j] = ch.min[i]!;
          minAt[j] = inMin;
        }
        if (ch.max[i]! > max[j]!) {
          max[j] = ch.max[i]!;
          maxAt[j] = inMax;
        }
      }
      for (let j = 0; j < this.buckets; j++) maxLast[j] = maxAt[j]! > minAt[j]! ? 1 : 0;
      ch.min = min;
      ch.max = max;
      ch.maxLast = maxLast;
    }
    this.n = n;
    this.tSum = tSum;
    this.width *= f;
  }

  has(name: string): boolean {
    return this.channels.has(name);
  }

  names(): string[] {
    return [...this.channels.keys()];
  }

  /** The channel as points in time order: one per bucket, two (min and max in their order) where they differ. */
  points(name: string): EnvelopePoint[] {
    const ch = this.channels.get(name);
    if (!ch) return [];
    const out: EnvelopePoint[] = [];
    for (let i = 0; i < this.buckets; i++) {
      if (this.n[i] === 0 || !(ch.min[i]! <= ch.max[i]!)) continue;
      const t = this.tSum[i]! / this.n[i]!;
      const lo = ch.min[i]!;
      const hi = ch.max[i]!;
      if (lo === hi) out.push({ t, v: lo });
      else if (ch.maxLast[i]) out.push({ t, v: lo }, { t, v: hi });
      else out.push({ t, v: hi }, { t, v: lo });
    }
    return out;
  }
}
