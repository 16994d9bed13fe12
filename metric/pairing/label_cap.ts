/**
 * A bound on the distinct names that become map keys or Prometheus labels.
 * `model-version` and `replica` come from message headers: a producer with a
 * bug (or a hostile one) that sends a new version with every message would
 * otherwise grow metric's per-version statistics and Prometheus's series
 * without end.
 *
 * The names kept apart are those seen recently: up to `max` of them, each
 * kept while it keeps appearing. A new name takes a free place, or else the
 * place of the name seen longest ago, if that one has not been seen for
 * `retireAfterMs` (it retires: `onRetire` hears of it, so that what was
 * counted under it can move to {@link OTHER}). Otherwise the new name is
 * counted under {@link OTHER} until a place comes free. So after any number
 * of rolling updates the current versions show by name, and a burst of junk
 * names can hide a new version only for `retireAfterMs`, never push out one
 * that is in use.
 *
 * Pure: time is what the caller says it is (`of(name, now)`; metric passes
 * each row's `paired_at`, so a restart rebuilds the same labels from the
 * log), or the `clock` option.
 *
 * @module
 */

/** The name every name not kept apart is counted under. */
export const OTHER = "other";

/** How long a name must go unseen before a new name may take its place: 10 minutes. */
export const RETIRE_AFTER_MS = 10 * 60_000;

/** Settings of {@link LabelCap}. */
export interface LabelCapOptions {
  /** Default {@link RETIRE_AFTER_MS}. */
  retireAfterMs?: number;
  /** Called with a name as it retires, before the new name takes its place. */
  onRetire?: (name: string) => void;
  /** The time when `of()` is not told it; default `Date.now`. */
  clock?: () => number;
  /** Names to start with and when each was last seen, as {@link LabelCap.state} gave them. */
  state?: LabelCapState;
}

/** The names kept apart and when each was last seen (ms), oldest first: JSON-safe. */
export type LabelCapState = readonly (readonly [name: string, lastSeenMs: number])[];

/** See the module documentation. */
export class LabelCap {
  readonly max: number;
  readonly retireAfterMs: number;
  /** Name → last seen; a Map iterates in insertion order, and a name seen again is moved last. */
  readonly #lastSeen = new Map<string, number>();
  readonly #onRetire?: (name: string) => void;
  readonly #clock: () => number;
  /** The latest time seen, so that a late or missing time never moves a name back. */
  #now = -Infinity;

  constructor(max: number, options: LabelCapOptions = {}) {
    if (!Number.isInteger(max) || max < 1) {
      throw new RangeError(
        `Cannot create LabelCap as 'max' must be a positive integer: current value is ${max}`,
      );
    }
    const retireAfterMs = options.retireAfterMs ?? RETIRE_AFTER_MS;
    if (!(retireAfterMs >= 0)) {
      throw new RangeError(
        `Cannot create LabelCap as 'retireAfterMs' must be 0 or more: current value is ${retireAfterMs}`,
      );
    }
    this.max = max;
    this.retireAfterMs = retireAfterMs;
    this.#onRetire = options.onRetire;
    this.#clock = options.clock ?? Date.now;
    const state = [...options.state ?? []].sort((a, b) => a[1] - b[1]).slice(-max);
    for (const [name, lastSeen] of state) {
      this.#lastSeen.set(name, lastSeen);
      this.#now = Math.max(this.#now, lastSeen);
    }
  }

  /**
   * `name` while it is kept apart (taking a place if one is free or retires
   * now), else {@link OTHER}. `now` defaults to the `clock` option.
   */
  of(name: string, now: number = this.#clock()): string {
    if (Number.isFinite(now)) this.#now = Math.max(this.#now, now);
    const at = this.#now;
    if (this.#lastSeen.has(name)) {
      this.#lastSeen.delete(name);
      this.#lastSeen.set(name, at);
      return name;
    }
    if (this.#lastSeen.size >= this.max) {
      const [oldest, lastSeen] = this.#lastSeen.entries().next().value!;
      if (!(at - lastSeen >= this.retireAfterMs)) return OTHER;
      this.#lastSeen.delete(oldest);
      this.#onRetire?.(oldest);
    }
    this.#lastSeen.set(name, at);
    return name;
  }

  /** The names kept apart now, seen longest ago first. */
  get names(): string[] {
    return [...this.#lastSeen.keys()];
  }

  /** What a {@link LabelCap} needs to continue where this one is (`options.state`). */
  state(): LabelCapState {
    return [...this.#lastSeen];
  }
}

/** Model versions kept apart in statistics and labels: a rolling update brings one more at a time. */
export const MAX_MODEL_VERSIONS = 16;
/** Model replicas kept apart on the dashboard: Swarm's replica names are per slot, so few. */
export const MAX_REPLICAS = 64;
