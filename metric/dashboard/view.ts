/**
 * The numbers behind the metric dashboard and `/api/stats`, pure:
 * {@link dashboardView} combines the live statistics with the
 * {@link DashboardHistory} (`history.ts`) into the JSON the page polls.
 *
 * The error histogram is {@link ErrorStats}' 1-unit bins regrouped into
 * 10-unit bins ({@link binErrors}): fine bins keep the median exact, wide
 * ones are what a person can read.
 *
 * @module
 */
import type { StatsSnapshot } from "../pairing/stats.ts";
import { type Hop, HOP_LABELS, type HopHistogram, HOPS, summarizeHop } from "../hops.ts";
import type { DashboardHistory, ReplicaThroughput, Series } from "./history.ts";

/** Width of a dashboard histogram bin, in units of the target. */
export const DASHBOARD_BIN_WIDTH = 10;

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
  /** Where a sample's time goes, hop by hop, since the service started ("where the time goes"). */
  readonly hops: readonly HopView[];
}

/** One hop of a sample on the dashboard; times in ms, `null` before the first sample. */
export interface HopView {
  readonly hop: Hop;
  readonly label: string;
  readonly count: number;
  readonly meanMs: number | null;
  readonly p50Ms: number | null;
  readonly p99Ms: number | null;
}

/** The dashboard's rows of the per-hop histograms, in the order a sample takes the hops. */
export function hopViews(histograms: Readonly<Record<Hop, HopHistogram>> | undefined): HopView[] {
  if (!histograms) return [];
  return HOPS.map((hop) => {
    const { count, meanMs, p50Ms, p99Ms } = summarizeHop(histograms[hop]);
    return {
      hop,
      label: HOP_LABELS[hop],
      count,
      meanMs: finite(meanMs),
      p50Ms: finite(p50Ms),
      p99Ms: finite(p99Ms),
    };
  });
}

/** What {@link dashboardView} reads besides the history. */
export interface ViewInput {
  readonly atMs: number;
  readonly stats: StatsSnapshot;
  /** {@link ErrorStats.bins}. */
  readonly bins: ArrayLike<number>;
  readonly deadLettered: number;
  readonly unpaired: number;
  /** The per-hop histograms (`ml_metric_hop_seconds`), when the service keeps them. */
  readonly hops?: Readonly<Record<Hop, HopHistogram>>;
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
    hops: hopViews(input.hops),
  };
}
