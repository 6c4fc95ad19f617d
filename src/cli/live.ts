/**
 * The live status line on stderr while the app runs. Only on a terminal; a pipe or a file
 * gets nothing.
 *
 * It lives on the terminal's bottom row, kept out of the app's way by a scroll region
 * (DECSTBM: rows 1..N-1 scroll, row N stays), as apt's progress bar does below dpkg's output.
 * Why not clear it before the app's output and redraw it after: without --tty the app writes
 * to the terminal it inherited, straight, not through us, so there is no "before" to clear
 * in; passing its output through us instead would make its stdout a pipe, and Python then
 * buffers it in 8 KiB blocks (a line per frame shows up in bursts, or at the end) and its
 * isatty() turns colours off: the app under test would change. With the region, the app's
 * bytes reach the terminal untouched however they travel (inherited, --tty, --json, over
 * SSH), scroll above the line and never share its row; the line is drawn between the app's
 * writes with the cursor and its attributes saved and restored (DECSC/DECRC), each draw one
 * write(), so a half-written app line is neither cut nor joined.
 *
 * The terminal is given back (region reset, row blanked) when the app ends, on every error
 * path (run.ts's finally) and at process exit (the third Ctrl-C leaves with process.exit);
 * while refscope is stopped (Ctrl-Z) the shell has the whole terminal, and the row is taken
 * again on `fg`. Only a SIGKILL leaves the region set (`reset` or `tput csr` undoes it). A
 * terminal that cannot do this (TERM=dumb) or has fewer than 3 rows gets no live line.
 */
import type { LiveSnapshot } from '../capture/run.js';
import { printable } from '../report/text.js';

const SAVE = '\x1b7';
const RESTORE = '\x1b8';
const MIN_ROWS = 3;

function clock(seconds: number): string {
  const s = Math.floor(seconds);
  const h = Math.floor(s / 3600);
  const mm = String(Math.floor((s % 3600) / 60)).padStart(2, '0');
  const ss = String(s % 60).padStart(2, '0');
  return h > 0 ? `${h}:${mm}:${ss}` : `${mm}:${ss}`;
}

/** The status text (no control characters), at most `width` - 1 columns (no autowrap on the last row). */
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

/**
 * Reserve the bottom row of a `rows`-row terminal, keeping the cursor on the text it is on:
 * an index (ESC D) scrolls the screen up one row when the cursor is on the last one (a plain
 * move down otherwise) and the cursor goes back up to its text; the region excludes the last
 * row. No CR or LF: the cursor keeps its column, a half-written line stays whole.
 */
export function reserveSeq(rows: number): string {
  return `${SAVE}\x1b[r${RESTORE}\x1bD\x1b[A${SAVE}\x1b[1;${rows - 1}r${RESTORE}`;
}

/** Draw `text` on the bottom row, plain, and put the cursor and the app's attributes back. */
export function drawSeq(rows: number, text: string): string {
  return `${SAVE}\x1b[${rows};1H\x1b[0m${text}\x1b[K${RESTORE}`;
}

/** Blank the bottom row and give the whole screen back to scrolling. */
export function releaseSeq(rows: number): string {
  return `${SAVE}\x1b[${rows};1H\x1b[0m\x1b[2K\x1b[r${RESTORE}`;
}

export class LiveLine {
  /** the terminal's rows while the bottom one is reserved; 0 while it is not (too small, or closed) */
  private rows = 0;
  private text = '';
  private closed = false;
  private readonly onResize = () => this.resized();
  private readonly onExit = () => this.close();
  /** Ctrl-Z: give the terminal back, then stop as the default action would have */
  private readonly onStop = () => {
    this.release();
    process.kill(process.pid, 'SIGSTOP');
  };
  private readonly onContinue = () => {
    if (this.rows === 0) this.reserve(this.stream.rows);
  };

  private constructor(private readonly stream: NodeJS.WriteStream) {
    this.reserve(stream.rows);
    stream.on('resize', this.onResize);
    process.on('exit', this.onExit);
    process.on('SIGTSTP', this.onStop);
    process.on('SIGCONT', this.onContinue);
  }

  /** only a terminal that can keep a row apart gets a live line */
  static wanted(stream: NodeJS.WriteStream, env: NodeJS.ProcessEnv = process.env): boolean {
    return Boolean(stream.isTTY) && env.TERM !== 'dumb' && (stream.rows ?? 0) >= MIN_ROWS;
  }

  /**
   * The live line, its row reserved at once, or null when not wanted. Safe while the app
   * already writes: one write(), and the cursor keeps its place.
   */
  static for(stream: NodeJS.WriteStream, env: NodeJS.ProcessEnv = process.env): LiveLine | null {
    return LiveLine.wanted(stream, env) ? new LiveLine(stream) : null;
  }

  render(s: LiveSnapshot): void {
    if (this.closed) return;
    this.text = formatLive(s, this.stream.columns || 80);
    if (this.rows > 0) this.stream.write(drawSeq(this.rows, this.text));
  }

  /** give the terminal back; idempotent */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.stream.off('resize', this.onResize);
    process.off('exit', this.onExit);
    process.off('SIGTSTP', this.onStop);
    process.off('SIGCONT', this.onContinue);
    this.release();
  }

  private release(): void {
    if (this.rows > 0) this.stream.write(releaseSeq(this.rows));
    this.rows = 0;
  }

  private reserve(rows: number): void {
    if (rows < MIN_ROWS) return;
    this.rows = rows;
    this.stream.write(reserveSeq(rows));
    if (this.text) this.stream.write(drawSeq(rows, this.text));
  }

  /**
   * A new size: the old row, when still on the screen, is blanked (it is inside the new
   * region), and the new bottom row reserved (terminals differ in what they keep of a region
   * across a resize: set it again).
   */
  private resized(): void {
    const rows = this.stream.rows;
    if (this.rows > 0) {
      this.stream.write(rows >= this.rows ? releaseSeq(this.rows) : `${SAVE}\x1b[r${RESTORE}`);
      this.rows = 0;
    }
    this.reserve(rows);
  }
}
