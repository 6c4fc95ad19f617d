/**
 * What the capture knows while the app runs, folded from the records as they arrive:
 * the numbers behind the live status line (its "growing" is growth.ts's), and the
 * start/end records that decide how the run ended.
 */
import type { EndRecord, ProbeRecord, StartRecord } from '../session/records.js';

export interface ProgressSnapshot {
  /** RSS of the newest sample, KiB */
  rssKiB: number | null;
  /** marks per second (all mark names together) over the last few seconds */
  marksPerSecond: number | null;
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
      default:
        break;
    }
  };

  snapshot(): ProgressSnapshot {
    const first = this.samples[0];
    const last = this.samples[this.samples.length - 1];
    const rate = first && last && last.t > first.t ? (last.marks - first.marks) / (last.t - first.t) : null;
    return { rssKiB: this.rssKiB, marksPerSecond: rate, records: this.records };
  }
}
