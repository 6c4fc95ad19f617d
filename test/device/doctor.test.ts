import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runDoctor } from '../../src/device/doctor.js';
import { renderDoctor } from '../../src/cli/commands/doctor.js';
import type { DeviceTarget } from '../../src/transport/target.js';
import { coreInterpreters } from '../helpers/pythons.js';
import { makeDevice, type RigDevice } from '../rig/device.js';
import { serverAvailable, startServer, type RigServer, type ServerKind } from '../rig/servers.js';

const target = (s: RigServer): DeviceTarget => ({
  spec: `root@127.0.0.1:${s.port}`, host: '127.0.0.1', port: s.port, user: 'root', identityFiles: [s.identityFile],
  proxyJump: null, connectTimeoutSeconds: 10, serverAliveIntervalSeconds: 5,
});

for (const kind of ['openssh', 'dropbear'] as ServerKind[]) {
  const why = serverAvailable(kind);
  describe.skipIf(why !== null)(`doctor on ${kind}${why ? ` (skipped: ${why})` : ''}`, () => {
    let good: RigDevice;
    let bare: RigDevice;
    let goodServer: RigServer;
    let bareServer: RigServer;
    let payload: string;
    beforeAll(async () => {
      const py = coreInterpreters().at(-1);
      good = makeDevice({ pythons: py ? { python3: py.path } : {} });
      bare = makeDevice();
      goodServer = await startServer(kind, good);
      bareServer = await startServer(kind, bare);
      payload = mkdtempSync(join(tmpdir(), 'refscope-doc-'));
      writeFileSync(join(payload, 'refscope_probe.py'), '# probe\n');
    });
    afterAll(async () => {
      await goodServer?.stop();
      await bareServer?.stop();
      good?.cleanup();
      bare?.cleanup();
      rmSync(payload, { recursive: true, force: true });
    });

    it('passes every check on a device with python, busybox and room', async () => {
      const r = await runDoctor({ target: target(goodServer), knownHostsFiles: [goodServer.knownHosts], payloadDir: payload });
      const by = Object.fromEntries(r.checks.map((c) => [c.name, c]));
      expect(Object.keys(by)).toEqual(expect.arrayContaining(['reachable', 'auth', 'host key', 'algorithms', 'login shell', 'python', '/proc', 'device dir', 'free RAM', 'tar', 'clock offset', 'deploy']));
      expect(r.checks.filter((c) => c.status === 'fail')).toEqual([]);
      expect(r.ok).toBe(true);
      expect(by['login shell']!.detail).toMatch(/busybox/);
      expect(by.deploy!.detail).toContain(`${good.home}/.refscope/probe-`);
      expect(renderDoctor(r, false)).toMatch(/A run will work\./);
    });

    it('fails the python check with a fix when the device has none', async () => {
      const r = await runDoctor({ target: target(bareServer), knownHostsFiles: [bareServer.knownHosts], payloadDir: payload });
      expect(r.ok).toBe(false);
      const py = r.checks.find((c) => c.name === 'python')!;
      expect(py).toMatchObject({ status: 'fail', detail: 'no python found' });
      expect(renderDoctor(r, false)).toMatch(/FAIL {2}python .*\n.*fix: Install Python on the device/);
    });

    it('fails the host key check, not reachability, for an unknown key', async () => {
      const kh = join(payload, `${kind}-empty`);
      writeFileSync(kh, '');
      const r = await runDoctor({ target: target(goodServer), knownHostsFiles: [kh], payloadDir: payload });
      expect(r.ok).toBe(false);
      expect(r.checks.find((c) => c.name === 'reachable')!.status).toBe('ok');
      expect(r.checks.find((c) => c.name === 'host key')).toMatchObject({ status: 'fail', hint: expect.stringContaining('--accept-new') });
    });
  });
}
