/**
 * Running the probe (and bare python, for comparison) as real child processes, and
 * reading the records it wrote. No shell, no mocks; every wait has a deadline.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { toRecord, type ProbeRecord } from '../../src/session/records.js';
import type { Interp } from '../helpers/pythons.js';

export const ROOT = resolve(__dirname, '..', '..');
export const PROBE = join(ROOT, 'device-scripts', 'refscope_probe.py');
export const APPS = join(__dirname, 'apps');

export interface Ran {
  status: number | null;
  signal: NodeJS.Signals | null;
  stdout: Buffer;
  stderr: Buffer;
}

export function run(cmd: string, args: string[], opts: { cwd?: string; timeoutMs?: number } = {}): Promise<Ran> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(cmd, args, {
      cwd: opts.cwd ?? APPS,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, PYTHONDONTWRITEBYTECODE: '1', PYTHONWARNINGS: '' },
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stderr.on('data', (b: Buffer) => err.push(b));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${cmd} ${args.join(' ')}: no exit within ${opts.timeoutMs ?? 60_000} ms`));
    }, opts.timeoutMs ?? 60_000);
    child.on('error', (e) => { clearTimeout(timer); reject(e); });
    child.on('close', (status, signal) => {
      clearTimeout(timer);
      resolvePromise({ status, signal, stdout: Buffer.concat(out), stderr: Buffer.concat(err) });
    });
  });
}

export function tempDir(prefix: string): string {
  return mkdtempSync(join(tmpdir(), `refscope-${prefix}-`));
}

export function removeDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}

/** Run the app under the probe; `probeArgs` go before `--`. */
export function runProbe(py: Interp, out: string, probeArgs: string[], app: string[], opts: { cwd?: string; timeoutMs?: number } = {}): Promise<Ran> {
  return run(py.path, [PROBE, '--out', out, ...probeArgs, '--', ...app], opts);
}

export function segments(dir: string): string[] {
  return readdirSync(dir).filter((n) => /^seg-\d{6}\.jsonl$/.test(n)).sort();
}

export interface Records {
  all: ProbeRecord[];
  raw: unknown[];
  files: string[];
}

/** Parse every line of every segment (JSON.parse must accept each one) and validate it. */
export function readRecords(dir: string): Records {
  const files = segments(dir);
  const raw: unknown[] = [];
  const all: ProbeRecord[] = [];
  for (const f of files) {
    const text = readFileSync(join(dir, f), 'latin1');
    if (!/^[\x00-\x7f]*$/.test(text)) throw new Error(`${f}: non-ASCII bytes`);
    if (text.length > 0 && !text.endsWith('\n')) throw new Error(`${f}: last line not terminated`);
    for (const line of text.split('\n')) {
      if (line === '') continue;
      const v: unknown = JSON.parse(line);
      raw.push(v);
      const r = toRecord(v);
      if (!r) throw new Error(`${f}: not a record: ${line.slice(0, 200)}`);
      all.push(r);
    }
  }
  return { all, raw, files };
}

/** seq 0..n-1 contiguous, start first, exactly one end and it is last. */
export function checkStream(recs: Records): void {
  const { all } = recs;
  if (all.length < 2) throw new Error(`only ${all.length} records`);
  all.forEach((r, i) => {
    if (r.seq !== i) throw new Error(`record ${i} has seq ${r.seq}`);
  });
  if (all[0]!.k !== 'start') throw new Error(`first record is ${all[0]!.k}`);
  const ends = all.filter((r) => r.k === 'end');
  if (ends.length !== 1 || all[all.length - 1]!.k !== 'end') throw new Error('end record missing or not last');
  const end = ends[0]!;
  if (end.k === 'end' && end.records !== all.length) throw new Error(`end.records ${end.records} != ${all.length}`);
}

export function endOf(recs: Records) {
  const e = recs.all[recs.all.length - 1]!;
  if (e.k !== 'end') throw new Error('no end record');
  return e;
}

export function kinds<K extends ProbeRecord['k']>(recs: Records, k: K): Extract<ProbeRecord, { k: K }>[] {
  return recs.all.filter((r): r is Extract<ProbeRecord, { k: K }> => r.k === k);
}
