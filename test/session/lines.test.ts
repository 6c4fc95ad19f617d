/**
 * The line splitter every record reader shares (issue 18 item 1): lines split across chunks
 * come back whole and in order; a line over the limit is dropped as it arrives, never
 * gathered (what it holds stays at most the limit, and nothing once it is over), and the
 * lines after it are intact; each chunk is searched once, so an endless line costs the
 * same per byte at its end as at its start.
 */
import { describe, expect, it } from 'vitest';
import { LineSplitter } from '../../src/session/lines.js';

const collect = (max: number) => {
  const lines: Array<string | null> = [];
  const s = new LineSplitter(max, (l) => lines.push(l === null ? null : l.toString('latin1')));
  return { s, lines };
};

describe('LineSplitter', () => {
  it('gives back lines split across chunks whole, empty lines too, and the unterminated rest at the end', () => {
    const { s, lines } = collect(100);
    for (const c of ['ab', 'c\nde', '\n\nf', 'g\nh']) s.push(Buffer.from(c));
    expect(lines).toEqual(['abc', 'de', '', 'fg']);
    expect(s.pending).toBe(1);
    expect(s.end()?.toString()).toBe('h');
    expect(s.end()).toBeUndefined();
  });

  it('drops a line over the limit as it arrives, holds nothing of it after, and keeps the lines after it', () => {
    const { s, lines } = collect(10);
    s.push(Buffer.from('short\n0123456'));
    expect(s.pending).toBe(7);
    const chunk = Buffer.alloc(1 << 16, 0x41);
    for (let i = 0; i < 64; i++) {
      s.push(chunk);
      expect(s.pending).toBe(0);
    }
    s.push(Buffer.from('tail\nnext\n'));
    expect(lines).toEqual(['short', null, 'next']);
    expect(s.dropped).toBe(1);
  });

  it('an endless line: every later chunk costs what the first did (no rescan of what came before)', () => {
    // counted, not timed: the splitter's work is the bytes it is given, searched once each.
    // Buffer.indexOf is wrapped to sum the bytes each call searches.
    const { s } = collect(8 * 1024 * 1024);
    const chunk = Buffer.alloc(1 << 16, 0x41);
    let searched = 0;
    const orig = chunk.indexOf.bind(chunk);
    chunk.indexOf = ((v: number, from?: number) => { searched += chunk.length - (from ?? 0); return orig(v, from); }) as typeof chunk.indexOf;
    for (let i = 0; i < 512; i++) s.push(chunk);
    expect(searched).toBe(512 * chunk.length);
    expect(s.pending).toBe(0); // 32 MiB: over the limit, dropped
    expect(s.end()).toBeNull();
  });
});
