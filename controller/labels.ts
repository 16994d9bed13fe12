/**
 * What the controller keeps on the services it scales, as service labels, so that it lives in
 * the Swarm's own store (replicated on the managers) and not in the controller's memory:
 *
 * - **State** (`ml.autoscale.state.*`): when the autoscaler last changed the count, in which
 *   direction, and to what. Written in the same update as the count, so a controller killed
 *   at any moment finds either both or neither, and resumes without repeating itself.
 * - **Holds** (`ml.hold.<who>`): how the controller's loops, and people, tell each other to
 *   keep off a service. Every loop holds while any hold but its own is on the service. A hold's
 *   value is its reason, optionally led by `until <ISO time>;` after which it lapses by itself,
 *   so a loop that dies while holding blocks the others for a bounded time only.
 *
 * ```sh
 * docker service update --label-add ml.hold.manual="load test until Friday" ml_model
 * docker service update --label-rm ml.hold.manual ml_model
 * ```
 *
 * @module
 */

/** Every hold label starts with this; the rest names who holds (`rollout`, `manual`). */
export const HOLD_PREFIX = "ml.hold.";

/** The autoscaler's state labels start with this. */
export const STATE_PREFIX = "ml.autoscale.state.";

const LAST_CHANGE = `${STATE_PREFIX}last-change`;
const DIRECTION = `${STATE_PREFIX}direction`;
const REPLICAS = `${STATE_PREFIX}replicas`;

/** A hold someone put on a service. */
export interface Hold {
  /** The label, `ml.hold.rollout`. */
  readonly label: string;
  readonly reason: string;
  /** When it lapses (ms); undefined: until removed. */
  readonly untilMs?: number;
}

/** The label value of a hold. */
export function holdValue(reason: string, untilMs?: number): string {
  return untilMs === undefined ? reason : `until ${new Date(untilMs).toISOString()}; ${reason}`;
}

/** Reads a hold label's value. */
export function parseHold(label: string, value: string): Hold {
  const match = /^until (\S+);\s*(.*)$/s.exec(value.trim());
  const untilMs = match ? Date.parse(match[1]) : Number.NaN;
  return Number.isNaN(untilMs)
    ? { label, reason: value.trim() }
    : { label, reason: match![2], untilMs };
}

/** The holds on a service that `loop` must respect at `nowMs`: everyone's but its own, unexpired. */
export function holdsAgainst(
  labels: Readonly<Record<string, string>>,
  loop: string,
  nowMs: number,
): Hold[] {
  return Object.entries(labels)
    .filter(([key]) => key.startsWith(HOLD_PREFIX) && key !== `${HOLD_PREFIX}${loop}`)
    .map(([key, value]) => parseHold(key, value))
    .filter((hold) => hold.untilMs === undefined || hold.untilMs > nowMs);
}

/** `labels` with `loop`'s own hold set to `hold`, or removed when undefined. */
export function withHold(
  labels: Readonly<Record<string, string>>,
  loop: string,
  hold: { reason: string; untilMs?: number } | undefined,
): Record<string, string> {
  const next = { ...labels };
  delete next[`${HOLD_PREFIX}${loop}`];
  if (hold) next[`${HOLD_PREFIX}${loop}`] = holdValue(hold.reason, hold.untilMs);
  return next;
}

/** The autoscaler's last change of a service's count, as its labels keep it. */
export interface ScaleState {
  readonly lastChangeMs?: number;
  readonly direction?: "up" | "down";
  /** The count it set. */
  readonly replicas?: number;
}

/** Reads the state labels; a label that does not parse is as good as absent. */
export function readScaleState(labels: Readonly<Record<string, string>>): ScaleState {
  const lastChangeMs = Date.parse(labels[LAST_CHANGE] ?? "");
  const direction = labels[DIRECTION];
  const replicas = Number(labels[REPLICAS]);
  return {
    lastChangeMs: Number.isNaN(lastChangeMs) ? undefined : lastChangeMs,
    direction: direction === "up" || direction === "down" ? direction : undefined,
    replicas: Number.isInteger(replicas) && labels[REPLICAS] !== "" ? replicas : undefined,
  };
}

/** `labels` with the state of a change to `replicas` in `direction` at `atMs`. */
export function withScaleState(
  labels: Readonly<Record<string, string>>,
  change: { atMs: number; direction: "up" | "down"; replicas: number },
): Record<string, string> {
  return {
    ...labels,
    [LAST_CHANGE]: new Date(change.atMs).toISOString(),
    [DIRECTION]: change.direction,
    [REPLICAS]: String(change.replicas),
  };
}
