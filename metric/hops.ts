/**
 * Where a sample's time goes, hop by hop, from the time stamps its messages carry (see
 * `stack/contracts.ts`): features stamps `sent-at-ms` just before it publishes, model stamps
 * `received-at-ms` when its handler gets the feature vector and `predicted-at-ms` just before it
 * publishes the prediction, and metric knows when it paired the two halves and when their row
 * was written and both acked. The four hops add up to the end-to-end latency plus metric's own
 * write and ack.
 *
 * Clocks: hops 1 and 3 subtract the wall clocks of two processes. On one machine that is one
 * clock. Across machines each carries the skew between the two hosts (NTP keeps a LAN within
 * about a millisecond; a badly synchronised host can be off by far more), and a hop shorter
 * than the skew comes out negative: such a value is not a duration and is counted apart rather
 * than observed. The skews cancel in their sum, so hop 1 + hop 2 + hop 3 is the end-to-end
 * latency whatever model's clock says. Hops 2 and 4 are measured on one process's clock and
 * are exact.
 *
 * Pure: the header values and times come in as plain numbers.
 *
 * @module
 */
import { HEADERS, numberHeader } from "../stack/contracts.ts";

/** The hops, in the order a sample takes them. */
export const HOPS = ["features_to_model", "model", "model_to_metric", "metric"] as const;

/** One hop, as the `hop` label of `ml_metric_hop_seconds` names it. */
export type Hop = typeof HOPS[number];

/** What each hop covers, for people (the dashboard, the bench). */
export const HOP_LABELS: Readonly<Record<Hop, string>> = {
  features_to_model: "features publish → model receipt",
  model: "model handling",
  model_to_metric: "model publish → metric pairing",
  metric: "metric write + ack",
};

/** Milliseconds spent in each hop; NaN where a time stamp was missing. */
export type HopDurations = Readonly<Record<Hop, number>>;

/** The time stamps of one pair, wall-clock ms except where said. */
export interface PairTimes {
  /** Features' publish (`sent-at-ms`). */
  readonly sentAtMs?: number;
  /** Model's receipt of the feature vector (`received-at-ms`). */
  readonly receivedAtMs?: number;
  /** Model's publish of the prediction (`predicted-at-ms`). */
  readonly predictedAtMs?: number;
  /** Metric's pairing of truth and prediction. */
  readonly pairedAtMs: number;
  /** From pairing to the row written and both halves acked, on metric's monotonic clock. */
  readonly writtenAndAckedMs: number;
}

/** Each hop's duration in ms; NaN for a hop whose two time stamps are not both known. */
export function hopDurations(times: PairTimes): HopDurations {
  const between = (from: number | undefined, to: number | undefined) =>
    from === undefined || to === undefined ? Number.NaN : to - from;
  return {
    features_to_model: between(times.sentAtMs, times.receivedAtMs),
    model: between(times.receivedAtMs, times.predictedAtMs),
    model_to_metric: between(times.predictedAtMs, times.pairedAtMs),
    metric: times.writtenAndAckedMs,
  };
}

/**
 * The time stamps a truth and its prediction carry in their headers: the send time from the
 * truth's (as the CSV's `latency_ms` takes it), or else the copy the prediction carries; model's
 * two from the prediction's.
 */
export function carriedTimes(
  truthHeaders: Record<string, unknown> | undefined,
  predictionHeaders: Record<string, unknown> | undefined,
): Pick<PairTimes, "sentAtMs" | "receivedAtMs" | "predictedAtMs"> {
  return {
    sentAtMs: numberHeader(truthHeaders, HEADERS.sentAtMs) ??
      numberHeader(predictionHeaders, HEADERS.sentAtMs),
    receivedAtMs: numberHeader(predictionHeaders, HEADERS.receivedAtMs),
    predictedAtMs: numberHeader(predictionHeaders, HEADERS.predictedAtMs),
  };
}

/** A cumulative histogram as Prometheus keeps it: upper bounds and counts at or below each. */
export interface Buckets {
  /** Upper bounds, ascending; the last may be `Infinity` (`+Inf`). */
  readonly bounds: readonly number[];
  /** Observations at or below each bound (cumulative, like `_bucket{le=…}`). */
  readonly cumulative: readonly number[];
}

/**
 * The `q`-quantile (0–1) of a cumulative histogram, interpolated linearly inside its bucket the
 * way PromQL's `histogram_quantile` does: the first bucket starts at 0, and a quantile that
 * falls in the `+Inf` bucket is the largest finite bound. NaN with no observations.
 */
export function bucketQuantile(buckets: Buckets, q: number): number {
  if (!(q >= 0 && q <= 1)) {
    throw new RangeError(`Cannot take a quantile as 'q' must be in [0, 1]: current value is ${q}`);
  }
  const { bounds, cumulative } = buckets;
  if (bounds.length !== cumulative.length) {
    throw new RangeError(
      `Cannot take a quantile as there are ${bounds.length} bounds and ${cumulative.length} counts`,
    );
  }
  const total = cumulative.at(-1) ?? 0;
  if (!(total > 0)) return Number.NaN;
  const rank = q * total;
  for (let i = 0; i < bounds.length; i++) {
    if (cumulative[i] < rank) continue;
    const upper = bounds[i];
    const lower = i === 0 ? 0 : bounds[i - 1];
    if (!Number.isFinite(upper)) return lower;
    const below = i === 0 ? 0 : cumulative[i - 1];
    const inBucket = cumulative[i] - below;
    return inBucket === 0 ? upper : lower + (upper - lower) * ((rank - below) / inBucket);
  }
  return bounds.at(-1)!;
}

/** The difference of two snapshots of one cumulative histogram: what was observed between them. */
export function bucketsBetween(before: Buckets | undefined, after: Buckets): Buckets {
  if (!before) return after;
  if (before.bounds.join() !== after.bounds.join()) {
    throw new RangeError(
      `Cannot subtract histograms with different bounds: ${before.bounds} and ${after.bounds}`,
    );
  }
  return {
    bounds: after.bounds,
    cumulative: after.cumulative.map((count, i) => count - before.cumulative[i]),
  };
}

/** One hop's histogram as `/metrics` has it: buckets in ms and the sum of the observations. */
export interface HopHistogram extends Buckets {
  /** Sum of the observed durations, ms. */
  readonly sumMs: number;
}

/** What the dashboard shows of a hop. */
export interface HopSummary {
  readonly count: number;
  /** NaN while nothing was observed. */
  readonly meanMs: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
}

/** Count, mean and two quantiles of a hop's histogram. */
export function summarizeHop(histogram: HopHistogram): HopSummary {
  const count = histogram.cumulative.at(-1) ?? 0;
  return {
    count,
    meanMs: count > 0 ? histogram.sumMs / count : Number.NaN,
    p50Ms: bucketQuantile(histogram, 0.5),
    p99Ms: bucketQuantile(histogram, 0.99),
  };
}
