import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { collectPayload, deploy, resolveDeviceDir } from '../../src/device/deploy.js';
import { discoverPython, listPythons } from '../../src/device/discover.js';
import { RefscopeError } from '../../src/errors.js';
import { SshTransport } from '../../src/transport/ssh.js';
import { interpreter } from '../helpers/pythons.js';
import { makeDevice, type RigDevice } from '../rig/device.js';
import { serverAvailable, startServer, type RigServer, type ServerKind } from '../rig/servers.js';

for (const kind of ['openssh', 'dropbear'] as ServerKind[]) {
  const why = serverAvailable(kind);
  describe.skipIf(why !== null)(`deploy and discovery on ${kind}${why ? ` (skipped: ${why})` : ''}`, () => {
    let device: RigDevice;
    let bare: RigDevice;
    let server: RigServer;
    let bareServer: RigServer;
    let t: SshTransport;
    let src: string;
    const py27 = interpreter('2.7');
    const py311 = interpreter('3.11');

    beforeAll(async () => {
      const pythons: Record<string, string> = {};
      if (py27) pythons['python2.7'] = py27.path;
      if (py311) pythons['python3'] = py311.path;
      device = makeDevice({ pythons });
      bare = makeDevice();
      server = await startServer(kind, device);
      bareServer = await startServer(kind, bare);
      t = await SshTransport.connect({
        target: { spec: `root@127.0.0.1:${server.port}`, host: '127.0.0.1', port: server.port, user: 'root', identityFiles: [server.identityFile], proxyJump: null, connectTimeoutSeconds: 10, serverAliveIntervalSeconds: 5 },
        knownHostsFiles: [server.knownHosts],
      });
      src = mkdtempSync(join(tmpdir(), 'refscope-payload-'));
      mkdirSync(join(src, 'sub'));
      writeFileSync(join(src, 'probe.py'), 'import sys\nsys.stdout.write("probe ok")\n');
      writeFileSync(join(src, 'sub', "it's here.txt"), 'x'.repeat(100_000));
      writeFileSync(join(src, 'launch.sh'), '#!/bin/sh\necho launched\n');
      chmodSync(join(src, 'launch.sh'), 0o755);
    });
    afterAll(async () => {
      await t?.close();
      await server?.stop();
      await bareServer?.stop();
      device?.cleanup();
      bare?.cleanup();
      rmSync(src, { recursive: true, force: true });
    });

    it('sends the payload once: unchanged costs one round trip and no bytes, changed is sent again', async () => {
      const base = await resolveDeviceDir(t);
      expect(base).toBe(`${device.home}/.refscope`);
      const p1 = collectPayload(src);
      const first = await deploy(t, p1, base, 'probe');
      expect(first.bytesSent).toBeGreaterThan(p1.bytes);
      const run = await t.run(['./launch.sh'], { cwd: first.dir });
      expect(run.stdout).toBe('launched\n');
      expect((await t.run(['wc', '-c', "sub/it's here.txt"], { cwd: first.dir })).stdout).toMatch(/^\s*100000\b/);

      const again = await deploy(t, collectPayload(src), base, 'probe');
      expect(again).toMatchObject({ dir: first.dir, bytesSent: 0, roundTrips: 1 });

      // a folder already there is used only when it is exactly the payload: a file changed in
      // place (same size), a file planted beside the probe (Python would import it), or a
      // file swapped for a link each get the payload sent again, and the folder made right
      const tampered: Array<[string, string]> = [
        ['a file changed in place', `printf 'import sys\\nsys.stdout.write("probe OK")\\n' > probe.py`],
        ['a module planted beside it', `printf 'raise SystemExit(9)\\n' > threading.py`],
        ['a file swapped for a link', `rm launch.sh && ln -s /bin/true launch.sh`],
      ];
      for (const [what, how] of tampered) {
        await t.run(['sh', '-c', how], { cwd: first.dir });
        const fixed = await deploy(t, collectPayload(src), base, 'probe');
        expect(fixed.dir, what).toBe(first.dir);
        expect(fixed.bytesSent, what).toBeGreaterThan(p1.bytes);
        expect((await t.run(['sh', '-c', 'cat probe.py; ls -A; [ -L launch.sh ] && echo link'], { cwd: first.dir })).stdout, what)
          .toBe('import sys\nsys.stdout.write("probe ok")\n.complete\nlaunch.sh\nprobe.py\nsub\n');
        expect(await deploy(t, collectPayload(src), base, 'probe'), what).toMatchObject({ bytesSent: 0, roundTrips: 1 });
      }

      writeFileSync(join(src, 'probe.py'), 'import sys\nsys.stdout.write("probe v2")\n');
      const changed = await deploy(t, collectPayload(src), base, 'probe');
      expect(changed.dir).not.toBe(first.dir);
      expect(changed.bytesSent).toBeGreaterThan(0);
    });

    it('a progress callback (the terminal\'s bar) loses no byte of the archive, and counts to the end', async () => {
      // a first deploy from a terminal failed with "tar: short read": the bar's listener set
      // the archive flowing before the command's channel was open
      const base = await resolveDeviceDir(t);
      writeFileSync(join(src, 'probe.py'), 'import sys\nsys.stdout.write("probe v3")\n');
      const seen: Array<[number, number]> = [];
      const r = await deploy(t, collectPayload(src), base, 'probe', (sent, total) => seen.push([sent, total]));
      expect((await t.run(['sh', '-c', 'cat probe.py; wc -c < "sub/it\'s here.txt"'], { cwd: r.dir })).stdout)
        .toMatch(/^import sys\nsys\.stdout\.write\("probe v3"\)\n\s*100000\s*$/);
      expect(seen.length).toBeGreaterThan(1);
      const [sent, total] = seen.at(-1)!;
      expect(sent).toBe(total);
      expect(r.bytesSent).toBeGreaterThan(100_000);
    });

    it('refuses an unwritable device dir in one line', async () => {
      const ro = `${device.root}/ro`;
      await t.run(['mkdir', '-p', ro]);
      // a file where the folder should be: mkdir fails even for root
      await t.run(['sh', '-c', `: > '${ro}/blocked'`]);
      const err = await deploy(t, collectPayload(src), `${ro}/blocked`, 'probe').catch((e: unknown) => e);
      expect(err).toBeInstanceOf(RefscopeError);
      expect((err as RefscopeError).toLine()).toMatch(/^refscope: (cannot write the device directory|deploy to .* failed)/);
      expect((err as RefscopeError).exitCode).toBe(3);
    });

    it('finds the device pythons and chooses the first that runs', async () => {
      const all = await listPythons(t);
      const names = all.map((p) => p.name);
      if (py311) expect(names).toContain('python3');
      if (py27) expect(names).toContain('python2.7');
      const chosen = await discoverPython(t);
      expect(chosen.version).toBe((py311 ?? py27)!.version);
      if (py27) expect((await discoverPython(t, 'python2.7')).version).toBe(py27.version);
      await expect(discoverPython(t, '/no/such/python')).rejects.toThrow(/not found or not runnable/);
    });

    it('says so in one line when the device has no python', async () => {
      const b = await SshTransport.connect({
        target: { spec: `127.0.0.1:${bareServer.port}`, host: '127.0.0.1', port: bareServer.port, user: 'root', identityFiles: [bareServer.identityFile], proxyJump: null, connectTimeoutSeconds: 10, serverAliveIntervalSeconds: 5 },
        knownHostsFiles: [bareServer.knownHosts],
      });
      try {
        const e = await discoverPython(b).catch((x: unknown) => x as RefscopeError);
        expect(e).toBeInstanceOf(RefscopeError);
        expect((e as RefscopeError).toLine()).toMatch(/no python interpreter found on .* \(tried python3, python2\.7/);
        expect((e as RefscopeError).exitCode).toBe(3);
      } finally {
        await b.close();
      }
    });
  });
}
