/**
 * `--until-verdict`: follow the records while the app runs and, at each new census, ask the
 * sequential analysis (`analysis/sequential.ts`) whether a verdict is decided; the first
 * time it is, call `onDecided` once (the run then stops the app). Bounded: it keeps at most
 * MAX_RECORDS records (a long run past that is not watched any more, and says so).
 */
import type { Logger } from 'pino';
import { decideEarly, readyToDecide, type EarlyVerdict } from '../analysis/sequential.js';
import { buildSeries } from '../analysis/series.js';
import type { ProbeRecord } from '../session/records.js';

export const MAX_RECORDS = 200_000;

export class VerdictWatch {
  private readonly records: ProbeRecord[] = [];
  private looks = 0;
  private busy = false;
  private again = false;
  private full = false;
  decided: EarlyVerdict | null = null;

  constructor(
    private readonly onDecided: (v: EarlyVerdict) => void,
    private readonly log: Logger,
  ) {}

  readonly onRecord = (r: ProbeRecord): void => {
    if (this.decided || this.full || r.k === 'end') return;
    if (this.records.length >= MAX_RECORDS) {
      this.full = true;
      this.log.warn({ records: this.records.length }, '--until-verdict: too many records to keep watching; the run goes on to its end');
      return;
    }
    this.records.push(r);
    if (r.k === 'census') this.schedule();
  };

  private schedule(): void {
    if (this.busy) {
      this.again = true;
      return;
    }
    this.busy = true;
    setImmediate(() => {
      void this.run().finally(() => { this.busy = false; });
    });
  }

  private async run(): Promise<void> {
    do {
      this.again = false;
      const series = await buildSeries(this.records);
      if (!readyToDecide(series)) continue;
      this.looks++;
      const v = decideEarly(series, this.looks);
      if (v) {
        this.decided = v;
        this.log.info(v, '--until-verdict: decided');
        this.onDecided(v);
        return;
      }
    } while (this.again && !this.decided);
  }
}
