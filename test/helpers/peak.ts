/**
 * A process's peak memory, as the kernel counts it: `VmHWM` (the high-water mark of its
 * resident set) in /proc/PID/status, read every `everyMs` while it runs. The mark only
 * grows, so the last value read before the process ended is its peak (less whatever it
 * grew in its last `everyMs`).
 */
import { readFileSync } from 'node:fs';

export interface PeakWatch {
  /** the highest VmHWM read so far, KiB (0 before the first read) */
  kib(): number;
  /** stop polling; the peak in MiB */
  stop(): number;
}

export function vmHwmKiB(pid: number): number | null {
  try {
    const m = /^VmHWM:\s+(\d+)\s+kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) : null;
  } catch {
    return null;
  }
}

export function watchPeak(pid: number, everyMs = 50): PeakWatch {
  let peak = 0;
  const read = () => {
    const v = vmHwmKiB(pid);
    if (v !== null && v > peak) peak = v;
  };
  read();
  const timer = setInterval(read, everyMs);
  return {
    kib: () => peak,
    stop: () => {
      clearInterval(timer);
      return peak / 1024;
    },
  };
}
