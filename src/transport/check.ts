/**
 * What `refscope doctor` says about the connection itself: whether the device answers
 * SSH, whether its host key and our authentication were accepted, and which algorithms it
 * needed. A refused connection becomes failed checks (naming the fix), never a throw, so
 * doctor can go on to say what else it knows.
 */
import { RefscopeError } from '../errors.js';
import { SshTransport, type SshOptions } from './ssh.js';
import type { Transport } from './types.js';

export interface ConnectionCheck {
  name: string;
  status: 'ok' | 'warn' | 'fail';
  detail: string;
  hint?: string;
}

export interface CheckedConnection {
  /** null when the connection could not be opened (the checks say why) */
  transport: Transport | null;
  checks: ConnectionCheck[];
}

export async function checkConnection(opts: SshOptions): Promise<CheckedConnection> {
  const checks: ConnectionCheck[] = [];
  const add = (c: ConnectionCheck): void => { checks.push(c); };
  let t: SshTransport;
  const started = Date.now();
  try {
    t = await SshTransport.connect(opts);
  } catch (e) {
    const err = e instanceof RefscopeError ? e : new RefscopeError('ERR_DEVICE', String(e));
    const line = err.toLine().replace(/^refscope: /, '');
    const isKey = /host key/.test(err.message);
    const isAuth = /authentication/.test(err.message);
    add({ name: 'reachable', status: isKey || isAuth ? 'ok' : 'fail', detail: isKey || isAuth ? `${opts.target.host}:${opts.target.port} answers SSH` : line, ...(isKey || isAuth ? {} : { hint: err.hint }) });
    if (isKey) add({ name: 'host key', status: 'fail', detail: err.message, ...(err.hint ? { hint: err.hint } : {}) });
    if (isAuth) add({ name: 'auth', status: 'fail', detail: err.message, ...(err.hint ? { hint: err.hint } : {}) });
    return { transport: null, checks };
  }
  add({ name: 'reachable', status: 'ok', detail: `${opts.target.host}:${opts.target.port} in ${Date.now() - started} ms${t.info.jumpedVia ? ` via ${t.info.jumpedVia}` : ''}` });
  add({ name: 'auth', status: 'ok', detail: `${opts.target.user} by ${t.info.authMethod}` });
  add({ name: 'host key', status: 'ok', detail: t.info.hostKey.status === 'known' ? `verified (${t.info.hostKey.file}:${t.info.hostKey.line})` : `newly trusted (${t.info.hostKey.status === 'unknown' ? t.info.hostKey.fingerprint : ''})` });
  add(t.info.legacyAlgorithms
    ? { name: 'algorithms', status: 'warn', detail: `legacy algorithms needed (${t.info.serverIdent ?? 'old server'})`, hint: 'The device only speaks old SSH algorithms (sha1/cbc); upgrade dropbear when you can' }
    : { name: 'algorithms', status: 'ok', detail: `modern (${t.info.serverIdent ?? 'server'})` });
  return { transport: t, checks };
}
