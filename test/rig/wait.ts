/** Waiting on conditions with deadlines: the only way tests wait. */
import { connect } from 'node:net';
import { setTimeout as delay } from 'node:timers/promises';

export async function waitFor<T>(
  what: string,
  probe: () => T | undefined | null | false | Promise<T | undefined | null | false>,
  timeoutMs = 15_000,
  everyMs = 50,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastErr: unknown;
  for (;;) {
    try {
      const v = await probe();
      if (v) return v;
    } catch (err) {
      lastErr = err;
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${lastErr ? `: ${String(lastErr)}` : ''}`);
    }
    await delay(everyMs);
  }
}

/** Resolves with the server's first line (its SSH banner) once a TCP connection is accepted. */
export function readBanner(port: number, host = '127.0.0.1'): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = connect({ port, host });
    let buf = '';
    s.setTimeout(2000, () => { s.destroy(); reject(new Error('no banner')); });
    s.on('data', (d) => {
      buf += d.toString('latin1');
      const i = buf.indexOf('\n');
      if (i >= 0) { s.destroy(); resolve(buf.slice(0, i).trim()); }
    });
    s.on('error', reject);
  });
}

/** A free TCP port on 127.0.0.1 (bound and released; callers retry on a lost race). */
export async function freePort(): Promise<number> {
  const { createServer } = await import('node:net');
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}
