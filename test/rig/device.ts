/**
 * A "device" for the SSH test rig: a folder that plays the handheld's filesystem view.
 * Its bin/ holds busybox applets (and, when asked, some Pythons) and nothing else, and a
 * forced-command wrapper makes every login (sshd ForceCommand, dropbear -c) run under
 * busybox sh with only that PATH and HOME=<device>/home, so bash-isms and GNU-only flags
 * fail as they would on an N810.
 *
 * Nothing a device starts outlives it: its login script exports the rig's markers (see
 * procs.ts), so every process started over SSH carries the device's folder, and cleanup()
 * ends every process of the device (detached runs, followers, and the servers started for
 * it) with SIGTERM, then SIGKILL at a deadline, before deleting the folder: in afterAll,
 * even when a test failed or timed out, and from the setup file's afterAll when a test
 * file left a device behind.
 */
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { belongsTo, describeProc, markerExports, onRigCleanup, recordRigDir, stopProcsOf } from './procs.js';

export interface RigDevice {
  root: string;
  bin: string;
  home: string;
  /** the forced command every login runs */
  shell: string;
  /**
   * End every process of the device and of the servers started for it (SIGTERM, then
   * SIGKILL at a deadline), then delete its folder. Throws, naming them, when some could
   * not be ended. Safe to call twice.
   */
  cleanup(): void;
  /** folders whose processes are the device's too: the servers started for it (startServer adds its own) */
  serverDirs: string[];
}

export interface DeviceOptions {
  /** interpreters to put on the device PATH, as name → absolute path (e.g. python2.7 → …) */
  pythons?: Record<string, string>;
  /**
   * sh lines (busybox sh) run by every SSH login just before it execs the command: they may
   * inspect "$SSH_ORIGINAL_COMMAND" and answer in its place (ending with `exit`), or fall
   * through to the real command. `$RIG_ROOT` is the device's folder. For hostile-device tests.
   */
  intercept?: string;
}

export function busyboxPath(): string {
  return execFileSync('sh', ['-c', 'command -v busybox'], { encoding: 'utf8' }).trim();
}

export function makeDevice(opts: DeviceOptions = {}): RigDevice {
  const root = mkdtempSync(join(tmpdir(), 'refscope-dev-'));
  recordRigDir(root);
  const bin = join(root, 'bin');
  const home = join(root, 'home');
  mkdirSync(bin);
  mkdirSync(home);
  const bb = busyboxPath();
  const applets = execFileSync(bb, ['--list'], { encoding: 'utf8' }).split('\n').filter(Boolean);
  for (const a of applets) symlinkSync(bb, join(bin, a));
  for (const [name, path] of Object.entries(opts.pythons ?? {})) symlinkSync(path, join(bin, name));
  const shell = join(root, 'login');
  writeFileSync(
    shell,
    [
      `#!${bb} sh`,
      ...markerExports(root),
      `PATH='${bin}'; export PATH`,
      `HOME='${home}'; export HOME`,
      `SHELL='${bb}'; export SHELL`,
      'cd "$HOME" || exit 1',
      'if [ -n "${SSH_ORIGINAL_COMMAND:-}" ]; then',
      ...(opts.intercept !== undefined ? [`  RIG_ROOT='${root}'`, opts.intercept] : []),
      `  exec '${bb}' sh -c "$SSH_ORIGINAL_COMMAND"`,
      'fi',
      `exec '${bb}' sh -l`,
      '',
    ].join('\n'),
  );
  chmodSync(shell, 0o755);
  const serverDirs: string[] = [];
  let done = false;
  const cleanup = (): void => {
    if (done) return;
    done = true;
    unregister();
    const left = stopProcsOf([root, ...serverDirs]);
    rmSync(root, { recursive: true, force: true });
    if (left.length > 0) throw new Error(`rig device ${root}: could not end\n${left.map(describeProc).join('\n')}`);
  };
  const unregister = onRigCleanup(cleanup);
  return { root, bin, home, shell, cleanup, serverDirs };
}

/**
 * Apps started on the device outlive their connections by design (a dropped run, a soak):
 * end everything running on the device (started over SSH: detached runs, followers,
 * shells), but not the servers started for it. SIGTERM, then SIGKILL at a deadline.
 */
export function killDeviceRuns(device: RigDevice): void {
  const left = stopProcsOf([device.root], 10_000, (p) => belongsTo(p, device.serverDirs));
  if (left.length > 0) throw new Error(`rig device ${device.root}: could not end\n${left.map(describeProc).join('\n')}`);
}
