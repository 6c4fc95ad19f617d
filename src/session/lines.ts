/**
 * Splitting a byte stream into lines in bounded memory and linear time: each chunk is
 * searched once for its newlines (never the text gathered before it), and a line longer than
 * the limit is dropped as it arrives instead of being gathered whole. One splitter serves
 * every place that reads records line by line: a segment file (session/reader.ts), a
 * segment being written (capture/tail.ts) and the device's live stream (capture/remote.ts).
 */

/** What a line became: its bytes, or null when it was longer than the limit (dropped). */
export type SplitLine = Buffer | null;

export class LineSplitter {
  private parts: Buffer[] = [];
  private size = 0;
  private tooLong = false;
  /** lines dropped for being longer than the limit */
  dropped = 0;

  constructor(
    private readonly maxBytes: number,
    private readonly onLine: (line: SplitLine) => void,
  ) {}

  /** Feed the next chunk; every line it completes is handed over in order. */
  push(chunk: Buffer): void {
    let from = 0;
    while (from < chunk.length) {
      const nl = chunk.indexOf(10, from);
      const end = nl === -1 ? chunk.length : nl;
      this.take(chunk, from, end);
      if (nl === -1) return;
      this.emit();
      from = nl + 1;
    }
  }

  /** Bytes of the line not yet ended (0 when the last chunk ended with a newline, or the line was dropped). */
  get pending(): number {
    return this.size;
  }

  /**
   * The stream has ended: the last line without its newline, as `push` would have handed it
   * (null when too long), or undefined when there is none.
   */
  end(): SplitLine | undefined {
    if (!this.tooLong && this.size === 0) return undefined;
    const last = this.tooLong ? null : Buffer.concat(this.parts, this.size);
    if (this.tooLong) this.dropped++;
    this.reset();
    return last;
  }

  private take(chunk: Buffer, from: number, end: number): void {
    if (this.tooLong) return;
    const piece = end - from;
    if (this.size + piece > this.maxBytes) {
      this.tooLong = true;
      this.parts = [];
      this.size = 0;
    } else if (piece > 0) {
      // a copy: the chunk may be a reused read buffer
      this.parts.push(Buffer.from(chunk.subarray(from, end)));
      this.size += piece;
    }
  }

  private emit(): void {
    const line = this.tooLong ? null : Buffer.concat(this.parts, this.size);
    if (this.tooLong) this.dropped++;
    this.reset();
    this.onLine(line);
  }

  private reset(): void {
    this.parts = [];
    this.size = 0;
    this.tooLong = false;
  }
}
