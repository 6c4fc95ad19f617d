/**
 * Files off a device: a tar command's stdout (busybox tar is enough) unpacked with
 * tar-stream as it arrives, each regular file handed over whole. A connection that dies
 * mid-stream ends the unpacking too (a half-read tar never settles by itself), so the
 * caller always gets an answer.
 */
import { posix } from 'node:path';
import { extract as tarExtract } from 'tar-stream';
import { BoundedOutput, type Transport } from '../transport/types.js';

export interface PullResult {
  code: number | null;
  stderr: string;
  /** files handed to onFile */
  files: number;
  /** the device sent nothing for `idleMs` and the pull was given up (code is then null) */
  stalled: boolean;
  /** what was wrong with the archive the device sent (code is then null), or null */
  broken: string | null;
}

/** A pull that receives nothing for this long is given up: a device that stops sending must not hang the host. */
export const PULL_IDLE_MS = 60_000;
/** After giving up, how long to wait for the channel to end before settling anyway. */
const GIVE_UP_GRACE_MS = 2_000;

export async function pullTar(
  t: Transport,
  argv: readonly string[],
  onFile: (name: string, data: Buffer) => Promise<void>,
  onBytes?: (received: number) => void,
  idleMs: number = PULL_IDLE_MS,
): Promise<PullResult> {
  const proc = await t.spawn(argv);
  const ex = tarExtract();
  let files = 0;
  // the archive is the device's: a broken one is a device fault (a result), never an
  // unhandled rejection; a failure of onFile is ours (a full disk here) and is thrown
  let broken: string | null = null;
  let ours: unknown = null;
  let stalled = false;
  let givenUp = false;
  const unpacked = (async () => {
    for await (const entry of ex) {
      const chunks: Buffer[] = [];
      for await (const c of entry) chunks.push(c as Buffer);
      if (entry.header.type === 'file') {
        try {
          await onFile(posix.basename(entry.header.name), Buffer.concat(chunks));
        } catch (e) {
          ours = e;
          throw e;
        }
        files++;
      }
    }
  })().catch((e: unknown) => {
    // once given up, the unpacking's own end (a destroyed stream) is not the device's fault
    if (ours === null && !givenUp) broken = (e instanceof Error ? e.message : String(e)).split('\n')[0]!.slice(0, 200);
  });
  const errText = new BoundedOutput();
  let received = 0;
  let lastData = Date.now();
  proc.stdout!.on('data', (b: Buffer) => { received += b.length; lastData = Date.now(); onBytes?.(received); });
  proc.stderr?.on('data', (b: Buffer) => { errText.add(b); lastData = Date.now(); });
  proc.stdout!.pipe(ex);
  const st = await new Promise<{ code: number | null; signal: string | null }>((resolve) => {
    const watch = setInterval(() => {
      if (givenUp) return;
      // a broken archive will not mend: give it up at once; a silent device after idleMs
      if (broken === null) {
        if (Date.now() - lastData < idleMs) return;
        stalled = true;
      }
      givenUp = true;
      proc.kill('SIGKILL');
      setTimeout(() => resolve({ code: null, signal: null }), GIVE_UP_GRACE_MS).unref();
    }, Math.min(1000, Math.max(50, idleMs / 4)));
    void proc.exited.then((s) => { clearInterval(watch); resolve(s); }, () => { clearInterval(watch); resolve({ code: null, signal: null }); });
  });
  if (givenUp || st.code !== 0) {
    ex.destroy();
    await unpacked.catch(() => undefined);
  } else {
    await unpacked;
  }
  if (ours !== null) {
    proc.kill('SIGKILL');
    throw ours;
  }
  return { code: stalled || broken !== null ? null : st.code, stderr: errText.text().trim(), files, stalled, broken };
}

/** Why a pull failed, in words for its error message. */
export function pullFailure(r: PullResult): string {
  if (r.broken !== null) return `the device sent a broken archive: ${r.broken}`;
  if (r.stalled) return `the device sent nothing for ${PULL_IDLE_MS / 1000} s`;
  return r.stderr || `tar exit ${r.code}`;
}
