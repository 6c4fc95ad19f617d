import { describe, expect, it } from 'vitest';
import { LocalTransport } from '../../src/transport/local.js';

const node = process.execPath;
const echoArgv = 'process.stdout.write(JSON.stringify(process.argv.slice(1)))';
const hostile = ['a b', "it's", '"quoted"', '$HOME', '`id`', '; rm -rf /', '*', '', 'tab\there', 'new\nline', '\\'];

describe('LocalTransport', () => {
  const t = new LocalTransport();

  it('passes argv verbatim, through no shell', async () => {
    const r = await t.run([node, '-e', echoArgv, '--', ...hostile]);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual(hostile);
  });

  it('captures stdout, stderr and the exit status', async () => {
    const r = await t.run([node, '-e', 'process.stdout.write("out"); process.stderr.write("err"); process.exit(7)']);
    expect(r).toMatchObject({ code: 7, signal: null, stdout: 'out', stderr: 'err', timedOut: false });
  });

  it('kills a command that runs past its timeout', async () => {
    const r = await t.run([node, '-e', 'setTimeout(() => {}, 60000)'], { timeoutMs: 300 });
    expect(r.timedOut).toBe(true);
    expect(r.signal).toBe('SIGKILL');
  });

  it('rejects when the program does not exist', async () => {
    await expect(t.run(['/nonexistent/refscope-nope'])).rejects.toMatchObject({ code: 'ENOENT' });
    const p = await t.spawn(['/nonexistent/refscope-nope']);
    await expect(p.exited).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('spawns with pipes, delivers a signal, and reports it', async () => {
    const p = await t.spawn([node, '-e', 'process.stdout.write("ready"); setInterval(() => {}, 1000)']);
    expect(p.sharesProcessGroup).toBe(true);
    await new Promise<void>((res) => p.stdout!.once('data', () => res()));
    p.kill('SIGINT');
    expect(await p.exited).toEqual({ code: null, signal: 'SIGINT' });
    p.kill('SIGKILL'); // a no-op once it has ended
  });

  it('runs under a pseudo-terminal when asked, argv still verbatim', async () => {
    const p = await t.spawn([node, '-e', `${echoArgv}; process.stdout.write(" tty=" + process.stdout.isTTY)`, '--', 'a b', "it's"],
      { tty: { cols: 100, rows: 20 } });
    expect(p.sharesProcessGroup).toBe(false);
    let out = '';
    p.stdout!.on('data', (d: Buffer) => { out += d.toString('utf8'); });
    expect(await p.exited).toEqual({ code: 0, signal: null });
    await new Promise((r) => setTimeout(r, 50));
    expect(out).toContain('["a b","it\'s"] tty=true');
  });
});
