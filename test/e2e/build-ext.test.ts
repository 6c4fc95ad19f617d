import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { buildLeakyIter, ExtUnavailable } from '../helpers/build-ext.js';
import { coreInterpreters, interpreter, type Interp } from '../helpers/pythons.js';

const run = promisify(execFile);

// 2.5 subset: one item, ten calls, the rise of its refcount after each call
const CHECK = `
import sys
import leakyiter
class Item(object):
    def __float__(self):
        return 2.0
item = Item()
rises = []
total = 0.0
for i in range(10):
    before = sys.getrefcount(item)
    total = leakyiter.total([item, item])
    rises.append(sys.getrefcount(item) - before)
sys.stdout.write('%s %s\\n' % (' '.join([str(r) for r in rises]), total))
`;

const targets: Interp[] = [...coreInterpreters()];
const py25 = interpreter('2.5');
if (py25) targets.push(py25);

describe('leakyiter test extension', () => {
  if (targets.length === 0) it.skip('no interpreters found (pyenv 2.7/3.x, REFSCOPE_PY25)', () => {});

  for (const interp of targets) {
    it(`builds for ${interp.label} and leaks one reference per item per call`, async (ctx) => {
      let dir: string;
      try {
        dir = await buildLeakyIter(interp);
      } catch (err) {
        if (err instanceof ExtUnavailable) return ctx.skip(err.message);
        throw err;
      }
      const { stdout } = await run(interp.path, ['-c', CHECK], {
        encoding: 'utf8',
        env: { ...process.env, PYTHONPATH: dir },
      });
      const [rises, total] = stdout.trim().split(/ (?=[^ ]+$)/);
      // the item appears twice in the list: two leaked references per call
      expect(rises).toBe(Array(10).fill('2').join(' '));
      expect(Number(total)).toBe(4);
    });
  }
});
