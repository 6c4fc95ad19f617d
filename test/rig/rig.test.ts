import { execFileSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { coreInterpreters } from '../helpers/pythons.js';
import { makeDevice, type RigDevice } from './device.js';
import { serverAvailable, startServer, type RigServer, type ServerKind } from './servers.js';

function sshRun(s: RigServer, command: string): string {
  return execFileSync('ssh', [
    '-o', 'BatchMode=yes', '-o', 'StrictHostKeyChecking=yes', '-o', `UserKnownHostsFile=${s.knownHosts}`,
    '-o', 'IdentitiesOnly=yes', '-i', s.identityFile, '-p', String(s.port), `${s.user}@${s.host}`, command,
  ], { encoding: 'utf8', timeout: 20_000, stdio: ['ignore', 'pipe', 'pipe'] });
}

for (const kind of ['openssh', 'dropbear'] as ServerKind[]) {
  const why = serverAvailable(kind);
  describe.skipIf(why !== null)(`test rig: ${kind}${why ? ` (skipped: ${why})` : ''}`, () => {
    let device: RigDevice;
    let server: RigServer;
    beforeAll(async () => {
      const py = coreInterpreters()[0];
      device = makeDevice({ pythons: py ? { [`python${py.label}`]: py.path } : {} });
      server = await startServer(kind, device);
    });
    afterAll(async () => {
      await server?.stop();
      device?.cleanup();
    });

    it('accepts the rig key, verifies its host key, and logs into the busybox device', () => {
      const out = sshRun(server, 'echo "$PATH"; echo "$HOME"; readlink "$(command -v ls)"; ls --version 2>&1 | head -n 1');
      const [path, home, ls, lsVersion] = out.split('\n');
      expect(path).toBe(device.bin);
      expect(home).toBe(device.home);
      expect(ls).toMatch(/busybox$/);
      expect(lsVersion).not.toMatch(/GNU coreutils/);
    });

    it('offers no SFTP subsystem', () => {
      expect(() => execFileSync('sftp', [
        '-o', 'BatchMode=yes', '-o', `UserKnownHostsFile=${server.knownHosts}`, '-i', server.identityFile,
        '-P', String(server.port), `root@127.0.0.1`,
      ], { input: 'ls\n', timeout: 20_000, stdio: ['pipe', 'pipe', 'pipe'] })).toThrow();
    });
  });
}
