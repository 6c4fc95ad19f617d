/**
 * README.md quotes the report `npm run demo` prints. This test runs the demo's own CLI
 * invocation (package.json "demo": the arguments after `node dist/cli/bin.js`, with `--out`
 * pointed at a temporary folder) through the built CLI, and checks README's quoted block
 * against what it really prints, so the two cannot drift (issue 14 item 5).
 *
 * What is compared: the report, from its headline (`LEAK  …`) to the end of stdout (the app's
 * own lines before it are not part of the report). Both sides are normalised by one rule,
 * which leaves everything a reader acts on exact (the verdict, the type, the per-mark rates
 * and their intervals, the confidence, the bytes per mark, who holds it, the weaker signals,
 * the wording) and replaces what differs from one run of the same demo to the next:
 *
 * 1. the session id (`session <id>`), the Python version (`python <version>`), the start time;
 * 2. every number on the facts lines that measure the clock or the machine: `duration`,
 *    `probe`, `rss`, the two chart lines (and their sparklines), and the rate on `marks`;
 * 3. every per-second figure (`+9.41/s`, `+28.2 refs/s`): it depends on the machine's speed;
 * 4. counts that depend on the moment of the last census or referrer walk: `N <type> objects
 *    accumulate`, `N of M references`, `count stays at N`, the count column of `held by`,
 *    and a `held by` line `no referrer (…)`: the walk misses the holder of one sampled object
 *    in some runs of the demo and not in others;
 * 5. then whitespace: the words are compared in order, not the line breaks (a number one digit
 *    longer may move a wrap).
 *
 * The weaker signals (the one-line list at the end) are checked apart, as a list can be: a
 * busy machine takes fewer censuses, and a signal near the noise floor (say `str` refs at
 * confidence 0.38) can join the list in one run of the demo and not the next, and push a
 * sixth line out of the five shown. So every weaker signal README quotes must be in the real
 * run's full list (report.json rendered with no limit), word for word once normalised, and
 * every one the real run finds at confidence 0.5 or above must be among README's. Only
 * signals below 0.5 that follow nothing may come and go.
 *
 * To rewrite README's block from a real run: REFSCOPE_UPDATE_README=1 npx vitest run
 * test/cli/readme-demo.test.ts (then read the diff: it is what users will see).
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { Report } from '../../src/analysis/report.js';
import { renderText, WEAK_SHOWN } from '../../src/report/text.js';
import { ROOT, runCli } from '../helpers/cli.js';

const README = join(ROOT, 'README.md');
/** the comment that precedes README's quoted block (the block is the next ``` fence) */
const MARKER = '<!-- demo-output:';
const HEADLINE = /^(LEAK|NO LEAK|INCONCLUSIVE|APP DID NOT START) {2}/;

/** The demo's CLI arguments, as package.json's "demo" script gives them to the built CLI. */
function demoArgs(script: string): string[] {
  const m = /node dist\/cli\/bin\.js ([^|&;'"]+?)\s*(\|\||&&|;|$)/.exec(script);
  if (!m) throw new Error(`package.json "demo" does not run node dist/cli/bin.js: ${script}`);
  return m[1]!.trim().split(/\s+/);
}

/** The report in a run's stdout: from its headline line to the end. */
function reportOf(stdout: string): string {
  const lines = stdout.split('\n');
  const at = lines.findIndex((l) => HEADLINE.test(l));
  if (at < 0) throw new Error(`no report headline in the demo's stdout:\n${stdout}`);
  return lines.slice(at).join('\n').trimEnd();
}

/** README's quoted block: the first ``` fence after the marker comment, and where it sits. */
function quotedBlock(readme: string): { text: string; start: number; end: number } {
  const marker = readme.indexOf(MARKER);
  if (marker < 0) throw new Error(`README.md has no ${MARKER} … --> comment before the demo's output`);
  const open = readme.indexOf('```\n', marker);
  const start = open + 4;
  const end = readme.indexOf('\n```', start);
  if (open < 0 || end < 0) throw new Error('README.md: no ``` block after the demo-output comment');
  return { text: readme.slice(start, end), start, end };
}

/** The facts labels whose numbers measure the clock or the machine (rule 2). */
const CLOCK = new Set(['duration', 'probe', 'rss', 'rss chart', 'top chart']);

/** The rule in the file's header, as words in order. */
function normalise(report: string): string[] {
  let label = '';
  const lines = report.split('\n').map((line) => {
    const head = /^([a-z]+(?: chart)?) {2,}\S/.exec(line);
    if (head) label = head[1]!;
    else if (!/^ {11}\S/.test(line)) label = '';   // a facts row goes on at an 11-space indent
    let l = line;
    if (head && label === 'session') l = l.replace(/^session +\S+/, 'session <id>');
    if (label === 'session') l = l.replace(/python \S+/, 'python <version>');
    if (head && label === 'started') l = 'started <time>';
    if (head && (label === 'rss chart' || label === 'top chart')) l = l.replace(/^([a-z]+ chart +)\S+/, '$1<chart>');
    if (CLOCK.has(label)) l = l.replace(/\d+(\.\d+)?/g, '#');
    if (label === 'marks') l = l.replace(/, \d+(\.\d+)?\/s/, ', #/s');
    return l
      .replace(/[+-]?\d+(\.\d+)?( refs| B| KiB| objects)?\/s\b/g, '#$2/s')
      .replace(/\b\d+ (\S+ objects accumulate)/g, '# $1')
      .replace(/\b\d+ of \d+ references/g, '# of # references')
      .replace(/count stays at \d+/g, 'count stays at #')
      .replace(/^( {4,})\d+( {2}\S)/, '$1#$2');
  });
  return lines.filter((l) => !/^ {4,}# {2}no referrer\b/.test(l)).join('\n').split(/\s+/).filter(Boolean);
}

const WEAK_HEAD = /^Weaker signals\b/;
/** a weaker signal's line, its rank dropped: `2. method  +3.00 objects per slide (0.50, follows #1)` */
const WEAK_LINE = /^ ?\d+\. (.+\((\d\.\d\d)(, follows [^)]+)?\))$/;

/** A report split at its weaker signals: the part before, and each weaker signal's line without its rank. */
function splitWeak(report: string): { main: string; weak: { line: string; confidence: number; follows: boolean }[] } {
  const lines = report.split('\n');
  const at = lines.findIndex((l) => WEAK_HEAD.test(l));
  if (at < 0) return { main: report, weak: [] };
  const weak = lines.slice(at + 1).flatMap((l) => {
    const m = WEAK_LINE.exec(l);
    return m ? [{ line: normalise(m[1]!).join(' '), confidence: Number(m[2]), follows: m[3] !== undefined }] : [];
  });
  return { main: lines.slice(0, at + 1).join('\n'), weak };
}

describe('README quotes the demo as it really runs', () => {
  const work = mkdtempSync(join(tmpdir(), 'refscope-readme-demo-'));
  afterAll(() => rmSync(work, { recursive: true, force: true }));

  it('the normalising rule keeps what a reader acts on and drops what a rerun changes', () => {
    const a = [
      'LEAK  object-growth of app.W: +1.00 objects per slide (confidence 1.00)', '',
      'session    019ac4e2 on local, python 3.11.7', 'started    2026-12-02T05:18:30.859Z',
      'duration   16.2 s, 16 samples, 44 censuses', "marks      150 'slide', 9.3/s",
      'rss chart  ▁▂█  14532-14636 KiB', ' 1. app.W  object-growth  confidence 1.00',
      '    +1.00 per slide (95 % CI 1.00 to 1.00), +9.41/s, ~304 B per slide',
      '    149 app.W objects accumulate; 9 of 10 references are bound methods', '        3  bound method W.f in list B.h',
      '        1  no referrer (reference leaked by C code)',
    ].join('\n');
    const rerun = a.replace('019ac4e2', 'ffff0000').replace('3.11.7', '3.12.1').replace('05:18:30.859', '06:00:00.000')
      .replace('16.2 s, 16 samples, 44', '17.9 s, 17 samples, 39').replace('9.3/s', '10.1/s').replace('▁▂█  14532-14636', '▁█▁  1-2')
      .replace('+9.41/s', '+10.12/s').replace('149 app.W', '147 app.W').replace('9 of 10', '8 of 9').replace('        3  bound', '        2  bound')
      .replace('\n        1  no referrer (reference leaked by C code)', '');
    expect(normalise(rerun)).toEqual(normalise(a));
    // what a reader acts on is compared exactly
    for (const drift of [['~304 B', '~891 B'], ['+1.00 per slide', '+2.00 per slide'], ['confidence 1.00', 'confidence 0.90'],
      ['W.f in list B.h', 'W.f in list B.k'], ["150 'slide'", "149 'slide'"], ['app.W', 'app.X']]) {
      expect(normalise(a.replace(drift[0]!, drift[1]!)), drift.join(' -> ')).not.toEqual(normalise(a));
    }
  });

  it('README\'s quoted block is what `npm run demo` prints, normalised', async () => {
    const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> };
    const args = demoArgs(pkg.scripts.demo!);
    const out = args.indexOf('--out');
    expect(out, `the demo names its session folder: ${args.join(' ')}`).toBeGreaterThan(0);
    args[out + 1] = join(work, 'demo');
    const r = await runCli(args, { cwd: ROOT, timeoutMs: 240_000 });
    // 1 = leak found: the outcome the demo script expects
    expect(r.code, r.stderr).toBe(1);
    const real = reportOf(r.stdout.toString('utf8'));
    const readme = readFileSync(README, 'utf8');
    const block = quotedBlock(readme);
    if (process.env.REFSCOPE_UPDATE_README === '1') {
      writeFileSync(README, readme.slice(0, block.start) + real + readme.slice(block.end));
      process.stdout.write(`README.md: the demo's block rewritten from this run (${real.split('\n').length} lines)\n`);
      return;
    }
    const hint = 'README.md quotes the demo\'s report as it was; rewrite it with ' +
      `REFSCOPE_UPDATE_README=1 npx vitest run test/cli/readme-demo.test.ts. The real report:\n${real}\n`;
    const quoted = splitWeak(block.text);
    expect(normalise(quoted.main), hint).toEqual(normalise(splitWeak(real).main));
    // the weaker signals: README's are in the real run's full list; the real run's at 0.5 and above are in README's
    const report = JSON.parse(readFileSync(join(work, 'demo', 'report.json'), 'utf8')) as Report;
    const full = splitWeak(renderText(report, { color: false, width: 200, weakShown: Infinity }).trimEnd()).weak;
    expect(full.length, 'the demo\'s report has weaker signals, as README shows').toBeGreaterThan(0);
    const fullLines = new Set(full.map((w) => w.line));
    for (const w of quoted.weak) expect(fullLines.has(w.line), `${hint}README's weaker signal "${w.line}" is not in the real run's`).toBe(true);
    const quotedLines = new Set(quoted.weak.map((w) => w.line));
    const strong = full.filter((x) => x.confidence >= 0.5 || x.follows);
    // (README lists at most WEAK_SHOWN: a longer list of strong ones can only be checked one way)
    if (strong.length <= WEAK_SHOWN) for (const w of strong) {
      expect(quotedLines.has(w.line), `${hint}the real run's weaker signal "${w.line}" is not in README's`).toBe(true);
    }
  }, 300_000);
});
