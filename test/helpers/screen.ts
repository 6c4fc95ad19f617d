/**
 * A small terminal, enough to replay what refscope and an app wrote to a pseudo-terminal and
 * see which text ended up on which row: printable characters with autowrap, CR, LF, BS, TAB;
 * ESC 7/8 (save/restore cursor), ESC D/E/M, ESC c; CSI A B C D E F G H f d J K r m h l S T;
 * OSC strings skipped. The scroll region is honoured; rows that scroll off the top of the
 * whole screen go to `history`. Not covered: wide characters (one column each here), insert
 * mode, tab stops other than every 8.
 */
export interface ScreenEvents {
  /** a row the cursor leaves by a line feed (or that scrolls away), as it was then */
  onRowLeft?(text: string): void;
  /** after each cursor restore (ESC 8), erase in line (CSI K) and line feed: the whole screen, to check */
  onCheckpoint?(rows: string[]): void;
}

export class Screen {
  readonly history: string[] = [];
  private grid: string[][];
  private row = 0;
  private col = 0;
  private wrapPending = false;
  private top = 0;
  private bottom: number;
  private saved = { row: 0, col: 0, wrapPending: false };
  /** an escape sequence cut by a chunk boundary */
  private pending = '';

  constructor(readonly rows: number, readonly cols: number, private readonly events: ScreenEvents = {}) {
    this.grid = Array.from({ length: rows }, () => this.blank());
    this.bottom = rows - 1;
  }

  /** the rows now, trailing blanks trimmed */
  text(): string[] {
    return this.grid.map((r) => r.join('').trimEnd());
  }

  /** the scroll region now, 1-based as DECSTBM says it */
  region(): [number, number] {
    return [this.top + 1, this.bottom + 1];
  }

  feed(data: string): void {
    const s = this.pending + data;
    this.pending = '';
    let i = 0;
    while (i < s.length) {
      const ch = s[i]!;
      if (ch === '\x1b') {
        const used = this.escape(s, i);
        if (used === 0) {
          this.pending = s.slice(i);
          return;
        }
        i += used;
        continue;
      }
      i++;
      switch (ch) {
        case '\r': this.col = 0; this.wrapPending = false; break;
        case '\n': case '\x0b': case '\x0c': this.lineFeed(); break;
        case '\b': if (this.col > 0) this.col--; this.wrapPending = false; break;
        case '\t': this.col = Math.min(this.cols - 1, (Math.floor(this.col / 8) + 1) * 8); break;
        case '\x07': case '\x00': case '\x0e': case '\x0f': break;
        default:
          if (ch < ' ' || ch === '\x7f') break;
          this.put(ch);
      }
    }
  }

  private blank(): string[] {
    return new Array<string>(this.cols).fill(' ');
  }

  private put(ch: string): void {
    if (this.wrapPending) {
      this.col = 0;
      this.lineFeed();
    }
    this.grid[this.row]![this.col] = ch;
    if (this.col === this.cols - 1) this.wrapPending = true;
    else this.col++;
  }

  private lineFeed(): void {
    this.wrapPending = false;
    this.events.onRowLeft?.(this.grid[this.row]!.join('').trimEnd());
    this.index();
    this.events.onCheckpoint?.(this.text());
  }

  /** down one row, scrolling the region when on its bottom row */
  private index(): void {
    if (this.row === this.bottom) this.scrollUp(1);
    else if (this.row < this.rows - 1) this.row++;
  }

  private scrollUp(n: number): void {
    for (let k = 0; k < n; k++) {
      const [gone] = this.grid.splice(this.top, 1);
      if (this.top === 0) this.history.push(gone!.join('').trimEnd());
      this.grid.splice(this.bottom, 0, this.blank());
    }
  }

  private scrollDown(n: number): void {
    for (let k = 0; k < n; k++) {
      this.grid.splice(this.bottom, 1);
      this.grid.splice(this.top, 0, this.blank());
    }
  }

  /** handles the sequence at s[i] (ESC); returns its length, 0 when it is not complete yet */
  private escape(s: string, i: number): number {
    const next = s[i + 1];
    if (next === undefined) return 0;
    switch (next) {
      case '7': this.saved = { row: this.row, col: this.col, wrapPending: this.wrapPending }; return 2;
      case '8':
        ({ row: this.row, col: this.col, wrapPending: this.wrapPending } = this.saved);
        this.events.onCheckpoint?.(this.text());
        return 2;
      case 'D': this.wrapPending = false; this.index(); return 2;
      case 'E': this.col = 0; this.wrapPending = false; this.index(); return 2;
      case 'M':
        this.wrapPending = false;
        if (this.row === this.top) this.scrollDown(1);
        else if (this.row > 0) this.row--;
        return 2;
      case 'c':
        this.grid = Array.from({ length: this.rows }, () => this.blank());
        this.row = this.col = this.top = 0;
        this.bottom = this.rows - 1;
        return 2;
      case '(': case ')': return s.length > i + 2 ? 3 : 0;
      case ']': {
        // OSC ... BEL or ST
        for (let j = i + 2; j < s.length; j++) {
          if (s[j] === '\x07') return j - i + 1;
          if (s[j] === '\x1b' && s[j + 1] === '\\') return j - i + 2;
        }
        return 0;
      }
      case '[': {
        let j = i + 2;
        while (j < s.length && /[0-9;?>=! ]/.test(s[j]!)) j++;
        if (j >= s.length) return 0;
        this.csi(s.slice(i + 2, j), s[j]!);
        return j - i + 1;
      }
      default: return 2;
    }
  }

  private csi(params: string, final: string): void {
    const priv = /^[?>=!]/.test(params);
    const nums = params.replace(/^[?>=!]/, '').split(';').map((p) => (p === '' ? NaN : Number(p)));
    const n = (k: number, d: number) => (Number.isFinite(nums[k]) && nums[k]! > 0 ? nums[k]! : d);
    const clampRow = (r: number) => Math.max(0, Math.min(this.rows - 1, r));
    const clampCol = (c: number) => Math.max(0, Math.min(this.cols - 1, c));
    if (priv && final !== 'h' && final !== 'l') return;
    this.wrapPending = false;
    switch (final) {
      case 'A': { const stop = this.row >= this.top ? this.top : 0; this.row = Math.max(stop, this.row - n(0, 1)); break; }
      case 'B': { const stop = this.row <= this.bottom ? this.bottom : this.rows - 1; this.row = Math.min(stop, this.row + n(0, 1)); break; }
      case 'C': this.col = clampCol(this.col + n(0, 1)); break;
      case 'D': this.col = clampCol(this.col - n(0, 1)); break;
      case 'E': this.row = clampRow(this.row + n(0, 1)); this.col = 0; break;
      case 'F': this.row = clampRow(this.row - n(0, 1)); this.col = 0; break;
      case 'G': this.col = clampCol(n(0, 1) - 1); break;
      case 'd': this.row = clampRow(n(0, 1) - 1); break;
      case 'H': case 'f': this.row = clampRow(n(0, 1) - 1); this.col = clampCol(n(1, 1) - 1); break;
      case 'J': {
        const mode = Number.isFinite(nums[0]) ? nums[0] : 0;
        const rowsToClear = mode === 0 ? range(this.row + 1, this.rows) : mode === 1 ? range(0, this.row) : range(0, this.rows);
        for (const r of rowsToClear) this.grid[r] = this.blank();
        if (mode === 0) this.grid[this.row]!.fill(' ', this.col);
        else if (mode === 1) this.grid[this.row]!.fill(' ', 0, this.col + 1);
        break;
      }
      case 'K': {
        const mode = Number.isFinite(nums[0]) ? nums[0] : 0;
        const line = this.grid[this.row]!;
        if (mode === 0) line.fill(' ', this.col);
        else if (mode === 1) line.fill(' ', 0, this.col + 1);
        else line.fill(' ');
        this.events.onCheckpoint?.(this.text());
        break;
      }
      case 'r': {
        const t = n(0, 1) - 1;
        const b = n(1, this.rows) - 1;
        if (t < b && b < this.rows) { this.top = t; this.bottom = b; }
        this.row = 0;
        this.col = 0;
        break;
      }
      case 'S': this.scrollUp(n(0, 1)); break;
      case 'T': this.scrollDown(n(0, 1)); break;
      default: break; // m (attributes), h/l (modes) and the rest: no effect on the text
    }
  }
}

function range(from: number, to: number): number[] {
  const out: number[] = [];
  for (let k = from; k < to; k++) out.push(k);
  return out;
}
