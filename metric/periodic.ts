/**
 * The metric service's timers, made alike (the statistics reading, the expiry of unpaired
 * halves, the MAE log line, the plot). They share one event loop with the handlers that pair and
 * acknowledge samples, so what counts is how long each run holds that loop: every run is timed
 * (its synchronous part; `ml_metric_periodic_job_seconds`), and a job whose previous run is still
 * going (an asynchronous one, the plot) is skipped rather than queued, so slow work never piles
 * up behind itself. Clock and timers are ports.
 *
 * @module
 */

/** The timer functions {@link startPeriodic} uses; tests pass fakes. */
export interface TimerPorts {
  setInterval(callback: () => void, ms: number): unknown;
  clearInterval(id: unknown): void;
}

/** Settings of {@link startPeriodic}. */
export interface PeriodicOptions {
  /** The job's name, as `observe` and the metric's `job` label get it. */
  readonly name: string;
  /** Time between runs; 0 never runs the job. */
  readonly everyMs: number;
  /** One run; a promise means the run goes on until it settles. */
  run(): void | Promise<unknown>;
  /** Called after each run's synchronous part with its duration in seconds. */
  observe?(name: string, seconds: number): void;
  /** Called when a run throws or its promise rejects (the job keeps its schedule). */
  onError?(name: string, error: unknown): void;
  /** A monotonic clock in ms (default `performance.now`). */
  now?(): number;
  timers?: TimerPorts;
}

/** A running job; see {@link startPeriodic}. */
export interface Periodic {
  /** Runs started so far. */
  readonly runs: number;
  /** Ticks skipped because the previous run was still going. */
  readonly skipped: number;
  /** Whether a run is going now. */
  readonly busy: boolean;
  /** No more runs; one that is going finishes. */
  stop(): void;
}

const GLOBAL_TIMERS: TimerPorts = {
  setInterval: (callback, ms) => setInterval(callback, ms),
  clearInterval: (id) => clearInterval(id as ReturnType<typeof setInterval>),
};

/** Runs `options.run` every `options.everyMs` until stopped; see the module documentation. */
export function startPeriodic(options: PeriodicOptions): Periodic {
  const now = options.now ?? (() => performance.now());
  const timers = options.timers ?? GLOBAL_TIMERS;
  let runs = 0;
  let skipped = 0;
  let busy = false;
  const failed = (error: unknown) => options.onError?.(options.name, error);
  const tick = () => {
    if (busy) {
      skipped++;
      return;
    }
    runs++;
    const started = now();
    let result: void | Promise<unknown> = undefined;
    try {
      result = options.run();
    } catch (error) {
      failed(error);
    }
    options.observe?.(options.name, (now() - started) / 1000);
    if (result instanceof Promise) {
      busy = true;
      result.catch(failed).finally(() => (busy = false));
    }
  };
  const id = options.everyMs > 0 ? timers.setInterval(tick, options.everyMs) : undefined;
  return {
    get runs() {
      return runs;
    },
    get skipped() {
      return skipped;
    },
    get busy() {
      return busy;
    },
    stop() {
      if (id !== undefined) timers.clearInterval(id);
    },
  };
}
