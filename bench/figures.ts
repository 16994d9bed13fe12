/**
 * The figures of one run as `docs/benchmarks.json` holds them: latency
 * percentiles, throughput, CPU per sample and memory of one pipeline run,
 * and summaries over runs. Pure.
 *
 * @module
 */
import type { PipelineResult } from "./pipeline.ts";
import type { PipelineFigures } from "./results.ts";
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
 * `warmup` samples. `drain`: throughput is how fast a prefilled backlog was
 * drained rather than from the first publish.
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
