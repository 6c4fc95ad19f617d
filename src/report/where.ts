/**
 * A suspect's `where` lines as every renderer words them (text, HTML, JUnit): one per site
 * its narrowing window found (that site's evidence), or one sentence on a window that found
 * none. Not escaped here: each renderer escapes them as it does every device string.
 */
import type { NarrowSummary, Suspect } from '../analysis/report.js';
import { fmt } from '../analysis/narrow.js';

/** "8 frames, 0.31 s" (a timed window: "0.31 s") */
function span(n: NarrowSummary): string {
  const marks = n.mark !== null ? `${fmt(n.marks)} ${n.mark}${n.marks === 1 ? '' : 's'}, ` : '';
  return `${marks}${fmt(n.seconds)} s`;
}

export function whereLines(s: Suspect): string[] {
  // a report written before issue 15 (farm merge reads old report.json files) has no `where`
  // a run of alike lines is worded once, by its first entry (its `through`)
  const where = s.where ?? [];
  const covered = (w: (typeof where)[number]): boolean => where.some((h) => h !== w && h.through !== undefined
    && h.file === w.file && h.caller === w.caller && h.line !== null && w.line !== null && w.line > h.line && w.line <= h.through);
  const lines = where.filter((w) => !covered(w)).map((w) => w.evidence);
  const n = s.narrow;
  if (!n) return lines;
  const window = `a narrowing window (${span(n)})`;
  const why = n.reason !== null ? `: ${n.reason}` : '';
  if (lines.length > 0) {
    if (n.status === 'stopped') lines.push(`(${window} was cut short${why})`);
    return lines;
  }
  switch (n.status) {
    case 'no-site':
      return [`${window} could not see where${n.reason !== null ? why : ': the probe gave no reason'}`];
    case 'stopped':
      return [`${window} was cut short before it found a call${why}`];
    default:
      return [`${window} found no ${n.kind === 'keeps-reference' ? 'call that keeps references' : 'line that creates objects that survive'}`];
  }
}
