/**
 * The app's pid on a device, read from its run folder's `pid` file (the launcher writes it)
 * before anything is signalled or inspected by it. The device is not trusted: a pid file
 * that says `-1` would make `kill` signal every process of the login user, `0` the whole
 * process group. Only a positive decimal integer is a pid; anything else reads as none.
 */

/**
 * sh: sets `p` to the pid in "$DIR/pid", or to the empty string when that is not a positive
 * integer. `dir` is a shell word that expands to the run folder (e.g. `"$1"`).
 */
export const readPidSh = (dir: string): string =>
  `p=$(cat ${dir}/pid 2>/dev/null | head -n 1); case "$p" in ''|0*|*[!0-9]*) p= ;; esac`;

/** The same rule on this side, for what a status listing reports. */
export function parsePid(s: string | undefined): number | null {
  const v = (s ?? '').trim();
  return /^[1-9][0-9]{0,9}$/.test(v) && Number(v) <= 0x7fffffff ? Number(v) : null;
}
