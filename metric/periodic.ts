/**
 * The metric service's timers, made alike (the statistics reading, the expiry of unpaired
 * halves, the MAE log line, the plot). They share one event loop with the handlers that pair and
 * acknowledge samples, so what counts is how long each stretch of a run holds that loop: every
 * run's synchronous part is timed (`ml_metric_periodic_job_seconds`), and so is each stretch an
 * asynchronous run does after an await, when it wraps it in the {@link Step} it is given (the
 * snapshot's serialisation, which follows the writer's flush). A job whose previous run is still
 * going (an asynchronous one) is skipped rather than queued, so slow work never piles up behind
 * itself. Clock and timers are ports.
 *
 * Each run is timed twice: on the wall clock, what the loop was held for, and in the CPU time the
 * process used meanwhile (`ml_metric_periodic_job_cpu_seconds`). On a machine whose cores are
 * busy (the broker and three services on two cores) the two part ways: a run of 0.1 ms of work
 * holds the loop for 5 ms when the kernel gives the core to another process in the middle of it.
 * The CPU time is the process's, every thread's (V8's collector, the I/O threads), so it bounds
 * the job's own work from above.
 *
 * @module
 */
import process from "node:process";

/** The timer functions {@link startPeriodic} uses; tests pass fakes. */
export interface TimerPorts {
  setInterval(callback: () => void, ms: number): unknown;
  clearInterval(id: unknown): void;
}

/**
 * Runs `fn` at once and times it as one more stretch of the job's run holding the event loop:
 * what a run does after an await, which the run's own timing cannot see.
 */
export type Step = <T>(fn: () => T) => T;

/** A {@link Step} that times nothing: for a call outside the job's schedule. */
export const untimed: Step = (fn) => fn();

/** Settings of {@link startPeriodic}. */
export interface PeriodicOptions {
  /** The job's name, as `observe` and the metric's `job` label get it. */
  readonly name: string;
  /** Time between runs; 0 never runs the job. */
  readonly everyMs: number;
  /**
   * One run; a promise means the run goes on until it settles. `step` times a stretch of work
   * after an await as the run's synchronous part is timed.
   */
  run(step: Step): void | Promise<unknown>;
  /**
   * Called after each run's synchronous part, and after each {@link Step}, with its duration in
   * seconds, on the wall clock and in the process's CPU time.
   */
  observe?(name: string, seconds: number, cpuSeconds: number): void;
  /** Called when a run throws or its promise rejects (the job keeps its schedule). */
  onError?(name: string, error: unknown): void;
  /** A monotonic clock in ms (default `performance.now`). */
  now?(): number;
  /** CPU time the process has used, in ms (default `process.cpuUsage`: user and system). */
  cpuMs?(): number;
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

/** The process's CPU time in ms: one getrusage(2), about 2 µs. */
function processCpuMs(): number {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1000;
}

const GLOBAL_TIMERS: TimerPorts = {
  setInterval: (callback, ms) => setInterval(callback, ms),
  clearInterval: (id) => clearInterval(id as ReturnType<typeof setInterval>),
};

/** Runs `options.run` every `options.everyMs` until stopped; see the module documentation. */
export function startPeriodic(options: PeriodicOptions): Periodic {
  const now = options.now ?? (() => performance.now());
  const cpuMs = options.cpuMs ?? processCpuMs;
  const timers = options.timers ?? GLOBAL_TIMERS;
  let runs = 0;
  let skipped = 0;
  let busy = false;
  const failed = (error: unknown) => options.onError?.(options.name, error);
  const timed: Step = (fn) => {
    const started = now();
    const cpuStarted = cpuMs();
    try {
      return fn();
    } finally {
      options.observe?.(options.name, (now() - started) / 1000, (cpuMs() - cpuStarted) / 1000);
    }
  };
  const tick = () => {
    if (busy) {
      skipped++;
      return;
    }
    runs++;
    let result: void | Promise<unknown> = undefined;
    try {
      result = timed(() => options.run(timed));
    } catch (error) {
      failed(error);
    }
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
