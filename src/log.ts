/**
 * The controller's log: pino JSON lines into SESSION/refscope.log once the session
 * exists, and with --verbose also pretty lines on stderr. Secrets never reach it: the
 * environment is not logged, and fields that could carry credentials are redacted.
 */
import pino, { type Logger, type StreamEntry } from 'pino';
import { LOG_FILE } from './session/store.js';
import { join } from 'node:path';

export type { Logger };

export interface Log {
  logger: Logger;
  /** start writing to SESSION/refscope.log */
  attachSession(dir: string): void;
  /** flush what is buffered (sync destinations: nothing to wait for) */
  flush(): void;
}

const REDACT = [
  'env', '*.env', 'password', '*.password', 'passphrase', '*.passphrase',
  'privateKey', '*.privateKey', 'token', '*.token', 'secret', '*.secret',
];

export async function createLog(opts: { verbose: boolean }): Promise<Log> {
  const streams: StreamEntry[] = [];
  if (opts.verbose) {
    const { default: pretty } = await import('pino-pretty');
    streams.push({
      level: 'debug',
      stream: pretty({ destination: 2, sync: true, colorize: Boolean(process.stderr.isTTY), ignore: 'pid,hostname', singleLine: true }),
    });
  }
  const multi = pino.multistream(streams);
  const logger = pino({ level: 'debug', base: { pid: process.pid }, redact: { paths: REDACT, censor: '[redacted]' } }, multi);
  const files: pino.DestinationStream[] = [];
  return {
    logger,
    attachSession(dir: string) {
      const dest = pino.destination({ dest: join(dir, LOG_FILE), sync: true, mkdir: false });
      files.push(dest);
      multi.add({ level: 'debug', stream: dest });
    },
    flush() {
      for (const f of files) (f as unknown as { flushSync?: () => void }).flushSync?.();
    },
  };
}
