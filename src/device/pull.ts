/**
 * Files off a device: a tar command's stdout (busybox tar is enough) unpacked with
 * tar-stream as it arrives, each regular file handed over whole. A connection that dies
 * mid-stream ends the unpacking too (a half-read tar never settles by itself), so the
 * caller always gets an answer.
 */
import { posix } from 'node:path';
import { extract as tarExtract } from 'tar-stream';
import type { Transport } from '../transport/types.js';

export interface PullResult {
  code: number | null;
  stderr: string;
  /** files handed to onFile */
  files: number;
}

export async function pullTar(
  t: Transport,
  argv: readonly string[],
  onFile: (name: string, data: Buffer) => Promise<void>,
  onBytes?: (received: number) => void,
): Promise<PullResult> {
  const proc = await t.spawn(argv);
  const ex = tarExtract();
  let files = 0;
  const unpacked = (async () => {
    for await (const entry of ex) {
      const chunks: Buffer[] = [];
      for await (const c of entry) chunks.push(c as Buffer);
      if (entry.header.type === 'file') {
        await onFile(posix.basename(entry.header.name), Buffer.concat(chunks));
        files++;
      }
    }
  })();
  const errText: Buffer[] = [];
  proc.stderr?.on('data', (b: Buffer) => errText.push(b));
  let received = 0;
  proc.stdout!.on('data', (b: Buffer) => { received += b.length; onBytes?.(received); });
  proc.stdout!.pipe(ex);
  const st = await proc.exited;
  if (st.code !== 0) {
    ex.destroy();
    await unpacked.catch(() => undefined);
  } else {
    await unpacked;
  }
  return { code: st.code, stderr: Buffer.concat(errText).toString().trim(), files };
}
