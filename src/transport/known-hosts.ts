/**
 * Host key verification against OpenSSH known_hosts files, as `ssh` does it with
 * StrictHostKeyChecking=yes: hashed `|1|salt|hash` entries, `[host]:port` names,
 * `*`/`?` wildcards and `!` negation, `@revoked` markers. Unknown and changed keys are
 * refused by the caller; `--accept-new` records an unknown key (trust on first use).
 */
import { createHash, createHmac, randomBytes } from 'node:crypto';
import { appendFileSync, existsSync, mkdirSync, readFileSync } from 'node:fs';
import { dirname } from 'node:path';

export type HostKeyVerdict =
  | { status: 'known'; file: string; line: number }
  | { status: 'unknown'; keyType: string; fingerprint: string }
  | { status: 'changed'; keyType: string; fingerprint: string; file: string; line: number }
  | { status: 'revoked'; keyType: string; fingerprint: string; file: string; line: number };

interface Entry {
  file: string;
  line: number;
  marker: '' | '@revoked' | '@cert-authority';
  names: string;
  keyType: string;
  key: Buffer;
}

/** The name OpenSSH looks up: `host` on port 22, `[host]:port` otherwise. */
export function hostKeyName(host: string, port: number): string {
  return port === 22 ? host : `[${host}]:${port}`;
}

/** `SHA256:...` as `ssh-keygen -lf` prints it. */
export function fingerprint(key: Buffer): string {
  return `SHA256:${createHash('sha256').update(key).digest('base64').replace(/=+$/, '')}`;
}

/** The key type written inside an SSH public key blob (its first string). */
export function keyTypeOf(key: Buffer): string {
  if (key.length < 4) return 'unknown';
  const n = key.readUInt32BE(0);
  if (n <= 0 || n > 64 || 4 + n > key.length) return 'unknown';
  return key.subarray(4, 4 + n).toString('latin1');
}

function globMatch(pattern: string, name: string): boolean {
  const re = new RegExp(
    '^' + pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.') + '$',
    'i',
  );
  return re.test(name);
}

function hashedMatch(entry: string, name: string): boolean {
  const parts = entry.split('|'); // ['', '1', salt, hash]
  if (parts.length !== 4 || parts[1] !== '1') return false;
  const salt = Buffer.from(parts[2]!, 'base64');
  const want = Buffer.from(parts[3]!, 'base64');
  const got = createHmac('sha1', salt).update(name).digest();
  return got.length === want.length && got.equals(want);
}

/** Whether an entry's host field matches `name` (negations win, as in OpenSSH). */
function namesMatch(names: string, name: string): boolean {
  if (names.startsWith('|')) return hashedMatch(names, name);
  let matched = false;
  for (const raw of names.split(',')) {
    const negated = raw.startsWith('!');
    const pattern = negated ? raw.slice(1) : raw;
    if (globMatch(pattern, name)) {
      if (negated) return false;
      matched = true;
    }
  }
  return matched;
}

function parseFile(file: string): Entry[] {
  if (!existsSync(file)) return [];
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return [];
  }
  const out: Entry[] = [];
  text.split('\n').forEach((rawLine, i) => {
    const line = rawLine.trim();
    if (line === '' || line.startsWith('#')) return;
    const fields = line.split(/\s+/);
    let marker: Entry['marker'] = '';
    if (fields[0] === '@revoked' || fields[0] === '@cert-authority') marker = fields.shift() as Entry['marker'];
    const [names, keyType, b64] = fields;
    if (!names || !keyType || !b64) return;
    out.push({ file, line: i + 1, marker, names, keyType, key: Buffer.from(b64, 'base64') });
  });
  return out;
}

/**
 * Check `key` (the raw public key blob the server presented) for host:port against the
 * given known_hosts files, in order.
 */
export function checkHostKey(files: readonly string[], host: string, port: number, key: Buffer): HostKeyVerdict {
  const keyType = keyTypeOf(key);
  const fp = fingerprint(key);
  const names = [hostKeyName(host, port)];
  const entries = files.flatMap(parseFile);
  const matching = entries.filter((e) => names.some((n) => namesMatch(e.names, n)));
  const revoked = entries.find((e) => e.marker === '@revoked' && e.key.equals(key));
  if (revoked) return { status: 'revoked', keyType, fingerprint: fp, file: revoked.file, line: revoked.line };
  const plain = matching.filter((e) => e.marker === '');
  const same = plain.find((e) => e.key.equals(key));
  if (same) return { status: 'known', file: same.file, line: same.line };
  const conflict = plain.find((e) => e.keyType === keyType) ?? plain[0];
  if (conflict) return { status: 'changed', keyType, fingerprint: fp, file: conflict.file, line: conflict.line };
  return { status: 'unknown', keyType, fingerprint: fp };
}

/** Record a newly trusted key (hashed, as Debian's ssh does with HashKnownHosts yes). */
export function addKnownHost(file: string, host: string, port: number, key: Buffer): void {
  const salt = randomBytes(20);
  const name = hostKeyName(host, port);
  const hash = createHmac('sha1', salt).update(name).digest();
  const line = `|1|${salt.toString('base64')}|${hash.toString('base64')} ${keyTypeOf(key)} ${key.toString('base64')}\n`;
  mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
  appendFileSync(file, line, { mode: 0o600 });
}
