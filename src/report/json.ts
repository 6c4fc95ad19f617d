/**
 * The JSON report (refscope.report/1, DESIGN §3): pretty, with a stable key order — the
 * contract's keys in the contract's order, any added keys after them in name order — so
 * two runs of the same session give the same bytes.
 */
import type { Report } from '../analysis/report.js';

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

/** Key order per object path; keys not listed follow, sorted. */
const ORDER: Record<string, string[]> = {
  '': ['schema', 'session', 'verdict', 'summary', 'suspects', 'rss', 'overhead'],
  session: [
    'id', 'device', 'python', 'startedAt', 'durationSeconds', 'exitCode', 'samples', 'lostRecords',
    'ended', 'censuses', 'marks', 'argv',
  ],
  'suspects[]': [
    'kind', 'type', 'confidence', 'perSecond', 'perMark', 'bytesPerMark', 'evidence', 'referrers', 'where',
    'interval', 'unit', 'dependsOn',
  ],
  'suspects[].perMark': ['mark', 'value'],
  'suspects[].referrers[]': ['via', 'count'],
  'suspects[].where[]': ['kind', 'function', 'file', 'line', 'callsPerMark', 'perCall', 'freed', 'evidence'],
  'suspects[].narrow': ['kind', 'status', 'reason', 'method', 'marks', 'mark', 'seconds', 'cpu', 'peakKiB', 'windows'],
  'suspects[].interval': ['low', 'high', 'per'],
  'session.native': ['sampler', 'machine', 'emulator', 'samples', 'maxRssKiB', 'limitKiB', 'how', 'signal', 'oomKill', 'samplerCpuSeconds', 'lostRecords'],
  rss: ['startKiB', 'endKiB', 'slopeKiBPerSecond', 'slopeKiBPerMark'],
  overhead: ['probeCpuSeconds', 'probeCpuFraction', 'narrowSeconds', 'narrowCpuSeconds'],
};

/** Floats to 6 significant digits: enough to act on, stable across platforms. */
function num(v: number): number | null {
  if (!Number.isFinite(v)) return null;
  return Number.isInteger(v) ? v : Number(v.toPrecision(6));
}

function ordered(v: unknown, path: string): Json {
  if (v === null || v === undefined) return null;
  if (typeof v === 'number') return num(v);
  if (typeof v === 'string' || typeof v === 'boolean') return v;
  if (Array.isArray(v)) return v.map((item) => ordered(item, `${path}[]`));
  if (typeof v === 'object') {
    const obj = v as Record<string, unknown>;
    const known = ORDER[path] ?? [];
    const rest = Object.keys(obj).filter((k) => !known.includes(k)).sort();
    // no prototype: a key named __proto__ (a mark name from the device) stays a plain key
    const out = Object.create(null) as { [k: string]: Json };
    for (const k of [...known, ...rest]) {
      if (!(k in obj) || obj[k] === undefined) continue;
      out[k] = ordered(obj[k], path ? `${path}.${k}` : k);
    }
    return out;
  }
  return null;
}

export function renderJson(report: Report): string {
  return JSON.stringify(ordered(report, ''), null, 2) + '\n';
}
