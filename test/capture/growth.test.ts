import { describe, expect, it } from 'vitest';
import { GROWTH_CENSUSES, GROWTH_WINDOW_S, RecentGrowth } from '../../src/capture/growth.js';
import type { ProbeRecord } from '../../src/session/records.js';

// records come in parsed; the casts stand for toRecord
const census = (t: number, counts: Record<string, number>) =>
  ({ seq: 0, k: 'census', t, marks: {}, dur: 0.01, n: 10, rss: null, types: Object.entries(counts).map(([n, c]) => [n, c, c]) }) as unknown as ProbeRecord;
const sample = (t: number) =>
  ({ seq: 0, k: 'sample', t, rss: 1000, peak: 1000, gc: [0, 0, 0], marks: {}, cpu: [0, 0], probeCpu: 0, threads: 1, watch: [] }) as unknown as ProbeRecord;

function feed(g: RecentGrowth, ...rs: ProbeRecord[]): RecentGrowth {
  for (const r of rs) g.onRecord(r);
  return g;
}

describe('RecentGrowth', () => {
  it('names the type whose count rose most from the first census of the window to the newest', () => {
    const g = feed(new RecentGrowth(), census(1, { tuple: 100, 'w.Widget': 5 }), census(2, { tuple: 101, 'w.Widget': 15 }), census(3, { tuple: 102, 'w.Widget': 25 }));
    expect(g.top()).toEqual({ type: 'w.Widget', delta: 20 });
  });

  it('shows nothing before a second census, and nothing when no count rose', () => {
    const g = feed(new RecentGrowth(), census(1, { tuple: 100 }));
    expect(g.top()).toBeNull();
    feed(g, census(2, { tuple: 100, list: 3 }), census(3, { tuple: 90, list: 3 }));
    expect(g.top()).toEqual({ type: 'list', delta: 3 });
    feed(g, census(4, { tuple: 90, list: 3 }), census(5, { tuple: 90, list: 3 }), census(6, { tuple: 90, list: 3 }), census(7, { tuple: 90, list: 2 }));
    expect(g.top()).toBeNull();
  });

  it('forgets a type that grew at start-up and has been flat for the last few censuses', () => {
    const g = feed(new RecentGrowth(), census(0.1, { tuple: 10 }), census(0.2, { tuple: 214 }));
    expect(g.top()).toEqual({ type: 'tuple', delta: 204 });
    // flat from then on, one census a second: within the 10 s, and at first still among the last few
    for (let i = 0; i < GROWTH_CENSUSES - 2; i++) feed(g, census(1 + i, { tuple: 214 }));
    expect(g.top()).toEqual({ type: 'tuple', delta: 204 });
    // the census before the growth leaves the last few: flat since, so not growing
    feed(g, census(GROWTH_CENSUSES, { tuple: 214 }));
    expect(g.top()).toBeNull();
    // and grows again: shown with its growth over the window only
    feed(g, census(1 + GROWTH_CENSUSES, { tuple: 217 }));
    expect(g.top()).toEqual({ type: 'tuple', delta: 3 });
  });

  it('goes stale with time: samples move the clock on, and a growth older than the window is not shown', () => {
    const g = feed(new RecentGrowth(), census(1, { tuple: 10 }), census(2, { tuple: 50 }));
    feed(g, sample(3), sample(2 + GROWTH_WINDOW_S));
    expect(g.top()).toEqual({ type: 'tuple', delta: 40 });
    feed(g, sample(2.5 + GROWTH_WINDOW_S));
    expect(g.top()).toBeNull();
  });

  it('with censuses further apart than the window, measures the newest from the one before it while it is recent', () => {
    const g = feed(new RecentGrowth(), census(0, { 'w.Widget': 1 }), census(25, { 'w.Widget': 26 }), sample(30));
    expect(g.top()).toEqual({ type: 'w.Widget', delta: 25 });
    feed(g, sample(36));
    expect(g.top()).toBeNull();
    feed(g, census(50, { 'w.Widget': 26 }));
    expect(g.top()).toBeNull();
  });
});
