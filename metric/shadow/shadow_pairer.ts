/**
 * Pairs a candidate's predictions (`y_pred_shadow`) with the truths and the
 * stable errors metric has recorded, with bounded memory. Pure: the caller
 * passes the clock in.
 *
 * The stable pipeline never waits for a candidate. Once a stable pair is
 * recorded, its outcome (truth, stable error, stable version) is kept for
 * `ttlMs` ({@link ShadowPairer.noteStable}), but only while a shadow is
 * running (a candidate prediction arrived within `ttlMs`), so metric keeps
 * nothing extra when there is no candidate. After a restart in the middle
 * of a shadow (`shadowingSince`), it keeps them from the start: the stable
 * backlog may come in before the first candidate prediction does. A candidate's prediction pairs
 * with that outcome at once, or waits up to `ttlMs` for it; one that finds
 * none in time is handed back by {@link ShadowPairer.expire}.
 *
 * A pair is keyed by candidate version and sample id, and the keys recorded
 * are remembered in a ring of `seenCapacity`, so a redelivered or replayed
 * prediction is recognised and never counted twice.
 *
 * @module
 */
import { RecentSet } from "../pairing/recent_set.ts";

/** A stable pair as the shadow needs it: recorded in `metric_log.csv` already. */
export interface StableOutcome {
  readonly id: string;
  readonly yTrue: number;
  readonly absoluteError: number;
  readonly modelVersion: string;
}

/** A candidate's prediction for one sample. */
export interface ShadowHalf<T> {
  readonly id: string;
  /** The candidate's version (its `model-version` header). */
  readonly version: string;
  readonly value: number;
  readonly arrivedAt: number;
  readonly token: T;
}

/** A candidate prediction and the stable outcome of the same sample. */
export interface ShadowMatch<T> {
  readonly half: ShadowHalf<T>;
  readonly stable: StableOutcome;
}

/** What {@link ShadowPairer.offer} decided. */
export type ShadowOffer<T> =
  /** Record the pair, then settle the half's token. */
  | { kind: "paired"; match: ShadowMatch<T> }
  /** Waiting for the stable pair of this sample. */
  | { kind: "pending" }
  /** This version's prediction for the sample was recorded already: settle the token. */
  | { kind: "recorded" }
  /** The same prediction was waiting: replaced by this one; settle `replaced`. */
  | { kind: "replaced"; replaced: ShadowHalf<T> };

/** Settings of {@link ShadowPairer}. */
export interface ShadowPairerOptions {
  /** How long a prediction waits for its stable pair, and a stable outcome for predictions. */
  ttlMs: number;
  /** How many recorded keys to remember for de-duplication. */
  seenCapacity: number;
  /** Most stable outcomes kept at once; the oldest go first. */
  outcomeCapacity: number;
  /**
   * When a shadow was last seen running, on the same clock (metric's start, when its last
   * shadow row is recent): outcomes are kept for `ttlMs` after. Default: never.
   */
  shadowingSince?: number;
}

/** The de-duplication key of a candidate's prediction: version and sample id. */
export function shadowKey(version: string, id: string): string {
  return `${version}\u0000${id}`;
}

/** See the module documentation. */
export class ShadowPairer<T> {
  readonly #options: ShadowPairerOptions;
  /** Stable outcomes by sample id, oldest first (a Map keeps insertion order). */
  readonly #outcomes = new Map<string, { outcome: StableOutcome; at: number }>();
  /** Waiting predictions by sample id, then by candidate version. */
  readonly #pending = new Map<string, Map<string, ShadowHalf<T>>>();
  readonly #seen: RecentSet;
  #lastShadowAt = Number.NEGATIVE_INFINITY;

  constructor(options: ShadowPairerOptions) {
    if (!Number.isInteger(options.outcomeCapacity) || options.outcomeCapacity < 1) {
      throw new RangeError(
        `Cannot create ShadowPairer as 'outcomeCapacity' must be a positive integer: current value is ${options.outcomeCapacity}`,
      );
    }
    if (!(options.ttlMs > 0)) {
      throw new RangeError(
        `Cannot create ShadowPairer as 'ttlMs' must be positive: current value is ${options.ttlMs}`,
      );
    }
    this.#options = options;
    this.#seen = new RecentSet(options.seenCapacity, "ShadowPairer");
    this.#lastShadowAt = options.shadowingSince ?? Number.NEGATIVE_INFINITY;
  }

  /** Predictions waiting for their stable pair. */
  get pendingCount(): number {
    let count = 0;
    for (const byVersion of this.#pending.values()) count += byVersion.size;
    return count;
  }

  /** Stable outcomes kept for pairing. */
  get outcomeCount(): number {
    return this.#outcomes.size;
  }

  /** Whether a candidate's prediction arrived (or `shadowingSince`) within `ttlMs` of `now`. */
  shadowing(now: number): boolean {
    return now - this.#lastShadowAt <= this.#options.ttlMs;
  }

  /** Remembers `key` ({@link shadowKey}) as recorded; also how a restart restores the ring. */
  markRecorded(key: string): void {
    this.#seen.add(key);
  }

  /**
   * A stable pair was recorded: the predictions waiting for it, now paired (and marked
   * recorded; the caller writes them). The outcome is kept for later ones while shadowing.
   */
  noteStable(outcome: StableOutcome, now: number): ShadowMatch<T>[] {
    const waiting = this.#pending.get(outcome.id);
    const matches: ShadowMatch<T>[] = [];
    if (waiting) {
      this.#pending.delete(outcome.id);
      for (const half of waiting.values()) {
        this.markRecorded(shadowKey(half.version, half.id));
        matches.push({ half, stable: outcome });
      }
    }
    if (this.shadowing(now)) {
      this.#outcomes.delete(outcome.id);
      this.#outcomes.set(outcome.id, { outcome, at: now });
      if (this.#outcomes.size > this.#options.outcomeCapacity) {
        this.#outcomes.delete(this.#outcomes.keys().next().value!);
      }
    }
    return matches;
  }

  /** Takes a candidate's prediction; see {@link ShadowOffer} for what the caller must do. */
  offer(half: ShadowHalf<T>): ShadowOffer<T> {
    this.#lastShadowAt = Math.max(this.#lastShadowAt, half.arrivedAt);
    const key = shadowKey(half.version, half.id);
    if (this.#seen.has(key)) return { kind: "recorded" };
    const kept = this.#outcomes.get(half.id);
    if (kept) {
      this.markRecorded(key);
      return { kind: "paired", match: { half, stable: kept.outcome } };
    }
    const byVersion = this.#pending.get(half.id) ?? new Map<string, ShadowHalf<T>>();
    const replaced = byVersion.get(half.version);
    byVersion.set(half.version, half);
    this.#pending.set(half.id, byVersion);
    return replaced ? { kind: "replaced", replaced } : { kind: "pending" };
  }

  /**
   * Removes and returns the predictions that waited longer than `ttlMs` at `now`, and forgets
   * the stable outcomes older than that.
   */
  expire(now: number): ShadowHalf<T>[] {
    const { ttlMs } = this.#options;
    for (const [id, { at }] of this.#outcomes) {
      if (now - at <= ttlMs) break; // oldest first: the rest are younger
      this.#outcomes.delete(id);
    }
    const expired: ShadowHalf<T>[] = [];
    for (const [id, byVersion] of this.#pending) {
      for (const [version, half] of byVersion) {
        if (now - half.arrivedAt > ttlMs) {
          expired.push(half);
          byVersion.delete(version);
        }
      }
      if (byVersion.size === 0) this.#pending.delete(id);
    }
    return expired;
  }

  /** Forgets every waiting prediction (their deliveries died with the connection). */
  clearPending(): number {
    const count = this.pendingCount;
    this.#pending.clear();
    return count;
  }
}
