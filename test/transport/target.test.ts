import { describe, expect, it } from 'vitest';
import { homedir, userInfo } from 'node:os';
import { parseDeviceSpec, resolveDevice } from '../../src/transport/target.js';

const CONFIG = `
Host n810
  HostName 10.0.0.5
  User root
  Port 2222
  IdentityFile ~/.ssh/id_n810
  IdentityFile %d/.ssh/id_%r_%h
  ConnectTimeout 7
  ServerAliveInterval 15

Host lab-*
  User tester
  ProxyJump gateway

Host gateway
  HostName gw.example
  Port 2200
  User jump
`;

describe('parseDeviceSpec', () => {
  it('reads [user@]host[:port], IPv6 in brackets', () => {
    expect(parseDeviceSpec('root@n810.local')).toEqual({ user: 'root', host: 'n810.local', port: null });
    expect(parseDeviceSpec('user@10.0.0.5:2222')).toEqual({ user: 'user', host: '10.0.0.5', port: 2222 });
    expect(parseDeviceSpec('[::1]:22')).toEqual({ user: null, host: '::1', port: 22 });
  });

  it('refuses what is not a device, in one line that names the fix', () => {
    for (const bad of ['', 'a b', 'host:99999', 'host:port', 'a/b']) {
      expect(() => parseDeviceSpec(bad)).toThrow(/not a device|out of range/);
    }
  });
});

describe('resolveDevice', () => {
  it('applies a Host alias from ssh config, the command line winning', () => {
    const d = resolveDevice('n810', { configText: CONFIG });
    expect(d).toMatchObject({ host: '10.0.0.5', user: 'root', port: 2222, connectTimeoutSeconds: 7, serverAliveIntervalSeconds: 15 });
    expect(d.identityFiles).toEqual([`${homedir()}/.ssh/id_n810`, `${homedir()}/.ssh/id_root_10.0.0.5`]);
    expect(resolveDevice('admin@n810:22', { configText: CONFIG })).toMatchObject({ user: 'admin', port: 22, host: '10.0.0.5' });
  });

  it('resolves one ProxyJump hop through the same config', () => {
    const d = resolveDevice('lab-7', { configText: CONFIG });
    expect(d).toMatchObject({ host: 'lab-7', user: 'tester', port: 22 });
    expect(d.proxyJump).toMatchObject({ host: 'gw.example', port: 2200, user: 'jump', proxyJump: null });
  });

  it('defaults to the local user and port 22 with no config', () => {
    expect(resolveDevice('somehost', { configText: '' })).toMatchObject({ host: 'somehost', port: 22, user: userInfo().username, proxyJump: null });
  });
});
