/**
 * Pairs truth and prediction by sample id, whichever arrives first, with
 * bounded memory. Pure: the caller passes the clock in.
 *
 * - An entry waits until its other half arrives or `ttlMs` passes
 *   ({@link Pairer.expire} hands it back so the caller can dead-letter it).
 * - Ids already recorded are remembered in a ring of `seenCapacity` ids, so
 *   a redelivered or duplicated message is recognised and not counted twice.
 *
 * `T` is whatever the caller needs to settle a message later (a delivery).
 *
 * @module
 */
import { RecentSet } from "./recent_set.ts";

/** Which queue a half came from. */
export type Side = "y_true" | "y_pred";

/** One half of a sample. */
export interface Half<T> {
  readonly id: string;
  readonly side: Side;
  readonly value: number;
  readonly arrivedAt: number;
  readonly token: T;
}

/** What {@link Pairer.offer} decided. */
export type Offer<T> =
  /** Both halves are here: record the pair, then settle both tokens. */
  | { kind: "paired"; truth: Half<T>; prediction: Half<T> }
  /** Waiting for the other half. */
  | { kind: "pending" }
  /** The id was recorded already: settle this token, record nothing. */
  | { kind: "recorded" }
  /** The same half was waiting already: it is replaced by this one; settle `replaced`. */
  | { kind: "replaced"; replaced: Half<T> }
  /**
   * The pair cannot be recorded (its arithmetic is not finite): dead-letter
   * this half and the `waiting` ones, which the pairer has let go.
   */
  | { kind: "invalid"; reason: string; waiting: Half<T>[] };

/** Settings of {@link Pairer}. */
export interface PairerOptions {
  /** How long a half may wait for its other half. */
  ttlMs: number;
  /** How many recorded ids to remember for de-duplication. */
  seenCapacity: number;
}

/** See the module documentation. */
export class Pairer<T> {
  readonly #ttlMs: number;
  readonly #pending = new Map<string, { y_true?: Half<T>; y_pred?: Half<T> }>();
  readonly #seen: RecentSet;

  constructor(options: PairerOptions) {
    if (!(options.ttlMs > 0)) {
      throw new RangeError(
        `Cannot create Pairer as 'ttlMs' must be positive: current value is ${options.ttlMs}`,
      );
    }
    this.#ttlMs = options.ttlMs;
    this.#seen = new RecentSet(options.seenCapacity, "Pairer");
  }

  /** Halves waiting for their other half. */
  get pendingCount(): number {
    let count = 0;
    for (const entry of this.#pending.values()) {
      count += (entry.y_true ? 1 : 0) + (entry.y_pred ? 1 : 0);
    }
    return count;
  }

  /** True when `id` was recorded and is still remembered. */
  hasRecorded(id: string): boolean {
    return this.#seen.has(id);
  }

  /**
   * The last `last` recorded ids remembered (all by default), oldest first: what
   * {@link markRecorded} rebuilds this from. The snapshot asks for the few it carries, so it
   * does not copy the whole window on metric's event loop.
   */
  recordedIds(last = Infinity): string[] {
    return this.#seen.newest(last);
  }

  /** Remembers `id` as recorded (also used to restore state from the CSV at start). */
  markRecorded(id: string): void {
    this.#seen.add(id);
  }

  /**
   * Takes one half; see {@link Offer} for what the caller must do.
   *
   * Answers `invalid` when the half's value is not finite or its absolute
   * error against a waiting other half would not be (1e308 and -1e308 are
   * finite, their difference is not): such a pair must be dead-lettered,
   * never recorded, and both halves go at once rather than one expiring as
   * unpaired later. (The contract's ranges keep such values out before they
   * get here; this is the check where the arithmetic happens.)
   */
  offer(half: Half<T>): Offer<T> {
    if (this.#seen.has(half.id)) return { kind: "recorded" };
    const entry = this.#pending.get(half.id) ?? {};
    const other = half.side === "y_true" ? entry.y_pred : entry.y_true;
    const fault = pairingFault(half.value, other?.value);
    if (fault) {
      const waiting = other ? [other] : [];
      if (other) this.#pending.delete(half.id);
      return { kind: "invalid", reason: `Cannot pair sample '${half.id}' as ${fault}`, waiting };
    }
    const waiting = entry[half.side];
    entry[half.side] = half;
    if (other) {
      this.#pending.delete(half.id);
      this.markRecorded(half.id);
      return half.side === "y_true"
        ? { kind: "paired", truth: half, prediction: other }
        : { kind: "paired", truth: other, prediction: half };
    }
    this.#pending.set(half.id, entry);
    return waiting ? { kind: "replaced", replaced: waiting } : { kind: "pending" };
  }

  /** Removes and returns the halves that waited longer than `ttlMs` at `now`. */
  expire(now: number): Half<T>[] {
    const expired: Half<T>[] = [];
    for (const [id, entry] of this.#pending) {
      for (const side of ["y_true", "y_pred"] as const) {
        const half = entry[side];
        if (half && now - half.arrivedAt > this.#ttlMs) {
          expired.push(half);
          delete entry[side];
        }
      }
      if (!entry.y_true && !entry.y_pred) this.#pending.delete(id);
    }
    return expired;
  }

  /**
   * Forgets every waiting half, e.g. after the broker connection dropped:
   * their deliveries died with the channel and will be delivered again.
   */
  clearPending(): number {
    const count = this.pendingCount;
    this.#pending.clear();
    return count;
  }
}

/**
 * Why a value, or a value and its other half, cannot be recorded: the value
 * is not finite, or their absolute error is not. `undefined` when they can.
 */
export function pairingFault(value: number, other?: number): string | undefined {
  if (!Number.isFinite(value)) return `its value is not a finite number: current value is ${value}`;
  if (other === undefined) return undefined;
  const error = Math.abs(value - other);
  return Number.isFinite(error)
    ? undefined
    : `its absolute error is not a finite number: ${value} and ${other} give ${error}`;
}
