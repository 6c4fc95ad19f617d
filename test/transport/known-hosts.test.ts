import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addKnownHost, checkHostKey, fingerprint, keyTypeOf } from '../../src/transport/known-hosts.js';

let dir: string;
const keys: Record<string, { line: string; blob: Buffer }> = {};

function makeKey(name: string, type: string): void {
  const path = join(dir, name);
  execFileSync('ssh-keygen', ['-q', '-t', type, '-N', '', '-f', path]);
  const line = readFileSync(`${path}.pub`, 'utf8').trim();
  const [kt, b64] = line.split(' ');
  keys[name] = { line: `${kt} ${b64}`, blob: Buffer.from(b64!, 'base64') };
}

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'refscope-kh-'));
  makeKey('a', 'ed25519');
  makeKey('b', 'ed25519');
  makeKey('c', 'ecdsa');
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function khFile(name: string, lines: string[]): string {
  const p = join(dir, name);
  writeFileSync(p, lines.join('\n') + '\n');
  return p;
}

describe('checkHostKey', () => {
  it('knows a plain entry and a [host]:port entry, and keeps ports apart', () => {
    const f = khFile('plain', [`# comment`, `n810.local ${keys.a!.line}`, `[127.0.0.1]:2222 ${keys.b!.line}`]);
    expect(checkHostKey([f], 'n810.local', 22, keys.a!.blob)).toEqual({ status: 'known', file: f, line: 2 });
    expect(checkHostKey([f], '127.0.0.1', 2222, keys.b!.blob).status).toBe('known');
    // the port-22 name does not vouch for port 2222
    expect(checkHostKey([f], 'n810.local', 2222, keys.a!.blob).status).toBe('unknown');
  });

  it('reads entries hashed by ssh-keygen -H', () => {
    const f = khFile('hashed', [`n810.local ${keys.a!.line}`, `[10.0.0.5]:2222 ${keys.b!.line}`]);
    execFileSync('ssh-keygen', ['-q', '-H', '-f', f], { stdio: 'ignore' });
    expect(readFileSync(f, 'utf8')).not.toContain('n810.local');
    expect(checkHostKey([f], 'n810.local', 22, keys.a!.blob).status).toBe('known');
    expect(checkHostKey([f], '10.0.0.5', 2222, keys.b!.blob).status).toBe('known');
    expect(checkHostKey([f], '10.0.0.6', 2222, keys.b!.blob).status).toBe('unknown');
  });

  it('names the file and line of a changed key', () => {
    const f = khFile('changed', [`other ${keys.b!.line}`, `n810.local ${keys.a!.line}`]);
    const v = checkHostKey([f], 'n810.local', 22, keys.b!.blob);
    expect(v).toMatchObject({ status: 'changed', file: f, line: 2, keyType: 'ssh-ed25519' });
  });

  it('honours wildcards, negation and @revoked', () => {
    const f = khFile('patterns', [`*.lab,!bad.lab ${keys.a!.line}`, `@revoked * ${keys.c!.line}`]);
    expect(checkHostKey([f], 'n800.lab', 22, keys.a!.blob).status).toBe('known');
    expect(checkHostKey([f], 'bad.lab', 22, keys.a!.blob).status).toBe('unknown');
    expect(checkHostKey([f], 'n800.lab', 22, keys.c!.blob)).toMatchObject({ status: 'revoked', line: 2 });
  });

  it('prints fingerprints as ssh-keygen does', () => {
    const out = execFileSync('ssh-keygen', ['-l', '-f', join(dir, 'a.pub')], { encoding: 'utf8' });
    expect(out).toContain(fingerprint(keys.a!.blob));
    expect(keyTypeOf(keys.c!.blob)).toMatch(/^ecdsa-sha2-/);
  });
});

describe('addKnownHost', () => {
  it('writes a hashed entry that OpenSSH itself finds', () => {
    const f = join(dir, 'new_known_hosts');
    addKnownHost(f, '127.0.0.1', 2222, keys.a!.blob);
    expect(checkHostKey([f], '127.0.0.1', 2222, keys.a!.blob).status).toBe('known');
    const found = execFileSync('ssh-keygen', ['-F', '[127.0.0.1]:2222', '-f', f], { encoding: 'utf8' });
    expect(found).toContain(keys.a!.line.split(' ')[1]);
  });
});
