/**
 * A throwaway HOME for driving the CLI against a rig server as a user would: an
 * ~/.ssh/config Host alias and a known_hosts that trusts the server. Tests pass the
 * returned env to the CLI (no agent: keys come from the config).
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { onRigCleanup, recordRigDir } from './procs.js';

export interface RigHome {
  dir: string;
  env: NodeJS.ProcessEnv;
  cleanup(): void;
}

export function rigHome(server: { port: number; identityFile: string; knownHosts: string }, alias = 'rigdev'): RigHome {
  const dir = mkdtempSync(join(tmpdir(), 'refscope-home-'));
  recordRigDir(dir); // a CLI left running in it is a leftover the run's teardown names
  mkdirSync(join(dir, '.ssh'), { mode: 0o700 });
  writeFileSync(join(dir, '.ssh', 'config'), `Host ${alias}\n  HostName 127.0.0.1\n  Port ${server.port}\n  User root\n  IdentityFile ${server.identityFile}\n`);
  writeFileSync(join(dir, '.ssh', 'known_hosts'), readFileSync(server.knownHosts));
  const cleanup = (): void => {
    unregister();
    rmSync(dir, { recursive: true, force: true });
  };
  const unregister = onRigCleanup(cleanup);
  return { dir, env: { HOME: dir, SSH_AUTH_SOCK: '' }, cleanup };
}
