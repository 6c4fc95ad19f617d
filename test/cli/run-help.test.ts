/**
 * `refscope run --help` tells a new user what the issue found missing (issue 14 item 6): the
 * exit codes, the one call the app makes (`refscope.mark()`), and how long a run the defaults
 * need, in lines that an 80-column terminal shows without cutting a word.
 */
import { describe, expect, it } from 'vitest';
import { MIN_CENSUSES, MIN_MARKS } from '../../src/analysis/index.js';
import { ExitCode } from '../../src/errors.js';
import { helpOf } from '../helpers/usage-doc.js';

describe('refscope run --help', () => {
  it('says the exit codes, mark(), and the run length the defaults need', async () => {
    const help = await helpOf(['run']);
    const epilog = help.slice(help.indexOf('Exit codes:'));
    const flat = epilog.replace(/\s+/g, ' ');
    expect(flat).toContain(`Exit codes: ${ExitCode.ok} no leak (or inconclusive`);
    expect(flat).toContain(`${ExitCode.leak} leak found, ${ExitCode.usage} usage or input error, ` +
      `${ExitCode.device} device or connection error, ${ExitCode.appFailed} the app did not start.`);
    expect(flat).toContain("import refscope; refscope.mark('frame')");
    expect(flat).toContain(`a verdict needs at least ${MIN_CENSUSES} censuses and ${MIN_MARKS} marks`);
    expect(flat).toContain('--until-verdict');
    expect(flat).toContain('narrowing window (a few marks) finds the call that leaks it');
    expect(flat).toContain('--no-narrow skips it');
    // written as lines that fit 80 columns, so yargs never has to cut one
    for (const line of epilog.split('\n')) expect(line.length, line).toBeLessThanOrEqual(80);
  });
});
