/**
 * The numbers behind the metric dashboard and `/api/stats`, pure: the
 * service feeds one {@link Reading} a second into a {@link DashboardHistory}
 * and asks {@link dashboardView} for the JSON the page polls.
 *
 * - The error histogram is {@link ErrorStats}' 1-unit bins regrouped into
 *   10-unit bins ({@link binErrors}): fine bins keep the median exact, wide
 *   ones are what a person can read.
 * - Time series (running MAE, MAE of the last seconds, samples per second)
 *   come from a bounded ring of readings, so memory does not grow with uptime.
 * - Throughput per model replica is the growth of each replica's count over
 *   the last `windowSeconds`; a replica that joins shows up as a new bar.
 *
 * @module
 */
import type { StatsSnapshot } from "./stats.ts";

/** Width of a dashboard histogram bin, in units of the target. */
export const DASHBOARD_BIN_WIDTH = 10;
/** Seconds of history kept for the time series (10 minutes at one reading a second). */
export const HISTORY_SECONDS = 600;
/** Seconds over which rates and the recent MAE are taken. */
export const WINDOW_SECONDS = 10;

/** A fixed-capacity FIFO: pushing onto a full ring drops the oldest item. */
export class Ring<T> {
  readonly #items: (T | undefined)[];
  #start = 0;
  #length = 0;

  constructor(capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 1) {
      throw new RangeError(
        `Cannot create Ring as 'capacity' must be a positive integer: current value is ${capacity}`,
      );
    }
    this.#items = new Array(capacity);
  }

  /** Most items the ring holds. */
  get capacity(): number {
    return this.#items.length;
  }

  /** Items held now. */
  get length(): number {
    return this.#length;
  }

  /** Appends `item`, dropping the oldest when full. */
  push(item: T): void {
    const capacity = this.#items.length;
    if (this.#length < capacity) {
      this.#items[(this.#start + this.#length) % capacity] = item;
      this.#length++;
    } else {
      this.#items[this.#start] = item;
      this.#start = (this.#start + 1) % capacity;
    }
  }

  /** The `index`-th item, oldest first; negative counts from the newest (-1 is the newest). */
  at(index: number): T | undefined {
    const i = index < 0 ? this.#length + index : index;
    if (!Number.isInteger(i) || i < 0 || i >= this.#length) return undefined;
    return this.#items[(this.#start + i) % this.#items.length];
  }

  /** The items, oldest first. */
  toArray(): T[] {
    return Array.from({ length: this.#length }, (_, i) => this.at(i)!);
  }
}

/** Errors regrouped into equal bins; see {@link binErrors}. */
export interface BinnedHistogram {
  /** Width of each bin; bin `k` holds errors in `[k * width, (k + 1) * width)`. */
  readonly width: number;
  /** Samples per bin, up to the last non-empty one (empty when there are none). */
  readonly counts: readonly number[];
  /** Errors at or above this are counted in {@link overflow}, not in `counts`. */
  readonly overflowFrom: number;
  /** Samples with an error of `overflowFrom` or more. */
  readonly overflow: number;
}

/**
 * Regroups 1-unit bins (as {@link ErrorStats.bins}: `bins[i]` counts errors
 * in `[i, i + 1)`, the last entry everything from `bins.length - 1` up) into
 * bins `width` units wide. Trailing empty bins are dropped so the plot ends
 * at the largest error seen.
 */
export function binErrors(
  bins: ArrayLike<number>,
  width: number = DASHBOARD_BIN_WIDTH,
): BinnedHistogram {
  if (!Number.isInteger(width) || width < 1) {
    throw new RangeError(
      `Cannot bin errors as 'width' must be a positive integer: current value is ${width}`,
    );
  }
  if (bins.length < 1) {
    throw new RangeError(
      "Cannot bin errors as 'bins' is empty: it needs at least the overflow bin",
    );
  }
  const limit = bins.length - 1;
  const counts = new Array<number>(Math.ceil(limit / width)).fill(0);
  for (let i = 0; i < limit; i++) counts[Math.floor(i / width)] += bins[i];
  let end = counts.length;
  while (end > 0 && counts[end - 1] === 0) end--;
  counts.length = end;
  return { width, counts, overflowFrom: limit, overflow: bins[limit] };
}

/** What the service reads once a second. */
export interface Reading {
  /** Wall-clock ms. */
  readonly atMs: number;
  /** Samples recorded so far (restored ones included). */
  readonly count: number;
  /** Sum of their absolute errors. */
  readonly errorSum: number;
  /** Samples recorded so far, by the model replica that predicted them. */
  readonly byReplica: Readonly<Record<string, number>>;
}

/** The reading of a {@link StatsSnapshot} at `atMs`. */
export function readingOf(snapshot: StatsSnapshot, atMs: number): Reading {
  return {
    atMs,
    count: snapshot.count,
    errorSum: snapshot.count === 0 ? 0 : snapshot.mae * snapshot.count,
    byReplica: { ...snapshot.byReplica },
  };
}

/** The time series of the dashboard, oldest first; `null` where there is no value yet. */
export interface Series {
  /** Unix time in seconds (uPlot's x axis). */
  readonly t: readonly number[];
  /** Running MAE over every sample recorded up to then. */
  readonly mae: readonly (number | null)[];
  /** MAE of the samples recorded in the `windowSeconds` before then. */
  readonly recentMae: readonly (number | null)[];
  /** Samples recorded per second since the reading before. */
  readonly samplesPerSecond: readonly (number | null)[];
}

/** One model replica's share of the work. */
export interface ReplicaThroughput {
  readonly name: string;
  /** Samples recorded over the last window, per second. */
  readonly perSecond: number;
  /** Samples recorded in total. */
  readonly total: number;
}

/** Settings of {@link DashboardHistory}. */
export interface HistoryOptions {
  /** Readings kept for the time series. */
  historySeconds?: number;
  /** Seconds over which rates and the recent MAE are taken. */
  windowSeconds?: number;
}

/**
 * The readings of the last `historySeconds` (one a second) and what follows
 * from them. Per-replica counts are kept only for the rate window: restarts
 * give replicas new names, and copying every name ever seen into each of 600
 * readings would be waste.
 */
export class DashboardHistory {
  readonly windowSeconds: number;
  readonly #totals: Ring<Omit<Reading, "byReplica">>;
  readonly #recent: Ring<Reading>;

  constructor(options: HistoryOptions = {}) {
    const historySeconds = options.historySeconds ?? HISTORY_SECONDS;
    this.windowSeconds = options.windowSeconds ?? WINDOW_SECONDS;
    if (!(this.windowSeconds > 0)) {
      throw new RangeError(
        `Cannot create DashboardHistory as 'windowSeconds' must be positive: current value is ${this.windowSeconds}`,
      );
    }
    this.#totals = new Ring(historySeconds);
    // One more than the window: a rate over N seconds needs readings at both ends.
    this.#recent = new Ring(Math.ceil(this.windowSeconds) + 1);
  }

  /** Readings held (at most `historySeconds`). */
  get length(): number {
    return this.#totals.length;
  }

  /** Adds the newest reading; readings must come in time order. */
  record(reading: Reading): void {
    const last = this.#recent.at(-1);
    if (last && reading.atMs < last.atMs) {
      throw new RangeError(
        `Cannot record a reading at ${reading.atMs} as it is older than the last one at ${last.atMs}`,
      );
    }
    const { byReplica: _, ...totals } = reading;
    this.#totals.push(totals);
    this.#recent.push(reading);
  }

  /** The oldest reading in the rate window and the newest, or `undefined` with fewer than two. */
  #window(): [Reading, Reading] | undefined {
    const newest = this.#recent.at(-1);
    if (!newest || this.#recent.length < 2) return undefined;
    for (let i = 0; i < this.#recent.length - 1; i++) {
      const reading = this.#recent.at(i)!;
      if (newest.atMs - reading.atMs <= this.windowSeconds * 1000) return [reading, newest];
    }
    return undefined;
  }

  /** Samples recorded per second over the window; `null` before two readings. */
  samplesPerSecond(): number | null {
    const window = this.#window();
    if (!window) return null;
    const [from, to] = window;
    return rate(to.count - from.count, to.atMs - from.atMs);
  }

  /** Every replica seen, by name, with its rate over the window and its total. */
  replicas(): ReplicaThroughput[] {
    const newest = this.#recent.at(-1);
    if (!newest) return [];
    const from = this.#window()?.[0];
    return Object.keys(newest.byReplica).sort().map((name) => {
      const total = newest.byReplica[name];
      const perSecond = from
        ? rate(total - (from.byReplica[name] ?? 0), newest.atMs - from.atMs) ?? 0
        : 0;
      return { name, perSecond, total };
    });
  }

  /** The time series over the history, oldest first. */
  series(): Series {
    const readings = this.#totals.toArray();
    const t: number[] = [];
    const mae: (number | null)[] = [];
    const recentMae: (number | null)[] = [];
    const samplesPerSecond: (number | null)[] = [];
    let windowStart = 0;
    for (let i = 0; i < readings.length; i++) {
      const r = readings[i];
      t.push(r.atMs / 1000);
      mae.push(r.count === 0 ? null : r.errorSum / r.count);
      while (r.atMs - readings[windowStart].atMs > this.windowSeconds * 1000) windowStart++;
      const w = readings[windowStart];
      const added = r.count - w.count;
      recentMae.push(added > 0 ? (r.errorSum - w.errorSum) / added : null);
      samplesPerSecond.push(
        i === 0 ? null : rate(r.count - readings[i - 1].count, r.atMs - readings[i - 1].atMs),
      );
    }
    return { t, mae, recentMae, samplesPerSecond };
  }
}

function rate(count: number, ms: number): number | null {
  return ms > 0 ? count / (ms / 1000) : null;
}

/** A number for JSON: NaN and the infinities become `null` (JSON has neither). */
export function finite(value: number): number | null {
  return Number.isFinite(value) ? value : null;
}

/** What `/api/stats` returns and the page draws. */
export interface DashboardView {
  /** Wall-clock ms of this view. */
  readonly atMs: number;
  readonly count: number;
  readonly mae: number | null;
  readonly rmse: number | null;
  readonly median: number | null;
  readonly histogram: BinnedHistogram;
  /** Samples per second over the last `windowSeconds`. */
  readonly samplesPerSecond: number | null;
  readonly windowSeconds: number;
  readonly replicas: readonly ReplicaThroughput[];
  readonly versions: readonly { version: string; count: number; mae: number | null }[];
  /**
   * The statistics above that are `null` although samples were counted:
   * their arithmetic overflowed (JSON has no Infinity). Empty while every
   * number is real, so a `null` is never silent.
   */
  readonly notFinite: readonly string[];
  /** Messages the metric service dead-lettered (bad input, unpaired past the TTL). */
  readonly deadLettered: number;
  /** Truths and predictions waiting for their other half. */
  readonly unpaired: number;
  readonly series: Series;
}

/** What {@link dashboardView} reads besides the history. */
export interface ViewInput {
  readonly atMs: number;
  readonly stats: StatsSnapshot;
  /** {@link ErrorStats.bins}. */
  readonly bins: ArrayLike<number>;
  readonly deadLettered: number;
  readonly unpaired: number;
}

/** The dashboard's numbers now: statistics live, rates and series from `history`. */
export function dashboardView(input: ViewInput, history: DashboardHistory): DashboardView {
  const { stats } = input;
  const notFinite = stats.count === 0 ? [] : [
    ...(["mae", "rmse", "median"] as const).filter((k) => !Number.isFinite(stats[k])),
    ...Object.entries(stats.byVersion)
      .filter(([, { mae }]) => !Number.isFinite(mae))
      .map(([version]) => `versions[${JSON.stringify(version)}].mae`),
  ];
  return {
    atMs: input.atMs,
    count: stats.count,
    mae: finite(stats.mae),
    rmse: finite(stats.rmse),
    median: finite(stats.median),
    histogram: binErrors(input.bins),
    samplesPerSecond: history.samplesPerSecond(),
    windowSeconds: history.windowSeconds,
    replicas: history.replicas(),
    versions: Object.entries(stats.byVersion)
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([version, { count, mae }]) => ({ version, count, mae: finite(mae) })),
    notFinite,
    deadLettered: input.deadLettered,
    unpaired: input.unpaired,
    series: history.series(),
  };
}
