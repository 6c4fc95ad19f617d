/**
 * What the capture knows while the app runs, folded from the records as they arrive:
 * the numbers behind the live status line, and the start/end records that decide how
 * the run ended.
 */
import type { CensusRecord, EndRecord, ProbeRecord, StartRecord } from '../session/records.js';

export interface ProgressSnapshot {
  /** RSS of the newest sample, KiB */
  rssKiB: number | null;
  /** marks per second (all mark names together) over the last few seconds */
  marksPerSecond: number | null;
  /** the type whose live count grew most from the first census to the newest */
  topGrowth: { type: string; delta: number } | null;
  records: number;
}

const RATE_WINDOW_S = 5;

const totalMarks = (m: Record<string, number>): number => Object.values(m).reduce((a, b) => a + b, 0);

export class Progress {
  start: StartRecord | null = null;
  end: EndRecord | null = null;
  records = 0;
  private rssKiB: number | null = null;
  private samples: { t: number; marks: number }[] = [];
  private firstCensus: Map<string, number> | null = null;
  private topGrowth: ProgressSnapshot['topGrowth'] = null;

  readonly onRecord = (r: ProbeRecord): void => {
    this.records++;
    switch (r.k) {
      case 'start':
        this.start = r;
        break;
      case 'end':
        this.end = r;
        break;
      case 'sample':
        if (r.rss !== null) this.rssKiB = r.rss;
        this.samples.push({ t: r.t, marks: totalMarks(r.marks) });
        while (this.samples.length > 2 && r.t - (this.samples[1]?.t ?? r.t) >= RATE_WINDOW_S) this.samples.shift();
        break;
      case 'census':
        this.census(r);
        break;
      default:
        break;
    }
  };

  private census(r: CensusRecord): void {
    if (!this.firstCensus) {
      this.firstCensus = new Map(r.types.map(([name, count]) => [name, count]));
      return;
    }
    let best: ProgressSnapshot['topGrowth'] = null;
    for (const [name, count] of r.types) {
      const delta = count - (this.firstCensus.get(name) ?? 0);
      if (delta > 0 && (!best || delta > best.delta)) best = { type: name, delta };
    }
    this.topGrowth = best;
  }

  snapshot(): ProgressSnapshot {
    const first = this.samples[0];
    const last = this.samples[this.samples.length - 1];
    const rate = first && last && last.t > first.t ? (last.marks - first.marks) / (last.t - first.t) : null;
    return { rssKiB: this.rssKiB, marksPerSecond: rate, topGrowth: this.topGrowth, records: this.records };
  }
}
