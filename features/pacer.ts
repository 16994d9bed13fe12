/**
 * The pace of the features service: when the next sample is due, and a
 * {@link Pacer} that waits for it. Pure: the clock and the sleep are passed in.
 *
 * @module
 */

/**
 * The interval the settings ask for. RATE_PER_SEC, when set, gives a
 * fractional interval: timers fire in whole ms, so 1,000/s cannot be had
 * from INTERVAL_MS=1 alone.
 */
export function intervalMsOf(settings: { intervalMs: number; ratePerSec: number }): number {
  return settings.ratePerSec > 0 ? 1000 / settings.ratePerSec : settings.intervalMs;
}

/** The shortest stretch behind schedule that is still caught up rather than skipped. */
export const MIN_CATCH_UP_MS = 100;

/**
 * When the next sample is due: one interval after the last, unless the
 * service fell further behind than max(interval, {@link MIN_CATCH_UP_MS}).
 * Within that window it catches up by sending what fell due on one tick;
 * after a longer stall (a broker outage, a pause) it starts afresh from `now`
 * instead of bursting. The floor keeps a fine interval (1 ms at 1,000/s) from
 * giving up on a timer that fired a few ms late.
 */
export function nextDue(previousDue: number, intervalMs: number, now: number): number {
  const due = previousDue + intervalMs;
  return due < now - Math.max(intervalMs, MIN_CATCH_UP_MS) ? now : due;
}

/** Settings of {@link Pacer}. */
export interface PacerOptions {
  /**
   * Time between samples; 0 or less never waits. A function gives it by the time since the
   * pacer was made (a square wave of load, `square_wave.ts`).
   */
  intervalMs: number | ((elapsedMs: number) => number);
  /** A monotonic clock in ms, like `performance.now`. */
  now(): number;
  /** Waits `ms`; may return early (on shutdown). */
  sleep(ms: number): Promise<void>;
}

/** Waits until each sample is due; the first is due at construction. */
export class Pacer {
  readonly #options: PacerOptions;
  readonly #start: number;
  #due: number;

  constructor(options: PacerOptions) {
    if (Number.isNaN(options.intervalMs)) {
      throw new RangeError(
        `Cannot create Pacer as 'intervalMs' must be a number: current value is ${options.intervalMs}`,
      );
    }
    this.#options = options;
    this.#due = this.#start = options.now();
  }

  /** Resolves when the next sample is due, and moves the schedule on by one. */
  async wait(): Promise<void> {
    const { intervalMs, now, sleep } = this.#options;
    // A wave's interval is the one at the moment the sample goes, so a step takes effect at once.
    const intervalNow = () =>
      typeof intervalMs === "function" ? intervalMs(now() - this.#start) : intervalMs;
    if (intervalNow() <= 0) return;
    const wait = this.#due - now();
    // Timers fire in whole ms: round up so a sample is never sent early.
    if (wait > 0) await sleep(Math.ceil(wait));
    this.#due = nextDue(this.#due, intervalNow(), now());
  }
}
