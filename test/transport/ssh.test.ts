import { execFileSync, spawn } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DeviceTarget } from '../../src/transport/target.js';
import { RefscopeError } from '../../src/errors.js';
import { SshTransport } from '../../src/transport/ssh.js';
import { makeDevice, type RigDevice } from '../rig/device.js';
import { serverAvailable, startServer, type RigServer, type ServerKind } from '../rig/servers.js';
import { freePort, waitFor } from '../rig/wait.js';

function target(s: RigServer, extra: Partial<DeviceTarget> = {}): DeviceTarget {
  return {
    spec: `root@127.0.0.1:${s.port}`, host: '127.0.0.1', port: s.port, user: 'root',
    identityFiles: [s.identityFile], proxyJump: null, connectTimeoutSeconds: 10, serverAliveIntervalSeconds: 5,
    ...extra,
  };
}

async function refusal(p: Promise<unknown>): Promise<RefscopeError> {
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(RefscopeError);
    return e as RefscopeError;
  }
  throw new Error('expected a refusal');
}

const HOSTILE = ['two words', "it's", '$(id)', '`id`', 'a\nb', 'ünï ✓', '', '*', '; exit 9'];

for (const kind of ['openssh', 'dropbear'] as ServerKind[]) {
  const why = serverAvailable(kind);
  describe.skipIf(why !== null)(`ssh transport on ${kind}${why ? ` (skipped: ${why})` : ''}`, () => {
    let device: RigDevice;
    let server: RigServer;
    let work: string;
    beforeAll(async () => {
      device = makeDevice();
      server = await startServer(kind, device);
      work = mkdtempSync(join(tmpdir(), 'refscope-sshtest-'));
    });
    afterAll(async () => {
      await server?.stop();
      device?.cleanup();
      rmSync(work, { recursive: true, force: true });
    });

    it('connects with a verified host key and passes hostile argv through busybox sh verbatim', async () => {
      const t = await SshTransport.connect({ target: target(server), knownHostsFiles: [server.knownHosts] });
      try {
        expect(t.info.hostKey.status).toBe('known');
        expect(t.info.authMethod).toContain(server.identityFile);
        const r = await t.run(['printf', '%s\\0', ...HOSTILE]);
        expect(r.code).toBe(0);
        expect(r.stdout.split('\0').slice(0, -1)).toEqual(HOSTILE);
        const fail = await t.run(['sh', '-c', 'echo oops >&2; exit 7']);
        expect(fail).toMatchObject({ code: 7, stderr: 'oops\n' });
        const cwd = await t.run(['pwd'], { cwd: device.root });
        expect(cwd.stdout.trim()).toBe(device.root);
      } finally {
        await t.close();
      }
    });

    it('refuses an unknown host key with its fingerprint and the --accept-new fix, then trusts it when asked', async () => {
      const kh = join(work, `${kind}-empty_known_hosts`);
      writeFileSync(kh, '');
      const e = await refusal(SshTransport.connect({ target: target(server), knownHostsFiles: [kh] }));
      expect(e.exitCode).toBe(3);
      expect(e.toLine()).toMatch(/host key of \[127\.0\.0\.1\]:\d+ is not known \(ssh-ed25519 SHA256:[A-Za-z0-9+/]+/);
      expect(e.toLine()).toContain('--accept-new');
      const t = await SshTransport.connect({ target: target(server), knownHostsFiles: [kh], acceptNew: true });
      await t.close();
      expect(readFileSync(kh, 'utf8')).toMatch(/^\|1\|/);
      const again = await SshTransport.connect({ target: target(server), knownHostsFiles: [kh] });
      expect(again.info.hostKey.status).toBe('known');
      await again.close();
    });

    it('refuses a changed host key and names the file and line to fix', async () => {
      const kh = join(work, `${kind}-changed_known_hosts`);
      execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', join(work, `${kind}-other`)]);
      const other = readFileSync(join(work, `${kind}-other.pub`), 'utf8').split(' ').slice(0, 2).join(' ');
      writeFileSync(kh, `# lab devices\n[127.0.0.1]:${server.port} ${other}\n`);
      const e = await refusal(SshTransport.connect({ target: target(server), knownHostsFiles: [kh], acceptNew: true }));
      expect(e.toLine()).toMatch(/has CHANGED/);
      expect(e.toLine()).toContain(`line 2 of ${kh}`);
      expect(readFileSync(kh, 'utf8').split('\n').filter(Boolean)).toHaveLength(2); // --accept-new never overrides a changed key
    });

    it('authenticates through ssh-agent when the agent holds the key', async () => {
      const sock = join(work, `${kind}-agent.sock`);
      const agent = spawn('ssh-agent', ['-D', '-a', sock], { stdio: 'ignore' });
      try {
        await waitFor('ssh-agent socket', () => { try { return readFileSync(sock) && false; } catch (e) { return (e as NodeJS.ErrnoException).code !== 'ENOENT'; } });
        const key = join(work, `${kind}-agentkey`);
        copyFileSync(server.identityFile, key);
        execFileSync('ssh-add', [key], { env: { ...process.env, SSH_AUTH_SOCK: sock }, stdio: 'ignore' });
        const saved = process.env.SSH_AUTH_SOCK;
        process.env.SSH_AUTH_SOCK = sock;
        try {
          const t = await SshTransport.connect({ target: target(server, { identityFiles: ['/nonexistent/key'] }), knownHostsFiles: [server.knownHosts] });
          expect(t.info.authMethod).toBe('agent');
          await t.close();
        } finally {
          if (saved === undefined) delete process.env.SSH_AUTH_SOCK; else process.env.SSH_AUTH_SOCK = saved;
        }
      } finally {
        agent.kill();
      }
    });

    it('fails authentication in one line that says what was tried', async () => {
      const saved = process.env.SSH_AUTH_SOCK;
      delete process.env.SSH_AUTH_SOCK;
      try {
        execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', join(work, `${kind}-stranger`)]);
        const e = await refusal(SshTransport.connect({ target: target(server, { identityFiles: [join(work, `${kind}-stranger`)] }), knownHostsFiles: [server.knownHosts] }));
        expect(e.toLine()).toMatch(/authentication to root@127\.0\.0\.1:\d+ failed \(tried: key .*stranger\)/);
        expect(e.exitCode).toBe(3);
      } finally {
        if (saved !== undefined) process.env.SSH_AUTH_SOCK = saved;
      }
    });
  });
}

describe.skipIf(serverAvailable('openssh') !== null || serverAvailable('dropbear') !== null)('ssh transport: ProxyJump and refusals', () => {
  it('reaches dropbear through an OpenSSH jump host', async () => {
    const d1 = makeDevice();
    const d2 = makeDevice();
    const jump = await startServer('openssh', d1);
    const dest = await startServer('dropbear', d2);
    const kh = join(mkdtempSync(join(tmpdir(), 'refscope-kh-')), 'known_hosts');
    writeFileSync(kh, readFileSync(jump.knownHosts, 'utf8') + readFileSync(dest.knownHosts, 'utf8'));
    try {
      const t = await SshTransport.connect({
        target: { ...target(dest), identityFiles: [dest.identityFile], proxyJump: target(jump) },
        knownHostsFiles: [kh],
      });
      expect(t.info.jumpedVia).toBe(`root@127.0.0.1:${jump.port}`);
      const r = await t.run(['sh', '-c', 'echo "$HOME"']);
      expect(r.stdout.trim()).toBe(d2.home);
      await t.close();
    } finally {
      await jump.stop();
      await dest.stop();
      d1.cleanup();
      d2.cleanup();
    }
  });

  it('retries an old server with legacy algorithms appended, and says so', async () => {
    const d = makeDevice();
    const old = await startServer('openssh', d, 'KexAlgorithms diffie-hellman-group14-sha1\nCiphers aes128-cbc,3des-cbc\nMACs hmac-sha1');
    const lines: string[] = [];
    try {
      const never = await refusal(SshTransport.connect({ target: target(old), knownHostsFiles: [old.knownHosts], legacy: 'never' }));
      expect(never.exitCode).toBe(3);
      const t = await SshTransport.connect({ target: target(old), knownHostsFiles: [old.knownHosts], log: (m) => lines.push(m) });
      expect(t.info.legacyAlgorithms).toBe(true);
      expect((await t.run(['echo', 'old'])).stdout).toBe('old\n');
      await t.close();
      expect(lines.join('\n')).toMatch(/retrying with legacy algorithms/);
    } finally {
      await old.stop();
      d.cleanup();
    }
  });

  it('says ECONNREFUSED in one line with the doctor hint', async () => {
    const port = await freePort();
    const e = await refusal(SshTransport.connect({
      target: { spec: `127.0.0.1:${port}`, host: '127.0.0.1', port, user: 'root', identityFiles: [], proxyJump: null, connectTimeoutSeconds: 5, serverAliveIntervalSeconds: null },
      knownHostsFiles: [],
    }));
    expect(e.toLine()).toBe(`refscope: cannot reach 127.0.0.1:${port} (ECONNREFUSED). Is sshd/dropbear running? Try: refscope doctor 127.0.0.1:${port}`);
  });
});
