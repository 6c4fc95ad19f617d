/**
 * A pid lock: one holder at a time; a lock whose process is gone (killed mid-work) is stale
 * and taken over, and the takeover is atomic: of any number of processes taking over the
 * same stale lock at once, exactly one ends up holding it.
 *
 * On disk the lock is a directory at `path` holding one file named after its owner,
 * `<pid>.<random>`. To take it, a process builds such a directory under a unique temporary
 * name and rename()s it to `path`. rename() onto a directory succeeds only when the target is
 * missing or empty, so exactly one of many racing renames wins. A stale lock is emptied by
 * unlinking its dead owner's file by that file's unique name: if another taker has meanwhile
 * put its own lock there, the name is not in it and nothing is removed, so no taker can ever
 * empty a live lock. Releasing unlinks the owner's file and removes the then-empty directory
 * (rmdir fails, harmlessly, when a new owner has already moved in). A lock file written by an
 * earlier refscope (a plain file holding a pid) is read and, when stale, replaced the same way.
 */
import { randomBytes } from 'node:crypto';
import { lstat, mkdir, readdir, readFile, rename, rm, rmdir, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { RefscopeError } from '../errors.js';

const OWNER = /^(\d+)\.[0-9a-f]+$/;
/** the lock files this process holds now (a second take in the same process is refused) */
const held = new Set<string>();

function isAlive(pid: number): boolean {
  if (!(pid > 0)) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM'; // there, but not ours to signal
  }
}

function codeOf(e: unknown): string | undefined {
  return (e as NodeJS.ErrnoException).code;
}

export async function takePidLock(path: string, busy: (pid: number) => RefscopeError): Promise<() => Promise<void>> {
  const token = `${process.pid}.${randomBytes(8).toString('hex')}`;
  const tmp = `${path}.${token}.tmp`;
  await mkdir(tmp);
  try {
    await writeFile(join(tmp, token), `${process.pid}\n`);
    for (let attempt = 0; attempt < 50; attempt++) {
      try {
        await rename(tmp, path);
        const mine = join(path, token);
        held.add(mine);
        return async () => {
          held.delete(mine);
          await unlink(mine).catch(() => undefined);
          await rmdir(path).catch(() => undefined); // ENOTEMPTY: the next holder is already in
        };
      } catch (e) {
        const code = codeOf(e);
        if (code !== 'ENOTEMPTY' && code !== 'EEXIST' && code !== 'ENOTDIR' && code !== 'EISDIR') throw e;
      }
      // taken, or left behind by a process that died: look who owns it
      const st = await lstat(path).catch(() => null);
      if (!st) continue; // released meanwhile
      if (!st.isDirectory()) {
        // an earlier refscope's lock file, holding a pid
        const pid = Number((await readFile(path, 'utf8').catch(() => '')).trim()) || 0;
        if (pid !== process.pid && isAlive(pid)) throw busy(pid);
        // stale. If another taker has replaced it with a lock directory already, unlink fails (EISDIR)
        await unlink(path).catch(() => undefined);
        continue;
      }
      const names = await readdir(path).catch(() => [] as string[]);
      for (const n of names) {
        const m = OWNER.exec(n);
        if (held.has(join(path, n))) throw busy(process.pid);
        // our own pid on a file we do not hold: an earlier process that had our pid
        if (m && Number(m[1]) !== process.pid && isAlive(Number(m[1]))) throw busy(Number(m[1]));
      }
      // every owner listed is gone: remove exactly those files (never a newer owner's, whose name differs)
      for (const n of names) await unlink(join(path, n)).catch(() => undefined);
    }
    throw new RefscopeError('ERR_USAGE', `could not take the lock ${path}`, 'Remove it if no refscope is running');
  } finally {
    await rm(tmp, { recursive: true, force: true }); // gone already when the rename won
  }
}
