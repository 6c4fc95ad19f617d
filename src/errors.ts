/** Exit codes of DESIGN §3. */
export const ExitCode = {
  ok: 0,
  leak: 1,
  usage: 2,
  device: 3,
  appFailed: 4,
} as const;
export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode];

export type ErrorCode =
  | 'ERR_USAGE'          // bad flags or arguments
  | 'ERR_INPUT'          // a file or folder given by the user is not what it must be
  | 'ERR_SESSION'        // not a session, or unreadable
  | 'ERR_INTERPRETER'    // python not found / not runnable
  | 'ERR_DEVICE'         // device or connection failure
  | 'ERR_APP_START';     // the app could not start

const EXIT_BY_CODE: Record<ErrorCode, ExitCode> = {
  ERR_USAGE: ExitCode.usage,
  ERR_INPUT: ExitCode.usage,
  ERR_SESSION: ExitCode.usage,
  ERR_INTERPRETER: ExitCode.usage,
  ERR_DEVICE: ExitCode.device,
  ERR_APP_START: ExitCode.appFailed,
};

/**
 * The one error type. `message` is one line for the user; `hint` names the fix.
 * The CLI boundary prints `refscope: <message>. <hint>` and exits with `exitCode`.
 */
export class RefscopeError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly hint?: string,
  ) {
    super(message);
    this.name = 'RefscopeError';
  }

  get exitCode(): ExitCode {
    return EXIT_BY_CODE[this.code];
  }

  /** The single line printed to stderr. */
  toLine(): string {
    return this.hint ? `refscope: ${this.message}. ${this.hint}` : `refscope: ${this.message}`;
  }
}
