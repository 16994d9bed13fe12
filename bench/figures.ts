/**
 * The figures of one run as `docs/benchmarks.json` holds them: latency
 * percentiles, throughput, CPU per sample and memory of one pipeline run,
 * and summaries over runs. Pure.
 *
 * @module
 */
import type { PipelineResult } from "./pipeline.ts";
import { figuresBetween, type HistogramFigures } from "./prometheus.ts";
import type { HistogramSummaries, PipelineFigures } from "./results.ts";
import {
  drainPerSecond,
  percentile,
  samplesPerSecond,
  slowRuns,
  summarize,
  type Summary,
} from "./stats.ts";

const MiB = 2 ** 20;

/**
 * The figures of one pipeline run; latency percentiles leave out the first
 * `warmup` samples (the cold start, given apart). `drain`: throughput is how
 * fast a prefilled backlog was drained rather than from the first publish.
 * With two scrapes of metric's `/metrics` or more, the first taken at the end
 * of the cold start and the last at the end of the run, the per-hop and
 * periodic-job histograms of each part too.
 */
export function pipelineFigures(
  result: PipelineResult,
  warmup: number,
  drain = false,
): PipelineFigures {
  const { tally } = result;
  const inOrder = tally.latenciesMs.slice(warmup);
  const latencies = [...inOrder].sort((a, b) => a - b);
  const perSample = (ms: number) => (ms * 1000) / tally.rows;
  return {
    samples: tally.rows,
    samplesPerSecond: drain ? drainPerSecond(tally) : samplesPerSecond(tally),
    latencyMs: {
      p50: percentile(latencies, 50),
      p95: percentile(latencies, 95),
      p99: percentile(latencies, 99),
      max: latencies.at(-1) ?? Number.NaN,
    },
    over10ms: slowRuns(inOrder, 10),
    cpuUsPerSample: mapValues(result.cpuMs, perSample),
    peakRssMiB: mapValues(result.peakRss, (bytes) => bytes / MiB),
    peakAnonMiB: mapValues(result.peakAnon, (bytes) => bytes / MiB),
    otherCores: result.otherCpuMs / result.wallMs,
    deadLettered: result.deadLettered,
    byReplica: tally.byReplica,
    ...(warmup > 0 ? { coldLatencyMs: coldLatency(tally.latenciesMs.slice(0, warmup)) } : {}),
    ...scrapedFigures(result.metricScrapes?.map((scrape) => scrape.text) ?? []),
  };
}

function coldLatency(inOrder: readonly number[]): { p50: number; p99: number; max: number } {
  const sorted = [...inOrder].sort((a, b) => a - b);
  return {
    p50: percentile(sorted, 50),
    p99: percentile(sorted, 99),
    max: sorted.at(-1) ?? Number.NaN,
  };
}

/** What two scrapes or more of metric's `/metrics` say about the cold start and the rest. */
function scrapedFigures(scrapes: readonly string[]): Partial<PipelineFigures> {
  if (scrapes.length < 2) return {};
  const [cold, last] = [scrapes[0], scrapes.at(-1)!];
  const renders = figuresBetween(cold, last, "ml_metric_plot_render_seconds")[""];
  return {
    hopsMs: figuresBetween(cold, last, "ml_metric_hop_seconds", "hop"),
    coldHopsMs: figuresBetween(undefined, cold, "ml_metric_hop_seconds", "hop"),
    periodicJobsMs: figuresBetween(cold, last, "ml_metric_periodic_job_seconds", "job"),
    periodicJobsCpuMs: figuresBetween(cold, last, "ml_metric_periodic_job_cpu_seconds", "job"),
    ...(renders ? { plotRendersMs: renders } : {}),
  };
}

/** Each key's histogram figures summarised over `runs` (NaN for a run without the key). */
export function histogramSummaries(
  runs: readonly (Readonly<Record<string, HistogramFigures>> | undefined)[],
): Record<string, HistogramSummaries> {
  const keys = [...new Set(runs.flatMap((run) => Object.keys(run ?? {})))];
  return Object.fromEntries(
    keys.map((key) => [key, summarizeFigures(runs.map((run) => run?.[key]))]),
  );
}

/** One histogram's figures summarised over the runs. */
export function summarizeFigures(
  runs: readonly (HistogramFigures | undefined)[],
): HistogramSummaries {
  // A figure that was NaN comes back from benchmarks.json as null.
  const of = (pick: (f: HistogramFigures) => number) =>
    summarize(runs.map((f) => (f ? pick(f) ?? Number.NaN : Number.NaN)));
  return {
    count: of((f) => f.count),
    mean: of((f) => f.meanMs),
    p50: of((f) => f.p50Ms),
    p99: of((f) => f.p99Ms),
    maxBound: of((f) => f.maxBoundMs),
  };
}

/** Each process's CPU µs per sample summarised over `list`; NaN for a run it was missing from. */
export function cpuSummaries(list: readonly PipelineFigures[]): Record<string, Summary> {
  const names = [...new Set(list.flatMap((f) => Object.keys(f.cpuUsPerSample)))];
  return Object.fromEntries(
    names.map((name) => [name, summarize(list.map((f) => f.cpuUsPerSample[name] ?? Number.NaN))]),
  );
}

/** `record` with `f` applied to each value. */
export function mapValues<T, U>(
  record: Readonly<Record<string, T>>,
  f: (value: T) => U,
): Record<string, U> {
  return Object.fromEntries(Object.entries(record).map(([key, value]) => [key, f(value)]));
}
