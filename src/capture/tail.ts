/**
 * Follow the probe's segment files while it runs: poll the directory, read only the bytes
 * that are new since the last look, and hand over whole records. A line is complete only
 * when its `\n` has arrived; a last line that never completes (the probe was killed
 * mid-write) is reported by finish() as lost.
 */
import { open, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { LineSplitter, type SplitLine } from '../session/lines.js';
import { DEFAULT_MAX_LINE_BYTES, MAX_NESTING, nestingWithin } from '../session/reader.js';
import { toRecord, type ProbeRecord } from '../session/records.js';
import { bySegmentNumber, SEGMENT_NAME } from '../session/store.js';

const CHUNK = 1 << 20;

interface FileState {
  offset: number;
  /** the file's lines, each at most the reader's line limit (a longer one is lost, not gathered) */
  split: LineSplitter;
}

export class SegmentTail {
  private readonly files = new Map<string, FileState>();
  private busy: Promise<void> | null = null;
  /** lines that did not parse as a record */
  lost = 0;

  constructor(
    private readonly dir: string,
    private readonly onRecord: (r: ProbeRecord) => void,
  ) {}

  /** Read what is new. Overlapping calls share one read. */
  poll(): Promise<void> {
    this.busy ??= this.readNew().finally(() => { this.busy = null; });
    return this.busy;
  }

  /** A last poll once the probe has ended; returns how many lines were lost (incomplete last lines included). */
  async finish(): Promise<number> {
    if (this.busy) await this.busy;
    await this.poll();
    for (const st of this.files.values()) {
      const tail = st.split.end();
      if (tail !== undefined) this.line(tail, true);
    }
    return this.lost;
  }

  private async readNew(): Promise<void> {
    let names: string[];
    try {
      names = (await readdir(this.dir)).filter((n) => SEGMENT_NAME.test(n)).sort(bySegmentNumber);
    } catch {
      return; // not there yet
    }
    for (const name of names) {
      let st = this.files.get(name);
      if (!st) {
        st = { offset: 0, split: new LineSplitter(DEFAULT_MAX_LINE_BYTES, (l) => this.line(l, false)) };
        this.files.set(name, st);
      }
      await this.readFile(join(this.dir, name), st);
    }
  }

  private async readFile(path: string, st: FileState): Promise<void> {
    let fh;
    try {
      fh = await open(path, 'r');
    } catch {
      return;
    }
    try {
      const buf = Buffer.allocUnsafe(CHUNK);
      for (;;) {
        const { bytesRead } = await fh.read(buf, 0, CHUNK, st.offset);
        if (bytesRead === 0) break;
        st.offset += bytesRead;
        st.split.push(buf.subarray(0, bytesRead));
      }
    } finally {
      await fh.close();
    }
  }

  private line(bytes: SplitLine, incomplete: boolean): void {
    // a line longer than the limit was dropped as it came (a probe never writes one)
    if (bytes === null) { this.lost++; return; }
    const text = bytes.toString('utf8');
    if (text.trim() === '') return;
    if (incomplete || !nestingWithin(text, MAX_NESTING)) { this.lost++; return; }
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch {
      this.lost++;
      return;
    }
    const rec = toRecord(value);
    if (rec) this.onRecord(rec);
    else this.lost++;
  }
}
