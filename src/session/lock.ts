/**
 * A pid lock file: created with O_EXCL and holding the owner's pid, so one holder at a
 * time; a lock whose process is gone (killed mid-work) is stale and taken over.
 */
import { open, readFile, unlink } from 'node:fs/promises';
import { RefscopeError } from '../errors.js';

export async function takePidLock(path: string, busy: (pid: number) => RefscopeError): Promise<() => Promise<void>> {
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fh = await open(path, 'wx');
      await fh.writeFile(String(process.pid));
      await fh.close();
      return () => unlink(path).catch(() => undefined);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      const pid = Number(await readFile(path, 'utf8').catch(() => '0')) || 0;
      let alive = false;
      if (pid > 0 && pid !== process.pid) { try { process.kill(pid, 0); alive = true; } catch { alive = false; } }
      if (alive) throw busy(pid);
      await unlink(path).catch(() => undefined); // stale: its process died
    }
  }
  throw new RefscopeError('ERR_USAGE', `could not take the lock ${path}`, 'Remove it if no refscope is running');
}
