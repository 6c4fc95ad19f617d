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
  /**
   * the type whose live count grew most over the recent window (the censuses of the last
   * GROWTH_WINDOW_S seconds): a type that grew during the start-up and is flat since is not
   * shown as growing
   */
  topGrowth: { type: string; delta: number } | null;
  records: number;
}

const RATE_WINDOW_S = 5;
export const GROWTH_WINDOW_S = 10;
/** censuses kept for the window (a fast start makes many in a few seconds) */
const GROWTH_CENSUSES = 12;

const totalMarks = (m: Record<string, number>): number => Object.values(m).reduce((a, b) => a + b, 0);

export class Progress {
  start: StartRecord | null = null;
  end: EndRecord | null = null;
  records = 0;
  private rssKiB: number | null = null;
  private samples: { t: number; marks: number }[] = [];
  private recent: { t: number; counts: Map<string, number> }[] = [];
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
    const counts = new Map(r.types.map(([name, count]) => [name, count]));
    // the window: the censuses of the last GROWTH_WINDOW_S seconds, at least one before this one
    while (this.recent.length > 1 && (r.t - this.recent[1]!.t >= GROWTH_WINDOW_S || this.recent.length >= GROWTH_CENSUSES)) this.recent.shift();
    const base = this.recent[0];
    this.recent.push({ t: r.t, counts });
    if (!base) return;
    let best: ProgressSnapshot['topGrowth'] = null;
    for (const [name, count] of counts) {
      const delta = count - (base.counts.get(name) ?? 0);
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
