import { Writable } from 'node:stream';
import { setTimeout as delay } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { transferBars } from '../../src/cli/progress.js';

function terminal(isTTY: boolean): NodeJS.WriteStream & { text(): string } {
  let out = '';
  const w = new Writable({ write(chunk, _enc, cb) { out += String(chunk); cb(); } }) as unknown as NodeJS.WriteStream & { text(): string };
  Object.assign(w, { isTTY, columns: 80, rows: 24, cursorTo: () => true, clearLine: () => true, moveCursor: () => true, text: () => out });
  return w;
}

describe('transfer progress bars', () => {
  it('are off when stderr is not a terminal', async () => {
    expect(await transferBars(terminal(false))).toBeUndefined();
  });

  it('stay hidden for a transfer that ends within a second', async () => {
    const t = terminal(true);
    const bars = (await transferBars(t))!;
    bars('deploy', 0, 4096);
    bars('deploy', 4096, 4096);
    expect(t.text()).toBe('');
  });

  it('appear once a transfer has taken over a second, and show KiB done of total', async () => {
    const t = terminal(true);
    const bars = (await transferBars(t))!;
    bars('push', 0, 10 * 1024 * 1024);
    await delay(1100); // the threshold under test is one second of wall time
    bars('push', 5 * 1024 * 1024, 10 * 1024 * 1024);
    expect(t.text()).toMatch(/push +\[.*\] 50% 5120\/10240 KiB/);
    bars('push', 10 * 1024 * 1024, 10 * 1024 * 1024);
  });
});
