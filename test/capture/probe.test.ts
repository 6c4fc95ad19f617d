/**
 * The probe's command line, the one place it is built (src/capture/probe.ts), and what the
 * narrowing flags (issue 15) add to it: `--no-narrow`, `--narrow-again`, before the app's `--`.
 * (That a real run and soak hand them to the probe is tested end to end: test/e2e/where.test.ts.)
 */
import { tmpdir } from 'node:os';
import { describe, expect, it } from 'vitest';
import { probeArgv, type ProbeArgs } from '../../src/capture/probe.js';
import { prepareRun } from '../../src/capture/run.js';
import type { Transport } from '../../src/transport/types.js';

const BASE: ProbeArgs = {
  python: '/usr/bin/python2.5', probe: '/p/refscope_probe.py', outDir: '/o', interval: 1, censusBudget: 0.02,
  watchTypes: [], command: ['app.py', '--no-narrow'],
};

describe('probeArgv', () => {
  it('passes no narrowing flag by default', () => {
    const argv = probeArgv(BASE);
    expect(argv.slice(0, argv.indexOf('--'))).not.toContain('--no-narrow');
    expect(argv.slice(0, argv.indexOf('--'))).not.toContain('--narrow-again');
  });

  it('puts --no-narrow and --narrow-again before the app, which keeps its own arguments', () => {
    const off = probeArgv({ ...BASE, noNarrow: true });
    expect(off.slice(off.indexOf('--'))).toEqual(['--', 'app.py', '--no-narrow']);
    expect(off.slice(0, off.indexOf('--'))).toContain('--no-narrow');
    // a soak re-arms after 3 hours on its own; --narrow-again sooner; --no-narrow never
    const flags = (argv: string[]): string[] => argv.slice(0, argv.indexOf('--')).filter((a) => a.includes('narrow'));
    expect(flags(probeArgv({ ...BASE, narrowSoak: true }))).toEqual(['--narrow-soak']);
    expect(flags(probeArgv({ ...BASE, narrowSoak: true, noNarrow: true }))).toEqual(['--no-narrow']);
    expect(flags(probeArgv({ ...BASE, narrowSoak: true, narrowAgain: true }))).toEqual(['--narrow-again']);
    const again = probeArgv({ ...BASE, narrowAgain: true });
    expect(again.slice(0, again.indexOf('--')).filter((a) => a.includes('narrow'))).toEqual(['--narrow-again']);
  });
});

describe('prepareRun', () => {
  it('refuses --no-narrow with --narrow-again before it touches anything', async () => {
    const transport = new Proxy({}, { get: () => { throw new Error('touched the transport'); } }) as Transport;
    const req = { transport, onDevice: false, command: ['app.py'], interval: 1, censusBudget: 0.02, duration: null, watchTypes: [], tty: false, cwd: tmpdir() };
    await expect(prepareRun({ ...req, noNarrow: true, narrowAgain: true })).rejects.toMatchObject({ code: 'ERR_USAGE', message: expect.stringMatching(/--narrow-again .* --no-narrow/) });
  });
});
