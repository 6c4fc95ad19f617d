/** Reading a session's record segments back in tests: every seq, and whether each arrived exactly once. */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

/** every record's seq in the session's segment files, in file order */
export function seqs(session: string): number[] {
  const dir = join(session, 'segments');
  const out: number[] = [];
  for (const f of readdirSync(dir).filter((n) => /^seg-\d+\.jsonl$/.test(n)).sort()) {
    for (const line of readFileSync(join(dir, f), 'utf8').split('\n')) {
      if (line.trim()) out.push((JSON.parse(line) as { seq: number }).seq);
    }
  }
  return out;
}

/** which of 0..max(xs) are missing, and which appear more than once */
export function exactlyOnce(xs: number[]): { n: number; missing: number[]; duplicated: number[] } {
  const seen = new Map<number, number>();
  for (const x of xs) seen.set(x, (seen.get(x) ?? 0) + 1);
  const max = Math.max(...xs);
  const missing: number[] = [];
  for (let i = 0; i <= max; i++) if (!seen.has(i)) missing.push(i);
  return { n: xs.length, missing, duplicated: [...seen].filter(([, c]) => c > 1).map(([s]) => s) };
}
