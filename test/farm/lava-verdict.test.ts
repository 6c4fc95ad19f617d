/**
 * device-scripts/refscope_lava.py, the verdict a LAVA job reports from the board with no host
 * (docs/farm.md, "LAVA"), on sessions written here record by record (docs/protocol.md): each
 * suspect kind fails on its own growth and passes without it, under the core interpreters
 * (CPython 2.7 and 3.11), and with the JSON reader it uses on 2.5 (which has no json module).
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ROOT } from '../helpers/cli.js';
import { coreInterpreters } from '../helpers/pythons.js';

const DIR = join(ROOT, 'device-scripts');
const work = mkdtempSync(join(tmpdir(), 'refscope-lava-verdict-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

interface Shape {
  /** count and refsum of type 'app.Thing' at mark m */
  thing?: (m: number) => [number, number];
  /** RSS KiB at mark m */
  rss?: (m: number) => number;
  end?: string | null;
  censuses?: number;
  /** a last line cut short, as a crash leaves it */
  torn?: boolean;
}

function session(name: string, s: Shape): string {
  const d = join(work, name);
  mkdirSync(d);
  const lines = [`{"seq":0,"k":"start","t":0,"schema":"refscope.records/1","probe":"0.1.0"}`];
  const n = s.censuses ?? 20;
  let seq = 1;
  for (let i = 0; i < n; i++) {
    const m = i * 10;
    const [c, r] = (s.thing ?? (() => [5, 10]))(m);
    // a burst of temporaries in one census must not move the rate
    const dicts = i === n - 2 ? 5000 : 300;
    lines.push(`{"seq":${seq++},"k":"census","t":${i / 2},"marks":{"frame":${m}},"dur":0.01,"n":1,"rss":${(s.rss ?? (() => 9000))(m)},"types":[["dict",${dicts},${dicts * 2}],["app.Thing",${c},${r}],["str\\u00e9",3,3]]}`);
  }
  if (s.end !== null) lines.push(s.end ?? `{"seq":${seq},"k":"end","t":10,"how":"exit","exit":0,"error":null}`);
  writeFileSync(join(d, 'seg-000001.jsonl'), `${lines.join('\n')}\n${s.torn ? '{"seq":99,"k":"cen' : ''}`);
  return d;
}

const CASES: Array<[string, Shape, string[]]> = [
  ['clean', {}, ['app-run pass 0 exit-status', 'object-growth pass 0.00 objects/mark', 'refcount-growth pass 0.00 references/mark', 'native-growth pass 0 bytes/mark']],
  ['objects', { thing: (m) => [5 + m, 10 + 2 * m] }, ['app-run pass 0 exit-status', 'object-growth fail 1.00 objects/mark', 'refcount-growth pass 0.00 references/mark', 'native-growth pass 0 bytes/mark']],
  ['refcounts', { thing: (m) => [5, 10 + 2 * m] }, ['app-run pass 0 exit-status', 'object-growth pass 0.00 objects/mark', 'refcount-growth fail 2.00 references/mark', 'native-growth pass 0 bytes/mark']],
  ['native', { rss: (m) => 9000 + 8 * m, torn: true }, ['app-run pass 0 exit-status', 'object-growth pass 0.00 objects/mark', 'refcount-growth pass 0.00 references/mark', 'native-growth fail 8192 bytes/mark']],
  ['crashed', { end: null, censuses: 3 }, ['app-run fail -1 exit-status', 'object-growth unknown 0 objects/mark', 'refcount-growth unknown 0 references/mark', 'native-growth unknown 0 bytes/mark']],
  ['failed', { end: '{"seq":40,"k":"end","t":10,"how":"exception","exit":1,"error":"ValueError: x"}' }, ['app-run fail 1 exit-status', 'object-growth pass 0.00 objects/mark', 'refcount-growth pass 0.00 references/mark', 'native-growth pass 0 bytes/mark']],
];

const pys = coreInterpreters();

describe.skipIf(pys.length === 0)('refscope_lava.py: the on-device verdict of a LAVA job', () => {
  for (const [name, shape, want] of CASES) {
    it(`${name}: ${want.slice(1).map((w) => w.split(' ').slice(0, 2).join(' ')).join(', ')}`, () => {
      const d = session(name, shape);
      for (const py of pys) {
        for (const reader of ['json', 'the 2.5 reader']) {
          const code = reader === 'json'
            ? ['-B', join(DIR, 'refscope_lava.py'), d]
            : ['-B', '-c', `import sys; sys.path.insert(0, ${JSON.stringify(DIR)}); import refscope_lava as L; L._loads = None; sys.exit(L.main(['x', ${JSON.stringify(d)}]))`];
          const r = spawnSync(py.path, code, { encoding: 'utf8' });
          expect(r.status, `${py.label}, ${reader}: ${r.stderr}`).toBe(0);
          expect(r.stdout.trim().split('\n'), `${py.label}, ${reader}`).toEqual(want);
        }
      }
    });
  }
});
