/**
 * How a running app is ended. `--duration N`: SIGINT at N s (the app sees a
 * KeyboardInterrupt and the probe writes its last census and `end`), SIGTERM after a
 * grace period, SIGKILL after another. A user's interrupt: the first goes to the app
 * (unless the terminal already delivered it to the whole process group) and we wait for
 * it; the second kills it.
 */
import type { Logger } from 'pino';
import type { Signal, TransportProcess } from '../transport/types.js';

export const GRACE_MS = 5_000;

export class Stopper {
  /** how many times the user asked to stop */
  interrupts = 0;
  /** set once the --duration limit was reached */
  durationReached = false;
  private timers: NodeJS.Timeout[] = [];
  private stopping = false;

  constructor(
    private readonly proc: TransportProcess,
    private readonly log: Logger,
    private readonly graceMs = GRACE_MS,
  ) {}

  private duration: { seconds: number; timer: NodeJS.Timeout; restarted: boolean } | null = null;

  /**
   * Stop the app after `seconds`, escalating if it does not end. Counted from the launch
   * until the app has started (`appStarted`), then from then: an interpreter that takes a
   * while to start on a slow or busy device does not eat into the app's time.
   */
  armDuration(seconds: number): void {
    const timer = setTimeout(() => {
      this.durationReached = true;
      this.log.info({ seconds }, 'duration reached: stopping the app');
      this.stopNow();
    }, seconds * 1000);
    this.timers.push(timer);
    this.duration = { seconds, timer, restarted: false };
  }

  /** The probe says the app started: --duration counts from now. */
  appStarted(): void {
    const d = this.duration;
    if (!d || d.restarted || this.durationReached || this.stopping) return;
    clearTimeout(d.timer);
    this.armDuration(d.seconds);
    this.duration!.restarted = true;
  }

  /** Stop the app now (a verdict was decided): SIGINT, then SIGTERM, then SIGKILL. */
  stopNow(): void {
    if (this.stopping) return;
    this.stopping = true;
    this.send('SIGINT');
    this.timers.push(setTimeout(() => this.send('SIGTERM'), this.graceMs));
    this.timers.push(setTimeout(() => this.send('SIGKILL'), 2 * this.graceMs));
  }

  /**
   * The user asked to stop (Ctrl-C). `delivered`: the interrupt already reached the app
   * (a terminal signals its whole foreground process group; a pty got the ^C byte).
   */
  interrupt(delivered: boolean): void {
    this.interrupts++;
    if (this.interrupts === 1) {
      this.log.info({ delivered }, 'interrupt: waiting for the app to end');
      if (!delivered) this.send('SIGINT');
    } else {
      this.log.warn('second interrupt: killing the app');
      this.send('SIGKILL');
    }
  }

  dispose(): void {
    for (const t of this.timers) clearTimeout(t);
    this.timers = [];
  }

  private send(signal: Signal): void {
    this.log.debug({ signal, pid: this.proc.pid }, 'signal to app');
    this.proc.kill(signal);
  }
}
