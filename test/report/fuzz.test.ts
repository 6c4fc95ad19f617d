/**
 * Hostile sessions, generated (seeded, reproducible): hundreds of session folders holding
 * tens of thousands of records with markup, ANSI escapes, control characters, invalid
 * UTF-8, lone surrogates, wrong types, deep nesting, duplicated/out-of-order/missing seq,
 * truncated lines, symlinks out of the folder (to a planted secret), FIFOs, and one 50 MB
 * single line. Every folder goes through every report format and through diff: no crash,
 * no unescaped markup, no byte of the secret in any output. A few go through the built CLI.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { analyseSessionDetailed, type DetailedReport } from '../../src/analysis/detail.js';
import { diffSessions } from '../../src/analysis/diff.js';
import { RefscopeError } from '../../src/errors.js';
import { renderDiffJson, renderDiffText } from '../../src/report/diff.js';
import { renderHtml } from '../../src/report/html.js';
import { renderJson } from '../../src/report/json.js';
import { renderJunit } from '../../src/report/junit.js';
import { chartsOf, renderText } from '../../src/report/text.js';
import { int, prng, type Rng } from '../analysis/synth.js';
import { ROOT, runCli } from '../helpers/cli.js';
import { HOSTILE, markupProblems } from '../helpers/markup.js';

const SEED = Number(process.env.REFSCOPE_FUZZ_SEED ?? 20261126);
const FOLDERS = Number(process.env.REFSCOPE_FUZZ_FOLDERS ?? 260);
const SECRET = 'SECRET-c0ffee-4b1d-never-read';
const root = mkdtempSync(join(tmpdir(), 'refscope-fuzz-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

const pick = <T>(rng: Rng, xs: readonly T[]): T => xs[Math.floor(rng() * xs.length)]!;

/** A string as hostile as it gets, sometimes a plausible one. */
function str(rng: Rng): string {
  switch (int(rng, 0, 7)) {
    case 0: return pick(rng, HOSTILE);
    case 1: return `app.${pick(rng, ['W', 'Widget', 'Cache', '__proto__', 'constructor', 'toString'])}`;
    case 2: {
      let s = '';
      for (let i = int(rng, 1, 40); i > 0; i--) s += String.fromCharCode(pick(rng, [int(rng, 0, 0x1f), int(rng, 0x20, 0x7e), int(rng, 0x7f, 0x9f), int(rng, 0xd800, 0xdfff), 0x202e, 0xfffe, int(rng, 0x100, 0xffff)]));
      return s;
    }
    case 3: return pick(rng, HOSTILE) + pick(rng, HOSTILE);
    case 4: return 'x'.repeat(int(rng, 500, 5000)) + pick(rng, HOSTILE);
    case 5: return pick(rng, ['list', 'dict', 'tuple', 'str', 'frame', 'type']);
    default: return `mod${int(rng, 0, 30)}.T${int(rng, 0, 5)}`;
  }
}

function numOrJunk(rng: Rng): unknown {
  return pick(rng, [int(rng, 0, 5000), int(rng, 0, 5000), rng() * 1e4, -1, 0, 1e308, -1e308, 2 ** 53 + 1, null, 'NaN', '12', [], {}, true]);
}

/** One record: usually well-formed with hostile strings, sometimes wrongly typed. */
function record(rng: Rng, seq: unknown, t: number, kind: string): Record<string, unknown> {
  const wrong = rng() < 0.08;
  const n = (): unknown => (wrong ? numOrJunk(rng) : int(rng, 0, 3000));
  const marks: Record<string, unknown> = { frame: Math.floor(t * 10) };
  if (rng() < 0.2) marks[str(rng)] = n();
  switch (kind) {
    case 'start':
      return { seq, k: 'start', t: 0, schema: 'refscope.records/1', probe: str(rng), wall: pick(rng, [1764169000.5, -5, 1e300, 'x']),
        python: str(rng), impl: str(rng), platform: str(rng), executable: str(rng), argv: [str(rng), str(rng), n()], target: str(rng),
        interval: pick(rng, [0.1, 1, 0, -1, 1e9]), observer: wrong ? 'x' : { refcountOffset: 3 } };
    case 'sample':
      return { seq, k: 'sample', t, rss: wrong ? numOrJunk(rng) : 10000 + Math.floor(t * int(rng, 0, 50)), peak: null, gc: [1, 2, 3], marks,
        cpu: [0, 0], probeCpu: t / 100, threads: 2, watch: [[str(rng), n(), str(rng)]] };
    case 'census': {
      const types: unknown[] = [];
      for (let i = int(rng, 1, 12); i > 0; i--) types.push([str(rng), n(), n()]);
      types.push(['app.Leak', Math.floor(t * 10), Math.floor(t * 20)]);
      return { seq, k: 'census', t, marks, dur: 0.01, n: n(), types };
    }
    case 'referrers':
      return { seq, k: 'referrers', t, type: pick(rng, ['app.Leak', str(rng)]), sampled: n(), holders: [[str(rng), n()], [str(rng), n()]], unexplained: n(), dur: 0.01 };
    case 'event':
      return { seq, k: 'event', t, event: str(rng), detail: str(rng) };
    case 'end':
      return { seq, k: 'end', t, how: pick(rng, ['exit', 'exception', 'interrupt', 'start-failed', str(rng)]), exit: n(), error: str(rng), probeCpu: 1, censuses: n(), records: n() };
    default:
      return { seq, k: kind, t, [str(rng)]: str(rng) };
  }
}

/** A line as written, sometimes damaged: raw invalid UTF-8, raw controls, CRLF, cut short, nested deep. */
function line(rng: Rng, rec: Record<string, unknown>): Buffer {
  let text = JSON.stringify(rec);
  const r = rng();
  if (r < 0.03) return Buffer.concat([Buffer.from(text.slice(0, text.length >> 1)), Buffer.from([0xff, 0xfe, 0xc3, 0x28]), Buffer.from(text.slice(text.length >> 1) + '\n')]);
  if (r < 0.05) text = text.replace('"t":', '"t":\u0000\u001b');
  if (r < 0.06) return Buffer.from('['.repeat(int(rng, 40, 20000)) + ']'.repeat(int(rng, 0, 20000)) + '\n');
  if (r < 0.07) return Buffer.from(`{"seq":1,"k":"event","t":1,"event":${'{"a":'.repeat(5000)}1${'}'.repeat(5000)}}\n`);
  if (r < 0.08) return Buffer.from('not json <script>alert(1)</script>\n');
  if (r < 0.10) return Buffer.from(text + '\r\n');
  // probe-style ASCII with \u escapes for some: lone surrogates survive as escapes
  if (r < 0.30) text = text.replace(/[\u007f-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
  return Buffer.from(text + '\n', 'utf8');
}

interface Planted {
  records: number;
  symlinks: number;
}

function secretRecords(): string {
  return [
    { seq: 0, k: 'start', t: 0, python: SECRET, argv: [SECRET] },
    { seq: 1, k: 'census', t: 1, marks: {}, types: [[SECRET, 1, 1]] },
    { seq: 2, k: 'event', t: 2, event: SECRET, detail: SECRET },
  ].map((r) => JSON.stringify(r)).join('\n') + '\n';
}

/** Write one hostile session folder; returns what was planted. */
function makeFolder(rng: Rng, dir: string, outside: string): Planted {
  if (rng() < 0.03) {
    // nothing but a way out: refused as not a session, the link not followed
    mkdirSync(dir, { recursive: true });
    symlinkSync(outside, join(dir, 'segments'));
    symlinkSync(join(outside, 'seg-000001.jsonl'), join(dir, 'seg-000001.jsonl'));
    return { records: 0, symlinks: 2 };
  }
  const bare = rng() < 0.3;
  const segDir = bare ? dir : join(dir, 'segments');
  mkdirSync(segDir, { recursive: true });
  let symlinks = 0;
  if (!bare) {
    const m = rng();
    if (m < 0.15) { symlinkSync(join(outside, 'manifest.json'), join(dir, 'manifest.json')); symlinks++; }
    else if (m < 0.25) writeFileSync(join(dir, 'manifest.json'), '['.repeat(100_000));
    else if (m < 0.35) writeFileSync(join(dir, 'manifest.json'), Buffer.from([0x7b, 0xff, 0x22]));
    else writeFileSync(join(dir, 'manifest.json'), JSON.stringify({ id: str(rng), device: str(rng), uname: str(rng), createdAt: str(rng), exitCode: numOrJunk(rng), command: [str(rng)] }));
  }
  let seq = 0;
  let t = 0;
  let records = 0;
  const segments = int(rng, 1, 4);
  for (let s = 1; s <= segments; s++) {
    const parts: Buffer[] = [];
    for (let i = int(rng, 5, 45); i > 0; i--) {
      const kind = seq === 0 ? 'start' : pick(rng, ['sample', 'sample', 'sample', 'census', 'census', 'referrers', 'event', 'end', 'bogus']);
      const rs = rng();
      // duplicated, out-of-order, skipped, negative or junk sequence numbers
      const thisSeq = rs < 0.05 ? Math.max(0, seq - int(rng, 1, 5)) : rs < 0.08 ? seq + int(rng, 1, 9) : rs < 0.09 ? pick(rng, [-1, 1.5, '7', null, 2 ** 60]) : seq;
      seq = typeof thisSeq === 'number' && Number.isSafeInteger(thisSeq) && thisSeq >= seq ? thisSeq + 1 : seq + 1;
      t += pick(rng, [0.1, 0.1, 0.5, 1, -3, 1e6]);
      parts.push(line(rng, record(rng, thisSeq, t, kind)));
      records++;
    }
    let buf = Buffer.concat(parts);
    if (s === segments && rng() < 0.3) buf = buf.subarray(0, Math.max(0, buf.length - int(rng, 1, 60))); // truncated last line
    writeFileSync(join(segDir, `seg-${String(s).padStart(6, '0')}.jsonl`), buf);
  }
  const l = rng();
  if (l < 0.3) { symlinkSync(join(outside, 'seg-000001.jsonl'), join(segDir, `seg-${String(segments + 1).padStart(6, '0')}.jsonl`)); symlinks++; }
  else if (l < 0.4) { symlinkSync(outside, join(dir, bare ? 'segments' : 'segments2')); symlinks++; }
  else if (l < 0.45) { symlinkSync('/etc/passwd', join(segDir, 'seg-000000.jsonl')); symlinks++; }
  else if (l < 0.5) { symlinkSync(join(outside, 'seg-000001.jsonl'), join(segDir, 'seg-000009.jsonl')); symlinkSync(join(segDir, 'seg-000009.jsonl'), join(segDir, 'seg-000010.jsonl')); symlinks += 2; }
  return { records, symlinks };
}

interface Outcome {
  outputs: string[];
  refused: boolean;
  detailed: DetailedReport | null;
}

async function allFormats(dir: string): Promise<Outcome> {
  let d: DetailedReport;
  try {
    d = await analyseSessionDetailed(dir);
  } catch (e) {
    if (e instanceof RefscopeError && e.code === 'ERR_SESSION') return { outputs: [e.toLine()], refused: true, detailed: null };
    throw e;
  }
  const outputs = [
    renderText(d.report, { color: false, charts: chartsOf(d), unicode: true }),
    renderText(d.report, { color: true, width: 60, charts: chartsOf(d), unicode: false }),
    renderJson(d.report),
    renderHtml(d),
    renderJunit(d.report),
  ];
  return { outputs, refused: false, detailed: d };
}

describe('hostile session folders, fuzzed', () => {
  it(`${FOLDERS} folders (seed ${SEED}): every format, no crash, no markup, nothing from outside`, async () => {
    const outside = join(root, 'outside');
    mkdirSync(join(outside, 'segments'), { recursive: true });
    writeFileSync(join(outside, 'seg-000001.jsonl'), secretRecords());
    writeFileSync(join(outside, 'segments', 'seg-000001.jsonl'), secretRecords());
    writeFileSync(join(outside, 'manifest.json'), JSON.stringify({ id: SECRET, device: SECRET, uname: SECRET }));
    const rng = prng(SEED);
    const junitDir = join(root, 'junit');
    mkdirSync(junitDir);
    const counts = { folders: 0, records: 0, symlinks: 0, refused: 0, crashes: 0, markup: 0, secretLeaks: 0, rawEscapes: 0, badJson: 0, lost: 0, diffs: 0 };
    const failures: string[] = [];
    let previous: DetailedReport | null = null;
    for (let i = 0; i < FOLDERS; i++) {
      const dir = join(root, `s${i}`);
      const planted = makeFolder(rng, dir, outside);
      counts.folders++;
      counts.records += planted.records;
      counts.symlinks += planted.symlinks;
      let o: Outcome;
      try {
        o = await allFormats(dir);
      } catch (e) {
        counts.crashes++;
        failures.push(`s${i}: ${(e as Error).stack ?? String(e)}`);
        continue;
      }
      if (o.refused) counts.refused++;
      const [, , json, html, junit] = o.outputs;
      if (html !== undefined && markupProblems(html, 'html').length) { counts.markup++; failures.push(`s${i} html: ${markupProblems(html, 'html').join(', ')}`); }
      if (junit !== undefined) {
        if (markupProblems(junit, 'xml').length) { counts.markup++; failures.push(`s${i} junit: ${markupProblems(junit, 'xml').join(', ')}`); }
        writeFileSync(join(junitDir, `s${i}.xml`), junit);
      }
      if (json !== undefined) {
        try { JSON.parse(json); } catch { counts.badJson++; }
      }
      // plain text has no escape sequence at all; the coloured one only SGR codes
      if (o.outputs[0] && /[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/.test(o.outputs[0])) counts.rawEscapes++;
      if (o.outputs[1] && /\u001b(?!\[\d+m)|[\u0000-\u0008\u000b-\u001a\u001c-\u001f\u007f-\u009f]/.test(o.outputs[1])) counts.rawEscapes++;
      if (o.outputs.some((out) => out.includes(SECRET))) counts.secretLeaks++;
      if (o.detailed) {
        counts.lost += o.detailed.report.session.lostRecords;
        if (previous) {
          try {
            const d = diffSessions(previous, o.detailed);
            const text = renderDiffText(d);
            JSON.parse(renderDiffJson(d));
            if (text.includes(SECRET) || /\u001b/.test(text)) counts.secretLeaks++;
            counts.diffs++;
          } catch (e) {
            counts.crashes++;
            failures.push(`diff s${i}: ${(e as Error).stack ?? String(e)}`);
          }
        }
        previous = o.detailed;
      }
      rmSync(dir, { recursive: true, force: true });
    }
    // every JUnit output is valid against the schema (one xmllint for all of them)
    let junitInvalid = 0;
    if (spawnSync('xmllint', ['--version']).status === 0) {
      const files = Array.from({ length: FOLDERS }, (_, i) => join(junitDir, `s${i}.xml`)).filter((f) => spawnSync('test', ['-f', f]).status === 0);
      const v = spawnSync('sh', ['-c', `cd ${junitDir} && xmllint --noout --schema ${join(ROOT, 'test', 'report', 'junit.xsd')} *.xml 2>&1 | grep -c ' validates$' || true`], { encoding: 'utf8' });
      junitInvalid = files.length - Number(v.stdout.trim() || 0);
      expect(files.length).toBeGreaterThan(0);
    }
    process.stdout.write(`fuzz (seed ${SEED}): ${counts.folders} folders, ${counts.records} records, ${counts.symlinks} symlinks out, ` +
      `${counts.refused} refused as not a session, ${counts.lost} lost records counted, ${counts.diffs} diffs; ` +
      `crashes ${counts.crashes}, unescaped markup ${counts.markup}, secret in output ${counts.secretLeaks}, raw escapes ${counts.rawEscapes}, ` +
      `bad JSON ${counts.badJson}, invalid JUnit ${junitInvalid}\n`);
    expect(failures.slice(0, 5)).toEqual([]);
    expect(counts.records).toBeGreaterThanOrEqual(10_000);
    expect({ crashes: counts.crashes, markup: counts.markup, secret: counts.secretLeaks, raw: counts.rawEscapes, json: counts.badJson, junit: junitInvalid })
      .toEqual({ crashes: 0, markup: 0, secret: 0, raw: 0, json: 0, junit: 0 });
    expect(counts.lost).toBeGreaterThan(0);
  }, 360_000); // 260 folders through every format: minutes on a busy 2-core machine

  it('a 50 MB single line, a FIFO named like a segment, and a segments/ symlink: skipped and counted, never read', async () => {
    const dir = join(root, 'big');
    mkdirSync(join(dir, 'segments'), { recursive: true });
    const ok = (seq: number, t: number): string => JSON.stringify({ seq, k: 'sample', t, rss: 1000 + seq, marks: {}, gc: [], cpu: [0, 0], probeCpu: 0, threads: 1, watch: [] }) + '\n';
    const head = JSON.stringify({ seq: 0, k: 'start', t: 0, argv: ['<b>x</b>'] }) + '\n' + ok(1, 1);
    const big = Buffer.alloc(50 * 1024 * 1024, 0x41);
    big.write('{"seq":2,"k":"event","t":2,"event":"', 0);
    writeFileSync(join(dir, 'segments', 'seg-000001.jsonl'), Buffer.concat([Buffer.from(head), big, Buffer.from('\n' + ok(3, 3))]));
    const fifo = spawnSync('mkfifo', [join(dir, 'segments', 'seg-000002.jsonl')]).status === 0;
    symlinkSync('/dev/zero', join(dir, 'segments', 'seg-000003.jsonl'));
    const before = process.memoryUsage().rss;
    const t0 = Date.now();
    const o = await allFormats(dir);
    const grew = (process.memoryUsage().rss - before) / 1024 / 1024;
    process.stdout.write(`50 MB line: ${Date.now() - t0} ms, RSS grew ${grew.toFixed(0)} MiB, fifo ${fifo ? 'planted' : 'not available'}\n`);
    expect(o.refused).toBe(false);
    expect(o.detailed!.report.session.lostRecords).toBe(1);
    expect(o.detailed!.detail.reader).toMatchObject({ unparseable: 1, segments: 1 });
    expect(o.detailed!.report.session.samples).toBe(2);
    expect(grew).toBeLessThan(200);
    for (const out of o.outputs) expect(out).not.toContain('AAAAAAAAAAAAAAAA');
  }, 60_000);

  it('through the built CLI: every format exits 0, 1 or 2 with at most one line on stderr', async () => {
    const outside = join(root, 'outside-cli');
    mkdirSync(outside);
    writeFileSync(join(outside, 'seg-000001.jsonl'), secretRecords());
    writeFileSync(join(outside, 'manifest.json'), JSON.stringify({ id: SECRET }));
    const rng = prng(SEED + 1);
    const dirs = Array.from({ length: 4 }, (_, i) => {
      const dir = join(root, `cli${i}`);
      makeFolder(rng, dir, outside);
      return dir;
    });
    const argvs = dirs.flatMap((dir) => ['text', 'json', 'html', 'junit'].map((f) => ['report', dir, '--format', f]));
    argvs.push(['diff', dirs[0]!, dirs[1]!], ['diff', dirs[2]!, dirs[3]!, '--json']);
    const results = [];
    for (let i = 0; i < argvs.length; i += 3) results.push(...await Promise.all(argvs.slice(i, i + 3).map((a) => runCli(a, { cwd: ROOT }))));
    for (const r of results) {
      expect([0, 1, 2, 4], r.stderr).toContain(r.code);
      expect(r.stderr.split('\n').filter(Boolean).length, r.stderr).toBeLessThanOrEqual(1);
      expect(r.stderr).not.toMatch(/unexpected error/);
      expect(r.stdout.toString('utf8')).not.toContain(SECRET);
    }
  }, 90_000);
});
