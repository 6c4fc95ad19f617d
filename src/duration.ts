/**
 * Durations as users write them: "72h", "30m", "45s", "1d" or plain seconds. One parser for
 * the command line (`soak start --duration`) and the farm inventory (`duration:`).
 */

/** Seconds, or null when `v` is not a duration. */
export function parseDuration(v: string | number): number | null {
  if (typeof v === 'number') return Number.isFinite(v) ? v : null;
  const m = /^(\d+(?:\.\d+)?)\s*(s|m|h|d)?$/i.exec(v.trim());
  if (!m) return null;
  const unit = (m[2] ?? 's').toLowerCase();
  return Number(m[1]) * (unit === 'd' ? 86400 : unit === 'h' ? 3600 : unit === 'm' ? 60 : 1);
}

/** How to write one, for messages. */
export const DURATION_HINT = 'seconds or a number with s, m, h or d (90, 45m, 72h)';
