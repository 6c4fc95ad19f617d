import { chmodSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { RefscopeError } from '../../src/errors.js';
import { MANIFEST_SCHEMA, type Manifest } from '../../src/session/manifest.js';
import {
  checkSessionDir, createSession, defaultSessionDir, readManifest, sessionLabel, updateManifest, writeFileAtomic,
} from '../../src/session/store.js';

let dir: string;
beforeEach(() => { dir = mkdtempSync(join(tmpdir(), 'refscope-store-')); });
afterEach(() => { chmodSync(dir, 0o755); rmSync(dir, { recursive: true, force: true }); });

const manifest = (): Manifest => ({
  schema: MANIFEST_SCHEMA, id: 'abcd1234', createdAt: '2026-01-01T00:00:00.000Z', device: 'local', transport: 'local',
  python: { path: '/usr/bin/python3', version: '3.11.7' }, probeVersion: '0.1.0', command: ['app.py'],
  options: { interval: 1, censusBudget: 0.02, watchTypes: [], duration: null }, state: 'running',
});

async function refusal(p: Promise<unknown>): Promise<RefscopeError> {
  const e = await p.then(() => null, (x: unknown) => x);
  expect(e).toBeInstanceOf(RefscopeError);
  return e as RefscopeError;
}

describe('writeFileAtomic', () => {
  it('writes the content and leaves no tmp file behind', async () => {
    const p = join(dir, 'report.json');
    await writeFileAtomic(p, '{"a":1}\n');
    await writeFileAtomic(p, '{"a":2}\n');
    expect(readFileSync(p, 'utf8')).toBe('{"a":2}\n');
    expect(readdirSync(dir)).toEqual(['report.json']);
  });

  it('leaves the old file whole and no tmp file when it cannot write', async () => {
    const p = join(dir, 'gone', 'report.json');
    await expect(writeFileAtomic(p, 'x')).rejects.toThrow();
    expect(readdirSync(dir)).toEqual([]);
  });
});

describe('checkSessionDir', () => {
  it('accepts a missing directory and an empty one, and creates nothing', async () => {
    await checkSessionDir(join(dir, 'a', 'b'));
    mkdirSync(join(dir, 'empty'));
    await checkSessionDir(join(dir, 'empty'));
    expect(readdirSync(dir)).toEqual(['empty']);
  });

  it('refuses a directory that already holds files, and touches none of them', async () => {
    const full = join(dir, 'full');
    mkdirSync(full);
    writeFileSync(join(full, 'keep.txt'), 'mine');
    const e = await refusal(checkSessionDir(full));
    expect(e.exitCode).toBe(2);
    expect(e.toLine()).toBe(`refscope: --out ${full} already holds files. Choose a new directory or remove it`);
    expect(readFileSync(join(full, 'keep.txt'), 'utf8')).toBe('mine');
  });

  it('refuses a path below a file', async () => {
    writeFileSync(join(dir, 'file'), '');
    const e = await refusal(checkSessionDir(join(dir, 'file', 'session')));
    expect(e.message).toMatch(/cannot write --out .*ENOTDIR/);
  });

  it('with force, accepts an earlier refscope session but never a folder of other files', async () => {
    await createSession(join(dir, 's'), manifest());
    await checkSessionDir(join(dir, 's'), { force: true });
    mkdirSync(join(dir, 'other'));
    writeFileSync(join(dir, 'other', 'x'), '');
    await refusal(checkSessionDir(join(dir, 'other'), { force: true }));
  });
});

describe('sessions', () => {
  it('creates the directory, segments/ and the manifest, then updates it atomically', async () => {
    const s = join(dir, 'runs', 'first');
    await createSession(s, manifest());
    expect(readdirSync(s).sort()).toEqual(['manifest.json', 'segments']);
    const m = await updateManifest(s, { state: 'complete', exitCode: 3, endedAt: '2026-01-01T00:01:00.000Z' });
    expect(m.state).toBe('complete');
    expect((await readManifest(s)).exitCode).toBe(3);
    expect(readdirSync(s).sort()).toEqual(['manifest.json', 'segments']);
  });

  it('names default sessions by time and app, adding -2 when taken', () => {
    const when = new Date(2026, 10, 26, 9, 5, 7);
    const first = defaultSessionDir(dir, ['app/main.py', '--x'], when);
    expect(first).toBe(join(dir, 'refscope-sessions', '20261126-090507-main'));
    mkdirSync(first, { recursive: true });
    expect(defaultSessionDir(dir, ['app/main.py'], when)).toBe(`${first}-2`);
    expect(sessionLabel(['-m', 'pkg.tool', 'a'])).toBe('tool');
    expect(sessionLabel(['../we ird$.py'])).toBe('we_ird_');
  });
});
