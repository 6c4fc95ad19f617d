/**
 * A small lab for the farm's engine tests: N dropbear "devices" on loopback, one known_hosts
 * file with their real host keys, and a farm inventory naming them, in a folder laid out as
 * a repository that uses refscope would be (lab/farm.yaml, lab/known_hosts). A `refscope`
 * on PATH (bin/refscope) runs the built CLI, so the CI templates' lines run as written.
 */
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BIN, ROOT } from '../helpers/cli.js';
import { makeDevice, type DeviceOptions, type RigDevice } from '../rig/device.js';
import { startServer, type RigServer } from '../rig/servers.js';

export interface Lab {
  /** the "repository": lab/farm.yaml, lab/known_hosts, bin/refscope */
  repo: string;
  farmFile: string;
  /** PATH with bin/refscope first */
  path: string;
  devices: RigDevice[];
  servers: RigServer[];
  names: string[];
  stop(): Promise<void>;
}

export const FIXTURES = join(ROOT, 'test', 'fixtures');

/** The farm text for the lab's devices and the given apps lines (YAML list items under apps:). */
export function farmText(lab: Pick<Lab, 'servers' | 'names'>, apps: string[]): string {
  const lines = ['devices:'];
  lab.servers.forEach((s, i) => {
    lines.push(`  - { name: ${lab.names[i]}, host: 127.0.0.1, port: ${s.port}, user: root, identityFile: ${s.identityFile}, knownHosts: known_hosts }`);
  });
  return `${[...lines, 'apps:', ...apps].join('\n')}\n`;
}

export async function startLab(n: number, opts: { python: string; device?: DeviceOptions; apps?: string[] }): Promise<Lab> {
  const repo = mkdtempSync(join(tmpdir(), 'refscope-lab-'));
  const devices: RigDevice[] = [];
  const servers: RigServer[] = [];
  const lab: Lab = {
    repo, farmFile: join(repo, 'lab', 'farm.yaml'), path: `${join(repo, 'bin')}:${process.env.PATH ?? ''}`,
    devices, servers, names: Array.from({ length: n }, (_, i) => `board${String(i).padStart(2, '0')}`),
    async stop() {
      for (const s of servers) await s.stop();
      for (const d of devices) d.cleanup();
      rmSync(repo, { recursive: true, force: true });
    },
  };
  try {
    for (let i = 0; i < n; i++) {
      const d = makeDevice({ ...opts.device, pythons: { python3: opts.python, ...opts.device?.pythons } });
      devices.push(d);
      servers.push(await startServer('dropbear', d));
    }
  } catch (e) {
    await lab.stop();
    throw e;
  }
  mkdirSync(join(repo, 'lab'));
  mkdirSync(join(repo, 'bin'));
  writeFileSync(join(repo, 'lab', 'known_hosts'), servers.map((s) => readFileSync(s.knownHosts, 'utf8')).join(''));
  writeFileSync(lab.farmFile, farmText(lab, opts.apps ?? [`  - { name: callbacks, push: ${FIXTURES}, script: fixtures/callbacks.py, args: [--frames, 200] }`]));
  const shim = join(repo, 'bin', 'refscope');
  writeFileSync(shim, `#!/bin/sh\nexec '${process.execPath}' '${BIN}' "$@"\n`);
  chmodSync(shim, 0o755);
  return lab;
}
