/**
 * Pulling files off a device with tar (issue 18 item 2): a tar that sends part of an archive
 * and then nothing, with its channel left open, is given up after the idle limit, however
 * the server treats the close: the caller gets an answer (stalled), not a wait for good. A
 * whole archive still arrives file by file. Over a LocalTransport playing a device, sshd and
 * dropbear.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pullTar } from '../../src/device/pull.js';
import { LocalTransport } from '../../src/transport/local.js';
import { SshTransport } from '../../src/transport/ssh.js';
import type { Transport } from '../../src/transport/types.js';
import { makeDevice, type RigDevice } from '../rig/device.js';
import { rigEnv } from '../rig/procs.js';
import { serverAvailable, startServer, type RigServer, type ServerKind } from '../rig/servers.js';

const subjects: Array<[string, string | null]> = [['local device folder', null], ...(['openssh', 'dropbear'] as ServerKind[]).map((k): [string, string | null] => [k, serverAvailable(k)])];

for (const [name, why] of subjects) {
  describe.skipIf(why !== null)(`a tar pull over ${name}${why ? ` (skipped: ${why})` : ''}`, () => {
    let device: RigDevice;
    let server: RigServer | null = null;
    let t: Transport;
    beforeAll(async () => {
      device = makeDevice();
      if (name === 'local device folder') {
        t = new LocalTransport({ device: 'rigdev', home: device.home, env: rigEnv(device.root, { PATH: `${device.bin}:/usr/bin:/bin` }) });
      } else {
        server = await startServer(name as ServerKind, device);
        t = await SshTransport.connect({
          target: { spec: `root@127.0.0.1:${server.port}`, host: '127.0.0.1', port: server.port, user: 'root', identityFiles: [server.identityFile], proxyJump: null, connectTimeoutSeconds: 10, serverAliveIntervalSeconds: 5 },
          knownHostsFiles: [server.knownHosts],
        });
      }
    });
    afterAll(async () => {
      await t?.close();
      await server?.stop();
      device?.cleanup();
    });

    it('gives up a tar that sends a valid start and then nothing, with its channel open (stalled)', async () => {
      await t.run(['sh', '-c', 'mkdir -p q && head -c 4000 /dev/zero > q/big']);
      const t0 = Date.now();
      const r = await pullTar(t, ['sh', '-c', `trap "" HUP INT TERM PIPE; tar -cf - -C "${device.home}" q | head -c 1024; sleep 14`], async () => undefined, undefined, 1000);
      expect(r).toMatchObject({ stalled: true, broken: null, code: null, files: 0 });
      expect(Date.now() - t0).toBeLessThan(9000);
      await t.run(['sh', '-c', 'pkill -f "sleep 14" 2>/dev/null; exit 0']).catch(() => undefined);
    });

    it('reports a truncated archive whose tar exits 0 as broken (a device fault), not as success and not as a crash', async () => {
      await t.run(['sh', '-c', 'mkdir -p r && head -c 4000 /dev/zero > r/big']);
      const r = await pullTar(t, ['sh', '-c', `tar -cf - -C "${device.home}" r | head -c 1024; exit 0`], async () => undefined, undefined, 5000);
      expect(r.code).toBeNull();
      expect(r.broken).toMatch(/end of data|destroyed|header/i);
      expect(r.stalled).toBe(false);
    });

    it('hands over each file of a whole archive', async () => {
      await t.run(['sh', '-c', 'mkdir -p p && printf one > p/a && printf two > p/b']);
      const got: string[] = [];
      const r = await pullTar(t, ['tar', '-cf', '-', '-C', device.home, 'p'], async (n, d) => { got.push(`${n}=${d.toString()}`); });
      expect(r).toMatchObject({ code: 0, stalled: false, files: 2 });
      expect(got.sort()).toEqual(['a=one', 'b=two']);
    });

    it('gives up a tar that sends 512 bytes of junk and then nothing, with its channel open', async () => {
      const t0 = Date.now();
      const r = await pullTar(t, ['sh', '-c', 'trap "" HUP INT TERM PIPE; head -c 512 /dev/zero | tr "\\\\0" x; sleep 13'], async () => undefined, undefined, 1000);
      // given up as broken (tar-stream refuses the header) or as silent, whichever it sees first; never a hang, never an unhandled error
      expect(r.stalled || r.broken !== null).toBe(true);
      expect(r.code).toBeNull();
      expect(r.files).toBe(0);
      // the idle limit (1 s), the grace after giving up (2 s), room for a busy machine: not the 13 s sleep
      expect(Date.now() - t0).toBeLessThan(9000);
      await t.run(['sh', '-c', 'pkill -f "sleep 13" 2>/dev/null; exit 0']).catch(() => undefined);
    });
  });
}
