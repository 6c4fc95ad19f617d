/**
 * The device's pid file is read before any kill: only a positive integer is a pid. A hostile
 * or broken device that writes -1 (every process of the user), 0 (the process group) or
 * anything else must get no signal sent at all. Checked under the shells a device has
 * (dash here, busybox sh on a handheld) and on the host side of a status listing.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parsePid, readPidSh } from '../../src/device/pid.js';
import { skipWhy } from '../helpers/prereq.js';

const dir = mkdtempSync(join(tmpdir(), 'refscope-pid-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const CASES: Array<[string, string]> = [
  ['123\n', '123'], ['4242', '4242'], ['-1\n', ''], ['0\n', ''], ['00\n', ''], ['012', ''], ['', ''],
  ['1 2\n', ''], ['12abc', ''], ['$(touch x)', ''], ['-9 1', ''], [' 7', ''], ['7\n-1\n', '7'],
];

const busybox = spawnSync('busybox', ['sh', '-c', 'true']).status === 0;
const noBusybox = skipWhy('busybox', busybox ? null : 'busybox not on PATH (apt-get install busybox)');

describe.each([['sh', ['sh']], ['busybox sh', ['busybox', 'sh']]] as const)('the pid read before a kill, under %s', (name, shell) => {
  it.skipIf(name === 'busybox sh' && noBusybox !== null)('is a positive integer or nothing', () => {
    for (const [content, want] of CASES) {
      writeFileSync(join(dir, 'pid'), content);
      const r = spawnSync(shell[0], [...shell.slice(1), '-c', `${readPidSh('"$1"')}; printf '[%s]' "$p"`, 'sh', dir], { encoding: 'utf8' });
      expect(r.status, r.stderr).toBe(0);
      expect(r.stdout, JSON.stringify(content)).toBe(`[${want}]`);
    }
  });
});

describe('parsePid (a status listing, on this side)', () => {
  it('takes a positive integer only', () => {
    expect(parsePid('123')).toBe(123);
    for (const bad of ['-1', '0', '', '012', '1 2', '12abc', '99999999999', undefined]) expect(parsePid(bad)).toBeNull();
  });
});
