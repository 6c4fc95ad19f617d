/**
 * The pid lock (soak collect, farm schedule) between real processes: a lock left by a
 * holder that was SIGKILLed is taken over by exactly one of many takers racing at once,
 * round after round; a live holder refuses everyone with its pid; a released lock leaves
 * nothing behind. src/session/lock.ts is bundled (esbuild) for the child processes, so they
 * run the source under test, not an older build.
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { build, stop as stopEsbuild } from 'esbuild';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT } from '../helpers/cli.js';
import { waitFor } from '../rig/wait.js';

const TAKERS = 6;
const ROUNDS = 20;

// one taker: on "go ROUND PATH AT" it waits until the clock reads AT (all takers start together),
// takes the lock and says "won", "busy PID" or "error"; it holds a won lock until "release ROUND"
const TAKER = `
import { takePidLock } from './lock.mjs';
import { createInterface } from 'node:readline';
let release = null;
const say = (s) => process.stdout.write(s + '\\n');
createInterface({ input: process.stdin }).on('line', async (line) => {
  const [cmd, round, path, at] = line.split(' ');
  if (cmd === 'go') {
    const start = Number(at);
    if (start - Date.now() > 5) await new Promise((r) => setTimeout(r, start - Date.now() - 5));
    while (Date.now() < start) { /* the barrier: spin the last milliseconds */ }
    try {
      release = await takePidLock(path, (pid) => Object.assign(new Error('busy'), { busyPid: pid }));
      say('won ' + round);
    } catch (e) {
      say(e.busyPid !== undefined ? 'busy ' + round + ' ' + e.busyPid : 'error ' + round + ' ' + String(e && e.message).replace(/\\n/g, ' '));
    }
  } else if (cmd === 'release') {
    if (release) await release();
    release = null;
    say('released ' + round);
  }
});
say('ready');
`;

// a holder that takes the lock, says so, and waits to be killed
const HOLDER = `
import { takePidLock } from './lock.mjs';
await takePidLock(process.argv[2], (pid) => new Error('busy ' + pid));
process.stdout.write('holding\\n');
setInterval(() => {}, 60_000);
`;

interface Proc {
  child: ChildProcessWithoutNullStreams;
  lines: string[];
}

let dir: string;
const procs: Proc[] = [];

function start(script: string, args: string[] = []): Proc {
  const child = spawn(process.execPath, [join(dir, script), ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
  const p: Proc = { child, lines: [] };
  createInterface({ input: child.stdout }).on('line', (l) => p.lines.push(l));
  child.stderr.on('data', (d: Buffer) => p.lines.push(`stderr ${d.toString().trim()}`));
  procs.push(p);
  return p;
}

function line(p: Proc, re: RegExp, what: string, timeoutMs = 20_000): Promise<string> {
  return waitFor(what, () => p.lines.find((l) => re.test(l)) ?? (p.child.exitCode !== null ? Promise.reject(new Error(`exited: ${p.lines.join(' | ')}`)) : null), timeoutMs, 5);
}

async function kill(p: Proc): Promise<void> {
  if (p.child.exitCode !== null || p.child.signalCode !== null) return;
  const gone = new Promise((r) => p.child.once('exit', r));
  p.child.kill('SIGKILL');
  await gone;
}

/** a lock whose holder was SIGKILLed while holding it */
async function staleLock(path: string): Promise<number> {
  const h = start('holder.mjs', [path]);
  await line(h, /^holding$/, 'the holder to take the lock');
  await kill(h);
  expect(existsSync(path)).toBe(true);
  return h.child.pid!;
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'refscope-lock-'));
  await build({
    entryPoints: [join(ROOT, 'src', 'session', 'lock.ts')],
    bundle: true, platform: 'node', format: 'esm', outfile: join(dir, 'lock.mjs'), logLevel: 'silent',
  });
  await stopEsbuild(); // its service process would otherwise live on with this worker
  writeFileSync(join(dir, 'taker.mjs'), TAKER);
  writeFileSync(join(dir, 'holder.mjs'), HOLDER);
});

afterAll(async () => {
  await Promise.all(procs.map(kill));
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('takePidLock between processes', () => {
  it(`a stale lock raced by ${TAKERS} takers at once: exactly one takes it, the rest are refused with its pid (${ROUNDS} rounds)`, async () => {
    const takers = Array.from({ length: TAKERS }, () => start('taker.mjs'));
    await Promise.all(takers.map((t, i) => line(t, /^ready$/, `taker ${i} to start`)));
    const lock = join(dir, 'race.lock');
    const bad: string[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      const dead = await staleLock(lock);
      const at = Date.now() + 80;
      for (const t of takers) t.child.stdin.write(`go ${round} ${lock} ${at}\n`);
      const outcomes = await Promise.all(takers.map((t, i) => line(t, new RegExp(`^(won|busy|error) ${round}\\b`), `taker ${i} in round ${round}`)));
      const winners = takers.filter((_, i) => outcomes[i] === `won ${round}`);
      const winnerPid = winners[0]?.child.pid;
      const refusedByWinner = outcomes.filter((o) => o === `busy ${round} ${winnerPid}`).length;
      if (winners.length !== 1 || refusedByWinner !== TAKERS - 1) {
        bad.push(`round ${round} (stale holder ${dead}): ${outcomes.map((o, i) => `${takers[i]!.child.pid}: ${o}`).join(', ')}`);
      }
      // every winner lets go; then nothing is left at the lock path for the next round
      for (const w of winners) {
        w.child.stdin.write(`release ${round}\n`);
        await line(w, new RegExp(`^released ${round}$`), `the winner of round ${round} to release`);
      }
      expect(existsSync(lock), `round ${round}: the lock path is gone once released`).toBe(false);
    }
    expect(bad).toEqual([]);
  });

  it('a live holder refuses every taker with its own pid, and once it releases, the next taker gets the lock', async () => {
    const lock = join(dir, 'live.lock');
    const holder = start('taker.mjs');
    const others = [start('taker.mjs'), start('taker.mjs')];
    await Promise.all([holder, ...others].map((t) => line(t, /^ready$/, 'a taker to start')));
    holder.child.stdin.write(`go 0 ${lock} ${Date.now()}\n`);
    expect(await line(holder, /^(won|busy|error) 0\b/, 'the holder')).toBe('won 0');
    const at = Date.now() + 50;
    for (const t of others) t.child.stdin.write(`go 0 ${lock} ${at}\n`);
    for (const t of others) expect(await line(t, /^(won|busy|error) 0\b/, 'a refused taker')).toBe(`busy 0 ${holder.child.pid}`);
    holder.child.stdin.write('release 0\n');
    await line(holder, /^released 0$/, 'the release');
    expect(existsSync(lock)).toBe(false);
    others[0]!.child.stdin.write(`go 1 ${lock} ${Date.now()}\n`);
    expect(await line(others[0]!, /^(won|busy|error) 1\b/, 'the next taker')).toBe('won 1');
  });

  it('a lock file an earlier refscope left (a plain file with a dead pid) is taken over', async () => {
    const lock = join(dir, 'legacy.lock');
    const dead = await staleLock(join(dir, 'scratch.lock')); // a pid that is surely gone now
    writeFileSync(lock, String(dead));
    const t = start('taker.mjs');
    await line(t, /^ready$/, 'the taker to start');
    t.child.stdin.write(`go 0 ${lock} ${Date.now()}\n`);
    expect(await line(t, /^(won|busy|error) 0\b/, 'the taker')).toBe('won 0');
  });
});
