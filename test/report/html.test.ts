import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { analyseRecordsDetailed, analyseSessionDetailed } from '../../src/analysis/detail.js';
import { analyseRecords, analyseSession } from '../../src/analysis/index.js';
import { renderHtml } from '../../src/report/html.js';
import { renderJson } from '../../src/report/json.js';
import type { ProbeRecord } from '../../src/session/records.js';
import { leaking, synthSession } from '../analysis/synth.js';
import { HOSTILE, markupProblems } from '../helpers/markup.js';

/** A leaking session whose every device string is hostile. */
function hostileSession(): ProbeRecord[] {
  const evil = HOSTILE.join(' ');
  const records = synthSession({
    seed: 7, marks: 400, markName: `frame${HOSTILE[0]}`,
    types: { [`app.${HOSTILE[1]}`]: leaking(1), [`app.${HOSTILE[5]}`]: leaking(2) },
    holders: { [`app.${HOSTILE[1]}`]: HOSTILE.map((h, i): [string, number] => [`bound method W.on_${i} in list ${h}`, i + 1]) },
  });
  const start = records[0]!;
  if (start.k === 'start') start.argv = ['app.py', ...HOSTILE];
  records.splice(5, 0, { seq: 0, t: 3, k: 'event', event: `probe-error${HOSTILE[2]}`, detail: evil });
  return records;
}

describe('renderHtml', () => {
  it('draws the charts and the suspects table for a leaking session', async () => {
    const d = await analyseRecordsDetailed(synthSession({ seed: 3, marks: 600, types: { 'app.Widget': leaking(1) } }), { id: 'run-1', device: 'n810' });
    const html = renderHtml(d);
    expect(d.report.verdict).toBe('leak');
    expect(markupProblems(html, 'html')).toEqual([]);
    expect(html).toContain('<span class="verdict"');
    expect(html).toMatch(/<tr class="suspect"><td class="num">1<\/td><td class="type"><code class="type">app.Widget<\/code>/);
    // RSS chart plus one chart per top suspect, each with a drawn path
    const svgs = html.match(/<svg /g) ?? [];
    expect(svgs.length).toBe(1 + d.detail.suspects.length);
    for (const m of html.matchAll(/<path class="series" d="([^"]*)"/g)) expect(m[1]).toMatch(/^M[\d.-]+ [\d.-]+(L|h)/);
    expect(html).not.toMatch(/<script|https?:\/\/(?!www\.w3\.org\/2000\/svg)/i);
    expect(html).toContain("Content-Security-Policy\" content=\"default-src 'none'");
  });

  it('gives the same report as analyseRecords', async () => {
    const records = synthSession({ seed: 5, marks: 300, types: { 'app.P': leaking(1) } });
    const a = await analyseRecords(records, { id: 'a' });
    const b = await analyseRecordsDetailed(records, { id: 'a' });
    expect(renderJson(b.report)).toBe(renderJson(a));
  });

  it('analyseSessionDetailed gives the report analyseSession gives, for a folder with gaps and a manifest', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'refscope-detail-'));
    try {
      mkdirSync(join(dir, 'segments'));
      const lines = synthSession({ seed: 6, marks: 300, types: { 'app.P': leaking(1) } }).map((r) => JSON.stringify(r));
      lines.splice(40, 3); // three records lost
      writeFileSync(join(dir, 'segments', 'seg-000001.jsonl'), lines.join('\n') + '\n{"seq":');
      writeFileSync(join(dir, 'manifest.json'), JSON.stringify({ id: 'm-1', device: 'n810', uname: 'Linux n810 2.6.21 armv6l' }));
      const d = await analyseSessionDetailed(dir);
      expect(renderJson(d.report)).toBe(renderJson(await analyseSession(dir)));
      expect(d.report.session.lostRecords).toBeGreaterThanOrEqual(3);
      expect(d.detail.facts.uname).toBe('Linux n810 2.6.21 armv6l');
      expect(d.detail.reader).toMatchObject({ truncated: 1, segments: 1 });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('escapes every device string: type names, holders, argv, marks, events', async () => {
    const d = await analyseRecordsDetailed(hostileSession(), { id: HOSTILE[0]!, device: HOSTILE[1]! });
    expect(d.report.suspects.length).toBeGreaterThan(0);
    const html = renderHtml(d);
    expect(markupProblems(html, 'html')).toEqual([]);
    expect(html).toContain('&lt;script&gt;alert(1)&lt;/script&gt;');
    expect(html).toContain('\\x1b[31mred');
    expect(html).toContain('&amp;amp;');
  });

  it('an app that did not start: the headline says so with its error, and no empty charts', async () => {
    const records: ProbeRecord[] = [
      { seq: 0, t: 0.001, k: 'start', schema: 'refscope.records/1', probe: '0.1.0', wall: 1796188820.5, pid: 7, python: '2.7.18', impl: 'CPython',
        platform: 'linux2', executable: 'python2.7', argv: ['app.py'], target: 'app.py', module: false, interval: 1, censusBudget: 0.02, pageKiB: 4,
        observer: { refcountOffset: 3 } },
      { seq: 1, t: 0.007, k: 'end', how: 'start-failed', exit: 1, error: 'SyntaxError: invalid syntax (app.py, line 12)', probeCpu: 0, censuses: 0, records: 2 },
    ];
    const html = renderHtml(await analyseRecordsDetailed(records, { id: 'bad' }));
    expect(markupProblems(html, 'html')).toEqual([]);
    expect(html).toMatch(/<span class="verdict"[^>]*>APP DID NOT START<\/span>SyntaxError at app.py:12: invalid syntax<\/p>/);
    expect(html).not.toMatch(/<svg|INCONCLUSIVE|run longer|No RSS samples|<h2>Suspects/);
    expect(html).toContain('<tr><th>error</th><td><code>SyntaxError: invalid syntax (app.py, line 12)</code></td></tr>');
    expect(html).not.toContain('<tr><th>RSS</th>');
  });

  it('rounds each rate to what its interval supports, and greys the weaker signals', async () => {
    const d = await analyseRecordsDetailed(synthSession({ seed: 3, marks: 600, types: { 'app.Widget': leaking(1) } }), { id: 'run-1' });
    const lead = d.report.suspects[0]!;
    d.report.suspects[0] = { ...lead, kind: 'native-growth', type: null, unit: 'bytes', perSecond: 85812.234,
      perMark: { mark: 'frame', value: 1770.579 }, interval: { low: 1470.2, high: 2070.9, per: 'mark' } };
    d.report.suspects.push({ ...lead, type: 'app.Follower', confidence: 0.5, dependsOn: 'app.Widget' });
    const html = renderHtml(d);
    expect(html).toContain('+1770 B per frame<br><span class="dim">95 % CI 1470 to 2070</span><br>+86000 B/s');
    expect(html).not.toMatch(/1770\.5|85812/);
    expect(html).toMatch(/<tr class="suspect"><td class="num">1<\/td>/);
    expect(html).toMatch(/<tr class="suspect weak"><td class="num">2<\/td><td class="type"><code class="type">app.Follower<\/code>/);
    expect(html).toContain('Rows in grey are weaker signals');
  });

  it('stays small for a 72-hour soak (1 s samples, a census a minute)', async () => {
    const hours = 72;
    function* soak(): Generator<ProbeRecord> {
      yield { seq: 0, t: 0, k: 'start', schema: 'refscope.records/1', probe: '0.1.0', wall: 1764169000, pid: 1, python: '2.7.18', impl: 'CPython',
        platform: 'linux2', executable: 'python', argv: ['soak.py'], target: 'soak.py', module: false, interval: 1, censusBudget: 0.02, pageKiB: 4,
        observer: { refcountOffset: 3 } };
      let seq = 1;
      for (let t = 1; t <= hours * 3600; t++) {
        const marks = { frame: t * 10 };
        yield { seq: seq++, t, k: 'sample', rss: 20000 + Math.floor(t / 100) + (t % 9973 === 0 ? 5000 : 0), peak: null, gc: [], marks, cpu: [0, 0], probeCpu: t * 0.001, threads: 2, watch: [] };
        if (t % 60 === 0) {
          const types: [string, number, number][] = [['app.Leak', 10 + t / 60, 20 + t / 30]];
          for (let i = 0; i < 150; i++) types.push([`mod${i}.T`, 100 + ((t * i) % 13), 300]);
          yield { seq: seq++, t, k: 'census', marks, dur: 0.02, n: 0, types };
        }
      }
      yield { seq, t: hours * 3600 + 1, k: 'end', how: 'exit', exit: 0, error: null, probeCpu: 200, censuses: hours * 60, records: seq + 1 };
    }
    const t0 = Date.now();
    const d = await analyseRecordsDetailed(soak(), { id: 'soak-72h' });
    const html = renderHtml(d);
    const ms = Date.now() - t0;
    const size = Buffer.byteLength(html);
    process.stdout.write(`72-hour soak: ${d.report.session.samples} samples, HTML ${(size / 1024).toFixed(0)} KiB in ${ms} ms\n`);
    expect(size).toBeLessThan(1024 * 1024);
    expect(d.detail.rss.length).toBeLessThanOrEqual(1200);
    // the one-second spikes survive the downsampling
    expect(Math.max(...d.detail.rss.map((p) => p.v))).toBeGreaterThanOrEqual(25000);
    expect(d.report.suspects[0]?.type).toBe('app.Leak');
  }, 60_000);
});
