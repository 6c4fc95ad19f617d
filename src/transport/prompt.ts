/**
 * Asking the person at the terminal for a secret (a key passphrase, the device's
 * password). Only on a TTY; the answer is never echoed, logged or stored.
 */
export interface Prompter {
  secret(question: string): Promise<string | null>;
}

/** A prompter on this process's terminal, or null when stdin/stderr is not a TTY. */
export function ttyPrompter(): Prompter | null {
  if (!process.stdin.isTTY || !process.stderr.isTTY) return null;
  return {
    secret(question: string): Promise<string | null> {
      return new Promise((resolve) => {
        const stdin = process.stdin;
        const wasRaw = stdin.isRaw;
        let answer = '';
        // echo off before the question shows: a fast typist (or a script) must not be echoed
        stdin.setRawMode(true);
        stdin.resume();
        process.stderr.write(question);
        const done = (value: string | null): void => {
          stdin.off('data', onData);
          stdin.setRawMode(wasRaw);
          stdin.pause();
          process.stderr.write('\n');
          resolve(value);
        };
        const onData = (buf: Buffer): void => {
          for (const ch of buf.toString('utf8')) {
            if (ch === '\r' || ch === '\n') return done(answer);
            if (ch === '\u0003' || ch === '\u0004') return done(null); // Ctrl-C, Ctrl-D
            if (ch === '\u007f' || ch === '\b') answer = answer.slice(0, -1);
            else answer += ch;
          }
        };
        stdin.on('data', onData);
      });
    },
  };
}
