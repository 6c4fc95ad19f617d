/**
 * `refscope report` on sessions recorded by `refscope run`: text and JSON, --output,
 * a bare folder of segments, and a session whose last segment was cut mid-line.
 */
import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync, truncateSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Report } from '../../src/analysis/report.js';
import { ROOT, runCli } from '../helpers/cli.js';
import { coreInterpreters } from '../helpers/pythons.js';

const APPS = join(ROOT, 'test', 'cli', 'apps');
const py = coreInterpreters().pop();
let work: string;
let session: string;

const verdictExit = (r: Report): number => (r.verdict === 'leak' ? 1 : 0);

describe.skipIf(!py)(`refscope report${py ? '' : ' (no CPython under pyenv: skipped)'}`, () => {
  beforeAll(async () => {
    work = mkdtempSync(join(tmpdir(), 'refscope-cli-report-'));
    session = join(work, 'session');
    const r = await runCli(['run', '--local', '--python', py!.path, '--out', session,
      '--', join(APPS, 'quiet.py'), '40'], { timeoutMs: 60_000 });
    if (r.code !== 0 && r.code !== 1) throw new Error(`run failed (${r.code}): ${r.stderr}`);
  });
  afterAll(() => { rmSync(work, { recursive: true, force: true }); });

  it('prints the text report, the same as the session\'s report.txt', async () => {
    const r = await runCli(['report', session]);
    const report = JSON.parse(readFileSync(join(session, 'report.json'), 'utf8')) as Report;
    expect(r.code).toBe(verdictExit(report));
    expect(r.stdout.toString('utf8')).toBe(readFileSync(join(session, 'report.txt'), 'utf8'));
    expect(r.stderr).toBe('');
  });

  it('--format json prints JSON that parses, and nothing else', async () => {
    const r = await runCli(['report', session, '--format', 'json']);
    const report = JSON.parse(r.stdout.toString('utf8')) as Report;
    expect(report.schema).toBe('refscope.report/1');
    expect(r.code).toBe(verdictExit(report));
  });

  it('--output writes the file and leaves stdout empty', async () => {
    const file = join(work, 'out.json');
    const r = await runCli(['report', session, '--format', 'json', '--output', file]);
    expect(r.stdout.length).toBe(0);
    expect(r.stderr).toBe(`refscope: report written to ${file}\n`);
    expect((JSON.parse(readFileSync(file, 'utf8')) as Report).schema).toBe('refscope.report/1');
    expect(readdirSync(work).filter((n) => n.includes('.tmp'))).toEqual([]);
  });

  it('reads a bare folder of segments (the probe\'s --out copied off a device)', async () => {
    const bare = join(work, 'bare');
    cpSync(join(session, 'segments'), bare, { recursive: true });
    const r = await runCli(['report', bare, '--format', 'json']);
    expect([0, 1]).toContain(r.code);
    expect((JSON.parse(r.stdout.toString('utf8')) as Report).schema).toBe('refscope.report/1');
  });

  it('a last segment cut mid-line is not an error: the lost record is counted', async () => {
    const cut = join(work, 'cut');
    cpSync(session, cut, { recursive: true });
    const segs = readdirSync(join(cut, 'segments')).filter((n) => n.endsWith('.jsonl')).sort();
    const last = join(cut, 'segments', segs[segs.length - 1]!);
    const text = readFileSync(last);
    const lastLineStart = text.lastIndexOf(0x0a, text.length - 2) + 1;
    truncateSync(last, lastLineStart + Math.floor((text.length - lastLineStart) / 2));
    const r = await runCli(['report', cut, '--format', 'json']);
    expect(r.code, r.stderr).not.toBe(2);
    expect([0, 1]).toContain(r.code);
    const report = JSON.parse(r.stdout.toString('utf8')) as Report;
    expect(report.session.lostRecords).toBeGreaterThanOrEqual(1);
  });
});
