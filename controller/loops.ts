/**
 * The controller runs control loops side by side: the autoscaler now, a model rollout beside it
 * later. Each loop ticks on its own interval, one tick at a time; a tick that throws is logged
 * and counted and the loop goes on. Loops share nothing in memory: what one must know of
 * another is on the services themselves (hold labels, `labels.ts`), where it also survives a
 * restart.
 *
 * @module
 */

/** One control loop. */
export interface ControlLoop {
  /** Its name in logs, metrics and its hold label (`ml.hold.<name>`). */
  readonly name: string;
  /** Time from the start of one tick to the start of the next. */
  readonly intervalMs: number;
  /** Looks and acts once; `nowMs` is the wall clock at its start. */
  tick(nowMs: number): Promise<void>;
}

/** What {@link runLoops} reports to; logs and metrics in production, arrays in tests. */
export interface LoopObserver {
  ticked(loop: string, seconds: number): void;
  failed(loop: string, seconds: number, error: unknown): void;
}

/** Ports of {@link runLoops}. */
export interface RunLoopsOptions {
  readonly signal: AbortSignal;
  readonly observer: LoopObserver;
  /** Wall clock, ms. */
  readonly now?: () => number;
  /** Waits `ms` or until `signal` aborts. */
  readonly sleep: (ms: number, signal: AbortSignal) => Promise<void>;
}

/**
 * Runs every loop until `signal` aborts; resolves once each has finished the tick it was in.
 * A tick that overruns its interval is followed by the next at once, never by two.
 */
export async function runLoops(
  loops: readonly ControlLoop[],
  options: RunLoopsOptions,
): Promise<void> {
  const now = options.now ?? Date.now;
  await Promise.all(loops.map(async (loop) => {
    while (!options.signal.aborted) {
      const started = now();
      try {
        await loop.tick(started);
        options.observer.ticked(loop.name, (now() - started) / 1000);
      } catch (error) {
        options.observer.failed(loop.name, (now() - started) / 1000, error);
      }
      const rest = loop.intervalMs - (now() - started);
      if (rest > 0 && !options.signal.aborted) {
        await options.sleep(rest, options.signal).catch(() => {});
      }
    }
  }));
}
