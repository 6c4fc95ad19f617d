/**
 * The text report on a terminal: colour only there, NO_COLOR honoured, lines fit the
 * terminal's width; piped output has no escape sequence at all. And what it lists: the
 * weaker signals one line each by default, every suspect in full with --all.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { leaking, synthSession } from '../analysis/synth.js';
import { runCli, startCliPty, within } from '../helpers/cli.js';

let work: string;
let session: string;
/** a leak and a weaker signal that follows it (app.Photo's refcount, held by each new Widget) */
let withWeak: string;
beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), 'refscope-report-tty-'));
  session = join(work, 'seg-out');
  mkdirSync(session);
  const records = synthSession({ seed: 8, marks: 500, types: { 'app.Widget': leaking(1) }, holders: { 'app.Widget': [['bound method Widget.on_click in list EventBus.handlers[\'click\']', 3]] } });
  writeFileSync(join(session, 'seg-000001.jsonl'), records.map((r) => JSON.stringify(r)).join('\n') + '\n');
  withWeak = join(work, 'with-weak');
  mkdirSync(withWeak);
  const weak = synthSession({ seed: 8, marks: 500, types: { 'app.Widget': leaking(1), 'app.Photo': (m) => [24, 24 + m] } });
  writeFileSync(join(withWeak, 'seg-000001.jsonl'), weak.map((r) => JSON.stringify(r)).join('\n') + '\n');
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

// eslint-disable-next-line no-control-regex
const SGR = /\u001b\[[0-9;]*m/g;

async function onTerminal(env: NodeJS.ProcessEnv): Promise<string> {
  const t = await startCliPty(['report', session], { cols: 80, env });
  const { code } = await within(t.exited, 30_000, 'report on a terminal');
  expect(code).toBe(1);
  return t.output();
}

describe('refscope report on a terminal', () => {
  it('colours the verdict on a TTY, with lines within the 80 columns', async () => {
    const out = await onTerminal({ NO_COLOR: '', LANG: 'C.UTF-8' });
    expect(out).toMatch(/\u001b\[31m\u001b\[1mLEAK/);
    expect(out).toMatch(/rss chart {2}[▁▂▃▄▅▆▇█]+/);
    for (const l of out.replace(SGR, '').split(/\r?\n/)) expect(l.length).toBeLessThanOrEqual(80);
  });

  it('NO_COLOR=1 on a TTY, and any pipe, print no escape sequence; ASCII sparklines without a UTF-8 locale', async () => {
    const out = await onTerminal({ NO_COLOR: '1', LANG: 'C.UTF-8' });
    expect(out).toContain('LEAK');
    expect(out).not.toContain('\u001b');
    const piped = await runCli(['report', session], { env: { NO_COLOR: '', LANG: 'C', LC_ALL: '', LC_CTYPE: '' } });
    const text = piped.stdout.toString('utf8');
    expect(text).not.toContain('\u001b');
    expect(text).toMatch(/\nrss chart {2}[_.,\-=+*#]+ /);
  });
});

describe('refscope report: weaker signals and --all', () => {
  it('lists a suspect below the confidence line in one line by default, in full with --all', async () => {
    const short = await runCli(['report', withWeak]);
    expect(short.code).toBe(1);
    const text = short.stdout.toString('utf8');
    expect(text).toContain(' 1. app.Widget  object-growth  confidence 1.00\n');
    expect(text).toContain('\nWeaker signals (confidence below 0.6, or explained by one above):\n' +
      ' 2. app.Photo  +1.00 refs per frame (0.50, follows #1)\n    (`refscope report --all` shows them in full)\n');
    expect(text).not.toContain('refcount sum of app.Photo');

    const all = await runCli(['report', withWeak, '--all']);
    expect(all.code).toBe(1);
    const full = all.stdout.toString('utf8');
    expect(full).not.toContain('Weaker signals');
    expect(full).toContain(' 2. app.Photo  refcount-growth  confidence 0.50\n');
    expect(full).toContain('refcount sum of app.Photo');
  });
});
