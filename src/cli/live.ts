/**
 * The live status line on stderr while the app runs: one line, rewritten in place with
 * `\r`, cleared at the end. Only on a terminal; a pipe or a file gets nothing.
 */
import type { LiveSnapshot } from '../capture/run.js';
import { printable } from '../report/text.js';

function clock(seconds: number): string {
  const s = Math.floor(seconds);
  const h = Math.floor(s / 3600);
  const mm = String(Math.floor((s % 3600) / 60)).padStart(2, '0');
  const ss = String(s % 60).padStart(2, '0');
  return h > 0 ? `${h}:${mm}:${ss}` : `${mm}:${ss}`;
}

/** The status text (no control characters), at most `width` columns. */
export function formatLive(s: LiveSnapshot, width = 80): string {
  const parts = [
    `refscope ${clock(s.elapsedSeconds)}`,
    `RSS ${s.rssKiB === null ? '-' : `${(s.rssKiB / 1024).toFixed(1)} MiB`}`,
    `${s.marksPerSecond === null ? '-' : s.marksPerSecond.toFixed(1)} marks/s`,
  ];
  if (s.topGrowth) parts.push(`growing: ${printable(s.topGrowth.type)} +${s.topGrowth.delta}`);
  const line = parts.join('  ');
  const max = Math.max(10, width - 1);
  return line.length > max ? `${line.slice(0, max - 1)}~` : line;
}

export class LiveLine {
  private drawn = false;

  constructor(private readonly stream: NodeJS.WriteStream) {}

  /** only a terminal gets a live line */
  static for(stream: NodeJS.WriteStream): LiveLine | null {
    return stream.isTTY ? new LiveLine(stream) : null;
  }

  render(s: LiveSnapshot): void {
    this.stream.write(`\r${formatLive(s, this.stream.columns || 80)}\x1b[K`);
    this.drawn = true;
  }

  clear(): void {
    if (this.drawn) this.stream.write('\r\x1b[K');
    this.drawn = false;
  }
}
