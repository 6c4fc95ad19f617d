/**
 * Pulling files off a device with tar (issue 18 item 2): a tar that sends part of an archive
 * and then nothing, with its channel left open, is given up after the idle limit, however
 * the server treats the close: the caller gets an answer (stalled), not a wait for good. A
 * whole archive still arrives file by file. Over a LocalTransport playing a device, sshd and
 * dropbear.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { fetchBounded, pullTar, type PullOptions } from '../../src/device/pull.js';
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
    let into: string;
    const opts = (o: Partial<PullOptions> = {}): PullOptions => ({ into, accept: () => true, ...o });
    const connect = async (): Promise<Transport> => {
      if (name === 'local device folder') {
        return new LocalTransport({ device: 'rigdev', home: device.home, env: rigEnv(device.root, { PATH: `${device.bin}:/usr/bin:/bin` }) });
      }
      return SshTransport.connect({
        target: { spec: `root@127.0.0.1:${server!.port}`, host: '127.0.0.1', port: server!.port, user: 'root', identityFiles: [server!.identityFile], proxyJump: null, connectTimeoutSeconds: 10, serverAliveIntervalSeconds: 5 },
        knownHostsFiles: [server!.knownHosts],
      });
    };
    beforeAll(async () => {
      into = mkdtempSync(join(tmpdir(), 'refscope-pull-'));
      device = makeDevice();
      if (name !== 'local device folder') server = await startServer(name as ServerKind, device);
      t = await connect();
    });
    // a flood given up closes its channel, and dropbear then ends the whole connection: the
    // host gives that device up (a device error); the next case starts on a new one
    beforeEach(async () => {
      const ok = t.alive && await t.run(['true'], { timeoutMs: 10_000 }).then((r) => r.code === 0, () => false);
      if (!ok) t = await connect();
    });
    afterAll(async () => {
      await t?.close();
      await server?.stop();
      device?.cleanup();
      if (into) rmSync(into, { recursive: true, force: true });
    });

    it('gives up a tar that sends a valid start and then nothing, with its channel open (stalled)', async () => {
      await t.run(['sh', '-c', 'mkdir -p q && head -c 4000 /dev/zero > q/big']);
      const t0 = Date.now();
      const r = await pullTar(t, ['sh', '-c', `trap "" HUP INT TERM PIPE; tar -cf - -C "${device.home}" q | head -c 1024; sleep 14`], opts({ idleMs: 1000 }));
      expect(r).toMatchObject({ stalled: true, broken: null, code: null, files: [] });
      expect(Date.now() - t0).toBeLessThan(9000);
      await t.run(['sh', '-c', 'pkill -f "sleep 14" 2>/dev/null; exit 0']).catch(() => undefined);
    });

    it('reports a truncated archive whose tar exits 0 as broken (a device fault), not as success and not as a crash', async () => {
      await t.run(['sh', '-c', 'mkdir -p r && head -c 4000 /dev/zero > r/big']);
      const r = await pullTar(t, ['sh', '-c', `tar -cf - -C "${device.home}" r | head -c 1024; exit 0`], opts({ idleMs: 5000 }));
      expect(r.code).toBeNull();
      expect(r.broken).toMatch(/end of data|destroyed|header/i);
      expect(r.stalled).toBe(false);
    });

    it('an archive cut exactly at an entry boundary, exit 0, is broken (no end marker), its whole entries kept', async () => {
      await t.run(['sh', '-c', 'mkdir -p b1 && printf one > b1/a']);
      // one 512-byte header and one 512-byte block of data: whole up to there, no end marker after
      const r = await pullTar(t, ['sh', '-c', `tar -cf - -C "${device.home}" b1/a | head -c 1024; exit 0`], opts({ idleMs: 5000 }));
      expect(r.code).toBeNull();
      expect(r.broken).toMatch(/ended before its end marker/);
      expect(r.files.map((f) => f.name)).toEqual(['a']);
      for (const f of r.files) rmSync(f.tmp);
    });

    it('streams each accepted file of a whole archive into a temp file of its own, whole', async () => {
      await t.run(['sh', '-c', 'mkdir -p p && printf one > p/a && printf two > p/b && printf skip > p/c']);
      const r = await pullTar(t, ['tar', '-cf', '-', '-C', device.home, 'p'], opts({ accept: (n) => n !== 'c' }));
      expect(r).toMatchObject({ code: 0, stalled: false, broken: null, duplicates: 0 });
      expect(r.files.map((f) => `${f.name}=${readFileSync(f.tmp, 'utf8')}:${f.size}`).sort()).toEqual(['a=one:3', 'b=two:3']);
      // nothing but the temp files, in the folder given
      expect(readdirSync(into).sort()).toEqual(r.files.map((f) => f.tmp.slice(into.length + 1)).sort());
      for (const f of r.files) rmSync(f.tmp);
    });

    it('keeps the first copy of a name the archive holds twice, and says so', async () => {
      await t.run(['sh', '-c', 'mkdir -p d1/x d2/x && printf first > d1/x/s && printf second > d2/x/s']);
      const r = await pullTar(t, ['tar', '-cf', '-', '-C', device.home, 'd1/x/s', 'd2/x/s'], opts());
      expect(r).toMatchObject({ code: 0, duplicates: 1 });
      expect(r.files.map((f) => readFileSync(f.tmp, 'utf8'))).toEqual(['first']);
      for (const f of r.files) rmSync(f.tmp);
    });

    it('refuses a file over the per-file cap before reading it, keeps the whole files before it, and leaves no partial file', async () => {
      await t.run(['sh', '-c', 'mkdir -p e && printf small > e/1small && head -c 300000 /dev/zero > e/2big && printf after > e/3after']);
      const r = await pullTar(t, ['tar', '-cf', '-', '-C', device.home, 'e/1small', 'e/2big', 'e/3after'], opts({ maxEntryBytes: 100_000, idleMs: 5000 }));
      expect(r.code).toBeNull();
      expect(r.broken).toMatch(/2big is 300000 bytes, over the 100000-byte limit/);
      expect(r.files.map((f) => f.name)).toEqual(['1small']);
      expect(readdirSync(into)).toHaveLength(1);
      for (const f of r.files) rmSync(f.tmp);
    });

    it('gives up a pull over its total cap (an endless archive), in bounded time, with no file left', async () => {
      const t0 = Date.now();
      // an endless stream: a tar header for a huge file, then zeros for ever
      const r = await pullTar(t, ['sh', '-c', 'trap "" PIPE; mkdir -p f && head -c 1 /dev/zero > f/h && tar -cf - f/h | head -c 512; cat /dev/zero'],
        opts({ maxPullBytes: 2_000_000, idleMs: 5000 }));
      expect(r.code).toBeNull();
      expect(r.broken).toMatch(/over its limit of 2000000 bytes|broken|header|end of data/i);
      expect(Date.now() - t0).toBeLessThan(15_000);
      // the one whole file before the flood is kept (the caller decides); nothing else is left
      expect(readdirSync(into).sort()).toEqual(r.files.map((f) => f.tmp.slice(into.length + 1)).sort());
      for (const f of r.files) rmSync(f.tmp);
    });

    it('fetches one file at most its cap, and gives up a bigger one at the cap', async () => {
      await t.run(['sh', '-c', 'head -c 5000 /dev/zero > g1']);
      const ok = await fetchBounded(t, ['cat', `${device.home}/g1`], 5000);
      expect(ok).toMatchObject({ code: 0, tooBig: false, stalled: false });
      expect(ok.data.length).toBe(5000);
      const t0 = Date.now();
      const big = await fetchBounded(t, ['sh', '-c', 'trap "" PIPE; cat /dev/zero'], 100_000, 5000);
      expect(big).toMatchObject({ code: null, tooBig: true });
      expect(big.data.length).toBe(0);
      expect(Date.now() - t0).toBeLessThan(10_000);
    });

    it('gives up a tar that sends 512 bytes of junk and then nothing, with its channel open', async () => {
      const t0 = Date.now();
      const r = await pullTar(t, ['sh', '-c', 'trap "" HUP INT TERM PIPE; head -c 512 /dev/zero | tr "\\\\0" x; sleep 13'], opts({ idleMs: 1000 }));
      // given up as broken (tar-stream refuses the header) or as silent, whichever it sees first; never a hang, never an unhandled error
      expect(r.stalled || r.broken !== null).toBe(true);
      expect(r.code).toBeNull();
      expect(r.files).toEqual([]);
      // the idle limit (1 s), the grace after giving up (2 s), room for a busy machine: not the 13 s sleep
      expect(Date.now() - t0).toBeLessThan(9000);
      await t.run(['sh', '-c', 'pkill -f "sleep 13" 2>/dev/null; exit 0']).catch(() => undefined);
    });
  });
}
