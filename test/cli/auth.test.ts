/**
 * Authentication a person does at a terminal: the device's password, an encrypted key's
 * passphrase. Driven through the built CLI on a pseudo-terminal, against real sshd.
 */
import { chmodSync, chownSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli, startCliPty } from '../helpers/cli.js';
import { makeDevice, type RigDevice } from '../rig/device.js';
import { serverAvailable, startServer, type RigServer } from '../rig/servers.js';
import { passwordUser } from '../rig/users.js';
import { skipWhy } from '../helpers/prereq.js';

const why = serverAvailable('openssh') ?? skipWhy('/usr/bin/python3', existsSync('/usr/bin/python3') ? null : '/usr/bin/python3 missing (apt-get install python3)');

describe.skipIf(why !== null)(`terminal authentication on openssh${why ? ` (skipped: ${why})` : ''}`, () => {
  let device: RigDevice;
  let server: RigServer;
  let home: string;
  let pw: { user: string; password: string };
  beforeAll(async () => {
    device = makeDevice({ pythons: { python3: '/usr/bin/python3' } });
    pw = passwordUser(device.home);
    const uid = Number(execFileSync('id', ['-u', pw.user], { encoding: 'utf8' }));
    chmodSync(device.root, 0o755);
    chownSync(device.home, uid, uid);
    server = await startServer('openssh', device, 'PasswordAuthentication yes');
    home = mkdtempSync(join(tmpdir(), 'refscope-authhome-'));
    mkdirSync(join(home, '.ssh'), { mode: 0o700 });
    writeFileSync(join(home, '.ssh', 'known_hosts'), readFileSync(server.knownHosts));
  });
  afterAll(async () => {
    await server?.stop();
    device?.cleanup();
    rmSync(home, { recursive: true, force: true });
  });

  it('asks for the password on the terminal, without echo, and logs in with it', async () => {
    writeFileSync(join(home, '.ssh', 'config'), '');
    const term = await startCliPty(['doctor', `${pw.user}@127.0.0.1:${server.port}`, '--json'], { env: { HOME: home, SSH_AUTH_SOCK: '' } });
    try {
      await term.waitFor(new RegExp(`${pw.user}@127\\.0\\.0\\.1's password: $`), 30_000);
      term.write(`${pw.password}\r`);
      await term.exited;
      const out = term.output();
      expect(out).not.toContain(pw.password);
      expect(out).toMatch(new RegExp(`"detail": "${pw.user} by password"`));
    } finally {
      term.kill();
    }
  });

  it('asks for an encrypted key\'s passphrase on the terminal; without a terminal it is skipped in one line', async () => {
    const key = join(home, '.ssh', 'id_locked');
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', 'correct horse', '-f', key]);
    server.authorize(readFileSync(`${key}.pub`, 'utf8'));
    writeFileSync(join(home, '.ssh', 'config'), `Host rigdev\n  HostName 127.0.0.1\n  Port ${server.port}\n  User root\n  IdentityFile ${key}\n`);
    // root's own device folder: the shared home's ~/.refscope belongs to the password user, and refscope refuses another user's
    const term = await startCliPty(['doctor', 'rigdev', '--device-dir', '.refscope-root', '--json'], { env: { HOME: home, SSH_AUTH_SOCK: '' } });
    try {
      await term.waitFor(/Enter passphrase for key '.*id_locked': $/, 30_000);
      term.write('correct horse\r');
      const { code } = await term.exited;
      expect(term.output()).toMatch(/"detail": "root by key .*id_locked"/);
      expect(code).toBe(0);
    } finally {
      term.kill();
    }
    const piped = await runCli(['doctor', 'rigdev'], { env: { HOME: home, SSH_AUTH_SOCK: '' }, timeoutMs: 60_000 });
    expect(piped.code).toBe(3);
    expect(piped.stdout.toString()).toMatch(/FAIL {2}auth +authentication to root@127\.0\.0\.1:\d+ failed/);
  });
});
