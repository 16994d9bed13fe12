/**
 * Running error statistics: MAE overall, per model version and per replica,
 * and a histogram of absolute errors fine enough (1 unit) to read the median
 * from. Pure and bounded: memory does not grow with the number of samples,
 * and versions and replicas past their caps (`label_cap.ts`) count as "other",
 * as do those that retired from their cap (not seen for a while, by the rows'
 * `paired_at`). {@link ErrorStats.state} and {@link ErrorStats.fromState}
 * carry the whole state across a restart (`metric_log/snapshot.ts`).
 *
 * @module
 */
import {
  LabelCap,
  type LabelCapState,
  MAX_MODEL_VERSIONS,
  MAX_REPLICAS,
  OTHER,
} from "./label_cap.ts";
import type { PairRecord } from "../metric_log/format.ts";

/** Errors at or above this land in the last histogram bin. */
export const HISTOGRAM_LIMIT = 400;

/** A count and a sum: enough for a mean. */
export interface Tally {
  count: number;
  sum: number;
}

/** The whole of an {@link ErrorStats}, as plain JSON (`ErrorStats.state`). */
export interface ErrorStatsState {
  readonly count: number;
  readonly sum: number;
  readonly sumSquares: number;
  readonly bins: readonly number[];
  /** Name, count, sum of absolute errors. */
  readonly byVersion: readonly (readonly [string, number, number])[];
  readonly byReplica: readonly (readonly [string, number])[];
  /** The version and replica caps (`LabelCap.state`). */
  readonly versions: LabelCapState;
  readonly replicas: LabelCapState;
}

/** A read-only view of {@link ErrorStats} for logs, the dashboard and tests. */
export interface StatsSnapshot {
  readonly count: number;
  readonly mae: number;
  readonly rmse: number;
  readonly median: number;
  readonly byVersion: Readonly<Record<string, { count: number; mae: number }>>;
  readonly byReplica: Readonly<Record<string, number>>;
}

/** See the module documentation. */
export class ErrorStats {
  #count = 0;
  #sum = 0;
  #sumSquares = 0;
  /** `bins[i]` counts errors in `[i, i + 1)`; the last bin is everything from `HISTOGRAM_LIMIT` up. */
  readonly bins = new Uint32Array(HISTOGRAM_LIMIT + 1);
  readonly #byVersion = new Map<string, Tally>();
  readonly #byReplica = new Map<string, number>();
  // A name that retires from its cap is counted under "other" from then on, its past included.
  readonly #versions: LabelCap;
  readonly #replicas: LabelCap;

  constructor(labels: { versions?: LabelCapState; replicas?: LabelCapState } = {}) {
    this.#versions = new LabelCap(MAX_MODEL_VERSIONS, {
      state: labels.versions,
      onRetire: (name) => this.#retireVersion(name),
    });
    this.#replicas = new LabelCap(MAX_REPLICAS, {
      state: labels.replicas,
      onRetire: (name) => this.#retireReplica(name),
    });
  }

  /**
   * Adds one recorded pair. Its `pairedAtMs` is the time the version and
   * replica caps go by (when absent: the latest time they were given).
   */
  add(
    record:
      & Pick<PairRecord, "absoluteError" | "modelVersion" | "replica">
      & Partial<Pick<PairRecord, "pairedAtMs">>,
  ): void {
    const error = record.absoluteError;
    const at = record.pairedAtMs ?? Number.NaN;
    this.#count++;
    this.#sum += error;
    this.#sumSquares += error * error;
    this.bins[Math.min(HISTOGRAM_LIMIT, Math.floor(error))]++;
    const versionName = this.#versions.of(record.modelVersion, at);
    const version = this.#byVersion.get(versionName) ?? { count: 0, sum: 0 };
    version.count++;
    version.sum += error;
    this.#byVersion.set(versionName, version);
    const replica = this.#replicas.of(record.replica, at);
    this.#byReplica.set(replica, (this.#byReplica.get(replica) ?? 0) + 1);
  }

  #retireVersion(name: string): void {
    const tally = this.#byVersion.get(name);
    if (!tally) return;
    this.#byVersion.delete(name);
    const other = this.#byVersion.get(OTHER) ?? { count: 0, sum: 0 };
    other.count += tally.count;
    other.sum += tally.sum;
    this.#byVersion.set(OTHER, other);
  }

  #retireReplica(name: string): void {
    const count = this.#byReplica.get(name);
    if (count === undefined) return;
    this.#byReplica.delete(name);
    this.#byReplica.set(OTHER, (this.#byReplica.get(OTHER) ?? 0) + count);
  }

  /** Everything {@link ErrorStats.fromState} needs to go on from here: JSON-safe. */
  state(): ErrorStatsState {
    return {
      count: this.#count,
      sum: this.#sum,
      sumSquares: this.#sumSquares,
      bins: [...this.bins],
      byVersion: [...this.#byVersion].map(([name, { count, sum }]) => [name, count, sum]),
      byReplica: [...this.#byReplica],
      versions: this.#versions.state(),
      replicas: this.#replicas.state(),
    };
  }

  /**
   * The statistics `state` describes, as if every pair had been added again.
   * Throws a `TypeError` naming the first field that is not what
   * {@link ErrorStats.state} writes (a damaged snapshot).
   */
  static fromState(state: unknown): ErrorStats {
    const s = state as ErrorStatsState;
    const fail = (field: string): never => {
      throw new TypeError(`Cannot restore ErrorStats as '${field}' is not what state() writes`);
    };
    const isCount = (n: unknown) => Number.isSafeInteger(n) && (n as number) >= 0;
    const isSum = (n: unknown) => typeof n === "number" && Number.isFinite(n) && n >= 0;
    const isPairs = (list: unknown, second: (n: unknown) => boolean) =>
      Array.isArray(list) &&
      list.every((e) => Array.isArray(e) && typeof e[0] === "string" && second(e[1]));
    const isTime = (n: unknown) => typeof n === "number" && !Number.isNaN(n);
    if (typeof s !== "object" || s === null) fail("state");
    if (!isCount(s.count)) fail("count");
    if (!isSum(s.sum)) fail("sum");
    if (!isSum(s.sumSquares)) fail("sumSquares");
    if (!Array.isArray(s.bins) || s.bins.length !== HISTOGRAM_LIMIT + 1 || !s.bins.every(isCount)) {
      fail("bins");
    }
    if (!isPairs(s.byVersion, isCount) || !s.byVersion.every((e) => isSum(e[2]))) fail("byVersion");
    if (!isPairs(s.byReplica, isCount)) fail("byReplica");
    if (!isPairs(s.versions, isTime)) fail("versions");
    if (!isPairs(s.replicas, isTime)) fail("replicas");
    const stats = new ErrorStats({ versions: s.versions, replicas: s.replicas });
    stats.#count = s.count;
    stats.#sum = s.sum;
    stats.#sumSquares = s.sumSquares;
    stats.bins.set(s.bins);
    for (const [name, count, sum] of s.byVersion) stats.#byVersion.set(name, { count, sum });
    for (const [name, count] of s.byReplica) stats.#byReplica.set(name, count);
    return stats;
  }

  /** Samples recorded. */
  get count(): number {
    return this.#count;
  }

  /** Mean absolute error; NaN before the first sample. */
  get mae(): number {
    return this.#count === 0 ? Number.NaN : this.#sum / this.#count;
  }

  /** Root mean squared error; NaN before the first sample. */
  get rmse(): number {
    return this.#count === 0 ? Number.NaN : Math.sqrt(this.#sumSquares / this.#count);
  }

  /**
   * The median absolute error, interpolated inside its 1-unit bin (exact to
   * within one unit of the target); NaN before the first sample.
   */
  get median(): number {
    if (this.#count === 0) return Number.NaN;
    const half = this.#count / 2;
    let below = 0;
    for (let i = 0; i < this.bins.length; i++) {
      const inBin = this.bins[i];
      if (below + inBin >= half) return i + (inBin === 0 ? 0 : (half - below) / inBin);
      below += inBin;
    }
    return HISTOGRAM_LIMIT;
  }

  /** Plain numbers for logs and JSON. */
  snapshot(): StatsSnapshot {
    return {
      count: this.#count,
      mae: this.mae,
      rmse: this.rmse,
      median: this.median,
      byVersion: Object.fromEntries(
        [...this.#byVersion].map(([v, t]) => [v, { count: t.count, mae: t.sum / t.count }]),
      ),
      byReplica: Object.fromEntries(this.#byReplica),
    };
  }
}
