/**
 * JUnit XML for CI (the schema Jenkins and GitLab read: testsuites > testsuite > testcase):
 * one testsuite per session (per device in farm runs), one testcase per suspect kind
 * checked. A kind fails when a suspect of that kind is a leak on its own (not following
 * another type, confident enough for the verdict): the failure message is its evidence
 * sentence. An inconclusive session's testcases are skipped, saying what more is needed.
 * Properties: device, python, duration, and the session's other facts.
 */
import { esc, num } from './escape.js';
import { isLeading, type Report, type Suspect, type SuspectKind } from '../analysis/report.js';
import { whereLines } from './where.js';

export const CHECKED_KINDS: SuspectKind[] = ['object-growth', 'refcount-growth', 'native-growth'];

const WHAT: Record<SuspectKind, string> = {
  'object-growth': 'no type keeps accumulating live objects',
  'refcount-growth': 'no type accumulates references while its count stays flat',
  'native-growth': 'RSS does not grow beyond what Python objects explain',
};

/** JUnit timestamps have no zone and no fraction (xs:dateTime pattern of the schema). */
function timestamp(iso: string): string | null {
  const m = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})/.exec(iso);
  return m ? m[1]! : null;
}

/** A plain xs:decimal of seconds (no exponent, never negative). */
const dec = (v: number): string => (Number.isFinite(v) && v > 0 ? Math.min(v, 1e12).toFixed(3) : '0');


function testcase(r: Report, kind: SuspectKind, classname: string, time: string): { xml: string; failed: boolean; skipped: boolean } {
  const open = `<testcase name="${esc(`${kind}: ${WHAT[kind]}`)}" classname="${esc(classname, 300)}" time="${time}">`;
  if (r.verdict === 'inconclusive') {
    return { xml: `${open}<skipped message="${esc(`inconclusive: ${r.summary ?? ''}`)}"/></testcase>`, failed: false, skipped: true };
  }
  const leads = r.suspects.filter((s) => s.kind === kind && isLeading(s));
  if (leads.length === 0) return { xml: `${open}</testcase>`, failed: false, skipped: false };
  const first = leads[0]!;
  const body = leads.map((s) => {
    const holders = s.referrers.map((ref) => `\n    ${ref.count} held by ${ref.via}`).join('');
    const where = whereLines(s).map((l) => `\n    where: ${l}`).join('');
    return `${s.type ?? 'native memory'} (confidence ${num(s.confidence)}): ${s.evidence}${holders}${where}`;
  }).join('\n');
  return {
    xml: `${open}<failure message="${esc(first.evidence)}" type="${esc(kind)}">${esc(body, 20_000)}</failure></testcase>`,
    failed: true,
    skipped: false,
  };
}

function testsuite(r: Report, i: number): { xml: string; tests: number; failures: number; skipped: number; time: number } {
  const s = r.session;
  const time = dec(s.durationSeconds);
  const classname = `refscope.${s.device || 'unknown'}`;
  const cases = CHECKED_KINDS.map((k) => testcase(r, k, classname, time));
  const failures = cases.filter((c) => c.failed).length;
  const skipped = cases.filter((c) => c.skipped).length;
  const props: [string, string | number][] = [
    ['device', s.device], ['python', s.python], ['duration', time], ['session', s.id], ['verdict', r.verdict],
    ['samples', s.samples], ['lostRecords', s.lostRecords], ['startedAt', s.startedAt],
  ];
  if (r.summary) props.push(['summary', r.summary]);
  const ts = timestamp(s.startedAt);
  const xml = `  <testsuite name="${esc(`refscope ${s.id} on ${s.device}`, 300)}" tests="${cases.length}" failures="${failures}" errors="0" skipped="${skipped}"` +
    ` time="${time}"${ts ? ` timestamp="${ts}"` : ''} hostname="${esc(s.device || 'unknown', 200)}" id="${i}" package="refscope">\n` +
    `    <properties>\n${props.map(([k, v]) => `      <property name="${esc(k)}" value="${esc(v)}"/>\n`).join('')}    </properties>\n` +
    cases.map((c) => `    ${c.xml}\n`).join('') +
    '  </testsuite>\n';
  return { xml, tests: cases.length, failures, skipped, time: Number(time) };
}

/** JUnit XML for one session, or several (a farm run: one testsuite per device). */
export function renderJunit(reports: Report | Report[]): string {
  const list = Array.isArray(reports) ? reports : [reports];
  const suites = list.map((r, i) => testsuite(r, i));
  const sum = (f: (x: (typeof suites)[number]) => number): number => suites.reduce((a, x) => a + f(x), 0);
  return '<?xml version="1.0" encoding="UTF-8"?>\n' +
    `<testsuites name="refscope" tests="${sum((x) => x.tests)}" failures="${sum((x) => x.failures)}" errors="0" time="${dec(sum((x) => x.time))}">\n` +
    suites.map((x) => x.xml).join('') +
    '</testsuites>\n';
}
