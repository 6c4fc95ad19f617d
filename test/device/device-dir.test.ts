/**
 * The device folder refscope keeps its files in (issue 18 item 5): made private when it is
 * missing, refused when another user owns it or others can write it (another user could
 * plant a probe folder a later run executes), and no silent /tmp fallback for a login
 * without a home. On a LocalTransport playing a device (the same sh commands as over SSH).
 */
import { chmodSync, chownSync, mkdirSync, mkdtempSync, rmSync, statSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { resolveDeviceDir } from '../../src/device/deploy.js';
import { RefscopeError } from '../../src/errors.js';
import { LocalTransport } from '../../src/transport/local.js';

const root = mkdtempSync(join(tmpdir(), 'refscope-devdir-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
const isRoot = process.getuid?.() === 0;

function device(name: string): { home: string; t: LocalTransport } {
  const home = join(root, name);
  mkdirSync(home, { mode: 0o755 });
  return { home, t: new LocalTransport({ device: 'rigdev', home }) };
}

async function refused(p: Promise<unknown>): Promise<RefscopeError> {
  const e = await p.then(() => null, (x: unknown) => x);
  expect(e).toBeInstanceOf(RefscopeError);
  expect((e as RefscopeError).exitCode).toBe(3);
  return e as RefscopeError;
}

describe('the device folder', () => {
  it('is created private to the login user when missing (parents too), and accepted when it is the user\'s own', async () => {
    const { home, t } = device('fresh');
    expect(await resolveDeviceDir(t)).toBe(join(home, '.refscope'));
    expect(statSync(join(home, '.refscope')).mode & 0o777).toBe(0o700);
    expect(await resolveDeviceDir(t, 'deep/er/refscope')).toBe(join(home, 'deep/er/refscope'));
    expect(statSync(join(home, 'deep')).mode & 0o777).toBe(0o700);
    // an existing 0755 folder of the user is fine: only writing by others is refused
    mkdirSync(join(home, 'open'), { mode: 0o755 });
    chmodSync(join(home, 'open'), 0o755);
    expect(await resolveDeviceDir(t, join(home, 'open'))).toBe(join(home, 'open'));
    // through a symbolic link (a home on a memory card): the folder it points to is checked
    symlinkSync(join(home, 'open'), join(home, 'card'));
    expect(await resolveDeviceDir(t, join(home, 'card'))).toBe(join(home, 'card'));
  });

  it('is refused when others can write it, naming chmod as the fix', async () => {
    const { home, t } = device('shared');
    for (const mode of [0o777, 0o775, 0o1777]) {
      mkdirSync(join(home, `d${mode}`));
      chmodSync(join(home, `d${mode}`), mode);
      const e = await refused(resolveDeviceDir(t, join(home, `d${mode}`)));
      expect(e.toLine()).toMatch(/can be written by other users .*chmod go-w/);
    }
  });

  it.skipIf(!isRoot)('is refused when another user owns it (a folder planted in a shared place)', async () => {
    const { home, t } = device('planted');
    mkdirSync(join(home, 'theirs'), { mode: 0o755 });
    chownSync(join(home, 'theirs'), 65534, 65534);
    const e = await refused(resolveDeviceDir(t, join(home, 'theirs')));
    expect(e.message).toMatch(/belongs to user 65534, not to the login user \(0\)/);
  });

  it('is refused, not put under /tmp, when the login has no home; and when it is a file', async () => {
    const t = new LocalTransport({ device: 'rigdev', env: { ...process.env, HOME: '' } });
    const e = await refused(resolveDeviceDir(t));
    expect(e.toLine()).toMatch(/has no home folder .*--device-dir/);
    const { home, t: t2 } = device('file');
    const file = join(home, 'afile');
    rmSync(file, { force: true });
    (await import('node:fs')).writeFileSync(file, 'x');
    expect((await refused(resolveDeviceDir(t2, file))).message).toMatch(/is not a folder/);
  });
});
