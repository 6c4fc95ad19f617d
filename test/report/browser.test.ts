/**
 * The HTML report in a real browser: Debian's chromium driven by playwright-core (which never
 * downloads a browser here: it is given the chromium on PATH). Asserts the charts rendered,
 * the suspects table, no console errors, no request but the file itself, nothing from the
 * session ran; keeps a screenshot in test/.artifacts/.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { analyseRecordsDetailed } from '../../src/analysis/detail.js';
import { renderHtml } from '../../src/report/html.js';
import type { ProbeRecord } from '../../src/session/records.js';
import { leaking, synthSession } from '../analysis/synth.js';
import { ROOT } from '../helpers/cli.js';
import { HOSTILE } from '../helpers/markup.js';
import { skipWhy } from '../helpers/prereq.js';

function findChromium(): string | null {
  for (const name of ['chromium', 'chromium-browser', 'google-chrome']) {
    const r = spawnSync('sh', ['-c', `command -v ${name}`], { encoding: 'utf8' });
    if (r.status === 0 && r.stdout.trim()) return r.stdout.trim();
  }
  return null;
}

const chromiumPath = findChromium();
// no chromium: skipped with the reason (and a failure under REFSCOPE_REQUIRE_RIG=1), never silently
const noChromium = skipWhy('chromium', chromiumPath ? null : 'no chromium, chromium-browser or google-chrome on PATH (apt-get install chromium)');
const ARTIFACTS = join(ROOT, 'test', '.artifacts');
const profile = mkdtempSync(join(tmpdir(), 'refscope-chromium-'));
afterAll(() => rmSync(profile, { recursive: true, force: true }));

function records(): ProbeRecord[] {
  const type = `app.Widget${HOSTILE[0]}`;
  const rs = synthSession({
    seed: 21, marks: 800, types: { [type]: leaking(1), 'app.Cache': leaking(0.5) },
    holders: { [type]: [['bound method Widget.on_click in list EventBus.handlers[\'click\']', 6], [HOSTILE[1]!, 2]] },
    nativeKiB: (m) => m * 0.2,
  });
  const start = rs[0]!;
  if (start.k === 'start') start.argv = ['app.py', ...HOSTILE];
  return rs;
}

describe.skipIf(noChromium !== null)(`HTML report in headless Chromium${noChromium ? ` (skipped: ${noChromium})` : ''}`, () => {
  it('renders the charts and the suspects, runs nothing, fetches nothing', async () => {
    const d = await analyseRecordsDetailed(records(), { id: 'browser-run', device: HOSTILE[2]! });
    mkdirSync(ARTIFACTS, { recursive: true });
    const file = join(ARTIFACTS, 'report.html');
    writeFileSync(file, renderHtml(d));
    const { chromium } = await import('playwright-core');
    const context = await chromium.launchPersistentContext(profile, {
      executablePath: chromiumPath!,
      headless: true,
      args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
      viewport: { width: 960, height: 900 },
    });
    try {
      const page = await context.newPage();
      const requests: string[] = [];
      const errors: string[] = [];
      const dialogs: string[] = [];
      page.on('request', (r) => requests.push(r.url()));
      page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });
      page.on('pageerror', (e) => errors.push(e.message));
      page.on('dialog', (dlg) => { dialogs.push(dlg.message()); void dlg.dismiss(); });
      const url = pathToFileURL(file).href;
      await page.goto(url, { waitUntil: 'load' });

      await expect(page.locator('.verdict').textContent()).resolves.toBe('LEAK');
      const charts = page.locator('svg.chart');
      expect(await charts.count()).toBe(1 + d.detail.suspects.length);
      for (let i = 0; i < await charts.count(); i++) {
        const box = await charts.nth(i).boundingBox();
        expect(box!.width).toBeGreaterThan(300);
        expect(box!.height).toBeGreaterThan(100);
      }
      const paths = page.locator('svg.chart path.series');
      expect(await paths.count()).toBeGreaterThanOrEqual(3);
      for (const dAttr of await paths.evaluateAll((ps) => ps.map((p) => p.getAttribute('d') ?? ''))) expect(dAttr).toMatch(/^M.+[Lh]/);
      // drawn, not just present: the first RSS path has a real length on screen
      const len = await paths.first().evaluate((p) => (p as SVGPathElement).getTotalLength());
      expect(len).toBeGreaterThan(100);

      const rows = page.locator('table.suspects tbody tr');
      expect(await rows.count()).toBe(d.report.suspects.length);
      const firstRow = await rows.first().innerText();
      expect(firstRow).toContain('app.Widget<script>alert(1)</script>');
      expect(firstRow).toContain('object-growth');
      expect(await page.locator('ul.referrers li').first().innerText()).toContain('EventBus.handlers');
      expect(await page.locator('script, x-evil, x-evil2, x-cdata').count()).toBe(0);
      expect(await page.locator('table.facts').innerText()).toContain('lost records');

      await page.screenshot({ path: join(ARTIFACTS, 'report.png'), fullPage: true });
      expect(errors).toEqual([]);
      expect(dialogs).toEqual([]);
      expect(requests.filter((r) => !r.startsWith('file:'))).toEqual([]);
      expect(requests).toEqual([url]);
    } finally {
      await context.close();
    }
  }, 90_000);

  it('never breaks a type name in a narrow window (issue 14: `__main__.Sched uler`)', async () => {
    const rs = synthSession({
      seed: 22, marks: 600, types: { '__main__.Scheduler': leaking(1), '__main__.PopupWindowController': leaking(0.5) },
      holders: { '__main__.Scheduler': [['closure cell of function on_tick in dict __main__.Scheduler.pending held by a tuple of (deadline, callback) and so on', 4]] },
    });
    const d = await analyseRecordsDetailed(rs, { id: 'narrow' });
    mkdirSync(ARTIFACTS, { recursive: true });
    const file = join(ARTIFACTS, 'report-narrow.html');
    writeFileSync(file, renderHtml(d));
    const { chromium } = await import('playwright-core');
    const context = await chromium.launchPersistentContext(profile, {
      executablePath: chromiumPath!, headless: true, viewport: { width: 360, height: 800 },
      args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
    try {
      const page = await context.newPage();
      await page.goto(pathToFileURL(file).href, { waitUntil: 'load' });
      const names = page.locator('table.suspects code.type');
      expect(await names.count()).toBeGreaterThanOrEqual(2);
      // one line box per name: a name broken across lines has a client rect per line
      const lines = await names.evaluateAll((els) => els.map((el) => {
        const range = document.createRange();
        range.selectNodeContents(el);
        return [el.textContent ?? '', range.getClientRects().length] as [string, number];
      }));
      for (const [name, count] of lines) expect(count, name).toBe(1);
      await page.screenshot({ path: join(ARTIFACTS, 'report-narrow.png'), fullPage: true });
    } finally {
      await context.close();
    }
  }, 90_000);
});
