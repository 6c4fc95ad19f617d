/**
 * A throwaway login with a password, for password authentication tests. Created on first
 * use (useradd, as root), its password reset to a fresh random one every time.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';

export const PASSWORD_USER = 'rscopepw';

export function passwordUser(home: string): { user: string; password: string } {
  try {
    execFileSync('id', [PASSWORD_USER], { stdio: 'ignore' });
    execFileSync('usermod', ['-d', home, PASSWORD_USER], { stdio: 'ignore' });
  } catch {
    execFileSync('useradd', ['-M', '-d', home, '-s', '/bin/sh', PASSWORD_USER], { stdio: 'ignore' });
  }
  const password = randomBytes(9).toString('base64url');
  execFileSync('chpasswd', [], { input: `${PASSWORD_USER}:${password}\n` });
  return { user: PASSWORD_USER, password };
}
