import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { quoteArg, quoteCommand } from '../../src/transport/quote.js';
import { skipWhy } from '../helpers/prereq.js';

const HOSTILE = [
  'plain',
  'with space',
  "it's",
  "''",
  '"double"',
  '$(touch /tmp/refscope-pwned)',
  '`id`',
  '$HOME',
  'a\nb\nc',
  'tab\there',
  '*',
  '~',
  '-n',
  '!',
  '\\',
  'ünïcødé ✓ 日本',
  '',
  ';rm -rf /;',
  '&& echo no',
  '| cat',
  "'\"'\"'",
  '\u001b[31mred',
];

// every shell a device may have; busybox ash via `busybox sh`
const SHELLS: [string, string[]][] = [
  ['dash', ['/bin/dash']],
  ['bash', ['/bin/bash']],
  ['busybox ash', ['/bin/busybox', 'sh']],
];

describe('quoteCommand', () => {
  for (const [name, shell] of SHELLS) {
    const present = skipWhy(name, existsSync(shell[0]!) ? null : `${shell[0]} not installed`) === null;
    it.skipIf(!present)(`round-trips hostile argv through ${name} unchanged`, () => {
      // printf prints each argument NUL-terminated, so the argv comes back exactly
      const cmd = quoteCommand(['printf', '%s\\0', ...HOSTILE]);
      const out = execFileSync(shell[0]!, [...shell.slice(1), '-c', cmd], { encoding: 'utf8' });
      expect(out.split('\0').slice(0, -1)).toEqual(HOSTILE);
    });
  }

  it('leaves safe words bare and quotes the rest', () => {
    expect(quoteArg('device-scripts/refscope_probe.py')).toBe('device-scripts/refscope_probe.py');
    expect(quoteArg('')).toBe("''");
    expect(quoteArg("it's")).toBe("'it'\\''s'");
  });

  it('refuses NUL bytes and empty commands', () => {
    expect(() => quoteArg('a\0b')).toThrow(/NUL/);
    expect(() => quoteCommand([])).toThrow(/empty/);
  });
});
