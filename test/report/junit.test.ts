import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { analyseRecords } from '../../src/analysis/index.js';
import { renderJunit } from '../../src/report/junit.js';
import type { Report } from '../../src/analysis/report.js';
import { leaking, synthSession } from '../analysis/synth.js';
import { ROOT } from '../helpers/cli.js';
import { HOSTILE, markupProblems } from '../helpers/markup.js';
import { skipWhy } from '../helpers/prereq.js';

const XSD = join(ROOT, 'test', 'report', 'junit.xsd');
// no xmllint: skipped with the reason (and a failure under REFSCOPE_REQUIRE_RIG=1), never silently
const noXmllint = skipWhy('xmllint', spawnSync('xmllint', ['--version']).status === 0 ? null : 'xmllint not on PATH (apt-get install libxml2-utils)');
const work = mkdtempSync(join(tmpdir(), 'refscope-junit-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** Validate with xmllint against the schema; returns xmllint's complaint, '' when valid. */
function validate(xml: string, name = 'junit.xml'): string {
  const file = join(work, name);
  writeFileSync(file, xml);
  const r = spawnSync('xmllint', ['--noout', '--schema', XSD, file], { encoding: 'utf8' });
  return r.status === 0 ? '' : r.stderr;
}

const leak = (): Promise<Report> => analyseRecords(synthSession({ seed: 11, marks: 500, types: { 'app.Widget': leaking(1) } }), { id: 'leak-run', device: 'n810' });
const clean = (): Promise<Report> => analyseRecords(synthSession({ seed: 12, marks: 500 }), { id: 'clean-run', device: 'n900' });
const short = (): Promise<Report> => analyseRecords(synthSession({ seed: 13, marks: 5 }), { id: 'short', device: 'x' });

describe.skipIf(noXmllint !== null)(`renderJunit${noXmllint ? ` (skipped: ${noXmllint})` : ''}`, () => {
  it('a leak fails its kind\'s testcase with the evidence sentence; valid against the JUnit schema', async () => {
    const r = await leak();
    expect(r.verdict).toBe('leak');
    const xml = renderJunit(r);
    expect(validate(xml)).toBe('');
    expect(xml).toMatch(/<testsuite name="refscope leak-run on n810" tests="3" failures="1" errors="0" skipped="0"/);
    expect(xml).toContain(`<failure message="${r.suspects[0]!.evidence}" type="object-growth">`);
    for (const p of ['device" value="n810', 'python" value="2.7.18', 'duration" value="']) expect(xml).toContain(`<property name="${p}`);
    expect(xml).toMatch(/timestamp="\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d"/);
  });

  it('a clean run passes all three, an inconclusive one skips them, several sessions make several testsuites', async () => {
    const xml = renderJunit([await clean(), await short(), await leak()]);
    expect(validate(xml, 'farm.xml')).toBe('');
    expect(xml.match(/<testsuite /g)).toHaveLength(3);
    expect(xml).toContain('<testsuites name="refscope" tests="9" failures="1" errors="0"');
    expect(xml.match(/<skipped message="inconclusive: /g)).toHaveLength(3);
    // the parsed count agrees: xmllint's XPath
    const file = join(work, 'farm.xml');
    expect(execFileSync('xmllint', ['--xpath', 'count(//testcase[failure])', file], { encoding: 'utf8' }).trim()).toBe('1');
  });

  it('escapes hostile names, holders and devices and stays valid XML', async () => {
    const r = await analyseRecords(synthSession({
      seed: 14, marks: 500, types: { [`app.${HOSTILE[1]}${HOSTILE[6]}`]: leaking(1) },
      holders: { [`app.${HOSTILE[1]}${HOSTILE[6]}`]: HOSTILE.map((h, i): [string, number] => [h, i + 1]) },
    }), { id: HOSTILE.join(''), device: HOSTILE[5]! });
    r.session.python = HOSTILE[8]!;
    r.session.startedAt = 'not a date';
    r.session.durationSeconds = 1e300;
    const xml = renderJunit(r);
    expect(markupProblems(xml, 'xml')).toEqual([]);
    expect(validate(xml, 'hostile.xml')).toBe('');
  });
});
