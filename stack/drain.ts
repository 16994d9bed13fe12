/**
 * The first half of a service's shutdown, under one deadline: stop consuming, then wait for the
 * deliveries in flight, both within `budgetMs` in all. README promises SHUTDOWN_TIMEOUT_MS as the
 * bound, and Swarm's stop grace period is set from it: a cancel that hangs (a broker that stopped
 * answering mid-attach) spends the budget, and the work in flight gets what is left, not a
 * budget of its own. What is not settled by then goes back to its queue when the connection
 * closes, so a deadline passed loses nothing.
 *
 * @module
 */
import { errorText, sleep as realSleep } from "./async.ts";

/** What {@link drainWithin} works on. */
export interface DrainPorts {
  /** Resolves once no consumer is attached, on the last cancel-ok. */
  stopConsuming(): Promise<void>;
  /** The handlers still running; each leaves the set as it settles. */
  readonly inFlight: ReadonlySet<Promise<unknown>>;
  readonly log: {
    info(message: string, properties: Record<string, unknown>): void;
    warn(message: string, properties: Record<string, unknown>): void;
  };
  /** Waits `ms`, or less once `signal` aborts. Default: a timer (`async.ts`). */
  readonly sleep?: (ms: number, signal: AbortSignal) => Promise<void>;
  /** Milliseconds. Default `performance.now`. */
  readonly now?: () => number;
}

/** Resolves `true` if `work` settles within `ms`, `false` after; leaves no timer behind. */
async function within(
  work: Promise<unknown>,
  ms: number,
  sleep: NonNullable<DrainPorts["sleep"]>,
): Promise<boolean> {
  const timer = new AbortController();
  try {
    return await Promise.race([work.then(() => true), sleep(ms, timer.signal).then(() => false)]);
  } finally {
    timer.abort();
  }
}

/**
 * Stops consuming and waits for the work in flight, within `budgetMs` from the call. Never
 * rejects: a cancel that fails or hangs, and work still running at the deadline, are logged.
 */
export async function drainWithin(budgetMs: number, ports: DrainPorts): Promise<void> {
  const { log, inFlight } = ports;
  const sleep = ports.sleep ?? realSleep;
  const now = ports.now ?? (() => performance.now());
  const until = now() + budgetMs;
  let failure: unknown;
  const cancelled = await within(
    ports.stopConsuming().catch((error) => void (failure = error)),
    budgetMs,
    sleep,
  );
  if (!cancelled || failure !== undefined) {
    log.warn("could not cancel the consumers within {deadlineMs} ms: {error}", {
      deadlineMs: budgetMs,
      error: cancelled ? errorText(failure) : "no cancel-ok",
    });
  }
  if (inFlight.size === 0) return;
  const leftMs = Math.max(0, until - now());
  log.info("draining {pending} in-flight messages within {leftMs} ms", {
    pending: inFlight.size,
    leftMs: Math.round(leftMs),
  });
  if (!(await within(Promise.allSettled([...inFlight]), leftMs, sleep))) {
    log.warn(
      "drain deadline of {deadlineMs} ms passed with {left} messages in flight: they go back to the queue",
      { deadlineMs: budgetMs, left: inFlight.size },
    );
  }
}
