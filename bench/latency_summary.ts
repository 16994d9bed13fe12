/**
 * The latency rounds summarised into `docs/benchmarks.json`'s `latency`: the runs as metric
 * ships (every periodic job running) with their percentiles, the same rounds with its plot off,
 * each round's ratio of the two p99s, the cold starts apart, and what metric's `/metrics` said
 * about each hop and each periodic job. Pure.
 *
 * @module
 */
import { cpuSummaries, histogramSummaries, summarizeFigures } from "./figures.ts";
import type { BenchResults, PipelineFigures } from "./results.ts";
import type { LatencyRounds } from "./rounds.ts";
import { ratio, summarize, type Summary } from "./stats.ts";

/** The percentiles of some runs. */
function percentiles(runs: readonly PipelineFigures[]) {
  return {
    p50: summarize(runs.map((f) => f.latencyMs.p50)),
    p95: summarize(runs.map((f) => f.latencyMs.p95)),
    p99: summarize(runs.map((f) => f.latencyMs.p99)),
    max: summarize(runs.map((f) => f.latencyMs.max)),
  };
}

/** `BenchResults["latency"]` of the rounds. */
export function latencyResults(latency: LatencyRounds): BenchResults["latency"] {
  const { on, off } = latency;
  const cold = (pick: (c: { p50: number; p99: number; max: number }) => number) =>
    summarize(on.map((f) => (f.coldLatencyMs ? pick(f.coldLatencyMs) ?? NaN : Number.NaN)));
  const shipped = percentiles(on);
  return {
    runs: on,
    offeredPerSecond: summarize(on.map((f) => f.samplesPerSecond)),
    p50: shipped.p50,
    p95: shipped.p95,
    p99: shipped.p99,
    max: shipped.max,
    cpuUsPerSample: cpuSummaries(on),
    plotOff: { runs: off, ...percentiles(off) },
    p99OverPlotOff: summarize(on.map((f, i) => ratio(f.latencyMs.p99, off[i]?.latencyMs.p99))),
    cold: { p50: cold((c) => c.p50), p99: cold((c) => c.p99), max: cold((c) => c.max) },
    hops: {
      on: histogramSummaries(on.map((f) => f.hopsMs)),
      off: histogramSummaries(off.map((f) => f.hopsMs)),
      cold: histogramSummaries(on.map((f) => f.coldHopsMs)),
    },
    periodicJobs: histogramSummaries(on.map((f) => f.periodicJobsMs)),
    // Runs from before the CPU histogram have none: no empty entry for them.
    ...(on.some((f) => f.periodicJobsCpuMs)
      ? { periodicJobsCpu: histogramSummaries(on.map((f) => f.periodicJobsCpuMs)) }
      : {}),
    plotRenders: summarizeFigures(on.map((f) => f.plotRendersMs)),
  };
}

/**
 * Each run's longest run of any periodic job on metric's event loop (the bound of the highest
 * bucket any job's run fell in), ms; NaN for a run without the figures. With `"cpu"`, the most CPU
 * time any run used instead.
 */
export function longestPeriodicJobMs(
  runs: readonly PipelineFigures[],
  clock: "wall" | "cpu" = "wall",
): Summary {
  return summarize(runs.map((f) => {
    const jobs = clock === "wall" ? f.periodicJobsMs : f.periodicJobsCpuMs;
    const bounds = Object.values(jobs ?? {}).map((j) => j.maxBoundMs ?? Number.NaN)
      .filter(Number.isFinite);
    return bounds.length > 0 ? Math.max(...bounds) : Number.NaN;
  }));
}
