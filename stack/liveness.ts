/**
 * Liveness, as `/healthz` reports it: the process is alive and its event loop
 * turns. A heartbeat timer beats every second; the process is live while the
 * last beat is recent and no fatal error has started the exit path. Whether
 * the broker is reachable is readiness (`/readyz`), not liveness: a replica
 * whose run loop is reconnecting must not be killed for it.
 *
 * @module
 */

/** A loop that has not turned for this long is stuck: Swarm should replace the replica. */
export const MAX_STALL_MS = 10_000;

/** How often {@link startHeartbeat} beats. */
export const HEARTBEAT_MS = 1_000;

/** Settings of {@link Liveness}. */
export interface LivenessOptions {
  /** A heartbeat older than this means the event loop is stalled. */
  maxStallMs?: number;
  /** Milliseconds on a monotonic clock (default: `performance.now`). */
  now?: () => number;
}

/** The last heartbeat and any fatal error; {@link Liveness.problem} says whether it is live. */
export class Liveness {
  readonly #maxStallMs: number;
  readonly #now: () => number;
  #lastBeat: number;
  #fatal: string | undefined;

  constructor(options: LivenessOptions = {}) {
    this.#maxStallMs = options.maxStallMs ?? MAX_STALL_MS;
    this.#now = options.now ?? (() => performance.now());
    this.#lastBeat = this.#now();
  }

  /** The event loop turned: called by the heartbeat timer. */
  beat(): void {
    this.#lastBeat = this.#now();
  }

  /** The process is on its way out after a fatal error: it is no longer live. */
  fail(reason: string): void {
    this.#fatal ??= reason;
  }

  /** Why the process is not live, or `undefined` when it is. */
  problem(): string | undefined {
    if (this.#fatal !== undefined) return `exiting after a fatal error: ${this.#fatal}`;
    const stalledMs = this.#now() - this.#lastBeat;
    if (stalledMs > this.#maxStallMs) {
      return `the event loop has not turned for ${Math.round(stalledMs)} ms ` +
        `(more than ${this.#maxStallMs} ms)`;
    }
    return undefined;
  }
}

/**
 * Beats `liveness` every {@link HEARTBEAT_MS} until `signal` aborts. The
 * timer does not keep the process alive.
 */
export function startHeartbeat(liveness: Liveness, signal: AbortSignal): void {
  if (signal.aborted) return;
  const timer = setInterval(() => liveness.beat(), HEARTBEAT_MS);
  Deno.unrefTimer(timer);
  signal.addEventListener("abort", () => clearInterval(timer), { once: true });
}
