/**
 * "growing" on the live status line: the type whose live count rose most over the recent
 * window, folded from the records as they arrive.
 *
 * The window is the censuses of the last GROWTH_WINDOW_S seconds of the probe's clock, at
 * most the last GROWTH_CENSUSES of them. The clock is the newest record's `t`, which every
 * sample moves on, so the window moves while no census comes: a growth seen only before the
 * window is not shown, and when no census is that recent nothing is. A type that grew at
 * start-up and has been flat for the last few censuses is not growing either. When only one
 * census is in the window (censuses far apart: a slow device, a big heap), its growth is
 * measured from the census before it: the newest step is the most recent thing known.
 */
import type { ProbeRecord } from '../session/records.js';

export const GROWTH_WINDOW_S = 10;
export const GROWTH_CENSUSES = 5;

export interface Growth {
  type: string;
  /** live count in the window's newest census minus its first (or the census before it) */
  delta: number;
}

interface Counts { t: number; counts: Map<string, number> }

export class RecentGrowth {
  private now = 0;
  /** the newest censuses, oldest first: at most GROWTH_CENSUSES */
  private censuses: Counts[] = [];

  readonly onRecord = (r: ProbeRecord): void => {
    if (r.t > this.now) this.now = r.t;
    if (r.k !== 'census') return;
    this.censuses.push({ t: r.t, counts: new Map(r.types.map(([name, count]) => [name, count])) });
    if (this.censuses.length > GROWTH_CENSUSES) this.censuses.shift();
  };

  /** the type growing most over the window, or null when none grows there */
  top(): Growth | null {
    const inWindow = this.censuses.filter((c) => this.now - c.t <= GROWTH_WINDOW_S);
    const last = inWindow[inWindow.length - 1];
    if (!last) return null;
    const base = inWindow.length > 1 ? inWindow[0] : this.censuses[this.censuses.length - 2];
    if (!base || base === last) return null;
    let best: Growth | null = null;
    for (const [type, count] of last.counts) {
      const delta = count - (base.counts.get(type) ?? 0);
      if (delta > 0 && (!best || delta > best.delta)) best = { type, delta };
    }
    return best;
  }
}
