/**
 * The live status line keeps a row of its own (issue 14 item 2): an app printing a line every
 * frame, run under a real pseudo-terminal, has every line whole on a row of its own, never
 * joined with the live line's text, whichever way its output travels (the terminal inherited,
 * --tty, --json); the live line is drawn while it runs and gone at the end, and the terminal's
 * scroll region is given back. The byte stream is replayed on a small terminal (helpers/screen.ts).
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LiveLine, releaseSeq, reserveSeq } from '../../src/cli/live.js';
import type { LiveSnapshot } from '../../src/capture/run.js';
import { ROOT, runCli, startCli, startCliPty, within, type PtyCli } from '../helpers/cli.js';
import { coreInterpreters } from '../helpers/pythons.js';
import { Screen } from '../helpers/screen.js';
import { makeDevice, type RigDevice } from '../rig/device.js';
import { rigHome, type RigHome } from '../rig/home.js';
import { serverAvailable, startServer, type RigServer } from '../rig/servers.js';
import { waitFor } from '../rig/wait.js';

const FRAMES_APP = join(ROOT, 'test', 'cli', 'apps', 'frames.py');
const PAD = ` timers: ${'='.repeat(40)} end`;
/** an app line anywhere in a row */
const APP_TEXT = /(out|err) \d+ timers/;
/** an app line, whole, alone on its row */
const APP_LINE = /^(out|err) (\d+) timers: =+ end$/;
const LIVE_TEXT = /refscope \d\d:\d\d {2}RSS/;
const LIVE_ROW = /^refscope \d\d:\d\d {2}RSS [\d.-]+( MiB)? {2}[\d.-]+ marks\/s( {2}growing: \S+ \+\d+)?$/;
const ROWS = 30;
const COLS = 100;

const snap: LiveSnapshot = { elapsedSeconds: 3, rssKiB: 14438, marksPerSecond: 30, topGrowth: { type: 'tuple', delta: 72 }, records: 5 };

/** a terminal stream that writes into a Screen */
function fakeTerminal(screen: Screen, rows = screen.rows): NodeJS.WriteStream & { resizeTo(rows: number): void } {
  const listeners: Array<() => void> = [];
  const t = {
    isTTY: true, rows, columns: screen.cols,
    write(s: string) { screen.feed(s); return true; },
    on(ev: string, f: () => void) { if (ev === 'resize') listeners.push(f); return t; },
    off(ev: string, f: () => void) { if (ev === 'resize') listeners.splice(listeners.indexOf(f), 1); return t; },
    resizeTo(r: number) { t.rows = r; for (const f of [...listeners]) f(); },
  };
  return t as unknown as NodeJS.WriteStream & { resizeTo(rows: number): void };
}

describe('LiveLine on its own row', () => {
  it('takes the bottom row without moving or cutting a half-written line, and gives it back', () => {
    const screen = new Screen(6, 80);
    screen.feed('a\r\nb\r\nc\r\nd\r\ne\r\nhalf');
    const live = LiveLine.for(fakeTerminal(screen), { TERM: 'xterm' })!;
    expect(live).not.toBeNull();
    expect(screen.region()).toEqual([1, 5]);
    live.render(snap);
    screen.feed(' done\r\n');
    for (let i = 0; i < 8; i++) screen.feed(`line ${i}\r\n`);
    live.render(snap);
    expect(screen.history.concat(screen.text())).toContain('half done');
    expect(screen.text()[5]).toBe('refscope 00:03  RSS 14.1 MiB  30.0 marks/s  growing: tuple +72');
    expect(screen.text().slice(0, 5)).toEqual(['line 4', 'line 5', 'line 6', 'line 7', '']);
    live.close();
    expect(screen.text()[5]).toBe('');
    expect(screen.region()).toEqual([1, 6]);
    screen.feed('after\r\n');
    expect(screen.text()[4]).toBe('after');
    live.render(snap);
    expect(screen.text().join('\n')).not.toMatch(LIVE_TEXT);
  });

  it('on a resize blanks its old row and takes the new bottom one', () => {
    const screen = new Screen(8, 60);
    const term = fakeTerminal(screen, 6);
    const live = LiveLine.for(term, { TERM: 'xterm' })!;
    live.render(snap);
    expect(screen.text()[5]).toMatch(LIVE_TEXT);
    term.resizeTo(8);
    expect(screen.region()).toEqual([1, 7]);
    expect(screen.text()[5]).toBe('');
    expect(screen.text()[7]).toMatch(LIVE_TEXT);
    live.close();
  });

  it('gives the terminal back at process exit (the third Ctrl-C leaves with process.exit)', () => {
    const screen = new Screen(6, 80);
    const before = process.listeners('exit');
    const live = LiveLine.for(fakeTerminal(screen), { TERM: 'xterm' })!;
    live.render(snap);
    const added = process.listeners('exit').filter((f) => !before.includes(f));
    expect(added).toHaveLength(1);
    (added[0] as () => void)();
    expect(screen.region()).toEqual([1, 6]);
    expect(screen.text()[5]).toBe('');
    expect(process.listeners('exit')).toEqual(before);
  });

  it('is not there on a pipe, on TERM=dumb, or on a terminal of fewer than 3 rows', () => {
    const screen = new Screen(6, 60);
    expect(LiveLine.for({ ...fakeTerminal(screen), isTTY: false } as unknown as NodeJS.WriteStream, { TERM: 'xterm' })).toBeNull();
    expect(LiveLine.for(fakeTerminal(screen), { TERM: 'dumb' })).toBeNull();
    expect(LiveLine.for(fakeTerminal(screen, 2), { TERM: 'xterm' })).toBeNull();
    expect(screen.text().join('')).toBe('');
  });
});

const py = coreInterpreters().pop();

/** what the replayed terminal showed, checked as it went */
interface Replay {
  /** every row that ever showed, in order: the ones scrolled away, then the screen at the end */
  rows: string[];
  /** checkpoints at which the bottom row showed the live line */
  draws: number;
  /** what went wrong, in words */
  faults: string[];
  region: [number, number];
}

function replay(output: string): Replay {
  const faults: string[] = [];
  let draws = 0;
  const screen = new Screen(ROWS, COLS, {
    onRowLeft(text) {
      if (APP_TEXT.test(text) && !APP_LINE.test(text)) faults.push(`an app line not whole and alone on its row: ${JSON.stringify(text)}`);
      if (LIVE_TEXT.test(text)) faults.push(`the live line's text on a row that scrolls: ${JSON.stringify(text)}`);
    },
    onCheckpoint(rows) {
      rows.forEach((r, i) => {
        if (!LIVE_TEXT.test(r)) return;
        if (i !== ROWS - 1) faults.push(`the live line on row ${i + 1}, not the bottom one: ${JSON.stringify(r)}`);
        if (!LIVE_ROW.test(r)) faults.push(`the live line's row holds more than the live line: ${JSON.stringify(r)}`);
        else draws++;
      });
    },
  });
  screen.feed(output);
  return { rows: [...screen.history, ...screen.text()], draws, faults: [...new Set(faults)].slice(0, 10), region: screen.region() };
}

/** the pid of the process whose command line holds `arg` (the run's own --out) */
function pidWith(arg: string): number | undefined {
  for (const d of readdirSync('/proc').filter((x) => /^\d+$/.test(x))) {
    try {
      if (readFileSync(`/proc/${d}/cmdline`, 'utf8').split('\0').includes(arg) && readFileSync(`/proc/${d}/cmdline`, 'utf8').includes('bin.js')) return Number(d);
    } catch { /* gone */ }
  }
  return undefined;
}

/** the state letter of /proc/PID/stat (T: stopped) */
function procState(pid: number): string {
  const st = readFileSync(`/proc/${pid}/stat`, 'utf8');
  return st.slice(st.lastIndexOf(')') + 2, st.lastIndexOf(')') + 3);
}

/** the numbers of the app's lines of one stream, in the order they showed */
function numbers(rows: string[], stream: 'out' | 'err'): number[] {
  return rows.map((r) => APP_LINE.exec(r)).filter((m) => m?.[1] === stream).map((m) => Number(m![2]));
}

/**
 * `refscope ARGS` on a pty, the app being frames.py told to stop by `stop` (a path the app
 * sees): once it has printed on across a few live draws, stop it, and check the replay.
 */
async function printsAroundTheLiveLine(
  args: string[], stop: string, env: NodeJS.ProcessEnv = {}, midway?: (term: PtyCli) => Promise<void>,
): Promise<void> {
  const term = await startCliPty(args, { cols: COLS, env: { TERM: 'xterm', ...env } });
  try {
    await term.waitFor(LIVE_TEXT, 60_000);
    // the app prints on while the live line is redrawn, a few times over
    await waitFor('app lines and live draws to interleave', () => {
      const o = term.output();
      const after = o.slice(o.search(LIVE_TEXT));
      return (after.match(/out \d+ timers/g) ?? []).length >= 100 && (after.match(new RegExp(LIVE_TEXT, 'g')) ?? []).length >= 3;
    }, 30_000);
    await midway?.(term);
    writeFileSync(stop, '');
    const { code } = await within(term.exited, 60_000, 'refscope to end after the app');
    // the terminal's own echo of a Ctrl-Z is not the app's nor ours
    const r = replay(term.output().replaceAll('^Z', ''));
    expect(r.faults, term.output().slice(-3000)).toEqual([]);
    expect(r.draws).toBeGreaterThan(0);
    // nothing of the live line is left, and the terminal scrolls whole again
    expect(r.rows.filter((row) => LIVE_TEXT.test(row))).toEqual([]);
    expect(r.region).toEqual([1, ROWS]);
    // every line the app wrote, once, whole, in order
    const total = Number(/frames: (\d+)/.exec(r.rows.join('\n'))?.[1]);
    expect(total).toBeGreaterThanOrEqual(100); // the wait above saw 100 of them after the first live draw
    const outs = numbers(r.rows, 'out');
    expect(outs).toEqual(Array.from({ length: total }, (_, i) => i));
    expect(numbers(r.rows, 'err')).toEqual(outs.filter((i) => i % 5 === 0));
    expect(code, term.output().slice(-3000)).toBe(0);
  } finally {
    term.kill();
  }
}

describe.skipIf(!py)(`the live line and an app printing every frame, on a real terminal${py ? '' : ' (no CPython under pyenv: skipped)'}`, () => {
  let work: string;
  beforeAll(() => { work = mkdtempSync(join(tmpdir(), 'refscope-live-line-')); });
  afterAll(() => { rmSync(work, { recursive: true, force: true }); });

  const modes: Array<{ name: string; args: string[] }> = [
    { name: 'the app on the terminal it inherits', args: [] },
    { name: '--tty (the app on its own terminal, through us)', args: ['--tty'] },
    { name: '--json (the app\'s output through us to stderr)', args: ['--json'] },
  ];
  for (const mode of modes) {
    it(`${mode.name}: every app line whole on its own row, the live line on its own`, async () => {
      const tag = mode.args.join('') || 'inherit';
      await printsAroundTheLiveLine(['run', '--local', '--python', py!.path, '--out', join(work, tag), ...mode.args, '--', FRAMES_APP, join(work, `${tag}.stop`)],
        join(work, `${tag}.stop`));
    }, 120_000);
  }

  it('Ctrl-Z gives the shell the whole terminal; on fg the live line takes its row again', async () => {
    const out = join(work, 'ctrlz');
    const stop = join(work, 'ctrlz.stop');
    await printsAroundTheLiveLine(['run', '--local', '--python', py!.path, '--out', out, '--', FRAMES_APP, stop], stop, {}, async (term) => {
      const from = term.output().length;
      term.write('\x1a');
      const pid = await waitFor('refscope to stop', () => { const p = pidWith(out); return p !== undefined && procState(p) === 'T' && p; }, 20_000);
      await waitFor('the row given back', () => term.output().slice(from).includes(releaseSeq(ROWS)), 5_000)
        .catch((e: Error) => { throw new Error(`${e.message}: ${JSON.stringify(term.output().slice(from).slice(0, 600))}`); });
      const continued = term.output().length;
      // what a shell's fg does: SIGCONT to the job's process group (refscope leads it on this pty)
      process.kill(-pid, 'SIGCONT');
      await waitFor('the row taken again', () => term.output().slice(continued).includes(reserveSeq(ROWS)), 20_000);
    });
  }, 120_000);

  it('on pipes nothing but the app\'s bytes: its stdout on stdout, unchanged, its stderr on stderr, no control characters', async () => {
    const out = join(work, 'pipes');
    const stop = join(work, 'pipes.stop');
    const cli = startCli(['run', '--local', '--python', py!.path, '--out', out, '--', FRAMES_APP, stop], { timeoutMs: 90_000 });
    await cli.waitForStderr(/err 100 timers/, 30_000);
    writeFileSync(stop, '');
    const r = await within(cli.result, 60_000, 'refscope to end after the app');
    expect(r.code, r.stderr).toBe(0);
    const total = Number(/frames: (\d+)/.exec(r.stderr)?.[1]);
    const expected = Array.from({ length: total }, (_, i) => `out ${i}${PAD}\n`).join('');
    expect(r.stdout.subarray(0, Buffer.byteLength(expected)).toString('utf8')).toBe(expected);
    expect(r.stderr).toContain(Array.from({ length: 21 }, (_, i) => `err ${i * 5}${PAD}\n`).join(''));
    expect(r.stderr).not.toMatch(/[\x1b\r]/);
    expect(r.stderr).not.toMatch(/marks\/s/);
  }, 120_000);
});

const noSsh = serverAvailable('openssh');
describe.skipIf(noSsh !== null || !py)(`the live line and an app printing every frame on a device${noSsh ? ` (skipped: ${noSsh})` : ''}`, () => {
  let device: RigDevice;
  let server: RigServer;
  let home: RigHome;
  let work: string;
  beforeAll(async () => {
    device = makeDevice({ pythons: { python3: py!.path } });
    server = await startServer('openssh', device);
    home = rigHome(server);
    work = mkdtempSync(join(tmpdir(), 'refscope-live-line-ssh-'));
  });
  afterAll(async () => {
    await server?.stop();
    device?.cleanup();
    home?.cleanup();
    rmSync(work, { recursive: true, force: true });
  });

  it('over SSH (the app\'s output through us): every app line whole on its own row, the live line on its own', async () => {
    // the probe is sent first through pipes (doctor), the app runs from this machine's folder
    // (the rig's device shares this filesystem): sending either from a terminal fails today
    // ("tar: short read", a deploy bug of its own), which is not what this test is about
    const doctor = await runCli(['doctor', 'rigdev'], { env: home.env, timeoutMs: 60_000 });
    expect(doctor.code, doctor.stdout.toString()).toBe(0);
    const stop = join(work, 'ssh.stop');
    await printsAroundTheLiveLine(['run', 'rigdev', '--out', join(work, 'ssh'), '--', FRAMES_APP, stop], stop, home.env);
  }, 180_000);
});
