/**
 * A "device" for the SSH test rig: a folder that plays the handheld's filesystem view.
 * Its bin/ holds busybox applets (and, when asked, some Pythons) and nothing else, and a
 * forced-command wrapper makes every login (sshd ForceCommand, dropbear -c) run under
 * busybox sh with only that PATH and HOME=<device>/home, so bash-isms and GNU-only flags
 * fail as they would on an N810.
 */
import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface RigDevice {
  root: string;
  bin: string;
  home: string;
  /** the forced command every login runs */
  shell: string;
  cleanup(): void;
}

export interface DeviceOptions {
  /** interpreters to put on the device PATH, as name → absolute path (e.g. python2.7 → …) */
  pythons?: Record<string, string>;
}

export function busyboxPath(): string {
  return execFileSync('sh', ['-c', 'command -v busybox'], { encoding: 'utf8' }).trim();
}

export function makeDevice(opts: DeviceOptions = {}): RigDevice {
  const root = mkdtempSync(join(tmpdir(), 'refscope-dev-'));
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
      `PATH='${bin}'; export PATH`,
      `HOME='${home}'; export HOME`,
      `SHELL='${bb}'; export SHELL`,
      'cd "$HOME" || exit 1',
      'if [ -n "${SSH_ORIGINAL_COMMAND:-}" ]; then',
      `  exec '${bb}' sh -c "$SSH_ORIGINAL_COMMAND"`,
      'fi',
      `exec '${bb}' sh -l`,
      '',
    ].join('\n'),
  );
  chmodSync(shell, 0o755);
  const device: RigDevice = {
    root, bin, home, shell,
    cleanup: () => {
      killDeviceRuns(device);
      rmSync(root, { recursive: true, force: true });
    },
  };
  return device;
}

/**
 * Apps started on the device outlive their connections by design (a dropped run, a
 * soak): end whatever a test left running there, by the launcher's pid files.
 */
export function killDeviceRuns(device: RigDevice): void {
  const runs = join(device.home, '.refscope', 'runs');
  if (!existsSync(runs)) return;
  for (const r of readdirSync(runs)) {
    const pidFile = join(runs, r, 'pid');
    const pid = existsSync(pidFile) ? Number(readFileSync(pidFile, 'utf8')) : 0;
    if (pid > 0) {
      try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ }
    }
  }
}
