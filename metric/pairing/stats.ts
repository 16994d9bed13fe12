/**
 * Running error statistics: MAE overall, per model version and per replica,
 * and a histogram of absolute errors fine enough (1 unit) to read the median
 * from. Pure and bounded: memory does not grow with the number of samples,
 * and versions and replicas past their caps (`label_cap.ts`) count as "other".
 *
 * @module
 */
import { LabelCap, MAX_MODEL_VERSIONS, MAX_REPLICAS } from "./label_cap.ts";
import type { PairRecord } from "../metric_log/format.ts";

/** Errors at or above this land in the last histogram bin. */
export const HISTOGRAM_LIMIT = 400;

/** A count and a sum: enough for a mean. */
export interface Tally {
  count: number;
  sum: number;
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
  readonly #versions = new LabelCap(MAX_MODEL_VERSIONS);
  readonly #replicas = new LabelCap(MAX_REPLICAS);

  /** Adds one recorded pair. */
  add(record: Pick<PairRecord, "absoluteError" | "modelVersion" | "replica">): void {
    const error = record.absoluteError;
    this.#count++;
    this.#sum += error;
    this.#sumSquares += error * error;
    this.bins[Math.min(HISTOGRAM_LIMIT, Math.floor(error))]++;
    const versionName = this.#versions.of(record.modelVersion);
    const version = this.#byVersion.get(versionName) ?? { count: 0, sum: 0 };
    version.count++;
    version.sum += error;
    this.#byVersion.set(versionName, version);
    const replica = this.#replicas.of(record.replica);
    this.#byReplica.set(replica, (this.#byReplica.get(replica) ?? 0) + 1);
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
