/**
 * A bound on the distinct names that become map keys or Prometheus labels.
 * `model-version` and `replica` come from message headers: a producer with a
 * bug (or a hostile one) that sends a new version with every message would
 * otherwise grow metric's per-version statistics and Prometheus's series
 * without end. The first `max` names are kept as they are; later new ones
 * are counted under {@link OTHER}.
 *
 * @module
 */

/** The name every name past the cap is counted under. */
export const OTHER = "other";

/** Keeps the first `max` distinct names; see the module documentation. */
export class LabelCap {
  readonly #seen = new Set<string>();

  constructor(readonly max: number) {
    if (!Number.isInteger(max) || max < 1) throw new RangeError(`LabelCap max ${max}`);
  }

  /** `name` while it is one of the first `max` distinct names, else {@link OTHER}. */
  of(name: string): string {
    if (this.#seen.has(name)) return name;
    if (this.#seen.size >= this.max) return OTHER;
    this.#seen.add(name);
    return name;
  }
}

/** Model versions kept apart in statistics and labels: a rolling update brings one more at a time. */
export const MAX_MODEL_VERSIONS = 16;
/** Model replicas kept apart on the dashboard: Swarm's replica names are per slot, so few. */
export const MAX_REPLICAS = 64;
