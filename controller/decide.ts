/**
 * How many replicas a service should have, decided from what the work is: the backlog (ready
 * and unacknowledged messages of the queue it consumes), the arrival rate, and each replica's
 * capacity measured by its own handler histogram. Pure: inputs, policy, state and the clock come
 * in; the decision and the new history go out.
 *
 * The recommendation is the larger of two needs:
 *
 * - the arrivals at the target busy ratio: `arrivals / (busyRatio × capacity)`;
 * - the backlog drained within the target time while arrivals go on:
 *   `(arrivals + backlog / timeLeft) / capacity`, where the time left is drainSeconds less
 *   how long the backlog has waited already (at least a quarter of drainSeconds);
 *
 * with the arrivals the larger of the windowed rate and the last scrape's, and
 * `capacity = slots / mean handler time` per replica (Little's law: a replica working on
 * `slots` deliveries at once, each for the mean time, settles `slots / mean` per second), rounded
 * up and clamped to [min, max].
 *
 * Then, as an HPA does, but safe across restarts:
 * - up at once (or once the rise held for the up window), by at most max(maxStepUp, current);
 * - down only while no message waits ready, only to the highest recommendation of the whole
 *   down window, only once the controller has watched a whole window of fresh inputs (a
 *   restarted controller, or one whose inputs just came back, waits a window rather than act
 *   on history it did not see), never within the down window of the last change (kept in the
 *   service's labels, so it survives a restart), and by at most maxStepDown;
 * - nothing within the tolerance band: up only when the current count misses a need by more
 *   than the tolerance (busy ratio or drain time), down only when the recommendation is below
 *   the current count by more than the tolerance;
 * - missing or stale inputs, or no throughput to measure capacity on: hold, never down.
 *
 * @module
 */
import type { Policy } from "./policy.ts";

/** What the work looks like, as read from Prometheus. */
export interface Inputs {
  /** Messages ready in the queue. */
  readonly ready: number;
  /** Messages delivered to consumers and not yet acknowledged. */
  readonly unacked: number;
  /** Messages published to the queue per second, over the rate window. */
  readonly arrivalsPerSecond: number;
  /**
   * The same between the last two samples: a step of load shows here a scrape after it
   * happens, in the windowed rate only gradually. The larger of the two is taken.
   */
  readonly recentArrivalsPerSecond: number;
  /** Deliveries the replicas settled per second (the handler histogram's count rate). */
  readonly handledPerSecond: number;
  /** Seconds spent in handlers per second, summed over replicas (its sum rate). */
  readonly busySeconds: number;
  /** Age of the newest backlog sample, seconds. */
  readonly backlogAgeSeconds: number;
  /** Age of the newest handler sample, seconds. */
  readonly handlerAgeSeconds: number;
}

/** Inputs, or the names of those that could not be read. */
export type Reading =
  | { readonly ok: true; readonly inputs: Inputs }
  | { readonly ok: false; readonly missing: readonly string[] };

/** Why a decision went the way it did; a label of `ml_autoscale_decisions_total`. */
export type Reason =
  // the need that sets the recommendation
  | "arrivals"
  | "backlog"
  | "idle"
  // the bounds themselves
  | "below-min"
  | "above-max"
  // holds
  | "steady"
  | "at-max"
  | "tolerance"
  | "waiting"
  | "up-window"
  | "down-window"
  | "cooldown"
  | "missing"
  | "stale"
  | "no-throughput"
  | "held"
  | "rollout";

/** Up, down, or nothing. */
export type Direction = "up" | "down" | "hold";

/** The replicas the inputs call for. */
export interface Recommendation {
  /** Unrounded, unclamped. */
  readonly raw: number;
  /** Rounded up and clamped to the policy's bounds. */
  readonly replicas: number;
  /** The need that set it. */
  readonly need: "arrivals" | "backlog" | "idle";
  /** Messages per second one replica settles when fully busy; undefined when idle and unmeasured. */
  readonly capacityPerReplica?: number;
  /** Ready plus unacknowledged. */
  readonly backlog: number;
  /** Messages arriving per second. */
  readonly arrivals: number;
  /** The time left to drain the backlog in, seconds. */
  readonly drainLeftSeconds: number;
}

/** Recommendations of the current run of fresh inputs, newest last. */
export interface History {
  /** When this run of fresh inputs began (ms); undefined when there is none. */
  readonly sinceMs?: number;
  readonly points: readonly { readonly atMs: number; readonly replicas: number }[];
  /**
   * Since when messages have been waiting ready, not handed to a replica (ms): the drain target
   * counts from then, not from each new look at the backlog.
   */
  readonly backlogSinceMs?: number;
}

/** An empty history: what a (re)started controller has. */
export const NO_HISTORY: History = { points: [] };

/** What {@link decide} decides on. */
export interface DecideArgs {
  readonly policy: Policy;
  readonly reading: Reading;
  /** The replicas the service is set to now. */
  readonly replicas: number;
  /** Holds others put on the service (hold labels), as text; empty when none. */
  readonly holds: readonly string[];
  /** A rolling update in progress (Swarm's UpdateStatus), or undefined. */
  readonly rollout?: string;
  /** The last change of the replica count (ms), from the service's labels. */
  readonly lastChangeMs?: number;
  readonly history: History;
  readonly nowMs: number;
}

/** What to do, why, and the history to carry to the next decision. */
export interface Decision {
  readonly direction: Direction;
  readonly reason: Reason;
  /** The replica count to set (the current one on hold). */
  readonly replicas: number;
  readonly recommendation?: Recommendation;
  readonly history: History;
}

/** Ceiling that ignores floating-point dust (3.0000000001 is 3). */
function ceil(value: number): number {
  return Math.ceil(value - 1e-9);
}

/**
 * The replicas `inputs` call for under `policy`, or `undefined` when there is work but nothing
 * was settled to measure capacity on (consumers stuck or all just started). A backlog that has
 * waited `backlogAgeSeconds` already is to be drained in what is left of drainSeconds (at least
 * a quarter of it): the target counts from when the backlog formed.
 */
export function recommend(
  inputs: Inputs,
  policy: Policy,
  backlogAgeSeconds = 0,
): Recommendation | undefined {
  const backlog = Math.max(0, inputs.ready) + Math.max(0, inputs.unacked);
  const arrivals = Math.max(0, inputs.arrivalsPerSecond, inputs.recentArrivalsPerSecond);
  const clamp = (n: number) => Math.min(policy.max, Math.max(policy.min, n));
  if (!(inputs.handledPerSecond > 0 && inputs.busySeconds > 0)) {
    if (backlog === 0 && arrivals === 0) {
      return {
        raw: 0,
        replicas: policy.min,
        need: "idle",
        backlog,
        arrivals,
        drainLeftSeconds: policy.drainSeconds,
      };
    }
    return undefined;
  }
  const meanSeconds = inputs.busySeconds / inputs.handledPerSecond;
  const capacity = policy.slots / meanSeconds;
  const forArrivals = arrivals / (policy.busyRatio * capacity);
  const drainLeftSeconds = Math.max(
    policy.drainSeconds - backlogAgeSeconds,
    policy.drainSeconds / 4,
  );
  const forBacklog = (arrivals + backlog / drainLeftSeconds) / capacity;
  const raw = Math.max(forArrivals, forBacklog);
  const need = backlog === 0 && arrivals === 0
    ? "idle"
    : forBacklog > forArrivals
    ? "backlog"
    : "arrivals";
  return {
    raw,
    replicas: clamp(ceil(raw)),
    need,
    capacityPerReplica: capacity,
    backlog,
    arrivals,
    drainLeftSeconds,
  };
}

/**
 * Whether `replicas` meet both needs within the tolerance: the arrivals take at most
 * busyRatio × (1 + tolerance) of their capacity, and the backlog drains within the time left
 * × (1 + tolerance). The band is on the needs, not on the count: a replica short
 * by 5% of the count can double the drain time, as the drain rate is the small difference of
 * capacity and arrivals.
 */
export function meetsNeeds(r: Recommendation, policy: Policy, replicas: number): boolean {
  if (r.capacityPerReplica === undefined) return true;
  const capacity = replicas * r.capacityPerReplica;
  const slack = 1 + policy.tolerance;
  const busyOk = r.arrivals <= policy.busyRatio * slack * capacity;
  const drainOk = r.backlog === 0 ||
    (capacity > r.arrivals && r.backlog / (capacity - r.arrivals) <= r.drainLeftSeconds * slack);
  return busyOk && drainOk;
}

/** `history` with `replicas` recommended at `nowMs`, trimmed to what the windows look at. */
function remember(
  history: History,
  policy: Policy,
  nowMs: number,
  replicas: number,
  backlogSinceMs: number | undefined,
): History {
  const keepMs = Math.max(policy.upWindowSeconds, policy.downWindowSeconds) * 1000;
  const points = [...history.points, { atMs: nowMs, replicas }].filter((point) =>
    point.atMs >= nowMs - keepMs
  );
  return { sinceMs: history.sinceMs ?? nowMs, points, backlogSinceMs };
}

/** The decision for one service now; see the module's description for the rules. */
export function decide(args: DecideArgs): Decision {
  const { policy, reading, replicas: current, nowMs } = args;
  const hold = (reason: Reason, history: History, recommendation?: Recommendation): Decision => ({
    direction: "hold",
    reason,
    replicas: current,
    recommendation,
    history,
  });
  if (!reading.ok) return hold("missing", NO_HISTORY);
  const { inputs } = reading;
  const age = Math.max(inputs.backlogAgeSeconds, inputs.handlerAgeSeconds);
  if (!(age <= policy.staleSeconds)) return hold("stale", NO_HISTORY);
  // Messages ready, not handed to any replica: the replicas hold all they can, work waits. (Not
  // "more than the replicas hold", which moves with the count and would make the need swing.)
  const backlogSinceMs = inputs.ready > 0 ? args.history.backlogSinceMs ?? nowMs : undefined;
  const recommendation = recommend(
    inputs,
    policy,
    backlogSinceMs === undefined ? 0 : (nowMs - backlogSinceMs) / 1000,
  );
  if (!recommendation) return hold("no-throughput", NO_HISTORY);
  const history = remember(
    args.history,
    policy,
    nowMs,
    recommendation.replicas,
    backlogSinceMs,
  );
  if (args.holds.length > 0) return hold("held", history, recommendation);
  if (args.rollout !== undefined) return hold("rollout", history, recommendation);
  const act = (direction: Direction, reason: Reason, replicas: number): Decision => ({
    direction,
    reason,
    replicas,
    recommendation,
    history,
  });
  if (current < policy.min) return act("up", "below-min", policy.min);
  if (current > policy.max) return act("down", "above-max", policy.max);

  const sinceMs = history.sinceMs ?? nowMs;
  const within = (seconds: number) =>
    history.points.filter((p) => p.atMs >= nowMs - seconds * 1000);
  const { raw } = recommendation;
  const need = recommendation.need;

  if (recommendation.replicas > current) {
    if (meetsNeeds(recommendation, policy, current)) {
      return hold("tolerance", history, recommendation);
    }
    if (nowMs - sinceMs < policy.upWindowSeconds * 1000) {
      return hold("up-window", history, recommendation);
    }
    const target = Math.min(...within(policy.upWindowSeconds).map((p) => p.replicas));
    if (target <= current) return hold("up-window", history, recommendation);
    const step = Math.max(policy.maxStepUp, current);
    return act("up", need, Math.min(target, current + step, policy.max));
  }
  if (recommendation.replicas < current) {
    // Fewer replicas while messages wait would only slow the drain; they settle first.
    if (inputs.ready > 0) return hold("waiting", history, recommendation);
    if (raw >= current * (1 - policy.tolerance)) return hold("tolerance", history, recommendation);
    if (nowMs - sinceMs < policy.downWindowSeconds * 1000) {
      return hold("down-window", history, recommendation);
    }
    const target = Math.max(...within(policy.downWindowSeconds).map((p) => p.replicas));
    if (target >= current) return hold("down-window", history, recommendation);
    if (
      args.lastChangeMs !== undefined && nowMs - args.lastChangeMs < policy.downWindowSeconds * 1000
    ) {
      return hold("cooldown", history, recommendation);
    }
    return act("down", need, Math.max(target, current - policy.maxStepDown, policy.min));
  }
  return hold(
    raw > policy.max && current === policy.max ? "at-max" : "steady",
    history,
    recommendation,
  );
}
