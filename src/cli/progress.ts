/**
 * Progress bars for slow transfers (deploy, --push, collection): on stderr, only when
 * stderr is a terminal, and only once a transfer has taken longer than a second.
 */
import type { TransferProgress } from '../capture/remote.js';

const SHOW_AFTER_MS = 1000;

export async function transferBars(stream: NodeJS.WriteStream = process.stderr): Promise<TransferProgress | undefined> {
  if (!stream.isTTY) return undefined;
  const { SingleBar, Presets } = (await import('cli-progress')).default;
  const bars = new Map<string, { bar: InstanceType<typeof SingleBar> | null; started: number; total: number }>();
  return (phase, done, total) => {
    let b = bars.get(phase);
    if (!b) {
      b = { bar: null, started: Date.now(), total };
      bars.set(phase, b);
    }
    const t = Math.max(total, done, 1);
    if (!b.bar && Date.now() - b.started >= SHOW_AFTER_MS && done < t) {
      b.bar = new SingleBar({
        stream, format: `${phase.padEnd(8)} [{bar}] {percentage}% {value}/{total} KiB`, hideCursor: false, clearOnComplete: true,
      }, Presets.legacy);
      b.bar.start(Math.ceil(t / 1024), Math.floor(done / 1024));
    }
    if (b.bar) {
      b.bar.setTotal(Math.ceil(t / 1024));
      b.bar.update(Math.floor(done / 1024));
      if (done >= t) { b.bar.stop(); bars.delete(phase); }
    } else if (done >= t) {
      bars.delete(phase);
    }
  };
}
